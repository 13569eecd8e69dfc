import { describe, expect, it } from 'vitest';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import { createTcp } from '../src/index.js';
import { createMemoryIpPair } from './helpers/memory-ip.js';

describe('two TCP layers over an in-memory link', () => {
  it('connect, move 100 kB, close, and leave no timer after TIME-WAIT', async () => {
    const clock = new VirtualClock();
    const pair = createMemoryIpPair({ clock, aToB: { delay: 5 }, bToA: { delay: 5 } });
    const server = createTcp({ ip: pair.b, clock, random: createSeededRandom(1) });
    const client = createTcp({ ip: pair.a, clock, random: createSeededRandom(2) });
    const listener = server.listen(80);
    const connecting = client.connect(pair.addressB, 80);
    await clock.run(100);
    const flow = await connecting;
    const accepted = await listener.accept();
    const data = new Uint8Array(100_000).map((_, i) => i * 7);
    const writing = flow.write(data).then(() => flow.close());
    const chunks: Uint8Array[] = [];
    let done = false;
    const reading = (async () => {
      for (;;) {
        const chunk = await accepted.read();
        if (chunk === null) break;
        chunks.push(chunk);
      }
      await accepted.close();
      done = true;
    })();
    await clock.runUntil(() => done);
    await writing;
    await reading;
    const total = chunks.reduce((n, c) => n + c.length, 0);
    expect(total).toBe(data.length);
    expect(flow.info().bytesSent).toBe(data.length);
    expect(accepted.info().bytesReceived).toBe(data.length);
    expect(flow.info().retransmits).toBe(0);
    await clock.run(70_000);
    expect(clock.pendingTimers()).toBe(0);
  });
});
