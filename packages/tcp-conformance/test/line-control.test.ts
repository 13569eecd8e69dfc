import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '@morgana/core';
import { VirtualClock } from '@morgana/testing';
import { LINUX_CONTROL_PROGRAM, createLineControl } from '../src/index.js';

/** A helper played in the test: records requests, answers with `answer(request)` (undefined: stays silent). */
function setup(answer: (request: Record<string, unknown>) => Record<string, unknown> | undefined) {
  const clock = new VirtualClock();
  const requests: Record<string, unknown>[] = [];
  let deliver: (line: string) => void = () => undefined;
  const control = createLineControl(
    {
      send(line) {
        const request = JSON.parse(line) as Record<string, unknown>;
        requests.push(request);
        const reply = answer(request);
        if (reply !== undefined) queueMicrotask(() => deliver(JSON.stringify({ n: request.n, ...reply })));
      },
      onLine: (handler) => {
        deliver = handler;
      },
    },
    (ms, callback) => clock.setTimer(ms, callback),
    1000,
  );
  return { clock, control, requests, deliver: (line: string) => deliver(line) };
}

describe('the line control', () => {
  it('sends one JSON request per call and decodes the answers', async () => {
    const { control, requests } = setup((request) => {
      switch (request.op) {
        case 'connect':
          return { ok: true, id: 7 };
        case 'read':
          return { ok: true, data: '68690a', eof: true, error: null };
        case 'state':
          return { ok: true, state: 'FIN-WAIT-2' };
        default:
          return { ok: true };
      }
    });
    expect(await control.connect(parseIpv4('10.0.0.2'), 80, 5000)).toBe(7);
    await control.send(7, new Uint8Array([0, 255, 16]));
    expect(await control.read(7, 100)).toEqual({ data: new Uint8Array([0x68, 0x69, 0x0a]), eof: true, error: undefined });
    expect(await control.state(5000, 80)).toBe('FIN-WAIT-2');
    expect(requests.map(({ n, ...rest }) => rest)).toEqual([
      { op: 'connect', address: '10.0.0.2', port: 80, localPort: 5000 },
      { op: 'send', id: 7, data: '00ff10' },
      { op: 'read', id: 7, ms: 100 },
      { op: 'state', localPort: 5000, remotePort: 80 },
    ]);
    expect(new Set(requests.map((request) => request.n)).size).toBe(4);
    expect(control.pending()).toBe(0);
  });

  it('passes the helper errors on, and maps unknown states and errors to undefined', async () => {
    const { control } = setup((request) =>
      request.op === 'listen' ? { ok: false, error: 'OSError: [Errno 98] Address already in use' } : request.op === 'state' ? { ok: true, state: 'SYN_RECV' } : { ok: true, data: '', error: 'weird' },
    );
    await expect(control.listen(80)).rejects.toThrow(/Address already in use/);
    expect(await control.state(1, 2)).toBeUndefined();
    expect((await control.read(1, 0)).error).toBeUndefined();
  });

  it('fails a request the helper never answers after its timeout plus the wait it asked for', async () => {
    const { clock, control } = setup(() => undefined);
    let failure: unknown;
    control.accept(80, 500).catch((error: unknown) => {
      failure = error;
    });
    await clock.run(1499);
    expect(failure).toBeUndefined();
    expect(control.pending()).toBe(1);
    await clock.run(1);
    expect(String(failure)).toMatch(/did not answer accept within 1500 ms/);
    expect(control.pending()).toBe(0);
  });

  it('ignores lines that are not answers to a pending request', async () => {
    const { control, deliver } = setup((request) => (request.op === 'describe' ? { ok: true, name: 'Linux 6.1' } : undefined));
    deliver('not json');
    deliver('{"n": 999, "ok": true}');
    deliver('{"hello": 1}');
    expect(await control.describe()).toBe('Linux 6.1');
  });

  it('rejects data that is not hex', async () => {
    const { control } = setup(() => ({ ok: true, data: 'xyz' }));
    await expect(control.read(1, 0)).rejects.toThrow(/not hex/);
  });

  it('ships a helper program that answers every operation the control sends', () => {
    for (const op of ['describe', 'listen', 'unlisten', 'accept', 'connect', 'send', 'read', 'shutdown', 'close', 'abort', 'state', 'reset']) {
      expect(LINUX_CONTROL_PROGRAM).toContain(`if op == '${op}':`);
    }
  });
});
