/**
 * A Markdown to HTML converter for the subset the docs and READMEs use: ATX headings, paragraphs,
 * bullet and numbered lists (nested by indentation), pipe tables, fenced code blocks, block
 * quotes, horizontal rules, and inline code, links, emphasis and strong emphasis. Raw HTML is
 * not passed through: every character of the input reaches the page escaped, so a document can
 * never inject markup. Any input converts without throwing.
 */

/** A heading of the converted document, for tables of contents and anchor checks. */
export interface Heading {
  readonly level: number;
  readonly text: string;
  readonly id: string;
}

/** What the converter returns. */
export interface RenderedMarkdown {
  readonly html: string;
  readonly headings: readonly Heading[];
  /** The text of the first level-1 heading, if any. */
  readonly title: string | undefined;
}

/** Options of {@link renderMarkdown}. */
export interface MarkdownOptions {
  /**
   * Maps a link target as written to the href to emit, or to `undefined` to render the link's
   * text without a link (a target that has no page on the site). Default: keep every target.
   */
  readonly resolveLink?: (href: string) => string | undefined;
  /** Shifts heading levels down by this much (a README's `#` title under a page title). Default 0. */
  readonly headingOffset?: number;
  /** Prefixed to every heading id, to keep ids unique when several documents share a page. Default none. */
  readonly idPrefix?: string;
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The anchor id GitHub would give a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slugify(text: string): string {
  const slug = text
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
  return slug === '' ? 'section' : slug;
}

/** Only these URL schemes become links; anything else (javascript:, data:) is shown as text. */
const SAFE_SCHEME = /^(https?:|mailto:)/i;
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** Converts inline Markdown (code, links, emphasis) of one block to HTML. */
export function renderInline(text: string, options: MarkdownOptions = {}): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && /[\\`*_[\]()#+\-.!|<>{}]/.test(text[i + 1])) {
      out += escapeHtml(text[i + 1]);
      i += 2;
      continue;
    }
    if (c === '`') {
      let ticks = 1;
      while (text[i + ticks] === '`') ticks++;
      const fence = '`'.repeat(ticks);
      const end = text.indexOf(fence, i + ticks);
      if (end !== -1) {
        let code = text.slice(i + ticks, end);
        if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ')) code = code.slice(1, -1);
        out += `<code>${escapeHtml(code)}</code>`;
        i = end + ticks;
        continue;
      }
      out += escapeHtml(fence);
      i += ticks;
      continue;
    }
    if (c === '[') {
      const link = parseLink(text, i);
      if (link !== undefined) {
        const label = renderInline(link.label, options);
        const href = resolveHref(link.href, options);
        out += href === undefined ? label : `<a href="${escapeHtml(href)}">${label}</a>`;
        i = link.end;
        continue;
      }
    }
    if (c === '*' || c === '_') {
      const strong = text[i + 1] === c;
      const marker = strong ? c + c : c;
      const emphasis = parseEmphasis(text, i, marker);
      if (emphasis !== undefined) {
        const inner = renderInline(emphasis.inner, options);
        out += strong ? `<strong>${inner}</strong>` : `<em>${inner}</em>`;
        i = emphasis.end;
        continue;
      }
    }
    if (c === '<') {
      // <https://...> autolinks; any other '<' is text.
      const auto = /^<(https?:\/\/[^\s<>]+)>/.exec(text.slice(i));
      if (auto !== null) {
        out += `<a href="${escapeHtml(auto[1])}">${escapeHtml(auto[1])}</a>`;
        i += auto[0].length;
        continue;
      }
    }
    out += escapeHtml(c);
    i++;
  }
  return out;
}

function resolveHref(href: string, options: MarkdownOptions): string | undefined {
  if (HAS_SCHEME.test(href) && !SAFE_SCHEME.test(href)) return undefined;
  return options.resolveLink === undefined ? href : options.resolveLink(href);
}

