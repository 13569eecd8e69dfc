// Test helper: checks that generated SVG is well-formed XML, without an XML library.

/**
 * A small XML well-formedness check: one root element, every tag closed in order, attributes
 * quoted and unique, entities among the five predefined or numeric, nothing after the root.
 */
export function wellFormedXml(text: string): string | undefined {
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) return 'a control character XML does not allow';
  const stack: string[] = [];
  let roots = 0;
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const match of text.matchAll(token)) {
    const [whole, closing, name, attributes, selfClosing, content, stray] = match;
    if (stray !== undefined) return `a "<" that starts no tag at ${match.index}`;
    if (content !== undefined) {
      if (stack.length === 0 && content.trim() !== '') return `text outside the root: ${JSON.stringify(content.slice(0, 20))}`;
      const bad = /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.exec(content);
      if (bad !== null) return `a bare "&" in ${JSON.stringify(content.slice(0, 40))}`;
      continue;
    }
    if (name === undefined) continue;
    if (closing === '/') {
      if (stack.pop() !== name) return `</${name}> closes the wrong element`;
      continue;
    }
    const seen = new Set<string>();
    for (const attribute of (attributes ?? '').matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
      if (seen.has(attribute[1])) return `attribute ${attribute[1]} twice on <${name}>`;
      seen.add(attribute[1]);
      if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(attribute[3] ?? attribute[4] ?? '')) return `a bare "&" in an attribute of <${name}>`;
    }
    if (stack.length === 0) {
      roots++;
      if (roots > 1) return 'more than one root element';
    }
    if (selfClosing !== '/') stack.push(name);
    if (whole.length === 0) return 'empty token';
  }
  if (stack.length > 0) return `<${stack.at(-1)}> is never closed`;
  return roots === 1 ? undefined : 'no root element';
}
