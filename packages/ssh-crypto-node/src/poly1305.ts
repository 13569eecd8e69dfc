/** Poly1305 (RFC 8439 §2.5): node:crypto offers no raw one-time authenticator, so it lives here. */

const P = (1n << 130n) - 5n;
const CLAMP = 0x0ffffffc0ffffffc0ffffffc0fffffffn;
const MASK128 = (1n << 128n) - 1n;
const MASK130 = (1n << 130n) - 1n;

function readLe(bytes: Uint8Array, start: number, end: number): bigint {
  let value = 0n;
  for (let i = end - 1; i >= start; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}

/** Reads 16 bytes little-endian as two 64-bit halves, cheaper than 16 BigInt shifts. */
function readBlock(view: DataView, offset: number): bigint {
  return (view.getBigUint64(offset + 8, true) << 64n) | view.getBigUint64(offset, true);
}

/** The 16-byte tag of `data` under the 32-byte one-time key `key` (r ‖ s). */
export function poly1305(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RangeError('poly1305 needs a 32-byte key');
  const r = readLe(key, 0, 16) & CLAMP;
  const s = readLe(key, 16, 32);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const full = data.length - (data.length % 16);
  const hibit = 1n << 128n;
  let h = 0n;
  // 2^130 ≡ 5 (mod p): folding the high part back in keeps h below 2^131 without a division;
  // the one full reduction happens at the end.
  for (let offset = 0; offset < full; offset += 16) {
    h = (h + (readBlock(view, offset) | hibit)) * r;
    h = (h & MASK130) + (h >> 130n) * 5n;
  }
  if (full < data.length) {
    h = (h + (readLe(data, full, data.length) | (1n << BigInt((data.length - full) * 8)))) * r;
    h = (h & MASK130) + (h >> 130n) * 5n;
  }
  h %= P;
  let tag = (h + s) & MASK128;
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    out[i] = Number(tag & 0xffn);
    tag >>= 8n;
  }
  return out;
}
