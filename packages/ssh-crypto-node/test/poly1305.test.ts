import { toHex } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { poly1305 } from '../src/index.js';

/** A direct bigint transcription of RFC 8439 §2.5.1, the oracle for the implementation. */
function reference(key: Uint8Array, data: Uint8Array): string {
  const le = (bytes: Uint8Array): bigint => bytes.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  const p = (1n << 130n) - 5n;
  const r = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(key.subarray(16, 32));
  let h = 0n;
  for (let offset = 0; offset < data.length; offset += 16) {
    const block = data.subarray(offset, Math.min(offset + 16, data.length));
    h = ((h + le(block) + (1n << BigInt(block.length * 8))) * r) % p;
  }
  let tag = (h + s) & ((1n << 128n) - 1n);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++, tag >>= 8n) out[i] = Number(tag & 0xffn);
  return toHex(out);
}

describe('Poly1305', () => {
  it('matches a direct transcription of RFC 8439 §2.5.1 on any key and any message length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), (key, data) => {
        expect(toHex(poly1305(key, data))).toBe(reference(key, data));
      }),
      { numRuns: 300 },
    );
  });

  it('reduces correctly at the extremes (all-ones keys and messages)', () => {
    for (const fill of [0x00, 0xff]) {
      const key = new Uint8Array(32).fill(0xff);
      const data = new Uint8Array(64).fill(fill);
      expect(toHex(poly1305(key, data))).toBe(reference(key, data));
    }
  });

  it('keeps its limbs exact over long messages of maximal bytes (carry bounds)', () => {
    const key = new Uint8Array(32).fill(0xff);
    for (const length of [4096, 4095, 33]) {
      const data = new Uint8Array(length).fill(0xff);
      expect(toHex(poly1305(key, data))).toBe(reference(key, data));
    }
  });
});
