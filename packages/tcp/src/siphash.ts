/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash, the pseudo-random function
 * behind our ISNs (RFC 6528 §3), timestamp offsets and SYN cookies. Written over 32-bit halves
 * so it needs neither BigInt nor a crypto library.
 */

/** A 128-bit SipHash key as four little-endian 32-bit words. */
export type SipKey = readonly [number, number, number, number];

/** The 64-bit result as two unsigned 32-bit halves. */
export interface SipResult {
  high: number;
  low: number;
}

// The state v0..v3, each as high and low 32-bit halves. Module-level so one hash allocates nothing.
let v0h = 0;
let v0l = 0;
let v1h = 0;
let v1l = 0;
let v2h = 0;
let v2l = 0;
let v3h = 0;
let v3l = 0;

function sipRound(): void {
  // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
  let low = (v0l + v1l) >>> 0;
  v0h = (v0h + v1h + (low < v0l ? 1 : 0)) >>> 0;
  v0l = low;
  let h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
  let l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
  v1h = (h ^ v0h) >>> 0;
  v1l = (l ^ v0l) >>> 0;
  let t = v0h;
  v0h = v0l;
  v0l = t;
  // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
  low = (v2l + v3l) >>> 0;
  v2h = (v2h + v3h + (low < v2l ? 1 : 0)) >>> 0;
  v2l = low;
  h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
  l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
  v3h = (h ^ v2h) >>> 0;
  v3l = (l ^ v2l) >>> 0;
  // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
  low = (v0l + v3l) >>> 0;
  v0h = (v0h + v3h + (low < v0l ? 1 : 0)) >>> 0;
  v0l = low;
  h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
  l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
  v3h = (h ^ v0h) >>> 0;
  v3l = (l ^ v0l) >>> 0;
  // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
  low = (v2l + v1l) >>> 0;
  v2h = (v2h + v1h + (low < v2l ? 1 : 0)) >>> 0;
  v2l = low;
  h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
  l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
  v1h = (h ^ v2h) >>> 0;
  v1l = (l ^ v2l) >>> 0;
  t = v2h;
  v2h = v2l;
  v2l = t;
}

function compress(high: number, low: number): void {
  v3h = (v3h ^ high) >>> 0;
  v3l = (v3l ^ low) >>> 0;
  sipRound();
  sipRound();
  v0h = (v0h ^ high) >>> 0;
  v0l = (v0l ^ low) >>> 0;
}

function littleEndian32(bytes: Uint8Array, at: number, end: number): number {
  let word = 0;
  for (let i = 3; i >= 0; i--) word = (word << 8) | (at + i < end ? bytes[at + i] : 0);
  return word >>> 0;
}

/** SipHash-2-4 of `message` under `key`, written into `out` (returned). */
export function sipHash24(key: SipKey, message: Uint8Array, out: SipResult = { high: 0, low: 0 }): SipResult {
  // "somepseudorandomlygeneratedbytes", the initialisation constants.
  v0h = (key[1] ^ 0x736f6d65) >>> 0;
  v0l = (key[0] ^ 0x70736575) >>> 0;
  v1h = (key[3] ^ 0x646f7261) >>> 0;
  v1l = (key[2] ^ 0x6e646f6d) >>> 0;
  v2h = (key[1] ^ 0x6c796765) >>> 0;
  v2l = (key[0] ^ 0x6e657261) >>> 0;
  v3h = (key[3] ^ 0x74656462) >>> 0;
  v3l = (key[2] ^ 0x79746573) >>> 0;
  const length = message.length;
  const whole = length - (length % 8);
  for (let at = 0; at < whole; at += 8) {
    compress(littleEndian32(message, at + 4, length), littleEndian32(message, at, length));
  }
  const lastLow = littleEndian32(message, whole, length);
  const lastHigh = (littleEndian32(message, whole + 4, length) | ((length & 0xff) << 24)) >>> 0;
  compress(lastHigh, lastLow);
  v2l = (v2l ^ 0xff) >>> 0;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  out.high = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  out.low = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  return out;
}
