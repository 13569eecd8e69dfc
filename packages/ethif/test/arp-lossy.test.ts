// Two hosts on a link that loses ARP frames: a request retried in time still gets the packet through.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EtherType } from '@morgana/core';
import type { Arp } from '@morgana/core';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import { EthernetFrame, createArp, createEthernet } from '../src/index.js';
import { OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, ScriptedNetif, link } from './helpers.js';

const MAX_REQUESTS = 4;

function twoHosts(lose: (arpFrameIndex: number) => boolean, delayMs = 2) {
  const clock = new VirtualClock();
  const netifA = new ScriptedNetif(OUR_MAC);
  const netifB = new ScriptedNetif(PEER_MAC);
  let arpFrames = 0;
  link(netifA, netifB, clock, {
    delayMs,
    drop: (frame) => new EthernetFrame(frame).ethertype === EtherType.arp && lose(arpFrames++),
  });
  const config = { announceCount: 0, maxRequests: MAX_REQUESTS, requestInterval: 1000, requestBackoff: 2 };
  const a: Arp = createArp({ ethernet: createEthernet({ netif: netifA }), clock, random: createSeededRandom(1) }, { ...config, addresses: [OUR_IP] });
  const ethernetB = createEthernet({ netif: netifB });
  createArp({ ethernet: ethernetB, clock, random: createSeededRandom(2) }, { ...config, addresses: [PEER_IP] });
  const received: number[] = [];
  ethernetB.register(EtherType.ipv4, (payload) => received.push(payload[0]));
  return { clock, a, received };
}

/** Whether some request and its reply both get through, given which ARP frames are lost in order. */
function expectDelivery(lost: readonly boolean[]): boolean {
  let next = 0;
  const isLost = (): boolean => lost[next++] ?? false;
  for (let attempt = 0; attempt < MAX_REQUESTS; attempt++) {
    if (isLost()) continue;
    if (!isLost()) return true;
  }
  return false;
}

describe('ARP over a lossy link', () => {
  it('delivers the queued packet after a retry when the first reply is lost', () => {
    const { clock, a, received } = twoHosts((index) => index === 1);
    expect(a.output(PEER_IP, EtherType.ipv4, 20, (buffer) => buffer.fill(42, 0, 20).length)).toBe(true);
    clock.advance(999);
    expect(received).toEqual([]);
    clock.advance(10);
    expect(received).toEqual([42]);
    expect(a.stats()['requests-sent']).toBe(2);
    expect(a.lookup(PEER_IP)).toBe(PEER_MAC);
  });

  it('for any pattern of lost ARP frames, the packet arrives exactly once if some request and its reply got through, else is counted unreachable', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 2 * MAX_REQUESTS }), (lost) => {
        const { clock, a, received } = twoHosts((index) => lost[index] ?? false);
        a.output(PEER_IP, EtherType.ipv4, 20, (buffer) => buffer.fill(7, 0, 20).length);
        clock.advance(60_000);
        const delivered = expectDelivery(lost);
        expect(received).toEqual(delivered ? [7] : []);
        expect(a.stats()['unreachable-dropped'] ?? 0).toBe(delivered ? 0 : 1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ARP on a synchronous link', () => {
  it('sends the queued packet when the reply arrives inside the request write', async () => {
    const { clock, a, received } = twoHosts(() => false, 0);
    expect(a.output(PEER_IP, EtherType.ipv4, 20, (buffer) => buffer.fill(5, 0, 20).length)).toBe(true);
    expect(received).toEqual([5]);
    a.remove(PEER_IP);
    await expect(a.query(PEER_IP)).resolves.toBe(PEER_MAC);
    // Each host's expiry sweep, and no retry timer left over.
    expect(clock.pendingTimers()).toBe(2);
    expect(a.stats()['requests-sent']).toBe(2);
  });

  it('stops probing when the owner answers inside the probe write, leaving no timer', async () => {
    const { clock, a } = twoHosts(() => false, 0);
    await clock.run(5000);
    const taken = a.probe(PEER_IP);
    await clock.run(1000);
    await expect(taken).resolves.toBe(true);
    expect(a.stats()['probes-sent']).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});
