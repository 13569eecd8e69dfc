/**
 * The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the IPv4
 * pseudo-header sum used by UDP and TCP (RFC 768, RFC 9293 §3.1).
 *
 * Sums are kept as "partial sums": the 16-bit one's-complement sum before the final
 * complement, so pieces (pseudo-header, header, payload) add up with {@link addChecksums}.
 */
import type { Ipv4Address } from './address.js';

/** Words summed between folds: 2^20 words of at most 2^32 stay below 2^53. */
const WORDS_PER_FOLD = 1 << 20;
/**
 * Below this length an unrolled byte loop beats creating a DataView: the view costs about
 * 100 ns on Node 20, and the measured crossover is near 384 bytes (bench/checksum.bench.ts).
 */
const DATAVIEW_THRESHOLD = 256;

/** Folds a wide sum to 16 bits with end-around carry. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The one's-complement sum of `bytes[start, end)` as big-endian 16-bit words (an odd final
 * byte is padded with zero), plus `initial`, folded to 16 bits. Not complemented.
 */
export function checksumPartial(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  if (end - start >= DATAVIEW_THRESHOLD) {
    // Summing 32-bit words and folding gives the same result as 16-bit words, because
    // 2^16 ≡ 1 modulo 2^16 - 1 (RFC 1071 §2(B), "parallel summation").
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let words = 0;
    for (; i + 16 <= end; i += 16) {
      sum += view.getUint32(i) + view.getUint32(i + 4) + view.getUint32(i + 8) + view.getUint32(i + 12);
      words += 4;
      if (words >= WORDS_PER_FOLD) {
        sum = foldChecksum(sum);
        words = 0;
      }
    }
    for (; i + 4 <= end; i += 4) sum += view.getUint32(i);
  } else {
    // At most 128 words of at most 2^16: no fold needed before the end.
    for (; i + 8 <= end; i += 8) {
      sum += ((bytes[i] << 8) | bytes[i + 1]) + ((bytes[i + 2] << 8) | bytes[i + 3]) + ((bytes[i + 4] << 8) | bytes[i + 5]) + ((bytes[i + 6] << 8) | bytes[i + 7]);
    }
  }
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  return foldChecksum(sum);
}

/** Adds partial sums (each a 16-bit one's-complement sum). */
export function addChecksums(a: number, b: number): number {
  return foldChecksum(a + b);
}

/** The checksum field value for `bytes[start, end)` plus `initial`: the complement of the sum. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  return ~checksumPartial(bytes, start, end, initial) & 0xffff;
}

/**
 * Partial sum of the IPv4 pseudo-header: source, destination, zero, protocol, and the
 * transport length (RFC 768; RFC 9293 §3.1).
 */
export function ipv4PseudoHeaderSum(source: Ipv4Address, destination: Ipv4Address, protocol: number, length: number): number {
  return foldChecksum(
    (source >>> 16) + (source & 0xffff) + (destination >>> 16) + (destination & 0xffff) + protocol + length,
  );
}

/**
 * Updates a checksum field after one 16-bit word of the covered data changed from
 * `oldWord` to `newWord`, without summing the data again: HC' = ~(~HC + ~m + m')
 * (RFC 1624 §3, equation 3, which avoids the -0 pitfall of RFC 1141).
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  return ~foldChecksum((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** {@link updateChecksum16} for a 32-bit field (an address) that changed. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  const first = updateChecksum16(checksum, oldValue >>> 16, newValue >>> 16);
  return updateChecksum16(first, oldValue & 0xffff, newValue & 0xffff);
}
