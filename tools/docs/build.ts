/**
 * Builds the documentation site: the guides in docs/, a page per package from its README, an
 * API reference per package from its exports' TSDoc, and the benchmark charts. Plain HTML with
 * one stylesheet and relative links, so the `www` appliance (or any static server, or the file
 * system) serves it as it is.
 *
 *   node --import ./tools/ts-loader.mjs tools/docs/build.ts [out]     (default out: site/)
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ApiEntry, type ApiKind, extractApis, type PackageApi } from './api.js';
import { barChart, type BenchmarkResults, formatValue, validateResults } from './charts.js';
import { escapeHtml, type Heading, renderInline, renderMarkdown } from './markdown.js';

/** A guide page: a Markdown file of docs/. */
interface Guide {
  readonly source: string;
  readonly page: string;
  readonly nav: string;
}

/** The guides in navigation order; any other docs/*.md becomes a page after them. */
const GUIDES: readonly Guide[] = [
  { source: 'docs/index.md', page: 'index.html', nav: 'Overview' },
  { source: 'docs/architecture.md', page: 'architecture.html', nav: 'Architecture' },
  { source: 'docs/compose-a-stack.md', page: 'compose-a-stack.html', nav: 'Compose a stack' },
  { source: 'docs/write-an-appliance.md', page: 'write-an-appliance.html', nav: 'Write an appliance' },
  { source: 'docs/backends.md', page: 'backends.html', nav: 'Backends' },
  { source: 'docs/guide-property-testing.md', page: 'guide-property-testing.html', nav: 'Property testing' },
  { source: 'docs/tcp-conformance.md', page: 'tcp-conformance.html', nav: 'TCP conformance' },
  { source: 'docs/benchmarks.md', page: 'benchmarks.html', nav: 'Benchmarks' },
];

/** Repository paths outside docs/ and packages/ that have a page. */
const ALIASES: Readonly<Record<string, string>> = {
  'README.md': 'index.html',
  'docs': 'index.html',
};

/** What a build produced. */
export interface SiteReport {
  readonly out: string;
  /** Every page written, relative to `out`. */
  readonly pages: readonly string[];
  readonly packages: readonly PackageApi[];
  /** Chart files written, relative to `out`. */
  readonly charts: readonly string[];
  /** Links in the sources that point at no page (rendered as plain text), as "file: target". */
  readonly unlinked: readonly string[];
}

/** Options of {@link buildSite}. */
export interface BuildOptions {
  /** The repository root. */
  readonly root: string;
  /** Output folder; emptied first. */
  readonly out: string;
}

interface Page {
  readonly path: string;
  readonly title: string;
  readonly body: string;
}

const KIND_TITLES: Readonly<Record<ApiKind, string>> = {
  function: 'Functions',
  class: 'Classes',
  variable: 'Constants and variables',
  interface: 'Interfaces',
  type: 'Types',
  enum: 'Enums',
  namespace: 'Namespaces',
};

