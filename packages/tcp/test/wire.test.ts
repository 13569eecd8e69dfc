import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, internetChecksum, ipv4PseudoHeaderSum } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';
import {
  TCP_MAX_OPTIONS_LENGTH,
  TcpFlag,
  formatTcpFlags,
  parseTcpFlags,
  TcpSegment,
  emitTcp,
  parseTcp,
  sackBlocksThatFit,
  tcpLength,
  tcpOptionsLength,
} from '../src/index.js';
import type { TcpRepr } from '../src/index.js';
import { arbTcpRepr } from '@morgana/testing/tcp';

/** Reprs whose options fit: at most as many SACK blocks as {@link sackBlocksThatFit} allows. */
const reprArbitrary: fc.Arbitrary<TcpRepr> = arbTcpRepr({ maxPayload: 64 });

const context = { source: 0xc0a80001 as Ipv4Address, destination: 0x0a000002 as Ipv4Address };

function emit(repr: TcpRepr): Uint8Array {
  const bytes = new Uint8Array(tcpLength(repr));
  expect(emitTcp(repr, bytes, context)).toBe(bytes.length);
  return bytes;
}

describe('TCP wire format (RFC 9293 §3.1)', () => {
  it('parses what it emits, options included', () => {
    fc.assert(
      fc.property(reprArbitrary, (repr) => {
        const parsed = parseTcp(emit(repr), context);
        expect({ ...parsed, payload: Array.from(parsed.payload) }).toEqual({ ...repr, payload: Array.from(repr.payload) });
      }),
      { numRuns: 500 },
    );
  });

  it('keeps options within 40 bytes and 4-byte aligned', () => {
    fc.assert(
      fc.property(reprArbitrary, (repr) => {
        const length = tcpOptionsLength(repr);
        expect(length).toBeLessThanOrEqual(TCP_MAX_OPTIONS_LENGTH);
        expect(length % 4).toBe(0);
      }),
    );
  });

  it('writes a checksum equal to a naive RFC 1071 sum over the pseudo-header', () => {
    fc.assert(
      fc.property(reprArbitrary, (repr) => {
        const bytes = emit(repr);
        const pseudo = new Uint8Array(12 + bytes.length);
        const view = new DataView(pseudo.buffer);
        view.setUint32(0, context.source);
        view.setUint32(4, context.destination);
        view.setUint8(9, 6);
        view.setUint16(10, bytes.length);
        pseudo.set(bytes, 12);
        // Summing the whole pseudo-header and segment, checksum included, must give zero.
        expect(internetChecksum(pseudo)).toBe(0);
        expect(ipv4PseudoHeaderSum(context.source, context.destination, 6, bytes.length)).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });

  it('throws only DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (bytes, check) => {
        try {
          parseTcp(bytes, check ? context : undefined);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('detects any single corrupted byte through the checksum', () => {
    fc.assert(
      fc.property(reprArbitrary, fc.nat(), fc.integer({ min: 1, max: 255 }), (repr, where, flip) => {
        const bytes = emit(repr);
        bytes[where % bytes.length] ^= flip;
        expect(() => parseTcp(bytes, context)).toThrow(DecodeError);
      }),
      { numRuns: 300 },
    );
  });

  it('reads fields through the view at their named offsets', () => {
    const bytes = emit({
      sourcePort: 1234,
      destinationPort: 80,
      seq: 0xdeadbeef,
      ack: 42,
      flags: TcpFlag.syn | TcpFlag.ack,
      window: 1000,
      urgent: 7,
      mss: 1460,
      windowScale: undefined,
      sackPermitted: false,
      sackBlocks: [],
      tsVal: undefined,
      tsEcr: undefined,
      payload: new Uint8Array([1, 2, 3]),
    });
    const view = new TcpSegment(bytes);
    expect([view.sourcePort, view.destinationPort, view.seq, view.ack, view.flags, view.window, view.urgent]).toEqual([
      1234, 80, 0xdeadbeef, 42, 0x12, 1000, 7,
    ]);
    expect(view.headerLength).toBe(24);
    expect(Array.from(view.options)).toEqual([2, 4, 0x05, 0xb4]);
    expect(Array.from(view.payload)).toEqual([1, 2, 3]);
  });

  it('skips unknown options by their length and stops at end-of-options', () => {
    const bytes = new Uint8Array(32);
    bytes[12] = 8 << 4;
    bytes.set([254, 4, 0xaa, 0xbb, 1, 2, 4, 0x05, 0xb4, 0, 0x99, 0x99], 20);
    const repr = parseTcp(bytes);
    expect(repr.mss).toBe(1460);
  });

  it('rejects malformed options with DecodeError bad-option-length', () => {
    const cases = [
      [2, 3, 0x05, 0, 0, 0, 0, 0], // MSS of length 3
      [3, 2, 0, 0, 0, 0, 0, 0], // window scale of length 2
      [5, 9, 0, 0, 0, 0, 0, 0], // SACK not 2 + 8n
      [8, 1, 0, 0, 0, 0, 0, 0], // length below 2
      [1, 1, 1, 1, 1, 1, 1, 254], // kind without a length byte
      [1, 1, 1, 1, 1, 1, 254, 9], // length past the header
    ];
    for (const options of cases) {
      const bytes = new Uint8Array(28);
      bytes[12] = 7 << 4;
      bytes.set(options, 20);
      expect(() => parseTcp(bytes), JSON.stringify(options)).toThrow(expect.objectContaining({ reason: 'bad-option-length' }));
    }
  });

  it('drops SACK blocks that do not fit next to other options (3 with timestamps, RFC 2018 §3)', () => {
    const blocks = [1, 2, 3, 4].map((n) => ({ left: n * 10, right: n * 10 + 5 }));
    const base = { mss: undefined, windowScale: undefined, sackPermitted: false, sackBlocks: blocks };
    expect(sackBlocksThatFit({ ...base, tsVal: 1, tsEcr: 2 })).toBe(3);
    expect(sackBlocksThatFit({ ...base, tsVal: undefined, tsEcr: undefined })).toBe(4);
  });
});

describe('flag letters', () => {
  it('reads and writes the packetdrill letters as inverses, ACK last', () => {
    expect(parseTcpFlags('S.')).toBe(TcpFlag.syn | TcpFlag.ack);
    expect(formatTcpFlags(TcpFlag.fin | TcpFlag.ack | TcpFlag.psh)).toBe('FP.');
    expect(() => parseTcpFlags('SX')).toThrow(RangeError);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), (flags) => {
        expect(parseTcpFlags(formatTcpFlags(flags))).toBe(flags);
      }),
    );
  });
});