/** `[label](href)` at `start`, with balanced brackets in the label; undefined when not a link. */
function parseLink(text: string, start: number): { label: string; href: string; end: number } | undefined {
  let depth = 0;
  let i = start;
  for (; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === '[') depth++;
    else if (text[i] === ']' && --depth === 0) break;
  }
  if (i >= text.length || text[i + 1] !== '(') return undefined;
  const close = text.indexOf(')', i + 2);
  if (close === -1) return undefined;
  // A target, optionally followed by a "title" (which is dropped).
  const target = /^(\S+)(\s+"[^"]*")?$/.exec(text.slice(i + 2, close).trim());
  if (target === null) return undefined;
  return { label: text.slice(start + 1, i), href: target[1], end: close + 1 };
}

/** Emphasis opened by `marker` at `start` and closed by the same marker before the end. */
function parseEmphasis(text: string, start: number, marker: string): { inner: string; end: number } | undefined {
  const open = start + marker.length;
  // An opening marker must be followed by a non-space; `_` inside a word (snake_case) is text.
  if (open >= text.length || /\s/.test(text[open])) return undefined;
  if (marker[0] === '_' && start > 0 && /[\p{L}\p{N}]/u.test(text[start - 1])) return undefined;
  let i = open;
  while (i < text.length) {
    if (text[i] === '`') {
      const skip = text.indexOf('`', i + 1);
      if (skip === -1) return undefined;
      i = skip + 1;
      continue;
    }
    if (text.startsWith(marker, i) && i > open && !/\s/.test(text[i - 1])) {
      const after = text[i + marker.length];
      if (marker[0] === '_' && after !== undefined && /[\p{L}\p{N}]/u.test(after)) {
        i++;
        continue;
      }
      // A single marker must not be the start of a double one (`*a **b** c*` is fine, `*a**` is not).
      if (marker.length === 1 && text[i + 1] === marker && text[i - 1] !== marker) {
        i += 2;
        continue;
      }
      return { inner: text.slice(open, i), end: i + marker.length };
    }
    i++;
  }
  return undefined;
}

interface ListItem {
  lines: string[];
}

