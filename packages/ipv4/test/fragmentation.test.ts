import { bytesEqual } from '@morgana/core';
import { createSeededRandom } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAGMENT_OVERHEAD, Ipv4Packet, emitIpv4, ipv4HeaderLength } from '../src/index.js';
import type { Ipv4LayerConfig } from '../src/index.js';
import { header, ip4, makeHost } from './fakes.js';
import type { TestHost } from './fakes.js';

const UDP = 17;

/** Fragments of one datagram carrying `payload`, as 10.0.0.2's IP layer sends them over a link of `mtu`. */
function fragmentsOf(payload: Uint8Array, mtu: number): Uint8Array[] {
  const sender = makeHost({ address: { address: ip4('10.0.0.2'), length: 24 } }, {}, mtu);
  const sent = sender.ip.write(ip4('10.0.0.1'), UDP, payload.length, (buffer) => {
    buffer.set(payload);
    return payload.length;
  });
  expect(sent).toBe(true);
  return sender.arp.sent.map((frame) => frame.bytes);
}

/** A receiver at 10.0.0.1 that records every UDP payload delivered to it. */
function receiver(config: Ipv4LayerConfig = {}): TestHost & { delivered: Uint8Array[] } {
  const host = makeHost(config);
  const delivered: Uint8Array[] = [];
  host.ip.register(UDP, (payload) => delivered.push(payload.slice()));
  return { ...host, delivered };
}

function randomPayload(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  createSeededRandom(seed).fill(bytes);
  return bytes;
}

/** A fragment of the datagram with identification 1 from 10.0.0.2, built by hand. */
function fragment(offset: number, data: Uint8Array, more: boolean, identification = 1): Uint8Array {
  const repr = header({ identification, fragmentOffset: offset, moreFragments: more, payloadLength: data.length });
  const bytes = new Uint8Array(ipv4HeaderLength(repr) + data.length);
  bytes.set(data, emitIpv4(repr, bytes));
  return bytes;
}

/**
 * A naive reference of the reassembly rules for the pieces of one datagram (an unfragmented
 * copy is delivered as it is): byte ranges in
 * a list, an exact duplicate ignored, any other overlap or a disagreement about the end
 * discarding the datagram for good, completion when the bytes received add up to the length.
 */
function modelReassembly(stream: readonly Uint8Array[]): Uint8Array[] {
  const delivered: Uint8Array[] = [];
  let ranges: { offset: number; data: Uint8Array }[] = [];
  let total = -1;
  let discarded = false;
  for (const bytes of stream) {
    const packet = new Ipv4Packet(bytes);
    const offset = packet.fragmentOffset;
    const data = packet.payload;
    const end = offset + data.length;
    if (!packet.isFragment) {
      delivered.push(data.slice());
      continue;
    }
    if (packet.moreFragments && (data.length === 0 || data.length % 8 !== 0)) continue;
    if (discarded) continue;
    const maxEnd = Math.max(0, ...ranges.map((range) => range.offset + range.data.length));
    if (!packet.moreFragments) {
      if ((total >= 0 && end !== total) || end < maxEnd) {
        discarded = true;
        continue;
      }
      total = end;
    } else if (total >= 0 && end > total) {
      discarded = true;
      continue;
    }
    const overlapping = ranges.filter((range) => range.offset < end && offset < range.offset + range.data.length);
    if (overlapping.length > 0) {
      const [other] = overlapping;
      if (overlapping.length === 1 && other.offset === offset && bytesEqual(other.data, data)) continue;
      discarded = true;
      continue;
    }
    if (data.length > 0) ranges.push({ offset, data: data.slice() });
    if (total >= 0 && ranges.reduce((sum, range) => sum + range.data.length, 0) === total) {
      const whole = new Uint8Array(total);
      for (const range of ranges) whole.set(range.data, range.offset);
      delivered.push(whole);
      ranges = [];
      total = -1;
    }
  }
  return delivered;
}

const payloadSize = fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 65515 }));
const mtu = fc.oneof(fc.integer({ min: 68, max: 1500 }), fc.integer({ min: 68, max: 9000 }));

