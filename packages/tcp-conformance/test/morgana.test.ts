import { describe, expect, it } from 'vitest';
import { catalogue, createMorganaTarget, formatMarkdown, runConformance } from '../src/index.js';
import type { ConformanceCase, ConformanceReport } from '../src/index.js';
import type { TcpConfig } from '@morgana/tcp';

/**
 * Where morgana's TCP, with its default configuration, deliberately or knowingly differs from
 * the RFC model. Any other difference fails this file: it is a regression (or a new finding to
 * add here with its reason).
 */
const KNOWN_DIFFERENCES: Readonly<Record<string, string>> = {
  // Data in a SYN is dropped (the peer retransmits it), as Linux does without TCP Fast Open.
  'handshake.syn-with-data': 'SYN data not queued',
  // Zero-window probes are Linux-style: zero-length at SND.UNA-1, which elicits the same ACK.
  'data.zero-window-probed': 'probe at SND.UNA-1 without data',
  // The initial window is 10 segments (RFC 6928, as Linux), not RFC 5681's 2 to 4.
  'congestion.initial-window': 'IW10',
  // The RTO floor defaults to 200 ms (Linux's), not RFC 6298's 1 s.
  'timers.rto-at-least-one-second': 'RTO of 200 ms',
  // The default MSL is 30 s (a 60 s TIME-WAIT, like Linux), not the RFC's 2 minutes.
  'close.time-wait-lasts-2msl': 'TIME-WAIT of 60 s',
};

async function run(config?: TcpConfig, cases: readonly ConformanceCase[] = catalogue): Promise<ConformanceReport> {
  const target = createMorganaTarget({ tcp: config });
  try {
    return await runConformance(target, { cases });
  } finally {
    await target.close();
  }
}

function outcomes(report: ConformanceReport): Record<string, string> {
  return Object.fromEntries(report.results.map((result) => [result.id, result.outcome]));
}

describe('the catalogue', () => {
  it('has at least 30 cases, each with a unique kebab-case id, a title and an RFC citation', () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(30);
    expect(new Set(catalogue.map((c) => c.id)).size).toBe(catalogue.length);
    for (const c of catalogue) {
      expect(c.id).toMatch(/^[a-z]+\.[a-z0-9-]+$/);
      expect(c.title.length).toBeGreaterThan(10);
      expect(c.rfc).toMatch(/RFC (9293|5961|7323|2018|6298|1122|5681|6093|6691)/);
    }
  });
});

describe('morgana against the catalogue (simulated link, virtual time)', () => {
  it('passes every case but the known, documented differences, with no harness errors', async () => {
    const report = await run();
    const got = outcomes(report);
    const want = Object.fromEntries(catalogue.map((c) => [c.id, c.id in KNOWN_DIFFERENCES ? 'differs' : 'pass']));
    expect(got, formatMarkdown(report)).toEqual(want);
    expect(report.summary).toEqual({ pass: catalogue.length - 5, differs: 5, skip: 0, error: 0 });
  });

  it('passes the TIME-WAIT case with the RFC 9293 MSL of 2 minutes', async () => {
    const report = await run({ msl: 120_000 }, catalogue.filter((c) => c.id === 'close.time-wait-lasts-2msl'));
    expect(report.results[0].outcome).toBe('pass');
  });

  it('reports the options a TCP configured without SACK and timestamps does not negotiate', async () => {
    const ids = ['options.sack-permitted-negotiated', 'options.timestamps-negotiated', 'options.sack-blocks-for-out-of-order-data', 'options.timestamps-echoed', 'options.window-scale-negotiated'];
    const report = await run({ sack: false, timestamps: false, windowScaling: false }, catalogue.filter((c) => ids.includes(c.id)));
    expect(outcomes(report)).toEqual({
      'options.sack-permitted-negotiated': 'differs',
      'options.timestamps-negotiated': 'differs',
      'options.sack-blocks-for-out-of-order-data': 'skip',
      'options.timestamps-echoed': 'skip',
      'options.window-scale-negotiated': 'differs',
    });
    const sack = report.results.find((result) => result.id === 'options.sack-permitted-negotiated');
    expect(sack?.expected).toBe('a SACK-permitted option');
    expect(sack?.actual).toBe('none');
  });

  it('passes the RTO floor case with the RFC 6298 minimum of 1 s', async () => {
    const report = await run({ minRto: 1000 }, catalogue.filter((c) => c.id === 'timers.rto-at-least-one-second'));
    expect(report.results[0].outcome).toBe('pass');
  });

  it('flags an initial RTO below the RFC 6298 value as a difference', async () => {
    const report = await run({ initialRto: 300 }, catalogue.filter((c) => c.id === 'handshake.syn-retransmission'));
    expect(report.results[0].outcome).toBe('differs');
    expect(report.results[0].actual).toBe('300 ms');
  });

  it('gives the same report for the same seed', async () => {
    const cases = catalogue.slice(0, 12);
    const first = await run(undefined, cases);
    const second = await run(undefined, cases);
    expect(first.results.map(({ durationMs, ...rest }) => rest)).toEqual(second.results.map(({ durationMs, ...rest }) => rest));
  });
});
