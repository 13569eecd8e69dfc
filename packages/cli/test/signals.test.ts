// What every appliance does on signals: SIGUSR1 prints counters, SIGHUP reloads, SIGINT and
// SIGTERM stop, and the handlers are gone afterwards. Signals are delivered with process.emit,
// which runs the listeners exactly as a real signal would.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { untilSignalled } from '../src/run.js';

function harness(options: { reload?: () => Promise<void>; close?: () => Promise<void> } = {}) {
  const lines: string[] = [];
  const printed: string[] = [];
  let closed = 0;
  const running = untilSignalled(
    {
      close: options.close ?? (async () => { closed += 1; }),
      stats: () => ({ requests: 3, closed }),
      reload: options.reload,
    },
    createLogger('info', (line) => lines.push(line)),
    (text) => printed.push(text),
  );
  return { running, lines, printed, closed: () => closed };
}

describe('appliance signals', () => {
  it('prints counters as JSON on SIGUSR1 and stops on SIGTERM with status 0, removing its handlers', async () => {
    const before = process.listenerCount('SIGUSR1');
    const h = harness();
    process.emit('SIGUSR1');
    expect(JSON.parse(h.printed[0] ?? '')).toEqual({ requests: 3, closed: 0 });
    process.emit('SIGTERM');
    expect(await h.running).toBe(0);
    expect(h.closed()).toBe(1);
    expect(h.lines.some((line) => line.includes('SIGTERM: stopping'))).toBe(true);
    expect(process.listenerCount('SIGUSR1')).toBe(before);
    expect(process.listenerCount('SIGTERM')).toBe(process.listenerCount('SIGINT'));
  });

  it('reloads on SIGHUP and keeps running when the reload fails', async () => {
    let reloads = 0;
    const h = harness({
      reload: async () => {
        reloads += 1;
        if (reloads === 2) throw new Error('zone.db line 3: bad TTL');
      },
    });
    process.emit('SIGHUP');
    process.emit('SIGHUP');
    await new Promise((resolve) => setImmediate(resolve));
    expect(reloads).toBe(2);
    expect(h.lines.some((line) => line.includes('reload failed, keeping the old configuration: zone.db line 3: bad TTL'))).toBe(true);
    process.emit('SIGINT');
    expect(await h.running).toBe(0);
  });

  it('takes no SIGHUP handler without a reload, and exits 1 when closing fails', async () => {
    const hup = process.listenerCount('SIGHUP');
    const h = harness({ close: async () => { throw new Error('port still busy'); } });
    expect(process.listenerCount('SIGHUP')).toBe(hup);
    process.emit('SIGINT');
    expect(await h.running).toBe(1);
    expect(h.lines.some((line) => line.includes('while stopping: port still busy'))).toBe(true);
  });
});