/** Builds the site into `options.out`. */
export function buildSite(options: BuildOptions): SiteReport {
  const root = resolve(options.root);
  const out = resolve(options.out);
  const packageNames = readdirSync(join(root, 'packages'))
    .filter((name) => existsSync(join(root, 'packages', name, 'README.md')) && existsSync(join(root, 'packages', name, 'src', 'index.ts')))
    .sort();
  const guides = [
    ...GUIDES.filter((guide) => existsSync(join(root, guide.source))),
    ...readdirSync(join(root, 'docs'))
      .filter((file) => file.endsWith('.md') && !GUIDES.some((guide) => guide.source === `docs/${file}`))
      .sort()
      .map((file) => ({ source: `docs/${file}`, page: file.replace(/\.md$/, '.html'), nav: titleOf(readFileSync(join(root, 'docs', file), 'utf8')) ?? file })),
  ];

  // Where each repository path is on the site.
  const pageOf = new Map<string, string>(Object.entries(ALIASES));
  for (const guide of guides) pageOf.set(guide.source, guide.page);
  pageOf.set('../shared/ARCHITECTURE.md', 'architecture.html');
  pageOf.set('docs/benchmark-results.json', 'benchmark-results.json');
  for (const name of packageNames) {
    pageOf.set(`packages/${name}`, `packages/${name}.html`);
    pageOf.set(`packages/${name}/README.md`, `packages/${name}.html`);
  }
  pageOf.set('packages', 'packages/index.html');

  const unlinked: string[] = [];
  const linker = (sourceFile: string, pagePath: string) => (href: string): string | undefined => {
    if (href.startsWith('#') || /^[a-z][a-z0-9+.-]*:/i.test(href)) return href;
    const [path, anchor] = splitAnchor(href);
    const target = posix.normalize(posix.join(posix.dirname(sourceFile), path)).replace(/\/$/, '');
    const page = pageOf.get(target);
    if (page === undefined) {
      unlinked.push(`${sourceFile}: ${href}`);
      return undefined;
    }
    return relativeHref(pagePath, page) + (anchor === '' ? '' : `#${anchor}`);
  };

  const packages = extractApis(root, packageNames);
  const results = existsSync(join(root, 'docs', 'benchmark-results.json'))
    ? validateResults(JSON.parse(readFileSync(join(root, 'docs', 'benchmark-results.json'), 'utf8')))
    : undefined;

  const pages: Page[] = [];
  for (const guide of guides) {
    const rendered = renderMarkdown(readFileSync(join(root, guide.source), 'utf8'), { resolveLink: linker(guide.source, guide.page) });
    const charts = guide.page === 'benchmarks.html' && results !== undefined;
    let body = charts ? insertAfterTitle(rendered.html, chartsSection(results, guide.page)) : rendered.html;
    const chartsHeading: Heading[] = charts ? [{ level: 2, text: CHARTS_HEADING.text, id: CHARTS_HEADING.id }] : [];
    body = insertAfterTitle(body, contents([...chartsHeading, ...rendered.headings]));
    pages.push({ path: guide.page, title: rendered.title ?? guide.nav, body });
  }
  // Which package exports a name, for {@link} across packages (core first: it defines the interfaces).
  const exporters = new Map<string, string>();
  for (const api of [...packages].sort((a, b) => (a.name === 'core' ? -1 : b.name === 'core' ? 1 : 0))) {
    for (const entry of api.entries) if (!exporters.has(entry.name)) exporters.set(entry.name, api.name);
  }
  const descriptions = new Map<string, string>();
  for (const api of packages) {
    const source = `packages/${api.name}/README.md`;
    const page = `packages/${api.name}.html`;
    const text = readFileSync(join(root, source), 'utf8');
    descriptions.set(api.name, firstParagraph(text));
    const rendered = renderMarkdown(text, { resolveLink: linker(source, page) });
    const apiLink = `<p class="api-link">API reference: <a href="${relativeHref(page, `api/${api.name}.html`)}">every export of <code>@morgana/${escapeHtml(api.name)}</code> with its documentation</a>.</p>`;
    pages.push({ path: page, title: `@morgana/${api.name}`, body: insertAfterTitle(rendered.html, apiLink + contents(rendered.headings)) });
    pages.push({ path: `api/${api.name}.html`, title: `@morgana/${api.name} API`, body: apiPage(api, `api/${api.name}.html`, exporters) });
  }
  pages.push({ path: 'packages/index.html', title: 'Packages', body: packagesIndex(packages.map((p) => p.name), descriptions, 'packages/index.html') });
  pages.push({ path: 'coverage.html', title: 'RFC coverage', body: coveragePage(root, packages.map((p) => p.name), linker) });

  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const page of pages) {
    const file = join(out, page.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, layout(page, guides, packageNames));
  }
  copyFileSync(join(root, 'docs', 'style.css'), join(out, 'style.css'));
  const charts: string[] = [];
  if (results !== undefined) {
    mkdirSync(join(out, 'charts'), { recursive: true });
    for (const comparison of results.comparisons) {
      writeFileSync(join(out, 'charts', `${comparison.id}.svg`), barChart(comparison));
      charts.push(`charts/${comparison.id}.svg`);
    }
    copyFileSync(join(root, 'docs', 'benchmark-results.json'), join(out, 'benchmark-results.json'));
  }
  return { out, pages: pages.map((p) => p.path), packages, charts, unlinked };
}

