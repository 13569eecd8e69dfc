import { DecodeError, checksumPartial, fromHex, writeU16 } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IPV4_HEADER_LENGTH,
  IcmpType,
  Ipv4Field,
  Ipv4Packet,
  emitIcmp,
  emitIpv4,
  icmpLength,
  ipv4HeaderLength,
  parseIcmp,
  parseIpv4,
} from '../src/index.js';
import type { IcmpRepr, Ipv4Repr } from '../src/index.js';
import { arbIcmpRepr, arbIpv4Datagram } from '@morgana/testing/ipv4';
import { datagram } from './fakes.js';

const ipv4Repr: fc.Arbitrary<Ipv4Repr> = arbIpv4Datagram({ maxPayload: 200 }).map((sample) => sample.repr);
const icmpRepr: fc.Arbitrary<IcmpRepr> = arbIcmpRepr(64);

describe('IPv4 header codec (RFC 791 §3.1)', () => {
  it('parses what it emits, options included', () => {
    fc.assert(
      fc.property(ipv4Repr, fc.uint8Array({ maxLength: 200 }), (repr, filler) => {
        const bytes = new Uint8Array(ipv4HeaderLength(repr) + repr.payloadLength);
        const headerLength = emitIpv4(repr, bytes);
        bytes.set(filler.subarray(0, repr.payloadLength), headerLength);
        const parsed = parseIpv4(bytes);
        expect(parsed.repr).toEqual(repr);
        expect(parsed.payload.length).toBe(repr.payloadLength);
      }),
      { numRuns: 500 },
    );
  });

  it('computes the header checksum of a known datagram', () => {
    // A UDP datagram from 192.168.0.1 to 192.168.0.199 whose checksum is 0xb861.
    const bytes = fromHex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    const parsed = parseIpv4(new Uint8Array([...datagramFrom(bytes), ...new Uint8Array(0x73 - 20)]));
    expect(parsed.repr.ttl).toBe(64);
    const out = new Uint8Array(20);
    emitIpv4(parsed.repr, out);
    expect(new Ipv4Packet(out).checksum).toBe(0xb861);
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        try {
          parseIpv4(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reports each malformation under its own reason', () => {
    const good = datagram({}, new Uint8Array(8));
    const reason = (mutate: (bytes: Uint8Array) => void, fixChecksum = true): string | undefined => {
      const bytes = good.slice();
      mutate(bytes);
      if (fixChecksum) new Ipv4Packet(bytes).fillChecksum();
      return new Ipv4Packet(bytes).check();
    };
    expect(reason(() => undefined)).toBeUndefined();
    expect(new Ipv4Packet(good.subarray(0, 19)).check()).toBe('truncated');
    expect(reason((bytes) => (bytes[0] = 0x65))).toBe('bad-version');
    expect(reason((bytes) => (bytes[0] = 0x44), false)).toBe('bad-header-length');
    expect(reason((bytes) => (bytes[0] = 0x4f), false)).toBe('truncated');
    expect(reason((bytes) => writeU16(bytes, Ipv4Field.totalLength, 19))).toBe('bad-total-length');
    expect(reason((bytes) => writeU16(bytes, Ipv4Field.totalLength, 29))).toBe('truncated');
    expect(reason((bytes) => (bytes[Ipv4Field.ttl] = 3), false)).toBe('bad-checksum');
  });

  it('leaves Ethernet padding after Total Length out of the payload', () => {
    const padded = new Uint8Array(46);
    padded.set(datagram({}, new Uint8Array([1, 2, 3])));
    const parsed = parseIpv4(padded);
    expect(parsed.payload).toEqual(new Uint8Array([1, 2, 3]));
  });
});

describe('ICMP message codec (RFC 792)', () => {
  it('parses what it emits for echo, errors and other types', () => {
    fc.assert(
      fc.property(icmpRepr, (repr) => {
        const bytes = new Uint8Array(icmpLength(repr));
        expect(emitIcmp(repr, bytes)).toBe(bytes.length);
        expect(checksumPartial(bytes)).toBe(0xffff);
        expect(parseIcmp(bytes)).toEqual(repr);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a message whose checksum does not verify', () => {
    const bytes = new Uint8Array(12);
    emitIcmp({ kind: 'echo-request', identifier: 1, sequence: 2, data: new Uint8Array([1, 2, 3, 4]) }, bytes);
    bytes[9] ^= 1;
    expect(() => parseIcmp(bytes)).toThrow(expect.objectContaining({ reason: 'bad-checksum' }));
  });

  it('carries the next-hop MTU of "fragmentation needed" (RFC 1191 §4)', () => {
    const bytes = new Uint8Array(8 + 28);
    emitIcmp({ kind: 'destination-unreachable', code: 4, nextHopMtu: 1400, quoted: new Uint8Array(28) }, bytes);
    expect(bytes[0]).toBe(IcmpType.destinationUnreachable);
    expect((bytes[6] << 8) | bytes[7]).toBe(1400);
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, fixChecksum) => {
        if (fixChecksum && bytes.length >= 8) {
          writeU16(bytes, 2, 0);
          writeU16(bytes, 2, ~checksumPartial(bytes) & 0xffff);
        }
        try {
          parseIcmp(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** A header from hex with its checksum filled in. */
function datagramFrom(headerBytes: Uint8Array): Uint8Array {
  const copy = headerBytes.slice();
  new Ipv4Packet(copy).fillChecksum();
  expect(copy.length).toBe(IPV4_HEADER_LENGTH);
  return copy;
}
