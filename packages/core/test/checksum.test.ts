import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addChecksums,
  checksumPartial,
  internetChecksum,
  ipv4PseudoHeaderSum,
  type Ipv4Address,
  updateChecksum16,
  updateChecksum32,
} from '../src/index.js';

/** RFC 1071 done the slow, obvious way: 16-bit words, end-around carry after every add. */
function naiveSum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    const word = (bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0);
    sum += word;
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return sum;
}

const payload = fc.uint8Array({ minLength: 0, maxLength: 3000 });

describe('Internet checksum (RFC 1071)', () => {
  it('agrees with a naive word-by-word reference, odd lengths included', () => {
    fc.assert(
      fc.property(payload, (bytes) => {
        expect(checksumPartial(bytes)).toBe(naiveSum(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees on unaligned subranges of a larger buffer', () => {
    fc.assert(
      fc.property(payload, fc.nat(50), fc.nat(50), (bytes, head, tail) => {
        const start = Math.min(head, bytes.length);
        const end = Math.max(start, bytes.length - tail);
        expect(checksumPartial(bytes, start, end)).toBe(naiveSum(bytes.slice(start, end)));
      }),
    );
  });

  it('verifies to zero once the checksum is stored in the data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 1500 }), (bytes) => {
        const data = bytes.slice();
        data[0] = 0;
        data[1] = 0;
        const checksum = internetChecksum(data);
        data[0] = checksum >>> 8;
        data[1] = checksum & 0xff;
        expect(internetChecksum(data)).toBe(0);
      }),
    );
  });

  it('sums pieces split at even offsets to the sum of the whole', () => {
    fc.assert(
      fc.property(payload, fc.nat(), (bytes, cut) => {
        const at = bytes.length === 0 ? 0 : (cut % bytes.length) & ~1;
        expect(addChecksums(checksumPartial(bytes, 0, at), checksumPartial(bytes, at))).toBe(
          naiveSum(bytes) === 0xffff && checksumPartial(bytes) === 0xffff ? 0xffff : checksumPartial(bytes),
        );
      }),
    );
  });

  it('handles a 16 MiB buffer without losing carries', () => {
    const big = new Uint8Array(16 * 1024 * 1024).fill(0xff);
    expect(checksumPartial(big)).toBe(naiveSum(big));
  });
});

describe('incremental update (RFC 1624)', () => {
  it('matches a full recomputation after a 16-bit word changes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }), (bytes, at, word) => {
        const data = bytes.slice(0, bytes.length & ~1);
        const index = ((at % (data.length / 2)) | 0) * 2;
        const before = internetChecksum(data);
        const oldWord = (data[index] << 8) | data[index + 1];
        data[index] = word >>> 8;
        data[index + 1] = word & 0xff;
        const updated = updateChecksum16(before, oldWord, word);
        // RFC 1624 §3: both 0x0000 and 0xffff represent the same sum (+0 and -0).
        const full = internetChecksum(data);
        expect(updated === full || (updated ^ full) === 0xffff).toBe(true);
      }),
    );
  });

  it('matches a full recomputation after a 32-bit field changes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 64 }), fc.nat(), (bytes, value) => {
        const data = bytes.slice(0, bytes.length & ~3);
        const before = internetChecksum(data);
        const oldValue = ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]) >>> 0;
        const newValue = value >>> 0;
        data.set([newValue >>> 24, (newValue >>> 16) & 255, (newValue >>> 8) & 255, newValue & 255], 0);
        const updated = updateChecksum32(before, oldValue, newValue);
        const full = internetChecksum(data);
        expect(updated === full || (updated ^ full) === 0xffff).toBe(true);
      }),
    );
  });
});

describe('IPv4 pseudo-header', () => {
  it('equals the checksum of the 12 pseudo-header bytes', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), (s, d, protocol, length) => {
        const source = (s >>> 0) as Ipv4Address;
        const destination = (d >>> 0) as Ipv4Address;
        const bytes = new Uint8Array([
          source >>> 24, (source >>> 16) & 255, (source >>> 8) & 255, source & 255,
          destination >>> 24, (destination >>> 16) & 255, (destination >>> 8) & 255, destination & 255,
          0, protocol, length >>> 8, length & 255,
        ]);
        expect(ipv4PseudoHeaderSum(source, destination, protocol, length)).toBe(naiveSum(bytes));
      }),
    );
  });
});