function splitAnchor(href: string): [string, string] {
  const hash = href.indexOf('#');
  return hash === -1 ? [href, ''] : [href.slice(0, hash), href.slice(hash + 1)];
}

/** The href from page `from` to page `to`, both relative to the site root. */
export function relativeHref(from: string, to: string): string {
  const relative = posix.relative(posix.dirname(from), to);
  return relative === '' ? posix.basename(to) : relative;
}

function titleOf(markdown: string): string | undefined {
  return /^#\s+(.+)$/m.exec(markdown)?.[1].trim();
}

function firstParagraph(markdown: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line, index) => index > 0 && line.trim() !== '' && !line.startsWith('#'));
  const paragraph: string[] = [];
  for (let i = start; i >= 0 && i < lines.length && lines[i].trim() !== '' && !lines[i].startsWith('```'); i++) paragraph.push(lines[i].trim());
  const text = paragraph.join(' ');
  const sentence = /^(.+?[.:])(\s|$)/.exec(text)?.[1] ?? text;
  return sentence.replace(/:$/, '.');
}

/** "On this page": the level-2 headings, when there are enough to need it. */
function contents(headings: readonly Heading[]): string {
  const sections = headings.filter((h) => h.level === 2);
  if (sections.length < 3) return '';
  const items = sections.map((h) => `<li><a href="#${escapeHtml(h.id)}">${escapeHtml(h.text)}</a></li>`).join('');
  return `\n<nav class="toc" aria-label="On this page"><ul>${items}</ul></nav>`;
}

function insertAfterTitle(html: string, insert: string): string {
  const end = html.indexOf('</h1>');
  return end === -1 ? `${insert}\n${html}` : `${html.slice(0, end + 5)}\n${insert}${html.slice(end + 5)}`;
}

const CHARTS_HEADING = { id: 'morgana-against-its-peers', text: 'morgana against its peers' } as const;

function chartsSection(results: BenchmarkResults, page: string): string {
  const figures = results.comparisons.map((c) => {
    const morgana = c.results.filter((r) => r.morgana === true);
    const peers = c.results.filter((r) => r.morgana !== true);
    const alt = `${c.title}: ${c.results.map((r) => `${r.name} ${r.low !== undefined ? `${formatValue(r.low)}–` : ''}${formatValue(r.value)}`).join('; ')} ${c.unit}`;
    const summary = morgana.length > 0 && peers.length > 0 ? ` ${morgana.length === 1 ? 'morgana' : 'morgana\'s best'} / best peer: ${ratio(morgana, peers, c.better)}.` : '';
    return [
      `<figure id="chart-${c.id}">`,
      `<img src="${relativeHref(page, `charts/${c.id}.svg`)}" alt="${escapeHtml(alt)}" width="760">`,
      `<figcaption><code>${escapeHtml(c.command)}</code>${c.notes === undefined ? '' : ` ${renderInline(c.notes)}`}${escapeHtml(summary)}</figcaption>`,
      '</figure>',
    ].join('\n');
  });
  return [
    '<section class="charts">',
    `<h2 id="${CHARTS_HEADING.id}">${CHARTS_HEADING.text}</h2>`,
    `<p>Drawn from <a href="${relativeHref(page, 'benchmark-results.json')}">benchmark-results.json</a>; morgana's rows in blue, a lighter bar end shows the spread over runs. ${escapeHtml(results.machine)}</p>`,
    ...figures,
    '</section>',
  ].join('\n');
}

function ratio(morgana: readonly { value: number }[], peers: readonly { value: number }[], better: 'higher' | 'lower'): string {
  const pick = better === 'higher' ? Math.max : Math.min;
  const ours = pick(...morgana.map((r) => r.value));
  const theirs = pick(...peers.map((r) => r.value));
  const value = better === 'higher' ? ours / theirs : theirs / ours;
  return `${value.toFixed(2)}× ${better === 'higher' ? 'the throughput' : 'as fast'}`;
}

