// Two IPv4 + ICMP layers over fake Ethernets joined by the simulator's links (loss,
// duplication, reordering, delay). The real Ethernet and ARP join them in the stack package's tests.
import { ConnectionRefused, UnreachableCode, UnreachableError, bytesEqual, isMulticastMac, parseMac, readMac, writeMac } from '@morgana/core';
import type { IcmpErrorInfo, Icmp, Ipv4Address, MacAddress } from '@morgana/core';
import { Link, VirtualClock, createSeededRandom } from '@morgana/testing';
import type { LinkConditions } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIcmp, createIpv4 } from '../src/index.js';
import type { Ipv4Layer } from '../src/index.js';
import { FakeArp, FakeEthernet, ip4 } from './fakes.js';

/** An experimental protocol number (RFC 3692) for raw test datagrams. */
const TEST_PROTOCOL = 253;

interface SimHost {
  readonly ethernet: FakeEthernet;
  readonly ip: Ipv4Layer;
  readonly icmp: Icmp;
  readonly received: Uint8Array[];
  readonly errors: IcmpErrorInfo[];
}

/**
 * Hosts 10.0.0.1 and 10.0.0.2 on one link. Each frame goes through a simulator `Link` (a
 * 6-byte destination MAC in front of the IP datagram); `drop` can remove chosen frames.
 */
function network(seed: number, conditions: LinkConditions, mtu = 1500, drop: (frame: number) => boolean = () => false) {
  const clock = new VirtualClock();
  const random = createSeededRandom(seed);
  const macs = [parseMac('02:00:00:00:00:01'), parseMac('02:00:00:00:00:02')];
  const addresses = [ip4('10.0.0.1'), ip4('10.0.0.2')];
  const table = new Map<Ipv4Address, MacAddress>(addresses.map((address, index) => [address, macs[index]]));
  const ethernets = macs.map((mac) => new FakeEthernet(mac, mtu));
  let frames = 0;
  const hosts: SimHost[] = ethernets.map((ethernet, index) => {
    const peer = ethernets[1 - index];
    const link = new Link(clock, random.fork(), (frame) => {
      const destination = readMac(frame, 0);
      if (destination === peer.mac || isMulticastMac(destination)) peer.inject(frame.subarray(6), { destination, source: ethernet.mac });
    }, conditions);
    ethernet.onWrite = (sent) => {
      if (drop(frames++)) return;
      const frame = new Uint8Array(6 + sent.bytes.length);
      writeMac(frame, 0, sent.mac as MacAddress);
      frame.set(sent.bytes, 6);
      link.send(frame);
    };
    const ip = createIpv4(
      { ethernet, arp: new FakeArp(ethernet, table), clock, random: random.fork() },
      { address: { address: addresses[index], length: 24 } },
    );
    const icmp = createIcmp({ ip, clock, random: random.fork() });
    const received: Uint8Array[] = [];
    const errors: IcmpErrorInfo[] = [];
    ip.register(TEST_PROTOCOL, (payload) => received.push(payload.slice()));
    ip.onIcmpError(TEST_PROTOCOL, (error) => errors.push(error));
    return { ethernet, ip, icmp, received, errors };
  });
  return { clock, hosts };
}

function send(host: SimHost, destination: Ipv4Address, payload: Uint8Array, protocol = TEST_PROTOCOL): boolean {
  return host.ip.write(destination, protocol, payload.length, (buffer) => {
    buffer.set(payload);
    return payload.length;
  });
}

