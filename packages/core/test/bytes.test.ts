import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, DecodeError, fromHex, toHex } from '../src/index.js';

describe('ByteReader and ByteWriter', () => {
  it('read back what was written, field by field', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array(), (a, b, c, d, e) => {
        const writer = new ByteWriter(1);
        writer.u8(a).u16(b).u32(c).u64(d).bytes(e);
        const reader = new ByteReader(writer.finish());
        expect([reader.u8(), reader.u16(), reader.u32(), reader.u64(), reader.bytesCopy(e.length)]).toEqual([a, b, c, d, e]);
        expect(reader.remaining).toBe(0);
      }),
    );
  });

  it('throws DecodeError("truncated") past the end, never reads out of range', () => {
    const reader = new ByteReader(new Uint8Array([1, 2, 3]));
    expect(reader.u16()).toBe(0x0102);
    expect(() => reader.u16()).toThrow(DecodeError);
    expect(reader.u8()).toBe(3);
  });

  it('refuses to grow past its maximum size', () => {
    const writer = new ByteWriter(4, 8);
    writer.u32(1).u32(2);
    expect(() => writer.u8(3)).toThrow(DecodeError);
  });

  it('round-trips hex', () => {
    fc.assert(fc.property(fc.uint8Array(), (bytes) => {
      expect(fromHex(toHex(bytes))).toEqual(bytes);
    }));
    expect(() => fromHex('abc')).toThrow(DecodeError);
  });
});
