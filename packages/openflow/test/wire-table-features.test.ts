import { DecodeError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OFPMP_TABLE_FEATURES, emitMessage, emitTableFeatures, parseMessage, parseTableFeatures } from '@morgana/openflow';
import { tableFeaturesArb } from './arbitraries.js';
import { TABLE_FEATURES_SAMPLE } from './wire-samples.js';

function fails(data: Uint8Array): boolean {
  try {
    parseTableFeatures(data);
    return false;
  } catch (error) {
    if (error instanceof DecodeError) return true;
    throw error;
  }
}

describe('table features (1.3.x §7.3.5.5)', () => {
  it('round-trips every property type, inside a multipart reply too', () => {
    fc.assert(fc.property(tableFeaturesArb(), (tables) => {
      const data = emitTableFeatures(tables);
      expect(parseTableFeatures(data)).toEqual(tables);
      const message = parseMessage(emitMessage({ version: 4, xid: 1, type: 'multipart-reply', flags: 0, body: { kind: 'other', statsType: OFPMP_TABLE_FEATURES, data } }));
      expect(message.type === 'multipart-reply' && message.body.kind === 'other' && parseTableFeatures(message.body.data)).toEqual(tables);
    }), { numRuns: 300 });
  });

  it('pads each property to 8 bytes without counting the padding in its length', () => {
    const data = emitTableFeatures([{ ...TABLE_FEATURES_SAMPLE[0] as (typeof TABLE_FEATURES_SAMPLE)[0], properties: [{ type: 'next-tables', tableIds: [1, 2, 3] }] }]);
    expect(data.length).toBe(64 + 8);
    expect(Array.from(data.subarray(0, 2))).toEqual([0, 72]);
    expect(Array.from(data.subarray(64))).toEqual([0, 2, 0, 7, 1, 2, 3, 0]);
  });

  it('rejects a table length shorter than 64 bytes or past the body, and a property length that lies', () => {
    const data = emitTableFeatures(TABLE_FEATURES_SAMPLE);
    expect(fails(data)).toBe(false);
    const withU16 = (at: number, value: number): Uint8Array => {
      const copy = data.slice();
      copy[at] = value >> 8;
      copy[at + 1] = value & 0xff;
      return copy;
    };
    for (const lie of [0, 63, data.length + 1, 0xffff]) expect(fails(withU16(0, lie)), `table length ${lie}`).toBe(true);
    // The first property (instructions, 6 ids) starts at 64: its length field at 66 is 28.
    expect((data[66] as number) * 256 + (data[67] as number)).toBe(28);
    for (const lie of [0, 3, 27, 29, 0xffff]) expect(fails(withU16(66, lie)), `property length ${lie}`).toBe(true);
    // Property type 9 is undefined (OFPTFFC_BAD_TYPE).
    expect(fails(withU16(64, 9))).toBe(true);
  });

  it('throws only DecodeError on arbitrary and mutated bodies', () => {
    fc.assert(fc.property(tableFeaturesArb(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.uint8Array({ maxLength: 80 }), (tables, edits, noise) => {
      const data = emitTableFeatures(tables);
      for (const [at, value] of edits) if (data.length > 0) data[at % data.length] = value;
      fails(data);
      fails(noise);
    }), { numRuns: 500 });
  });
});
