import { DecodeError, type Ipv4Address, writeU16 } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UDP_HEADER_LENGTH, UdpPacket, emitUdp, parseUdp, udpLengthProblem } from '../src/index.js';

const address = fc.integer({ min: 0, max: 0xffff_ffff }).map((value) => value as Ipv4Address);
const port = fc.integer({ min: 0, max: 0xffff });
const repr = fc.record({ sourcePort: port, destinationPort: port });
const payload = fc.uint8Array({ maxLength: 1500 });

/** The checksum the slow way: 16-bit words of pseudo-header and datagram, end-around carry. */
function naiveChecksum(source: number, destination: number, datagram: Uint8Array): number {
  const words: number[] = [source >>> 16, source & 0xffff, destination >>> 16, destination & 0xffff, 17, datagram.length];
  for (let i = 0; i < datagram.length; i += 2) words.push((datagram[i] << 8) | (i + 1 < datagram.length ? datagram[i + 1] : 0));
  let sum = 0;
  for (const word of words) {
    sum += word;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

describe('UDP wire format (RFC 768)', () => {
  it('parse(emit(repr, payload)) gives back the repr and payload', () => {
    fc.assert(
      fc.property(repr, payload, address, address, (r, data, source, destination) => {
        const bytes = emitUdp(r, data, source, destination);
        const parsed = parseUdp(bytes, source, destination);
        expect(parsed.repr).toEqual(r);
        expect(parsed.payload).toEqual(data);
        expect(bytes.length).toBe(UDP_HEADER_LENGTH + data.length);
      }),
      { numRuns: 300 },
    );
  });

  it('computes the checksum a naive word-by-word sum computes, never sending zero', () => {
    fc.assert(
      fc.property(repr, payload, address, address, (r, data, source, destination) => {
        const bytes = emitUdp(r, data, source, destination);
        const packet = new UdpPacket(bytes);
        const sent = packet.checksum;
        packet.checksum = 0;
        const expected = naiveChecksum(source, destination, bytes);
        expect(sent).toBe(expected === 0 ? 0xffff : expected);
      }),
      { numRuns: 300 },
    );
  });

  it('sends a computed checksum of zero as 0xffff, which still verifies (RFC 768)', () => {
    const source = 0x0a000001 as Ipv4Address;
    const destination = 0x0a000002 as Ipv4Address;
    const data = new Uint8Array([1, 2, 3, 4, 0, 0]);
    // With the last word equal to the checksum computed while it was zero, the sum becomes 0xffff.
    const first = new UdpPacket(emitUdp({ sourcePort: 1000, destinationPort: 2000 }, data, source, destination)).checksum;
    writeU16(data, 4, first);
    const bytes = emitUdp({ sourcePort: 1000, destinationPort: 2000 }, data, source, destination);
    expect(new UdpPacket(bytes).checksum).toBe(0xffff);
    expect(parseUdp(bytes, source, destination).payload).toEqual(data);
  });

  it('accepts a zero checksum as "not computed" (RFC 768)', () => {
    const bytes = emitUdp({ sourcePort: 1, destinationPort: 2 }, new Uint8Array([9, 9, 9]), 1 as Ipv4Address, 2 as Ipv4Address);
    new UdpPacket(bytes).checksum = 0;
    expect(parseUdp(bytes, 1 as Ipv4Address, 2 as Ipv4Address).payload).toEqual(new Uint8Array([9, 9, 9]));
  });

  it('rejects any single corrupted byte as bad-checksum', () => {
    fc.assert(
      fc.property(repr, fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (r, data, at, flip) => {
        const bytes = emitUdp(r, data, 1 as Ipv4Address, 2 as Ipv4Address);
        const index = UDP_HEADER_LENGTH + (at % data.length);
        bytes[index] ^= flip;
        expect(() => parseUdp(bytes, 1 as Ipv4Address, 2 as Ipv4Address)).toThrow(DecodeError);
      }),
      { numRuns: 200 },
    );
  });

  it('skips the checksum when the device verified it', () => {
    const bytes = emitUdp({ sourcePort: 1, destinationPort: 2 }, new Uint8Array([5]), 1 as Ipv4Address, 2 as Ipv4Address);
    bytes[6] ^= 0xff;
    expect(() => parseUdp(bytes, 1 as Ipv4Address, 2 as Ipv4Address)).toThrow(/checksum/);
    expect(parseUdp(bytes, 1 as Ipv4Address, 2 as Ipv4Address, { checksumVerified: true }).payload).toEqual(new Uint8Array([5]));
  });

  it('rejects a short datagram, a length field below 8, and one past the IP payload', () => {
    const withLength = (length: number): Uint8Array => {
      const bytes = emitUdp({ sourcePort: 1, destinationPort: 2 }, new Uint8Array(4), 1 as Ipv4Address, 2 as Ipv4Address);
      writeU16(bytes, 4, length);
      return bytes;
    };
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(7), 'truncated'],
      [withLength(7), 'bad-length'],
      [withLength(13), 'length-exceeds-ip-payload'],
    ];
    for (const [bytes, reason] of cases) {
      expect(udpLengthProblem(bytes)).toBe(reason);
      expect(() => parseUdp(bytes, 1 as Ipv4Address, 2 as Ipv4Address)).toThrow(expect.objectContaining({ reason }));
    }
  });

  it('ignores bytes past the length field (IP payload longer than the datagram)', () => {
    const bytes = emitUdp({ sourcePort: 1, destinationPort: 2 }, new Uint8Array([7, 8]), 1 as Ipv4Address, 2 as Ipv4Address);
    const padded = new Uint8Array(bytes.length + 6);
    padded.set(bytes);
    padded.fill(0xee, bytes.length);
    expect(parseUdp(padded, 1 as Ipv4Address, 2 as Ipv4Address).payload).toEqual(new Uint8Array([7, 8]));
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), address, address, fc.boolean(), (bytes, source, destination, verified) => {
        try {
          parseUdp(bytes, source, destination, { checksumVerified: verified });
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