/**
 * Every package's coverage section (the README section after the API whose heading says
 * coverage or standards) on one page: which RFCs morgana implements, and what it leaves out.
 */
function coveragePage(root: string, names: readonly string[], linker: (source: string, page: string) => (href: string) => string | undefined): string {
  const page = 'coverage.html';
  const sections = names.flatMap((name) => {
    const source = `packages/${name}/README.md`;
    const lines = readFileSync(join(root, source), 'utf8').split('\n');
    const start = lines.findIndex((line) => /^## .*(coverage|standards|scope)/i.test(line));
    if (start === -1) return [];
    let end = lines.findIndex((line, index) => index > start && /^## /.test(line));
    if (end === -1) end = lines.length;
    const body = renderMarkdown(lines.slice(start + 1, end).join('\n'), { resolveLink: linker(source, page), headingOffset: 1, idPrefix: `${name}-` });
    return [
      `<h2 id="${escapeHtml(name)}"><a href="${relativeHref(page, `packages/${name}.html`)}"><code>@morgana/${escapeHtml(name)}</code></a>: ${renderInline(lines[start].replace(/^##\s+/, ''))}</h2>`,
      body.html,
    ];
  });
  return [
    '<h1 id="rfc-coverage">RFC coverage</h1>',
    '<p>What each package implements of the standards behind it, and what it does not, gathered from the packages\' pages.</p>',
    `<nav class="toc" aria-label="Packages"><ul>${names.map((name) => `<li><a href="#${escapeHtml(name)}">${escapeHtml(name)}</a></li>`).join('')}</ul></nav>`,
    ...sections,
  ].join('\n');
}

function packagesIndex(names: readonly string[], descriptions: ReadonlyMap<string, string>, page: string): string {
  const rows = names.map(
    (name) =>
      `<tr><td><a href="${relativeHref(page, `packages/${name}.html`)}"><code>@morgana/${escapeHtml(name)}</code></a></td><td>${renderInline(descriptions.get(name) ?? '')}</td><td><a href="${relativeHref(page, `api/${name}.html`)}">API</a></td></tr>`,
  );
  return [
    '<h1 id="packages">Packages</h1>',
    '<p>Every protocol is a library written against the interfaces of <code>@morgana/core</code>; an application composes the ones it needs. Each page below is the package\'s README (its example is executed by the test suite) and links to the API reference generated from the source.</p>',
    '<table>',
    '<thead><tr><th>package</th><th>what it is</th><th>reference</th></tr></thead>',
    `<tbody>\n${rows.join('\n')}\n</tbody>`,
    '</table>',
  ].join('\n');
}

/** Replaces TSDoc `{@link Name}` and `{@link Name | label}` with Markdown links to the export's entry. */
export function resolveLinks(doc: string, here: string, exporters: ReadonlyMap<string, string>): string {
  return doc.replace(/\{@link(?:code|plain)?\s+([\w.]+)\s*(?:\|\s*)?([^}]*?)\s*\}/g, (_, target: string, label: string) => {
    const name = target.split('.')[0];
    const text = `\`${label === '' ? target : label}\``;
    const owner = exporters.get(name);
    if (owner === undefined) return text;
    return owner === here ? `[${text}](#${name})` : `[${text}](${owner}.html#${name})`;
  });
}

function apiPage(api: PackageApi, page: string, exporters: ReadonlyMap<string, string>): string {
  const docHtml = (doc: string): string => (doc === '' ? '' : renderMarkdown(resolveLinks(doc, api.name, exporters), { headingOffset: 3 }).html);
  const groups = (Object.keys(KIND_TITLES) as ApiKind[])
    .map((kind) => ({ kind, entries: api.entries.filter((e) => e.kind === kind) }))
    .filter((group) => group.entries.length > 0);
  const toc = groups.map(
    (group) =>
      `<h3>${KIND_TITLES[group.kind]}</h3>\n<ul class="api-index">${group.entries.map((e) => `<li><a href="#${escapeHtml(e.name)}"><code>${escapeHtml(e.name)}</code></a></li>`).join('')}</ul>`,
  );
  const sections = groups.flatMap((group) => [
    `<h2 id="kind-${group.kind}">${KIND_TITLES[group.kind]}</h2>`,
    ...group.entries.map((entry) => apiEntry(entry, docHtml)),
  ]);
  return [
    `<h1 id="api">@morgana/${escapeHtml(api.name)} API</h1>`,
    `<p>Every export of <code>packages/${escapeHtml(api.name)}/src/index.ts</code> (${api.entries.length}), with the documentation comment from its source. The guide to the package is <a href="${relativeHref(page, `packages/${api.name}.html`)}">its README</a>.</p>`,
    '<nav class="api-toc" aria-label="Exports">',
    ...toc,
    '</nav>',
    ...sections,
  ].join('\n');
}

function apiEntry(entry: ApiEntry, docHtml: (doc: string) => string): string {
  const members =
    entry.members.length === 0
      ? ''
      : `<table class="members">\n<thead><tr><th>member</th><th>description</th></tr></thead>\n<tbody>\n${entry.members
          .map((m) => `<tr><td><code>${escapeHtml(m.signature)}</code></td><td>${docHtml(m.doc)}</td></tr>`)
          .join('\n')}\n</tbody>\n</table>`;
  return [
    `<section class="api-entry" id="${escapeHtml(entry.name)}">`,
    `<h3><code>${escapeHtml(entry.name)}</code> <span class="kind">${entry.typeOnly ? 'type-only ' : ''}${entry.kind}</span></h3>`,
    `<pre><code class="language-ts">${escapeHtml(entry.signature)}</code></pre>`,
    docHtml(entry.doc),
    members,
    `<p class="source">Defined in <code>${escapeHtml(entry.file)}</code>.</p>`,
    '</section>',
  ].join('\n');
}

function layout(page: Page, guides: readonly Guide[], packageNames: readonly string[]): string {
  const link = (target: string, text: string): string =>
    `<a href="${relativeHref(page.path, target)}"${target === page.path ? ' aria-current="page"' : ''}>${text}</a>`;
  const guideLinks = guides.map((guide) => `<li>${link(guide.page, escapeHtml(guide.nav))}</li>`).join('\n');
  const packageLinks = packageNames
    .map((name) => `<li>${link(`packages/${name}.html`, escapeHtml(name))} <span class="api">${link(`api/${name}.html`, 'API')}</span></li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title === 'morgana' ? 'morgana' : `${page.title} · morgana`)}</title>
<link rel="stylesheet" href="${relativeHref(page.path, 'style.css')}">
</head>
<body>
<header class="site-header">${link('index.html', 'morgana')} <span>a network protocol suite in TypeScript, composed into appliances</span></header>
<div class="layout">
<nav class="site-nav" aria-label="Site">
<h2>Guides</h2>
<ul>
${guideLinks}
</ul>
<h2>${link('packages/index.html', 'Packages')}</h2>
<p class="coverage-link">${link('coverage.html', 'RFC coverage of every package')}</p>
<ul class="packages">
${packageLinks}
</ul>
</nav>
<main>
${page.body}
</main>
</div>
<footer>Built by <code>tools/docs</code> from the repository's Markdown, its TSDoc and <code>docs/benchmark-results.json</code>; served here by morgana's own <code>www</code> appliance.</footer>
</body>
</html>
`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const out = resolve(process.argv[2] ?? join(root, 'site'));
  const started = Date.now();
  const report = buildSite({ root, out });
  const exports = report.packages.reduce((sum, p) => sum + p.entries.length, 0);
  process.stdout.write(`docs: ${report.pages.length} pages (${report.packages.length} packages, ${exports} exports), ${report.charts.length} charts in ${out} (${Date.now() - started} ms)\n`);
  for (const line of report.unlinked) process.stdout.write(`docs: no page for the link ${line} (shown as text)\n`);
}
