/** Poly1305 (RFC 8439 §2.5): node:crypto offers no raw one-time authenticator, so it lives here. */

const P = (1n << 130n) - 5n;
const MASK128 = (1n << 128n) - 1n;
/** The 2^128 bit of a full 16-byte block lands in the last 22-bit limb at 128 - 5 * 22 = 18. */
const HIBIT = 1 << 18;

// The accumulator h and r are held as six 22-bit limbs in doubles (limb k weighs 2^(22k)).
// Limb i + j >= 6 of a product wraps to limb i + j - 6 times 20, since 2^132 = 4 * 2^130 and
// 2^130 ≡ 5 (mod p). Bounds, all exact in a double (< 2^53): a limb of h is below 2^23 once
// a message limb is added, 20 * r_j below 2^26.4, so a product is below 2^49.4 and a row of
// six below 2^52. Six limbs need 36 multiplications per block where 13-bit limbs need 100.
// State layout: st[0..5] = h, st[6..11] = r.

const LIMB = 4194304; // 2^22
const INVERSE_LIMB = 1 / LIMB; // exact: scaling by a power of two
const MASK22 = 0x3fffff;

/** Absorbs the 16-byte blocks of `m` from `start` to `end` (their count times 16) into `st`. */
function blocks(st: Float64Array, m: DataView, start: number, end: number, hibit: number): void {
  const r0 = st[6]; const r1 = st[7]; const r2 = st[8]; const r3 = st[9]; const r4 = st[10]; const r5 = st[11];
  const s1 = r1 * 20; const s2 = r2 * 20; const s3 = r3 * 20; const s4 = r4 * 20; const s5 = r5 * 20;
  let h0 = st[0]; let h1 = st[1]; let h2 = st[2]; let h3 = st[3]; let h4 = st[4]; let h5 = st[5];
  for (let o = start; o < end; o += 16) {
    // Bits 0, 22, 44, 66, 88 and 110 of the little-endian block, each from the 32-bit word at
    // the byte holding its first bit; the last limb gets the 2^128 bit.
    h0 += m.getUint32(o, true) & MASK22;
    h1 += (m.getUint32(o + 2, true) >>> 6) & MASK22;
    h2 += (m.getUint32(o + 5, true) >>> 4) & MASK22;
    h3 += (m.getUint32(o + 8, true) >>> 2) & MASK22;
    h4 += m.getUint32(o + 11, true) & MASK22;
    h5 += (m.getUint32(o + 12, true) >>> 14) + hibit;
    const d0 = h0 * r0 + h1 * s5 + h2 * s4 + h3 * s3 + h4 * s2 + h5 * s1;
    let d1 = h0 * r1 + h1 * r0 + h2 * s5 + h3 * s4 + h4 * s3 + h5 * s2;
    let d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s5 + h4 * s4 + h5 * s3;
    let d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s5 + h5 * s4;
    let d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s5;
    let d5 = h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0;
    let c = Math.floor(d0 * INVERSE_LIMB);
    h0 = d0 - c * LIMB;
    d1 += c;
    c = Math.floor(d1 * INVERSE_LIMB);
    h1 = d1 - c * LIMB;
    d2 += c;
    c = Math.floor(d2 * INVERSE_LIMB);
    h2 = d2 - c * LIMB;
    d3 += c;
    c = Math.floor(d3 * INVERSE_LIMB);
    h3 = d3 - c * LIMB;
    d4 += c;
    c = Math.floor(d4 * INVERSE_LIMB);
    h4 = d4 - c * LIMB;
    d5 += c;
    c = Math.floor(d5 * INVERSE_LIMB);
    h5 = d5 - c * LIMB;
    h0 += c * 20;
    c = Math.floor(h0 * INVERSE_LIMB);
    h0 -= c * LIMB;
    h1 += c;
  }
  st[0] = h0; st[1] = h1; st[2] = h2; st[3] = h3; st[4] = h4; st[5] = h5;
}

/** The 16-byte tag of `data` under the 32-byte one-time key `key` (r ‖ s). */
export function poly1305(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RangeError('poly1305 needs a 32-byte key');
  // RFC 8439 §2.5.1: clamp r.
  const clamped = new Uint8Array(20);
  clamped.set(key.subarray(0, 16));
  for (const i of [3, 7, 11, 15]) clamped[i] &= 15;
  for (const i of [4, 8, 12]) clamped[i] &= 252;
  const st = new Float64Array(12);
  for (let i = 0; i < 6; i++) {
    const bit = i * 22;
    const at = bit >> 3;
    st[6 + i] = (((clamped[at] | (clamped[at + 1] << 8) | (clamped[at + 2] << 16) | (clamped[at + 3] << 24)) >>> (bit & 7)) & MASK22);
  }
  const full = data.length - (data.length % 16);
  blocks(st, new DataView(data.buffer, data.byteOffset, data.byteLength), 0, full, HIBIT);
  if (full < data.length) {
    // A short final block gets a 1 byte after its end instead of the 2^128 bit.
    const last = new Uint8Array(16);
    last.set(data.subarray(full));
    last[data.length - full] = 1;
    blocks(st, new DataView(last.buffer), 0, 16, 0);
  }
  let acc = 0n;
  for (let i = 5; i >= 0; i--) acc = (acc << 22n) + BigInt(st[i]);
  let tag = ((acc % P) + readLe(key, 16, 32)) & MASK128;
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    out[i] = Number(tag & 0xffn);
    tag >>= 8n;
  }
  return out;
}

function readLe(bytes: Uint8Array, start: number, end: number): bigint {
  let value = 0n;
  for (let i = end - 1; i >= start; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}
