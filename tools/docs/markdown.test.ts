// The docs site's Markdown converter: the subset the docs use, escaping, and robustness.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeHtml, renderInline, renderMarkdown, slugify } from './markdown.js';

/** Tags and attributes the converter may emit; anything else in the output came from the input. */
const TAGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'ul', 'ol', 'li', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'pre', 'code', 'a', 'em', 'strong', 'blockquote', 'hr']);
const ATTRIBUTES = new Set(['id', 'href', 'class', 'style', 'start']);

function markup(html: string): { tags: string[]; attributes: string[] } {
  const tags: string[] = [];
  const attributes: string[] = [];
  for (const match of html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) {
    tags.push(match[1]);
    for (const attribute of match[2].matchAll(/\s([a-zA-Z-]+)=/g)) attributes.push(attribute[1]);
  }
  return { tags, attributes };
}

describe('renderMarkdown', () => {
  it('turns ATX headings into headings with GitHub-style ids, numbering repeats', () => {
    const { html, headings, title } = renderMarkdown('# Title\n\n## RFC coverage\n\n## RFC coverage\n\n### `createTcp(deps)`: Tcp');
    expect(html).toBe('<h1 id="title">Title</h1>\n<h2 id="rfc-coverage">RFC coverage</h2>\n<h2 id="rfc-coverage-1">RFC coverage</h2>\n<h3 id="createtcpdeps-tcp"><code>createTcp(deps)</code>: Tcp</h3>');
    expect(headings.map((h) => h.id)).toEqual(['title', 'rfc-coverage', 'rfc-coverage-1', 'createtcpdeps-tcp']);
    expect(title).toBe('Title');
  });

  it('joins the lines of a paragraph and separates paragraphs at blank lines', () => {
    expect(renderMarkdown('one\ntwo\n\nthree').html).toBe('<p>one\ntwo</p>\n<p>three</p>');
  });

  it('renders bullet lists, nested lists and numbered lists with their start', () => {
    const { html } = renderMarkdown('- a\n  continued\n- b\n  - b1\n  - b2\n- c\n\n3. three\n4. four');
    expect(html).toBe('<ul>\n<li>a\ncontinued</li>\n<li>b\n<ul>\n<li>b1</li>\n<li>b2</li>\n</ul></li>\n<li>c</li>\n</ul>\n<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>');
  });

  it('renders a list item with a lazy continuation line', () => {
    expect(renderMarkdown('- RFC 826: request\nand reply').html).toBe('<ul>\n<li>RFC 826: request\nand reply</li>\n</ul>');
  });

  it('renders pipe tables with alignment, escaped pipes and pipes inside code', () => {
    const { html } = renderMarkdown('| a | b |\n|:--|--:|\n| `x | y` | 1 \\| 2 |\n| only |');
    expect(html).toBe(
      '<table>\n<thead><tr><th style="text-align:left">a</th><th style="text-align:right">b</th></tr></thead>\n<tbody>\n' +
        '<tr><td style="text-align:left"><code>x | y</code></td><td style="text-align:right">1 | 2</td></tr>\n' +
        '<tr><td style="text-align:left">only</td><td style="text-align:right"></td></tr>\n</tbody>\n</table>',
    );
  });

  it('keeps fenced code verbatim, escaped, with its language', () => {
    const { html } = renderMarkdown('```ts\nconst a = b < c && "d";\n\n# not a heading\n```\nafter');
    expect(html).toBe('<pre><code class="language-ts">const a = b &lt; c &amp;&amp; &quot;d&quot;;\n\n# not a heading</code></pre>\n<p>after</p>');
  });

  it('takes the first word of a fence\'s info string as the language', () => {
    expect(renderMarkdown('```ts test\nx\n```').html).toBe('<pre><code class="language-ts">x</code></pre>');
  });

  it('renders an unterminated fence to the end of the document', () => {
    expect(renderMarkdown('```\nx').html).toBe('<pre><code>x</code></pre>');
  });

  it('renders block quotes and rules', () => {
    expect(renderMarkdown('> quoted\n> text\n\n---\n').html).toBe('<blockquote>\n<p>quoted\ntext</p>\n</blockquote>\n<hr>');
  });

  it('shifts heading levels by headingOffset', () => {
    expect(renderMarkdown('# a', { headingOffset: 2 }).html).toBe('<h3 id="a">a</h3>');
  });
});