describe('two IPv4 hosts over a simulated link', () => {
  it('answers pings across a lossy, duplicating, reordering link: each resolves with RTT ≥ 2 × delay or times out', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.double({ min: 0, max: 0.4, noNaN: true }), async (seed, loss) => {
        const { clock, hosts } = network(seed, { loss, duplicate: 0.2, reorder: 0.2, delay: 5, jitter: 3 });
        const outcomes: string[] = [];
        for (let i = 0; i < 10; i++) {
          const result = hosts[0].icmp.ping(ip4('10.0.0.2'), { timeout: 200 }).then(
            (reply) => {
              expect(reply.rtt).toBeGreaterThanOrEqual(10);
              expect(reply.ttl).toBe(64);
              outcomes.push('reply');
            },
            (error: unknown) => {
              expect(error).toBeInstanceOf(Error);
              outcomes.push((error as Error).name);
            },
          );
          await clock.run(200);
          await result;
        }
        expect(outcomes.length).toBe(10);
        for (const outcome of outcomes) expect(['reply', 'TimeoutError']).toContain(outcome);
        if (loss === 0) expect(outcomes.every((outcome) => outcome === 'reply')).toBe(true);
        await clock.run(60_000);
        expect(clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 15 },
    );
  });

  it('carries datagrams of any size over a small-MTU link; whatever arrives is whole and byte-identical', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.array(fc.integer({ min: 4, max: 20_000 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom(0, 0.05),
        fc.integer({ min: 68, max: 1500 }),
        (seed, sizes, loss, mtu) => {
          const { clock, hosts } = network(seed, { loss, duplicate: 0.1, reorder: 0.3, delay: 1, jitter: 2 }, mtu);
          const random = createSeededRandom(seed);
          const sent = sizes.map((size, index) => {
            const payload = new Uint8Array(size);
            random.fill(payload);
            payload[0] = index;
            expect(send(hosts[0], ip4('10.0.0.2'), payload)).toBe(true);
            return payload;
          });
          // Past two reassembly timeouts: the receiver's, and the sender's for the (itself
          // fragmented, on a small MTU) Time Exceeded that may come back.
          clock.advance(120_000);
          const [sender, receiver] = hosts;
          for (const payload of receiver.received) expect(bytesEqual(payload, sent[payload[0]])).toBe(true);
          if (loss === 0) expect(new Set(receiver.received.map((payload) => payload[0])).size).toBe(sent.length);
          expect(receiver.ip.reassembly()).toEqual({ datagrams: 0, bytes: 0 });
          expect(sender.ip.reassembly()).toEqual({ datagrams: 0, bytes: 0 });
          expect(clock.pendingTimers()).toBe(0);
        },
      ),
      { numRuns: 40, examples: [[27, [2353], 0.05, 68]] },
    );
  });

  it('reports a lost fragment back to the sender as Time Exceeded (code 1) after the reassembly timeout', () => {
    const { clock, hosts } = network(1, {}, 576, (frame) => frame === 1);
    send(hosts[0], ip4('10.0.0.2'), new Uint8Array(2000));
    clock.advance(30_000);
    expect(hosts[1].received).toEqual([]);
    expect(hosts[0].errors.length).toBe(1);
    expect(hosts[0].errors[0]).toMatchObject({ type: 11, code: 1, destination: ip4('10.0.0.2'), protocol: TEST_PROTOCOL });
    expect(hosts[0].errors[0].error).toBeInstanceOf(UnreachableError);
  });

  it('carries Port Unreachable back to the sending transport as ConnectionRefused', () => {
    const { clock, hosts } = network(2, { delay: 1 });
    hosts[1].ip.register(TEST_PROTOCOL, (_payload, info) => hosts[1].icmp.destinationUnreachable(UnreachableCode.port, info));
    send(hosts[0], ip4('10.0.0.2'), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    clock.advance(10);
    expect(hosts[0].errors.length).toBe(1);
    expect(hosts[0].errors[0].error).toBeInstanceOf(ConnectionRefused);
    expect(Array.from(hosts[0].errors[0].transportHeader)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('carries Protocol Unreachable back for a protocol the peer does not run', () => {
    const { clock, hosts } = network(3, { delay: 1 });
    const errors: IcmpErrorInfo[] = [];
    hosts[0].ip.onIcmpError(99, (error) => errors.push(error));
    send(hosts[0], ip4('10.0.0.2'), new Uint8Array(8), 99);
    clock.advance(10);
    expect(errors.map((error) => [error.type, error.code])).toEqual([[3, UnreachableCode.protocol]]);
  });
});
