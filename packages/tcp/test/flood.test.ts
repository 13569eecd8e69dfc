import { describe, expect, it } from 'vitest';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import type { Ipv4Address, TcpFlow } from '@morgana/core';
import { createTcp, emitTcp, tcpLength, TcpFlag } from '../src/index.js';
import type { TcpRepr } from '../src/index.js';
import { createMemoryIpPair } from './helpers/memory-ip.js';

function spoofedSyn(sourcePort: number, seq: number): Uint8Array {
  const repr: TcpRepr = {
    sourcePort,
    destinationPort: 80,
    seq,
    ack: 0,
    flags: TcpFlag.syn,
    window: 65_535,
    urgent: 0,
    mss: 1460,
    windowScale: 7,
    sackPermitted: true,
    sackBlocks: [],
    tsVal: seq,
    tsEcr: 0,
    payload: new Uint8Array(0),
  };
  const bytes = new Uint8Array(tcpLength(repr));
  emitTcp(repr, bytes);
  return bytes;
}

async function drain(flow: TcpFlow): Promise<number> {
  let total = 0;
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) return total;
    total += chunk.length;
  }
}

describe('SYN flood (simulation)', () => {
  it('keeps established connections working, bounds the half-open table, and completes new connections with SYN cookies', async () => {
    const clock = new VirtualClock();
    const random = createSeededRandom(99);
    const pair = createMemoryIpPair({ clock, random: random.fork(), aToB: { delay: 2 }, bToA: { delay: 2 }, checksumOffload: true });
    const client = createTcp({ ip: pair.a, clock, random: random.fork() });
    const server = createTcp({ ip: pair.b, clock, random: random.fork() }, { maxConnections: 1000 });
    const received: number[] = [];
    server.listen(80, {
      backlog: 64,
      onConnection: (flow) => {
        void drain(flow).then((total) => {
          received.push(total);
          return flow.close();
        });
      },
    });

    // A connection established before the flood.
    let early: TcpFlow | undefined;
    void client.connect(pair.addressB, 80).then((flow) => (early = flow));
    await clock.runUntil(() => early !== undefined);

    // The flood: 20 000 SYNs from spoofed addresses over 10 s, while the early connection sends
    // 1 MB and ten new connections are opened.
    let flooded = 0;
    const flood = (): void => {
      for (let i = 0; i < 100; i++) {
        const source = (0xc6336400 + (random.uint32() & 0xffff)) as Ipv4Address;
        pair.b.inject(spoofedSyn(1024 + (random.uint32() % 60_000), random.uint32()), source);
        flooded++;
      }
      if (flooded < 20_000) clock.setTimer(50, flood);
    };
    flood();
    const payload = new Uint8Array(1 << 20).fill(7);
    let earlyDone = false;
    void (early as TcpFlow)
      .write(payload)
      .then(() => (early as TcpFlow).close())
      .then(() => (earlyDone = true));
    const late: TcpFlow[] = [];
    for (let i = 0; i < 10; i++) {
      clock.setTimer(500 + i * 700, () => {
        void client.connect(pair.addressB, 80, { timeout: 60_000 }).then(async (flow) => {
          late.push(flow);
          await flow.write(new Uint8Array(5000));
          await flow.close();
        });
      });
    }
    let maxConnections = 0;
    await clock.runUntil(() => {
      maxConnections = Math.max(maxConnections, server.stats().connections);
      return earlyDone && late.length === 10 && received.length === 11;
    }, 120_000);

    // Every late connection was opened while the flood was going on.
    expect(flooded).toBeGreaterThan(10_000);
    expect(received.sort((x, y) => x - y)).toEqual([...Array(10).fill(5000), 1 << 20]);
    // The half-open table never outgrew the backlog (plus the connections that completed).
    expect(maxConnections).toBeLessThanOrEqual(64 + 11);
    const stats = server.stats();
    expect(stats['syn-cookies-sent']).toBeGreaterThan(10_000);
    expect(stats['syn-cookies-accepted']).toBe(10);
    // Half-open connections give up after their SYN-ACK retries; nothing outlives them.
    await clock.run(600_000);
    expect(server.stats().connections).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });
});
