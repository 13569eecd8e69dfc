/** Poly1305 (RFC 8439 §2.5): node:crypto offers no raw one-time authenticator, so it lives here. */

const P = (1n << 130n) - 5n;
const MASK128 = (1n << 128n) - 1n;
/** The 2^128 bit of a full 16-byte block lands in the last 13-bit limb at 128 - 9 * 13 = 11. */
const HIBIT = 1 << 11;

// The accumulator h and r are held as ten 13-bit limbs in doubles: a limb product stays below
// 2^30 and a row of ten below 2^34, exact in a double, many times faster than bigint. Limb
// i + j >= 10 of a product wraps to limb i + j - 10 times 5, since 2^130 ≡ 5 (mod p). The
// straight-line code below is that schoolbook product written out.
// State layout: st[0..9] = h, st[10..19] = r.

/** Absorbs the 16-byte blocks of `m` from `start` to `end` (their count times 16) into `st`. */
function blocks(st: Float64Array, m: Uint8Array, start: number, end: number, hibit: number): void {
  const r0 = st[10]; const r1 = st[11]; const r2 = st[12]; const r3 = st[13]; const r4 = st[14]; const r5 = st[15]; const r6 = st[16]; const r7 = st[17]; const r8 = st[18]; const r9 = st[19];
  const s1 = r1 * 5; const s2 = r2 * 5; const s3 = r3 * 5; const s4 = r4 * 5; const s5 = r5 * 5; const s6 = r6 * 5; const s7 = r7 * 5; const s8 = r8 * 5; const s9 = r9 * 5;
  let h0 = st[0]; let h1 = st[1]; let h2 = st[2]; let h3 = st[3]; let h4 = st[4]; let h5 = st[5]; let h6 = st[6]; let h7 = st[7]; let h8 = st[8]; let h9 = st[9];
  for (let o = start; o < end; o += 16) {
    h0 += (((m[o + 0] | (m[o + 1] << 8) | (m[o + 2] << 16)) >>> 0) & 0x1fff);
    h1 += (((m[o + 1] | (m[o + 2] << 8) | (m[o + 3] << 16)) >>> 5) & 0x1fff);
    h2 += (((m[o + 3] | (m[o + 4] << 8) | (m[o + 5] << 16)) >>> 2) & 0x1fff);
    h3 += (((m[o + 4] | (m[o + 5] << 8) | (m[o + 6] << 16)) >>> 7) & 0x1fff);
    h4 += (((m[o + 6] | (m[o + 7] << 8) | (m[o + 8] << 16)) >>> 4) & 0x1fff);
    h5 += (((m[o + 8] | (m[o + 9] << 8) | (m[o + 10] << 16)) >>> 1) & 0x1fff);
    h6 += (((m[o + 9] | (m[o + 10] << 8) | (m[o + 11] << 16)) >>> 6) & 0x1fff);
    h7 += (((m[o + 11] | (m[o + 12] << 8) | (m[o + 13] << 16)) >>> 3) & 0x1fff);
    h8 += (((m[o + 13] | (m[o + 14] << 8) | (m[o + 15] << 16)) >>> 0) & 0x1fff);
    h9 += (((m[o + 14] | (m[o + 15] << 8)) >>> 5) & 0x1fff) + hibit;
    let d0 = h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6 + h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1;
    let d1 = h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7 + h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2;
    let d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8 + h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3;
    let d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9 + h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4;
    let d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5;
    let d5 = h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6;
    let d6 = h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2 + h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7;
    let d7 = h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3 + h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8;
    let d8 = h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4 + h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9;
    let d9 = h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5 + h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
    let c = 0;
    c = Math.floor(d0 / 8192);
    h0 = d0 - c * 8192;
    d1 += c;
    c = Math.floor(d1 / 8192);
    h1 = d1 - c * 8192;
    d2 += c;
    c = Math.floor(d2 / 8192);
    h2 = d2 - c * 8192;
    d3 += c;
    c = Math.floor(d3 / 8192);
    h3 = d3 - c * 8192;
    d4 += c;
    c = Math.floor(d4 / 8192);
    h4 = d4 - c * 8192;
    d5 += c;
    c = Math.floor(d5 / 8192);
    h5 = d5 - c * 8192;
    d6 += c;
    c = Math.floor(d6 / 8192);
    h6 = d6 - c * 8192;
    d7 += c;
    c = Math.floor(d7 / 8192);
    h7 = d7 - c * 8192;
    d8 += c;
    c = Math.floor(d8 / 8192);
    h8 = d8 - c * 8192;
    d9 += c;
    c = Math.floor(d9 / 8192);
    h9 = d9 - c * 8192;
    h0 += c * 5;
    c = Math.floor(h0 / 8192);
    h0 -= c * 8192;
    h1 += c;
  }
  st[0] = h0; st[1] = h1; st[2] = h2; st[3] = h3; st[4] = h4; st[5] = h5; st[6] = h6; st[7] = h7; st[8] = h8; st[9] = h9;
}

/** The 16-byte tag of `data` under the 32-byte one-time key `key` (r ‖ s). */
export function poly1305(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RangeError('poly1305 needs a 32-byte key');
  // RFC 8439 §2.5.1: clamp r.
  const clamped = new Uint8Array(18);
  clamped.set(key.subarray(0, 16));
  for (const i of [3, 7, 11, 15]) clamped[i] &= 15;
  for (const i of [4, 8, 12]) clamped[i] &= 252;
  const st = new Float64Array(20);
  for (let i = 0; i < 10; i++) {
    const bit = i * 13;
    const at = bit >> 3;
    st[10 + i] = ((clamped[at] | (clamped[at + 1] << 8) | (clamped[at + 2] << 16)) >>> (bit & 7)) & 0x1fff;
  }
  const full = data.length - (data.length % 16);
  blocks(st, data, 0, full, HIBIT);
  if (full < data.length) {
    // A short final block gets a 1 byte after its end instead of the 2^128 bit.
    const last = new Uint8Array(16);
    last.set(data.subarray(full));
    last[data.length - full] = 1;
    blocks(st, last, 0, 16, 0);
  }
  let acc = 0n;
  for (let i = 9; i >= 0; i--) acc = (acc << 13n) + BigInt(st[i]);
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
