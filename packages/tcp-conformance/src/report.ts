/** The result of a conformance run, and its markdown form. */

/** How one case came out. `error` means the harness broke (not a finding about the TCP). */
export type CaseOutcome = 'pass' | 'differs' | 'skip' | 'error';

/** One case's result. */
export interface CaseResult {
  readonly id: string;
  readonly title: string;
  readonly rfc: string;
  readonly outcome: CaseOutcome;
  /** With `differs`: what the model expected. */
  readonly expected?: string;
  /** With `differs`: what the implementation did. */
  readonly actual?: string;
  /** With `skip` or `error`: why. */
  readonly reason?: string;
  /** Observations made on the way (unobservable states, measured times). */
  readonly notes: readonly string[];
  /** Time the case took on the target's clock, ms. */
  readonly durationMs: number;
}

/** A whole run. */
export interface ConformanceReport {
  /** The implementation, as the target names it. */
  readonly target: string;
  readonly results: readonly CaseResult[];
  readonly summary: Readonly<Record<CaseOutcome, number>>;
}

/** Counts outcomes. */
export function summarize(results: readonly CaseResult[]): Record<CaseOutcome, number> {
  const summary: Record<CaseOutcome, number> = { pass: 0, differs: 0, skip: 0, error: 0 };
  for (const result of results) summary[result.outcome]++;
  return summary;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * The report as markdown: a summary line, a table of every case, then the differences with
 * what the model expected and what happened.
 */
export function formatMarkdown(report: ConformanceReport): string {
  const { summary } = report;
  const lines = [
    `# TCP conformance: ${report.target}`,
    '',
    `${report.results.length} cases: ${summary.pass} pass, ${summary.differs} differ, ${summary.skip} skipped, ${summary.error} errors.`,
    '',
    '| Case | RFC | Outcome | Detail |',
    '| --- | --- | --- | --- |',
  ];
  for (const result of report.results) {
    const detail =
      result.outcome === 'differs'
        ? `expected ${result.expected ?? ''}; got ${result.actual ?? ''}`
        : result.outcome === 'pass'
          ? result.notes.join('; ')
          : (result.reason ?? '');
    lines.push(`| \`${result.id}\` | ${cell(result.rfc)} | ${result.outcome} | ${cell(detail)} |`);
  }
  const differences = report.results.filter((result) => result.outcome === 'differs');
  if (differences.length > 0) {
    lines.push('', '## Differences from the model', '');
    for (const result of differences) {
      lines.push(`### \`${result.id}\`: ${result.title} (${result.rfc})`, '', `- model: ${result.expected ?? ''}`, `- ${report.target}: ${result.actual ?? ''}`);
      for (const note of result.notes) lines.push(`- note: ${note}`);
      lines.push('');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
