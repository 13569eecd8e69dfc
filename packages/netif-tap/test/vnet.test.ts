import { DecodeError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VNET_HEADER_LENGTH, VnetFlags, VnetGso, VnetHeaderView, emitVnetHeader, parseVnetHeader } from '../src/index.js';
import type { VnetHeaderRepr } from '../src/index.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const gsoType = fc.constantFrom<number>(VnetGso.none, VnetGso.tcpv4, VnetGso.udp, VnetGso.tcpv6, VnetGso.udpL4, VnetGso.tcpv4 | VnetGso.ecn);
const repr: fc.Arbitrary<VnetHeaderRepr> = fc.record({
  flags: fc.integer({ min: 0, max: 255 }),
  gsoType,
  headerLength: u16,
  gsoSize: u16,
  checksumStart: u16,
  checksumOffset: u16,
});

describe('virtio-net header', () => {
  it('parses what it emits, at any offset', () => {
    fc.assert(
      fc.property(repr, fc.integer({ min: 0, max: 8 }), (header, offset) => {
        const bytes = new Uint8Array(offset + VNET_HEADER_LENGTH);
        emitVnetHeader(header, bytes, offset);
        expect(parseVnetHeader(bytes, offset)).toEqual(header);
      }),
      { numRuns: 300 },
    );
  });

  it('lays fields out little-endian as struct virtio_net_hdr does', () => {
    const bytes = new Uint8Array(VNET_HEADER_LENGTH);
    emitVnetHeader(
      { flags: VnetFlags.needsChecksum, gsoType: VnetGso.tcpv4, headerLength: 66, gsoSize: 1448, checksumStart: 34, checksumOffset: 16 },
      bytes,
    );
    expect(Array.from(bytes)).toEqual([1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]);
    const view = new VnetHeaderView(bytes);
    expect([view.flags, view.gsoType, view.headerLength, view.gsoSize, view.checksumStart, view.checksumOffset]).toEqual([
      1, 1, 66, 1448, 34, 16,
    ]);
  });

  it('throws only DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        try {
          parseVnetHeader(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a truncated header and an unknown GSO type', () => {
    expect(() => parseVnetHeader(new Uint8Array(9))).toThrow(expect.objectContaining({ reason: 'truncated' }));
    const bytes = new Uint8Array(VNET_HEADER_LENGTH);
    bytes[1] = 2;
    expect(() => parseVnetHeader(bytes)).toThrow(expect.objectContaining({ reason: 'unknown-gso-type' }));
  });
});
