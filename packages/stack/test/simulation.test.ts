import { EtherType, bytesEqual, readIpv4, readU16 } from '@morgana/core';
import { UDP_MAX_PAYLOAD_IPV4 } from '@morgana/udp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { settle, simulate } from './helpers.js';

/** ARP operation field offset in an Ethernet frame (14-byte header + 6). */
const ARP_OPERATION = 14 + 6;
const ARP_REPLY = 2;

/** Sender and target protocol address fields of an ARP packet in a frame. */
const ARP_SENDER_ADDRESS = 14 + 14;
const ARP_TARGET_ADDRESS = 14 + 24;

function isArpFrame(frame: Uint8Array): boolean {
  return frame.length >= ARP_TARGET_ADDRESS + 4 && readU16(frame, 12) === EtherType.arp;
}

function isArpReply(frame: Uint8Array): boolean {
  return isArpFrame(frame) && readU16(frame, ARP_OPERATION) === ARP_REPLY;
}

/** A gratuitous ARP (RFC 5227 announcement): sender and target address are the same. */
function isAnnouncement(frame: Uint8Array): boolean {
  return isArpFrame(frame) && readIpv4(frame, ARP_SENDER_ADDRESS) === readIpv4(frame, ARP_TARGET_ADDRESS);
}

describe('stacks on a simulated switch', () => {
  it('two stacks ping each other', async () => {
    const sim = simulate(2);
    const [a, b] = sim.stacks;
    const there = await settle(sim.clock, a.icmp.ping(sim.address(1)));
    const back = await settle(sim.clock, b.icmp.ping(sim.address(0), { size: 1000 }));
    expect(there.ttl).toBe(64);
    expect(back.size).toBe(1000);
    expect(a.arp.lookup(sim.address(1))).toBe(sim.stacks[1].netif.mac);
  });

  it('three stacks ping each other, every pair both ways', async () => {
    const sim = simulate(3);
    for (let from = 0; from < 3; from++) {
      for (let to = 0; to < 3; to++) {
        if (from === to) continue;
        const result = await settle(sim.clock, sim.stacks[from].icmp.ping(sim.address(to)));
        expect(result.rtt).toBeGreaterThanOrEqual(0);
      }
    }
    for (const stack of sim.stacks) expect(stack.arp.entries().filter((entry) => entry.kind === 'dynamic')).toHaveLength(2);
  });

  it('exchanges UDP datagrams of every size up to 65507 bytes, fragmented and reassembled', async () => {
    const sim = simulate(2, { seed: 7 });
    const [a, b] = sim.stacks;
    const server = b.udp.bind({ port: 7 });
    server.onMessage((datagram) => server.send(datagram.data, datagram.address, datagram.port));
    const client = a.udp.bind();
    // Resolve the neighbour first: while ARP resolves, only a few packets are queued per
    // address, fewer than the fragments of a large datagram.
    await settle(sim.clock, a.icmp.ping(sim.address(1)));
    let exchanged = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: UDP_MAX_PAYLOAD_IPV4 }), async (size) => {
        const data = new Uint8Array(size);
        for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff;
        expect(client.send(data, sim.address(1), 7)).toBe(true);
        const echoed = await settle(sim.clock, client.receive());
        expect(echoed.data.length).toBe(size);
        expect(bytesEqual(echoed.data, data)).toBe(true);
        expect(echoed.port).toBe(7);
        exchanged++;
      }),
      {
        numRuns: 40,
        // The edges: empty, one frame exactly, one byte more, two fragments exactly and one
        // byte more, the maximum.
        examples: [[0], [1], [1472], [1473], [2952], [2953], [UDP_MAX_PAYLOAD_IPV4]],
      },
    );
    expect(b.udp.stats()['rx-delivered']).toBe(exchanged);
    expect(a.udp.stats()['bad-checksum']).toBeUndefined();
  });

  it('answers a datagram to a closed port with port unreachable, which reaches the sending socket', async () => {
    const sim = simulate(2);
    const [a] = sim.stacks;
    const socket = a.udp.bind();
    const errors: string[] = [];
    socket.onError((error) => errors.push(error.error.code));
    socket.send(new Uint8Array(10), sim.address(1), 9999);
    await sim.clock.run(100);
    expect(errors).toEqual(['REFUSED']);
    expect(socket.stats()['icmp-unreachable']).toBe(1);
  });

  it('resolves a neighbour although its first ARP replies are lost', async () => {
    const sim = simulate(2);
    const [a, b] = sim.stacks;
    let replies = 0;
    // Lose B's first two replies, and its announcements, which would otherwise teach A the
    // address without any reply (RFC 826 merges every ARP packet's sender into the cache).
    sim.taps[0].dropIncoming = (frame) => isArpFrame(frame) && (isAnnouncement(frame) || (isArpReply(frame) && ++replies <= 2));
    const server = b.udp.bind({ port: 5000 });
    const client = a.udp.bind();
    client.send(new Uint8Array([1, 2, 3]), sim.address(1), 5000);
    const got = await settle(sim.clock, server.receive());
    expect(got.data).toEqual(new Uint8Array([1, 2, 3]));
    expect(replies).toBe(3);
    const requests = sim.taps[0].frames.filter((frame) => frame.direction === 'out' && isArpFrame(frame.bytes) && !isArpReply(frame.bytes) && !isAnnouncement(frame.bytes));
    expect(requests).toHaveLength(3);
    // RFC 1122 2.3.2.1: requests at most once a second (1 s, then backed off to 2 s).
    expect(requests[1].time - requests[0].time).toBeGreaterThanOrEqual(1000);
    expect(requests[2].time - requests[1].time).toBeGreaterThanOrEqual(1000);
  });

  it('gets UDP through a lossy link by retrying, whatever the loss pattern', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const sim = simulate(2, { seed, link: { loss: 0.25, delay: 1 } });
        const [a, b] = sim.stacks;
        const server = b.udp.bind({ port: 5000 });
        server.onMessage((datagram) => server.send(datagram.data, datagram.address, datagram.port));
        const client = a.udp.bind();
        let answered = false;
        void client.receive().then(() => {
          answered = true;
        });
        // The application retries every 3 s. Each ARP resolution round (3 requests, each a
        // round trip over two lossy cables) fails with probability ~0.3 and is followed by 20 s
        // of negative cache, so 5 minutes leave ~12 rounds: failure odds ~1e-6 per seed
        // (2 minutes failed 2 seeds in 300).
        for (let attempt = 0; attempt < 100 && !answered; attempt++) {
          client.send(new Uint8Array([attempt]), sim.address(1), 5000);
          await sim.clock.run(3000);
        }
        expect(answered).toBe(true);
        client.close();
      }),
      { numRuns: 15 },
    );
  });
});
