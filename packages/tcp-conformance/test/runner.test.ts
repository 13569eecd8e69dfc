import { describe, expect, it } from 'vitest';
import { createMorganaTarget, runConformance } from '../src/index.js';
import type { ConformanceCase, ConformanceTarget } from '../src/index.js';

function makeCase(id: string, run: ConformanceCase['run'], waitMs?: number): ConformanceCase {
  return { id, title: `the ${id} case`, rfc: 'RFC 9293 §3.5', needs: waitMs === undefined ? undefined : { waitMs }, run };
}

describe('runConformance', () => {
  it('records pass, differs, skip and error, with the model and the implementation side of a difference', async () => {
    const target = createMorganaTarget();
    const report = await runConformance(target, {
      cases: [
        makeCase('a.pass', async (t) => t.note('fine')),
        makeCase('b.differs', async (t) => t.differ('a SYN-ACK', 'a RST')),
        makeCase('c.skip', async (t) => t.skip('no such option here')),
        makeCase('d.error', async () => {
          throw new TypeError('harness bug');
        }),
      ],
    });
    await target.close();
    expect(report.results.map(({ durationMs, ...rest }) => rest)).toEqual([
      { id: 'a.pass', title: 'the a.pass case', rfc: 'RFC 9293 §3.5', outcome: 'pass', notes: ['fine'] },
      { id: 'b.differs', title: 'the b.differs case', rfc: 'RFC 9293 §3.5', outcome: 'differs', expected: 'a SYN-ACK', actual: 'a RST', notes: [] },
      { id: 'c.skip', title: 'the c.skip case', rfc: 'RFC 9293 §3.5', outcome: 'skip', reason: 'no such option here', notes: [] },
      { id: 'd.error', title: 'the d.error case', rfc: 'RFC 9293 §3.5', outcome: 'error', reason: 'TypeError: harness bug', notes: [] },
    ]);
    expect(report.summary).toEqual({ pass: 1, differs: 1, skip: 1, error: 1 });
    expect(report.target).toMatch(/morgana/);
  });

  it('skips a case whose declared wait exceeds the target budget, without running it', async () => {
    const morgana = createMorganaTarget();
    const target: ConformanceTarget = { ...morgana, caseBudgetMs: 1000 };
    let ran = false;
    const report = await runConformance(target, {
      cases: [
        makeCase('long.wait', async () => {
          ran = true;
        }, 5000),
      ],
    });
    await morgana.close();
    expect(ran).toBe(false);
    expect(report.results[0]).toMatchObject({ outcome: 'skip', reason: 'waits up to 5000 ms for a timer, over this target\'s 1000 ms budget per case' });
  });

  it('ends a case that runs past its timeout (plus its declared wait) as an error and goes on', async () => {
    const target = createMorganaTarget();
    const report = await runConformance(target, {
      caseTimeoutMs: 1000,
      cases: [
        makeCase('stuck.case', async (t) => {
          await t.timeline.sleep(1500);
        }, 400),
        makeCase('next.case', async () => undefined),
      ],
    });
    await target.close();
    expect(report.results.map((result) => result.outcome)).toEqual(['error', 'pass']);
    expect(report.results[0].reason).toMatch(/did not finish within 1400 ms/);
  });

  it('fails the whole run when the target cannot be reached at all (a broken harness, not a finding)', async () => {
    const target = createMorganaTarget({ link: { loss: 1 } });
    await expect(runConformance(target, { cases: [makeCase('never.runs', async () => undefined)] })).rejects.toThrow(/never answered ARP/);
    await target.close();
  });

  it('gives each case its own port pair', async () => {
    const target = createMorganaTarget();
    const ports: [number, number][] = [];
    const record = makeCase('ports.case', async (t) => void ports.push([t.targetPort, t.testerPort]));
    await runConformance(target, { cases: [record, record, record], targetPortBase: 30_000, testerPortBase: 50_000 });
    await target.close();
    expect(ports).toEqual([
      [30_000, 50_000],
      [30_001, 50_001],
      [30_002, 50_002],
    ]);
  });
});
