import { DecodeError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodePcapHeader,
  LINKTYPE_ETHERNET,
  PCAP_HEADER_LENGTH,
  parsePcapHeader,
  readPcap,
  writePcap,
  type PcapRecordInput,
} from '../src/index.js';

const record = fc.record({
  timestampMicros: fc.integer({ min: 0, max: 0xffff_ffff * 1_000_000 + 999_999 }),
  data: fc.uint8Array({ maxLength: 200 }),
});

describe('pcap writer and reader', () => {
  it('reads back what it wrote: timestamps, bytes and lengths', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), (records) => {
        const file = readPcap(writePcap(records));
        expect(file.header).toEqual({
          versionMajor: 2,
          versionMinor: 4,
          snapLength: 262_144,
          linkType: LINKTYPE_ETHERNET,
          resolution: 'microsecond',
          littleEndian: true,
        });
        expect(file.records).toEqual(records.map((r) => ({ ...r, originalLength: r.data.length })));
      }),
      { numRuns: 200 },
    );
  });

  it('truncates frames to the snapshot length and keeps their original length', () => {
    const data = new Uint8Array(100).map((_, i) => i);
    const file = readPcap(writePcap([{ timestampMicros: 5, data }], { snapLength: 64 }));
    expect(file.header.snapLength).toBe(64);
    expect(file.records[0].data).toEqual(data.subarray(0, 64));
    expect(file.records[0].originalLength).toBe(100);
  });

  it('lays out the global header as libpcap does (magic a1b2c3d4, version 2.4, little-endian)', () => {
    expect(Array.from(encodePcapHeader({ snapLength: 65535 }))).toEqual([
      0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ]);
  });

  it('reads big-endian and nanosecond-resolution files', () => {
    const bytes = new Uint8Array(PCAP_HEADER_LENGTH + 16 + 3);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0xa1b23c4d, false);
    view.setUint16(4, 2, false);
    view.setUint16(6, 4, false);
    view.setUint32(16, 1000, false);
    view.setUint32(20, 1, false);
    view.setUint32(24, 7, false);
    view.setUint32(28, 123_456_789, false);
    view.setUint32(32, 3, false);
    view.setUint32(36, 60, false);
    bytes.set([1, 2, 3], 40);
    const file = readPcap(bytes);
    expect(file.header).toMatchObject({ littleEndian: false, resolution: 'nanosecond', snapLength: 1000 });
    expect(file.records).toEqual([{ timestampMicros: 7_123_456, data: new Uint8Array([1, 2, 3]), originalLength: 60 }]);
  });

  it('rejects a bad magic, a cut-short record and impossible lengths with DecodeError', () => {
    const good = writePcap([{ timestampMicros: 1, data: new Uint8Array(10) }]);
    const reason = (bytes: Uint8Array): string => {
      try {
        readPcap(bytes);
        return 'none';
      } catch (error) {
        return (error as DecodeError).reason;
      }
    };
    expect(reason(good.subarray(0, 10))).toBe('pcap-truncated');
    expect(reason(good.subarray(0, good.length - 1))).toBe('pcap-truncated');
    expect(reason(good.subarray(0, PCAP_HEADER_LENGTH + 4))).toBe('pcap-truncated');
    const badMagic = good.slice();
    badMagic[0] = 0;
    expect(reason(badMagic)).toBe('pcap-bad-magic');
    const badLength = good.slice();
    new DataView(badLength.buffer).setUint32(PCAP_HEADER_LENGTH + 12, 5, true);
    expect(reason(badLength)).toBe('pcap-bad-length');
    const badVersion = good.slice();
    badVersion[4] = 3;
    expect(reason(badVersion)).toBe('pcap-bad-version');
    const badFraction = good.slice();
    new DataView(badFraction.buffer).setUint32(PCAP_HEADER_LENGTH + 4, 1_000_000, true);
    expect(reason(badFraction)).toBe('pcap-bad-timestamp');
  });

  it('throws nothing but DecodeError for arbitrary bytes, header valid or not', () => {
    const header = encodePcapHeader();
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 300 }), (withHeader, tail) => {
        const bytes = withHeader ? new Uint8Array([...header, ...tail]) : tail;
        try {
          readPcap(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rejects timestamps pcap cannot hold', () => {
    const records: PcapRecordInput[] = [{ timestampMicros: -1, data: new Uint8Array(1) }];
    expect(() => writePcap(records)).toThrow(RangeError);
    expect(() => writePcap([{ timestampMicros: 1.5, data: new Uint8Array(1) }])).toThrow(RangeError);
    expect(() => encodePcapHeader({ snapLength: 0 })).toThrow(RangeError);
  });

  it('parses the header on its own', () => {
    expect(parsePcapHeader(encodePcapHeader({ linkType: 101 })).linkType).toBe(101);
  });
});
