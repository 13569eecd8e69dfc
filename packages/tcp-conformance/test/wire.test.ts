import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, localMac } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';
import { ArpOperation } from '@morgana/ethif';
import { TcpFlag, parseTcp } from '@morgana/tcp';
import type { TcpRepr } from '@morgana/tcp';
import { arbPayload, arbUnicastIpv4 } from '@morgana/testing';
import { MAX_RAW_OPTIONS, arpRequest, buildArpFrame, buildSegmentFrame, emitSegment, parseFrame, segmentLength } from '../src/index.js';

const addressing = { sourceMac: localMac(1), destinationMac: localMac(2), source: 0x0a000002 as Ipv4Address, destination: 0x0a000001 as Ipv4Address };

const arbRepr: fc.Arbitrary<TcpRepr> = fc.record({
  sourcePort: fc.integer({ min: 0, max: 0xffff }),
  destinationPort: fc.integer({ min: 0, max: 0xffff }),
  seq: fc.nat({ max: 0xffff_ffff }),
  ack: fc.nat({ max: 0xffff_ffff }),
  flags: fc.integer({ min: 0, max: 0xff }),
  window: fc.integer({ min: 0, max: 0xffff }),
  urgent: fc.integer({ min: 0, max: 0xffff }),
  mss: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
  windowScale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
  sackPermitted: fc.boolean(),
  sackBlocks: fc.array(fc.record({ left: fc.nat({ max: 0xffff_ffff }), right: fc.nat({ max: 0xffff_ffff }) }), { maxLength: 2 }),
  tsVal: fc.option(fc.nat({ max: 0xffff_ffff }), { nil: undefined }),
  tsEcr: fc.constant(undefined),
  payload: arbPayload({ maxLength: 1400 }),
}).map((repr) => ({ ...repr, tsEcr: repr.tsVal === undefined ? undefined : 7 }));

describe('tester frames', () => {
  it('parses back every segment frame it builds, with a valid checksum (round trip)', () => {
    fc.assert(
      fc.property(arbRepr, fc.integer({ min: 0, max: 0xffff }), (repr, id) => {
        const frame = parseFrame(buildSegmentFrame({ repr }, addressing, id));
        expect(frame.kind).toBe('tcp');
        if (frame.kind !== 'tcp') return;
        expect(frame.source).toBe(addressing.source);
        expect(frame.destination).toBe(addressing.destination);
        expect({ ...frame.segment, payload: [...frame.segment.payload] }).toEqual({ ...repr, payload: [...repr.payload] });
      }),
      { numRuns: 300 },
    );
  });

  it('writes raw options as given, padded to a word, and the codec skips unknown kinds (RFC 9293 §3.1)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 30 }), arbUnicastIpv4(), (body, source) => {
        // One unknown option (kind 253) of the drawn length.
        const options = new Uint8Array([253, body.length + 2, ...body]);
        const repr = { ...blank(), payload: new Uint8Array([1, 2, 3]) };
        const bytes = new Uint8Array(segmentLength({ repr, rawOptions: options }));
        const length = emitSegment({ repr, rawOptions: options }, bytes, source, addressing.destination);
        expect(length).toBe(20 + Math.ceil(options.length / 4) * 4 + 3);
        expect(bytes.subarray(20, 20 + options.length)).toEqual(options);
        const parsed = parseTcp(bytes.subarray(0, length), { source, destination: addressing.destination });
        expect([...parsed.payload]).toEqual([1, 2, 3]);
        expect(parsed.mss).toBeUndefined();
      }),
    );
  });

  it('refuses raw options longer than 40 bytes', () => {
    expect(() => segmentLength({ repr: blank(), rawOptions: new Uint8Array(MAX_RAW_OPTIONS + 1) })).toThrow(RangeError);
  });

  it('spoils the checksum on request, which the parser reports as a DecodeError', () => {
    const frame = buildSegmentFrame({ repr: blank(), badChecksum: true }, addressing, 1);
    expect(() => parseFrame(frame)).toThrow(DecodeError);
  });

  it('builds ARP requests that parse back', () => {
    const frame = parseFrame(buildArpFrame(arpRequest(addressing.sourceMac, addressing.source, addressing.destination), localMac(9)));
    expect(frame).toMatchObject({ kind: 'arp', arp: { operation: ArpOperation.request, senderAddress: addressing.source, targetAddress: addressing.destination } });
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but DecodeError on mutated valid frames', () => {
    fc.assert(
      fc.property(arbRepr, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (repr, edits) => {
        const frame = buildSegmentFrame({ repr }, addressing, 1);
        for (const [at, value] of edits) frame[at % frame.length] = value;
        try {
          parseFrame(frame);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

function blank(): TcpRepr {
  return {
    sourcePort: 1,
    destinationPort: 2,
    seq: 3,
    ack: 4,
    flags: TcpFlag.syn,
    window: 100,
    urgent: 0,
    mss: undefined,
    windowScale: undefined,
    sackPermitted: false,
    sackBlocks: [],
    tsVal: undefined,
    tsEcr: undefined,
    payload: new Uint8Array(0),
  };
}
