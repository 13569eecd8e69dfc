/**
 * Benchmark charts: horizontal bar charts as standalone SVG, drawn from the structured results in
 * docs/benchmark-results.json (morgana against the peer implementations, measured side by side).
 */
import { escapeHtml } from './markdown.js';

/** One measured implementation. */
export interface BenchmarkResult {
  /** Implementation and set-up, e.g. "NSD 4.6.1 (1 server process)". */
  readonly name: string;
  /** True for morgana's own rows (drawn highlighted). */
  readonly morgana?: boolean;
  /** The figure; for a range, its upper end. */
  readonly value: number;
  /** Lower end when several runs gave a range. */
  readonly low?: number;
}

/** One comparison: a chart. */
export interface BenchmarkComparison {
  /** File name of the chart (`charts/<id>.svg`) and anchor on the page. */
  readonly id: string;
  readonly title: string;
  /** Unit of `value`, e.g. "queries/s". */
  readonly unit: string;
  /** Whether more is better (throughput) or less (latency). */
  readonly better: 'higher' | 'lower';
  /** The command that produced the figures, from the repository root. */
  readonly command: string;
  /** Conditions worth knowing when reading the figures. */
  readonly notes?: string;
  readonly results: readonly BenchmarkResult[];
}

/** The results file. */
export interface BenchmarkResults {
  /** The machine and conditions of the runs. */
  readonly machine: string;
  readonly comparisons: readonly BenchmarkComparison[];
}

/** Checks the shape of a parsed results file; throws an Error naming the first problem. */
export function validateResults(data: unknown): BenchmarkResults {
  const fail = (message: string): never => {
    throw new Error(`docs/benchmark-results.json: ${message}`);
  };
  if (typeof data !== 'object' || data === null) return fail('not an object');
  const record = data as Record<string, unknown>;
  if (typeof record.machine !== 'string') fail('"machine" must be a string');
  if (!Array.isArray(record.comparisons)) return fail('"comparisons" must be an array');
  const ids = new Set<string>();
  for (const [index, comparison] of (record.comparisons as unknown[]).entries()) {
    const c = comparison as Record<string, unknown>;
    const where = `comparisons[${index}]`;
    if (typeof c !== 'object' || c === null) fail(`${where} is not an object`);
    if (typeof c.id !== 'string' || !/^[a-z0-9-]+$/.test(c.id)) fail(`${where}.id must be kebab-case`);
    if (ids.has(c.id as string)) fail(`${where}.id ${String(c.id)} is used twice`);
    ids.add(c.id as string);
    for (const field of ['title', 'unit', 'command'] as const) if (typeof c[field] !== 'string') fail(`${where}.${field} must be a string`);
    if (c.better !== 'higher' && c.better !== 'lower') fail(`${where}.better must be "higher" or "lower"`);
    if (!Array.isArray(c.results) || c.results.length === 0) fail(`${where}.results must be a non-empty array`);
    for (const [row, result] of (c.results as unknown[]).entries()) {
      const r = result as Record<string, unknown>;
      if (typeof r.name !== 'string') fail(`${where}.results[${row}].name must be a string`);
      if (typeof r.value !== 'number' || !Number.isFinite(r.value) || r.value < 0) fail(`${where}.results[${row}].value must be a number ≥ 0`);
      if (r.low !== undefined && (typeof r.low !== 'number' || r.low < 0 || r.low > (r.value as number))) fail(`${where}.results[${row}].low must be between 0 and value`);
    }
  }
  return data as BenchmarkResults;
}

const WIDTH = 760;
const LABEL_WIDTH = 300;
const VALUE_WIDTH = 130;
const ROW_HEIGHT = 30;
const BAR_HEIGHT = 18;
const TOP = 46;
const BOTTOM = 12;

/** Formats a figure with thousands separators and at most three significant decimals. */
export function formatValue(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1).replace(/\.0$/, '');
  return value.toFixed(2).replace(/\.?0+$/, '');
}

/** Escapes text for SVG, dropping the control characters XML 1.0 does not allow. */
function svgText(text: string): string {
  return escapeHtml(text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ''));
}

/** Draws one comparison as a standalone SVG document. */
export function barChart(comparison: BenchmarkComparison): string {
  const rows = comparison.results;
  const height = TOP + rows.length * ROW_HEIGHT + BOTTOM;
  const max = Math.max(...rows.map((r) => r.value), Number.MIN_VALUE);
  const plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const subtitle = `${comparison.unit}, ${comparison.better} is better`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="title-${comparison.id}">`,
    `<title id="title-${comparison.id}">${svgText(`${comparison.title} (${subtitle})`)}</title>`,
    '<style>text{font-family:system-ui,sans-serif;font-size:13px;fill:#222}.t{font-size:15px;font-weight:600}.s{fill:#555}.m{fill:#2b6cb0}.p{fill:#a0aec0}.r{fill-opacity:.45}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text class="t" x="8" y="20">${svgText(comparison.title)}</text>`,
    `<text class="s" x="8" y="38">${svgText(subtitle)}</text>`,
  ];
  rows.forEach((row, index) => {
    const y = TOP + index * ROW_HEIGHT;
    const barY = y + (ROW_HEIGHT - BAR_HEIGHT) / 2;
    const width = (row.value / max) * plot;
    const cls = row.morgana === true ? 'm' : 'p';
    parts.push(`<text x="${LABEL_WIDTH - 8}" y="${y + ROW_HEIGHT / 2 + 4}" text-anchor="end">${svgText(row.name)}</text>`);
    if (row.low !== undefined && row.low < row.value) {
      const lowWidth = (row.low / max) * plot;
      parts.push(`<rect class="${cls}" x="${LABEL_WIDTH}" y="${barY}" width="${lowWidth.toFixed(1)}" height="${BAR_HEIGHT}"/>`);
      parts.push(`<rect class="${cls} r" x="${(LABEL_WIDTH + lowWidth).toFixed(1)}" y="${barY}" width="${(width - lowWidth).toFixed(1)}" height="${BAR_HEIGHT}"/>`);
    } else {
      parts.push(`<rect class="${cls}" x="${LABEL_WIDTH}" y="${barY}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}"/>`);
    }
    const label = row.low !== undefined && row.low < row.value ? `${formatValue(row.low)}–${formatValue(row.value)}` : formatValue(row.value);
    parts.push(`<text x="${(LABEL_WIDTH + width + 6).toFixed(1)}" y="${y + ROW_HEIGHT / 2 + 4}">${svgText(label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