describe('renderInline', () => {
  it('renders code, strong, emphasis and links', () => {
    expect(renderInline('`a<b` **bold** *it* _it_ [text](https://example.org/x?a=1&b=2)')).toBe(
      '<code>a&lt;b</code> <strong>bold</strong> <em>it</em> <em>it</em> <a href="https://example.org/x?a=1&amp;b=2">text</a>',
    );
  });

  it('leaves snake_case, lone asterisks and unmatched brackets as text', () => {
    expect(renderInline('snake_case_name 2 * 3 * 4 [not a link] a*')).toBe('snake_case_name 2 * 3 * 4 [not a link] a*');
  });

  it('passes link targets through resolveLink, and shows the text alone when it has no page', () => {
    const resolveLink = (href: string): string | undefined => (href === 'known.md' ? 'known.html' : undefined);
    expect(renderInline('[a](known.md) [b](src/file.ts)', { resolveLink })).toBe('<a href="known.html">a</a> b');
  });

  it('never links a javascript: or data: target', () => {
    expect(renderInline('[x](javascript:alert(1)) [y](data:text/html,hi)')).toBe('x) y');
  });

  it('escapes raw HTML instead of passing it through', () => {
    expect(renderInline('<script>alert("x")</script> & <b>')).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;');
  });

  it('honours backslash escapes', () => {
    expect(renderInline('\\*not emphasis\\* \\`not code\\`')).toBe('*not emphasis* `not code`');
  });
});

describe('slugify and escapeHtml', () => {
  it('slugs like GitHub: lower case, punctuation dropped, spaces to hyphens', () => {
    expect(slugify('DNS (`node tools/bench.mjs dnsperf`)')).toBe('dns-node-toolsbenchmjs-dnsperf');
    expect(slugify('!!!')).toBe('section');
  });

  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('properties', () => {
  const markdownish = fc
    .array(fc.oneof(fc.string(), fc.constantFrom('# ', '## ', '- ', '  - ', '1. ', '| a | b |', '|---|---|', '```', '```ts', '> ', '---', '`', '*', '**', '_', '[', ']', '(', ')', '\n', '\n\n', '<script>', '"', "'", '&', '\\', '|')), { maxLength: 40 })
    .map((parts) => parts.join(''));

  it('converts any text without throwing, emitting only its own tags and attributes', () => {
    fc.assert(
      fc.property(markdownish, (text) => {
        const { html } = renderMarkdown(text);
        const { tags, attributes } = markup(html);
        for (const tag of tags) expect(TAGS.has(tag), tag).toBe(true);
        for (const attribute of attributes) expect(ATTRIBUTES.has(attribute), attribute).toBe(true);
        expect(html).not.toMatch(/<script/i);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every character of a code block, escaped', () => {
    fc.assert(
      fc.property(fc.array(fc.string().filter((line) => !line.includes('`') && !line.includes('\n') && !line.includes('\r')), { maxLength: 6 }), (lines) => {
        const body = lines.join('\n');
        const { html } = renderMarkdown('```\n' + body + '\n```');
        expect(html).toBe(`<pre><code>${escapeHtml(body)}</code></pre>`);
      }),
      { numRuns: 200 },
    );
  });

  it('renders text without Markdown syntax as that text, escaped', () => {
    const plain = fc.string().filter((s) => /^[^\s`*_[\]\\#>|<-][^`*_[\]\\\n\r<]*$/.test(s) && !/^\d+[.)]\s/.test(s) && s.trim() === s);
    fc.assert(
      fc.property(plain, (text) => {
        expect(renderMarkdown(text).html).toBe(`<p>${escapeHtml(text)}</p>`);
      }),
      { numRuns: 200 },
    );
  });
});
