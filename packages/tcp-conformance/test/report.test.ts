import { describe, expect, it } from 'vitest';
import { formatMarkdown, summarize } from '../src/index.js';
import type { CaseResult } from '../src/index.js';

const results: CaseResult[] = [
  { id: 'a.pass', title: 'passes', rfc: 'RFC 9293 §3.5', outcome: 'pass', notes: ['took 3 ms'], durationMs: 3 },
  { id: 'b.differs', title: 'differs | badly', rfc: 'RFC 5961 §3.2', outcome: 'differs', expected: 'a challenge ACK', actual: 'a RST', notes: ['seen twice'], durationMs: 1 },
  { id: 'c.skip', title: 'skips', rfc: 'RFC 1122 4.2.3.6', outcome: 'skip', reason: 'too long', notes: [], durationMs: 0 },
  { id: 'd.error', title: 'breaks', rfc: 'RFC 6298 §2.1', outcome: 'error', reason: 'helper died', notes: [], durationMs: 0 },
];

describe('reports', () => {
  it('counts each outcome', () => {
    expect(summarize(results)).toEqual({ pass: 1, differs: 1, skip: 1, error: 1 });
  });

  it('formats a summary, a row per case and a section per difference', () => {
    const text = formatMarkdown({ target: 'Linux 6.1', results, summary: summarize(results) });
    expect(text).toContain('# TCP conformance: Linux 6.1');
    expect(text).toContain('4 cases: 1 pass, 1 differ, 1 skipped, 1 errors.');
    expect(text).toContain('| `a.pass` | RFC 9293 §3.5 | pass | took 3 ms |');
    expect(text).toContain('| `b.differs` | RFC 5961 §3.2 | differs | expected a challenge ACK; got a RST |');
    expect(text).toContain('| `c.skip` | RFC 1122 4.2.3.6 | skip | too long |');
    expect(text).toContain('| `d.error` | RFC 6298 §2.1 | error | helper died |');
    expect(text).toContain('### `b.differs`: differs | badly (RFC 5961 §3.2)\n\n- model: a challenge ACK\n- Linux 6.1: a RST\n- note: seen twice');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('escapes pipes inside table cells', () => {
    const text = formatMarkdown({ target: 'x', results: [{ ...results[1], expected: 'a|b' }], summary: summarize([results[1]]) });
    expect(text).toContain('expected a\\|b; got a RST');
  });
});