describe('fragmentation on send (RFC 791 §3.2)', () => {
  it('splits a datagram over the MTU on 8-byte boundaries with MF on all but the last', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65515 }), mtu, (size, linkMtu) => {
        const frames = fragmentsOf(new Uint8Array(size), linkMtu);
        const identification = new Ipv4Packet(frames[0]).identification;
        let expectedOffset = 0;
        let wellFormed = true;
        frames.forEach((bytes, index) => {
          const packet = new Ipv4Packet(bytes);
          const last = index === frames.length - 1;
          wellFormed &&=
            packet.check() === undefined &&
            bytes.length <= linkMtu &&
            packet.identification === identification &&
            packet.fragmentOffset === expectedOffset &&
            packet.moreFragments === !last &&
            (last || packet.payload.length % 8 === 0);
          expectedOffset += packet.payload.length;
        });
        expect(wellFormed).toBe(true);
        expect(expectedOffset).toBe(size);
        expect(frames.length === 1).toBe(size + 20 <= linkMtu);
      }),
      { numRuns: 60 },
    );
  });
});

describe('reassembly (RFC 791 §3.2, RFC 1122 §3.3.2)', () => {
  it('reassembles any datagram under any order, duplication and loss: once per complete set, byte for byte', () => {
    fc.assert(
      fc.property(
        payloadSize,
        mtu,
        fc.integer(),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (size, linkMtu, seed, lossRate, duplicateRate) => {
          const payload = randomPayload(size, seed);
          const fragments = fragmentsOf(payload, linkMtu);
          const random = createSeededRandom(seed ^ 0x5a5a);
          const stream: number[] = [];
          fragments.forEach((_, index) => {
            if (random.float() < lossRate) return;
            stream.push(index);
            while (random.float() < duplicateRate) stream.push(index);
          });
          for (let i = stream.length - 1; i > 0; i--) {
            const j = Math.floor(random.float() * (i + 1));
            [stream[i], stream[j]] = [stream[j], stream[i]];
          }
          // The model: a datagram is delivered each time the fragments received since the
          // last delivery cover all of it; duplicates change nothing.
          let held = new Set<number>();
          let expectedDeliveries = 0;
          const host = receiver({ maxReassemblyBytes: 16 << 20 });
          for (const index of stream) {
            host.ethernet.inject(fragments[index]);
            if (fragments.length === 1) {
              expectedDeliveries++;
              continue;
            }
            held.add(index);
            if (held.size === fragments.length) {
              expectedDeliveries++;
              held = new Set();
            }
          }
          expect(host.delivered.length).toBe(expectedDeliveries);
          for (const delivered of host.delivered) expect(bytesEqual(delivered, payload)).toBe(true);
          if (fragments.length > 1) expect(host.ip.reassembly().datagrams).toBe(held.size > 0 ? 1 : 0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('discards the whole datagram when fragments overlap (RFC 5722 §4 applied to IPv4)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 600, max: 6000 }),
        fc.integer({ min: 68, max: 576 }),
        fc.integer(),
        fc.nat(),
        fc.boolean(),
        (size, linkMtu, seed, where, sameRange) => {
          const payload = randomPayload(size, seed);
          const fragments = fragmentsOf(payload, linkMtu);
          const random = createSeededRandom(seed);
          let forged: Uint8Array;
          expect(fragments.length).toBeGreaterThan(1);
          if (sameRange) {
            // A genuine fragment's range with one byte changed: not a duplicate.
            const victim = new Ipv4Packet(fragments[Math.floor(random.float() * fragments.length)].slice());
            const data = victim.payload.slice();
            if (data.length === 0) return;
            data[Math.floor(random.float() * data.length)] ^= 0xff;
            forged = fragment(victim.fragmentOffset, data, victim.moreFragments, victim.identification);
          } else {
            // A range that straddles genuine boundaries, 8-byte aligned so it is not dropped as malformed.
            const start = Math.floor((random.float() * size) / 8) * 8;
            const length = Math.max(8, Math.floor((random.float() * (size - start)) / 8) * 8);
            const more = start + length < size;
            const boundaries = [...fragments.map((bytes) => new Ipv4Packet(bytes).fragmentOffset), size];
            if (boundaries.includes(start) && boundaries.includes(more ? start + length : size)) return;
            const data = randomPayload(more ? length : size - start, seed + 1);
            forged = fragment(start, data, more, new Ipv4Packet(fragments[0]).identification);
          }
          const position = where % (fragments.length + 1);
          const stream = [...fragments.slice(0, position), forged, ...fragments.slice(position)];
          const host = receiver();
          for (const bytes of stream) host.ethernet.inject(bytes);
          const expected = modelReassembly(stream);
          expect(host.delivered.length).toBe(expected.length);
          host.delivered.forEach((delivered, index) => expect(bytesEqual(delivered, expected[index])).toBe(true));
          // A forged fragment that straddles genuine boundaries can never complete the
          // datagram: it is delivered only if it was whole before the forgery arrived.
          if (!sameRange) expect(host.delivered.length).toBe(position === fragments.length ? 1 : 0);
          if (expected.length === 0) {
            const stats = host.ip.stats();
            expect((stats['overlap'] ?? 0) + (stats['inconsistent-fragment'] ?? 0)).toBe(1);
          }
        },
      ),
      { numRuns: 300, examples: [[1206, 68, 261987970, 0, false]] },
    );
  });

  it('agrees with the reference model on mixed fragmentations of one datagram (overlaps with equal bytes included)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 68, max: 1500 }),
        fc.integer({ min: 68, max: 1500 }),
        fc.integer(),
        (size, firstMtu, secondMtu, seed) => {
          const payload = randomPayload(size, seed);
          const first = fragmentsOf(payload, firstMtu);
          // The second sender reuses the first one's identification, as a retransmission would.
          const identification = new Ipv4Packet(first[0]).identification;
          const second = fragmentsOf(payload, secondMtu).map((bytes) => {
            const copy = bytes.slice();
            const packet = new Ipv4Packet(copy);
            packet.identification = identification;
            packet.fillChecksum();
            return copy;
          });
          const random = createSeededRandom(seed);
          const stream = [...first, ...second].filter(() => random.float() < 0.8);
          for (let i = stream.length - 1; i > 0; i--) {
            const j = Math.floor(random.float() * (i + 1));
            [stream[i], stream[j]] = [stream[j], stream[i]];
          }
          const host = receiver();
          for (const bytes of stream) host.ethernet.inject(bytes);
          const expected = modelReassembly(stream);
          expect(host.delivered.length).toBe(expected.length);
          host.delivered.forEach((delivered, index) => expect(bytesEqual(delivered, expected[index])).toBe(true));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('drops the fragments that follow an overlap until the reassembly timer ends the record', () => {
    const host = receiver();
    host.ethernet.inject(fragment(0, new Uint8Array(16), true));
    host.ethernet.inject(fragment(8, new Uint8Array(16), true));
    host.ethernet.inject(fragment(24, new Uint8Array(8), false));
    host.ethernet.inject(fragment(0, new Uint8Array(24), true));
    expect(host.delivered).toEqual([]);
    expect(host.ip.stats()).toMatchObject({ overlap: 1, 'discarded-fragment': 2 });
    expect(host.ip.reassembly()).toEqual({ datagrams: 1, bytes: 0 });
    host.clock.advance(30_000);
    expect(host.ip.reassembly()).toEqual({ datagrams: 0, bytes: 0 });
    host.ethernet.inject(fragment(0, new Uint8Array(24), true));
    host.ethernet.inject(fragment(24, new Uint8Array(8), false));
    expect(host.delivered.length).toBe(1);
  });

  it('frees every partial datagram when the timeout passes (30 s by default)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 20000 }), fc.integer({ min: 68, max: 1500 }), fc.integer(), (size, linkMtu, seed) => {
        const fragments = fragmentsOf(randomPayload(size, seed), linkMtu);
        if (fragments.length < 2) return;
        const random = createSeededRandom(seed);
        const missing = Math.floor(random.float() * fragments.length);
        const host = receiver();
        fragments.forEach((bytes, index) => {
          if (index !== missing) host.ethernet.inject(bytes);
        });
        expect(host.delivered).toEqual([]);
        expect(host.ip.reassembly().bytes).toBeGreaterThan(0);
        host.clock.advance(29_999);
        expect(host.ip.reassembly().datagrams).toBe(1);
        host.clock.advance(1);
        expect(host.ip.reassembly()).toEqual({ datagrams: 0, bytes: 0 });
        expect(host.ip.stats()['reassembly-timeout']).toBe(1);
        expect(host.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  it('evicts the oldest partial datagram beyond maxReassemblies', () => {
    const host = receiver({ maxReassemblies: 4 });
    for (let id = 0; id < 10; id++) host.ethernet.inject(fragment(0, new Uint8Array(8), true, id));
    expect(host.ip.reassembly().datagrams).toBe(4);
    expect(host.ip.stats()['reassembly-evicted']).toBe(6);
    // The survivors are the newest: id 9 completes, id 0 does not.
    host.ethernet.inject(fragment(8, new Uint8Array(1), false, 9));
    host.ethernet.inject(fragment(8, new Uint8Array(1), false, 0));
    expect(host.delivered.length).toBe(1);
    expect(host.clock.pendingTimers()).toBe(4);
  });

  it('evicts the oldest partial datagrams beyond maxReassemblyBytes, counting per-fragment overhead', () => {
    const limit = 4 * (1000 + FRAGMENT_OVERHEAD);
    const host = receiver({ maxReassemblyBytes: limit });
    for (let id = 0; id < 6; id++) host.ethernet.inject(fragment(0, new Uint8Array(1000), true, id));
    expect(host.ip.reassembly()).toEqual({ datagrams: 4, bytes: limit });
    expect(host.ip.stats()['reassembly-evicted']).toBe(2);
  });

  it('drops a datagram that alone exceeds maxReassemblyBytes', () => {
    const host = receiver({ maxReassemblyBytes: 3000 });
    host.ethernet.inject(fragment(0, new Uint8Array(1480), true));
    host.ethernet.inject(fragment(1480, new Uint8Array(1480), true));
    expect(host.ip.stats()['reassembly-memory']).toBe(1);
    expect(host.ip.reassembly().bytes).toBe(0);
  });

  it('bounds a flood of tiny fragments by the per-fragment overhead', () => {
    const host = receiver({ maxReassemblyBytes: 64 * 1024 });
    for (let offset = 0; offset < 65000; offset += 8) host.ethernet.inject(fragment(offset, new Uint8Array(8), true));
    expect(host.ip.reassembly().bytes).toBeLessThanOrEqual(64 * 1024);
    expect(host.ip.stats()['reassembly-memory']).toBe(1);
  });

  it('drops a datagram whose fragments reach past 65535 bytes ("ping of death")', () => {
    const host = receiver();
    host.ethernet.inject(fragment(0, new Uint8Array(1480), true));
    host.ethernet.inject(fragment(65528, new Uint8Array(100), false));
    expect(host.ip.stats()['too-large']).toBe(1);
    expect(host.ip.reassembly().bytes).toBe(0);
  });

  it('discards a datagram whose last fragments disagree on its length', () => {
    const host = receiver();
    host.ethernet.inject(fragment(16, new Uint8Array(4), false));
    host.ethernet.inject(fragment(16, new Uint8Array(8), false));
    host.ethernet.inject(fragment(0, new Uint8Array(16), true));
    expect(host.ip.stats()['inconsistent-fragment']).toBe(1);
    expect(host.delivered).toEqual([]);
  });

  it('drops a non-final fragment whose length is not a multiple of 8', () => {
    const host = receiver();
    host.ethernet.inject(fragment(0, new Uint8Array(12), true));
    expect(host.ip.stats()['bad-fragment']).toBe(1);
    expect(host.ip.reassembly().datagrams).toBe(0);
  });

  it('keeps the header of fragment 0 (options included) and recomputes length and checksum', () => {
    const host = receiver();
    const options = new Uint8Array([1, 1, 1, 0]);
    const first = header({ fragmentOffset: 0, moreFragments: true, payloadLength: 8, options });
    const bytes = new Uint8Array(24 + 8);
    emitIpv4(first, bytes);
    bytes.fill(7, 24);
    const datagrams: Uint8Array[] = [];
    host.ip.register(UDP, (_payload, info) => datagrams.push(info.datagram.slice()));
    host.ethernet.inject(fragment(8, new Uint8Array([1, 2, 3]), false));
    host.ethernet.inject(bytes);
    expect(datagrams.length).toBe(1);
    const packet = new Ipv4Packet(datagrams[0]);
    expect(packet.check()).toBeUndefined();
    expect(packet.headerLength).toBe(24);
    expect(packet.isFragment).toBe(false);
    expect(Array.from(packet.payload)).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 1, 2, 3]);
  });
});
