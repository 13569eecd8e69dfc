// Hosts on the simulated switched network of @morgana/testing: lossy cables, cut cables.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EtherType, parseIpv4, readU16, writeU16 } from '@morgana/core';
import type { Arp, Ipv4Address, MacAddress } from '@morgana/core';
import { SimulatedNetwork, VirtualClock, createSeededRandom } from '@morgana/testing';
import type { LinkConditions, SimulatedNetif } from '@morgana/testing';
import { ARP_DEFAULTS, createArp, createEthernet } from '../src/index.js';

interface Host {
  readonly netif: SimulatedNetif;
  readonly arp: Arp;
  readonly address: Ipv4Address;
  /** The tag (first two payload bytes) of every IPv4 frame received. */
  readonly received: number[];
}

function network(seed: number, link: LinkConditions) {
  const clock = new VirtualClock();
  const random = createSeededRandom(seed);
  const net = new SimulatedNetwork({ clock, random: random.fork() });
  const host = (index: number): Host => {
    const netif = net.attach({ name: `host${index}`, link });
    const ethernet = createEthernet({ netif });
    const address = parseIpv4(`10.0.0.${index}`);
    const arp = createArp({ ethernet, clock, random: random.fork() }, { addresses: [address] });
    const received: number[] = [];
    ethernet.register(EtherType.ipv4, (payload) => received.push(readU16(payload, 0)));
    return { netif, arp, address, received };
  };
  return { clock, hosts: [host(1), host(2), host(3)] };
}

function sendTag(from: Host, to: Host, tag: number): boolean {
  return from.arp.output(to.address, EtherType.ipv4, 20, (buffer) => {
    writeU16(buffer, 0, tag);
    return 20;
  });
}

describe('ARP on a simulated switched network', () => {
  it('delivers output queued while the peer cable is cut, after a retry, once it is restored', () => {
    const { clock, hosts } = network(1, { delay: 1 });
    const [a, b] = hosts;
    clock.advance(5000);
    b.netif.cut();
    expect(sendTag(a, b, 9)).toBe(true);
    clock.advance(2500);
    expect(b.received).toEqual([]);
    b.netif.restore();
    // Requests at 0, 1000 and 3000 ms: the third one is answered.
    clock.advance(600);
    expect(b.received).toEqual([9]);
    expect(a.arp.stats()['requests-sent']).toBe(3);
    expect(a.arp.lookup(b.address)).toBe(b.netif.mac);
  });

  it('over lossy cables sends each packet at most once, learns only true MACs, asks at most once a second per address, and recovers fully once the cables heal', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const { clock, hosts } = network(seed, { loss: 0.3, delay: 1, jitter: 3 });
        const [a, b, c] = hosts;
        const lossyRounds = 150;
        const rounds = 300;
        for (let round = 0; round < rounds; round++) {
          if (round === lossyRounds) for (const host of hosts) host.netif.setLink({ delay: 1 });
          sendTag(a, b, round);
          sendTag(a, c, round);
          clock.advance(200);
        }
        const seconds = (rounds * 200) / 1000;
        // RFC 1122 2.3.2.1: at most one request per second per address, refreshes included.
        const requests = (a.arp.stats()['requests-sent'] ?? 0) + (a.arp.stats()['refresh-requests-sent'] ?? 0);
        expect(requests).toBeLessThanOrEqual(2 * (seconds + 1));
        const macOf = new Map<Ipv4Address, MacAddress>(hosts.map((host) => [host.address, host.netif.mac]));
        for (const host of hosts) {
          expect(host.arp.stats()['address-conflict']).toBeUndefined();
          for (const entry of host.arp.entries()) {
            if (entry.kind === 'dynamic') expect(entry.mac).toBe(macOf.get(entry.address));
          }
        }
        // Healed at round 150 (30 s). A round whose last request was lost just before that
        // fails one last backoff wait (4 s) later; then the negative cache (20 s) runs out and
        // the next resolution (< 1 s) succeeds: from then on everything gets through.
        const lastWait = ARP_DEFAULTS.requestInterval * ARP_DEFAULTS.requestBackoff ** (ARP_DEFAULTS.maxRequests - 1);
        const settled = lossyRounds + (lastWait + ARP_DEFAULTS.negativeLifetime + 1000) / 200;
        for (const receiver of [b, c]) {
          expect(new Set(receiver.received).size).toBe(receiver.received.length);
          expect(receiver.received.every((tag) => tag < rounds)).toBe(true);
          for (let round = settled; round < rounds; round++) expect(receiver.received).toContain(round);
        }
      }),
      // 12372134: the last lossy request goes out at the instant the cables heal (the worst case).
      { numRuns: 15, examples: [[12372134]] },
    );
  });
});