/** A fence and its info string; the first word is the language (```ts test: TypeScript). */
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)(?:\s+[^`]*)?\s*$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^(\s*)([-*+])\s+(.*)$/;
const ORDERED = /^(\s*)(\d{1,9})[.)]\s+(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const TABLE_DIVIDER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** Converts a Markdown document to HTML. */
export function renderMarkdown(text: string, options: MarkdownOptions = {}): RenderedMarkdown {
  const headings: Heading[] = [];
  const used = new Map<string, number>();
  const html = renderBlocks(text.replace(/\r\n?/g, '\n').split('\n'), options, headings, used);
  return { html, headings, title: headings.find((h) => h.level === 1 + (options.headingOffset ?? 0))?.text };
}

function uniqueId(text: string, used: Map<string, number>): string {
  const base = slugify(text);
  const count = used.get(base) ?? 0;
  used.set(base, count + 1);
  return count === 0 ? base : `${base}-${count}`;
}

function splitRow(line: string): string[] {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < row.length; i++) {
    const c = row[i];
    if (c === '\\' && row[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  return cells;
}

function indentOf(line: string): number {
  return /^\s*/.exec(line)?.[0].replace(/\t/g, '    ').length ?? 0;
}

function renderBlocks(lines: readonly string[], options: MarkdownOptions, headings: Heading[], used: Map<string, number>): string {
  const out: string[] = [];
  let i = 0;
  const isBlank = (line: string | undefined): boolean => line === undefined || line.trim() === '';
  const startsBlock = (line: string, next: string | undefined): boolean =>
    FENCE.test(line) || HEADING.test(line) || BULLET.test(line) || ORDERED.test(line) || RULE.test(line) || /^\s*>/.test(line) ||
    (line.includes('|') && next !== undefined && TABLE_DIVIDER.test(next) && next.includes('-'));
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence !== null) {
      const marker = fence[2];
      const body: string[] = [];
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(marker[0].repeat(marker.length)) && lines[i].trim().replace(new RegExp(`^\\${marker[0]}+`), '').trim() === '')) {
        body.push(lines[i].slice(Math.min(fence[1].length, indentOf(lines[i]))));
        i++;
      }
      i++;
      const language = fence[3] === '' ? '' : ` class="language-${escapeHtml(fence[3])}"`;
      out.push(`<pre><code${language}>${escapeHtml(body.join('\n'))}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading !== null) {
      const level = Math.min(6, heading[1].length + (options.headingOffset ?? 0));
      const textContent = heading[2];
      const inner = renderInline(textContent, options);
      const plain = inner.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
      const id = (options.idPrefix ?? '') + uniqueId(plain, used);
      headings.push({ level, text: plain, id });
      out.push(`<h${level} id="${escapeHtml(id)}">${inner}</h${level}>`);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push('<hr>');
      i++;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_DIVIDER.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const header = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((cell) =>
        cell.startsWith(':') && cell.endsWith(':') ? 'center' : cell.endsWith(':') ? 'right' : cell.startsWith(':') ? 'left' : '',
      );
      const cellTag = (tag: string, content: string, column: number): string => {
        const align = aligns[column] ?? '';
        return `<${tag}${align === '' ? '' : ` style="text-align:${align}"`}>${renderInline(content, options)}</${tag}>`;
      };
      const rows: string[] = [];
      i += 2;
      while (i < lines.length && !isBlank(lines[i]) && lines[i].includes('|')) {
        const cells = splitRow(lines[i]);
        rows.push(`<tr>${header.map((_, column) => cellTag('td', cells[column] ?? '', column)).join('')}</tr>`);
        i++;
      }
      out.push(
        `<table>\n<thead><tr>${header.map((cell, column) => cellTag('th', cell, column)).join('')}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`,
      );
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) {
        quoted.push(lines[i].replace(/^\s*>\s?/, ''));
        i++;
      }
      out.push(`<blockquote>\n${renderBlocks(quoted, options, headings, used)}\n</blockquote>`);
      continue;
    }
    const bullet = BULLET.exec(line);
    const ordered = bullet === null ? ORDERED.exec(line) : null;
    if (bullet !== null || ordered !== null) {
      const match = (bullet ?? ordered) as RegExpExecArray;
      const baseIndent = indentOf(line);
      const pattern = bullet !== null ? BULLET : ORDERED;
      const items: ListItem[] = [];
      let loose = false;
      while (i < lines.length) {
        const current = lines[i];
        const item = pattern.exec(current);
        if (item !== null && indentOf(current) === baseIndent) {
          const contentIndent = item[0].length - item[3].length;
          const entry: ListItem = { lines: [item[3]] };
          items.push(entry);
          i++;
          while (i < lines.length) {
            const next = lines[i];
            if (isBlank(next)) {
              const after = lines[i + 1];
              if (after !== undefined && !isBlank(after) && indentOf(after) > baseIndent) {
                loose = loose || !(BULLET.test(after) || ORDERED.test(after));
                entry.lines.push('');
                i++;
                continue;
              }
              break;
            }
            const indent = indentOf(next);
            if (indent > baseIndent) {
              entry.lines.push(next.slice(Math.min(indent, contentIndent)));
              i++;
              continue;
            }
            // A lazy continuation line of the item's paragraph.
            if (!startsBlock(next, lines[i + 1])) {
              entry.lines.push(next.trim());
              i++;
              continue;
            }
            break;
          }
          if (isBlank(lines[i]) && i + 1 < lines.length && pattern.exec(lines[i + 1]) !== null && indentOf(lines[i + 1]) === baseIndent) {
            loose = true;
            i++;
          }
          continue;
        }
        break;
      }
      const tag = bullet !== null ? 'ul' : 'ol';
      const start = ordered !== null && Number(match[2]) !== 1 ? ` start="${Number(match[2])}"` : '';
      const rendered = items.map((item) => {
        const inner = renderBlocks(item.lines, options, headings, used);
        const tight = !loose ? inner.replace(/^<p>([\s\S]*?)<\/p>/, '$1') : inner;
        return `<li>${tight}</li>`;
      });
      out.push(`<${tag}${start}>\n${rendered.join('\n')}\n</${tag}>`);
      continue;
    }
    const paragraph: string[] = [];
    while (i < lines.length && !isBlank(lines[i]) && (paragraph.length === 0 || !startsBlock(lines[i], lines[i + 1]))) {
      paragraph.push(lines[i].trim());
      i++;
    }
    out.push(`<p>${renderInline(paragraph.join('\n'), options)}</p>`);
  }
  return out.join('\n');
}
