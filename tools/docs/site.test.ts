// Builds the docs site into a temporary folder and checks it as a reader would find it: every
// link and anchor resolves, every package has a page and an API page listing its exports, the
// charts are well-formed SVG, and every page has the navigation and the stylesheet.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SiteReport, buildSite, relativeHref, resolveLinks } from './build.js';
import { validateResults } from './charts.js';
import { wellFormedXml } from './xml-check.js';

const root = join(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'morgana-site-'));
let report: SiteReport;

const packageNames = readdirSync(join(root, 'packages'))
  .filter((name) => existsSync(join(root, 'packages', name, 'README.md')) && existsSync(join(root, 'packages', name, 'src', 'index.ts')))
  .sort();

beforeAll(() => {
  report = buildSite({ root, out });
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

function read(page: string): string {
  return readFileSync(join(out, page), 'utf8');
}

function ids(html: string): Set<string> {
  return new Set([...html.matchAll(/\sid="([^"]*)"/g)].map((m) => decode(m[1])));
}

function decode(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

describe('XML check', () => {
  it('accepts a well-formed document and rejects broken ones', () => {
    expect(wellFormedXml('<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>')).toBeUndefined();
    expect(wellFormedXml('<svg><g></svg>')).toMatch(/wrong element/);
    expect(wellFormedXml('<svg><text>a & b</text></svg>')).toMatch(/bare/);
    expect(wellFormedXml('<svg a="1" a="2"></svg>')).toMatch(/twice/);
    expect(wellFormedXml('<svg></svg><svg></svg>')).toMatch(/root/);
    expect(wellFormedXml('<svg><text>1 < 2</text></svg>')).toMatch(/starts no tag/);
  });
});

describe('TSDoc links', () => {
  it('link to the entry on the same page, on another package\'s page, or stay code', () => {
    const exporters = new Map([['createArp', 'ethif'], ['DecodeError', 'core']]);
    expect(resolveLinks('See {@link createArp }, {@link DecodeError | the error} and {@link Missing}.', 'ethif', exporters)).toBe(
      'See [`createArp`](#createArp), [`the error`](core.html#DecodeError) and `Missing`.',
    );
  });
});

describe('docs site', () => {
  it('has an overview, the guides, a packages index and the benchmarks page', () => {
    for (const page of ['index.html', 'architecture.html', 'compose-a-stack.html', 'write-an-appliance.html', 'backends.html', 'benchmarks.html', 'packages/index.html', 'coverage.html']) {
      expect(report.pages, page).toContain(page);
    }
    for (const optional of ['guide-property-testing', 'tcp-conformance']) {
      expect(report.pages.includes(`${optional}.html`)).toBe(existsSync(join(root, 'docs', `${optional}.md`)));
    }
  });

  it('gives every package a page from its README and an API page listing each of its exports', () => {
    expect(report.packages.map((p) => p.name)).toEqual(packageNames);
    for (const api of report.packages) {
      expect(read(`packages/${api.name}.html`)).toContain(`<h1 id="morgana${api.name}">@morgana/${api.name}</h1>`);
      expect(api.entries.length, `${api.name} exports`).toBeGreaterThan(0);
      const page = read(`api/${api.name}.html`);
      const anchors = ids(page);
      for (const entry of api.entries) {
        expect(anchors.has(entry.name), `api/${api.name}.html lists ${entry.name}`).toBe(true);
        expect(page).toContain(`href="#${entry.name}"`);
      }
    }
    const exportsOf = (name: string): string[] => report.packages.find((p) => p.name === name)?.entries.map((e) => e.name) ?? [];
    expect(exportsOf('tcp')).toEqual(expect.arrayContaining(['createTcp', 'TcpConfig']));
    expect(exportsOf('dns')).toEqual(expect.arrayContaining(['AuthoritativeServer', 'parseZone', 'serveDns']));
    expect(exportsOf('stack')).toEqual(expect.arrayContaining(['createDirectStack', 'createDhcpStack']));
    expect(read('api/core.html')).toMatch(/<section class="api-entry" id="internetChecksum">[\s\S]*?<pre><code class="language-ts">function internetChecksum\(/);
  });

  it('gathers every package\'s coverage table on one page, with unique ids', () => {
    const html = read('coverage.html');
    for (const name of packageNames) expect(html, name).toContain(`<h2 id="${name}">`);
    // The packages whose READMEs this project's docs keep give a table (others may give a list).
    for (const name of ['core', 'ethif', 'ipv4', 'udp', 'tcp', 'dhcp', 'stack', 'socket', 'netif-tap', 'netif-socket', 'netif-xen', 'dns', 'http', 'cli', 'ssh-crypto-node']) {
      const section = html.slice(html.indexOf(`<h2 id="${name}">`)).split('<h2 id=')[1] ?? '';
      expect(section, `${name} coverage table`).toContain('<table>');
    }
    for (const page of report.pages) {
      const all = [...read(page).matchAll(/\sid="([^"]*)"/g)].map((m) => m[1]);
      expect(all.length - new Set(all).size, `${page}: repeated ids`).toBe(0);
    }
  });

  it('resolves every internal link and anchor on every page', () => {
    const broken: string[] = [];
    for (const page of report.pages) {
      const html = read(page);
      for (const match of html.matchAll(/\s(href|src)="([^"]*)"/g)) {
        const target = decode(match[2]);
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        expect(target, `${page}: absolute link ${target}`).not.toMatch(/^\//);
        const [path, anchor] = target.includes('#') ? [target.slice(0, target.indexOf('#')), target.slice(target.indexOf('#') + 1)] : [target, undefined];
        const file = path === '' ? page : posix.normalize(posix.join(posix.dirname(page), path));
        if (file.startsWith('..') || !existsSync(join(out, file))) {
          broken.push(`${page}: ${target} (no file ${file})`);
          continue;
        }
        if (anchor !== undefined && anchor !== '' && !ids(read(file)).has(anchor)) broken.push(`${page}: ${target} (no id ${anchor} in ${file})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('puts the navigation and the one stylesheet on every page, and no script', () => {
    for (const page of report.pages) {
      const html = read(page);
      expect(html, page).toContain('<nav class="site-nav"');
      expect(html, page).toContain(`<link rel="stylesheet" href="${relativeHref(page, 'style.css')}">`);
      expect(html, page).toContain(`href="${relativeHref(page, 'index.html')}"`);
      expect(html, page).not.toMatch(/<script/i);
      expect(html.match(/<link rel="stylesheet"/g)?.length, page).toBe(1);
    }
    expect(existsSync(join(out, 'style.css'))).toBe(true);
  });

  it('draws a well-formed SVG chart per comparison in benchmark-results.json and shows it on the benchmarks page', () => {
    const results = validateResults(JSON.parse(readFileSync(join(root, 'docs', 'benchmark-results.json'), 'utf8')));
    expect(report.charts).toEqual(results.comparisons.map((c) => `charts/${c.id}.svg`));
    const benchmarks = read('benchmarks.html');
    for (const comparison of results.comparisons) {
      const svg = read(`charts/${comparison.id}.svg`);
      expect(wellFormedXml(svg), `charts/${comparison.id}.svg`).toBeUndefined();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/);
      // One bar per result (two when a range is drawn), and every name on the chart.
      const bars = svg.match(/<rect class=/g)?.length ?? 0;
      expect(bars).toBe(comparison.results.reduce((n, r) => n + (r.low !== undefined && r.low < r.value ? 2 : 1), 0));
      for (const result of comparison.results) expect(svg).toContain(`>${result.name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</text>`);
      expect(benchmarks).toContain(`src="charts/${comparison.id}.svg"`);
    }
    // The rendered benchmarks.md follows the charts.
    expect(benchmarks).toContain('<h2 id="morgana-against-its-peers">');
    expect(benchmarks).toContain('<table>');
  });

  it('rejects a results file with a missing figure', () => {
    expect(() => validateResults({ machine: 'm', comparisons: [{ id: 'x', title: 't', unit: 'u', better: 'higher', command: 'c', results: [{ name: 'a' }] }] })).toThrow(/value/);
    expect(() => validateResults({ machine: 'm', comparisons: [{ id: 'Bad Id', title: 't', unit: 'u', better: 'higher', command: 'c', results: [{ name: 'a', value: 1 }] }] })).toThrow(/kebab/);
  });

  it('writes pages only inside the output folder', () => {
    for (const page of report.pages) expect(dirname(join(out, page)).startsWith(out)).toBe(true);
  });
});
