/**
 * Text encodings used by zone files: base64 (RFC 4648 §4), base32hex (RFC 4648 §7, NSEC3),
 * hex, IPv6 addresses (RFC 4291 §2.2, RFC 5952 for output), and RRSIG times (RFC 4034 §3.2).
 */
import { DecodeError } from '@morgana/core';

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE32HEX = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

export function encodeBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    text += BASE64[a >>> 2] + BASE64[((a & 3) << 4) | (b >>> 4)];
    text += i + 1 < bytes.length ? BASE64[((b & 15) << 2) | (c >>> 6)] : '=';
    text += i + 2 < bytes.length ? BASE64[c & 63] : '=';
  }
  return text;
}

export function decodeBase64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new DecodeError('bad-base64', 'not base64');
  const padding = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((clean.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const n =
      (BASE64.indexOf(clean[i]) << 18) |
      (BASE64.indexOf(clean[i + 1]) << 12) |
      ((clean[i + 2] === '=' ? 0 : BASE64.indexOf(clean[i + 2])) << 6) |
      (clean[i + 3] === '=' ? 0 : BASE64.indexOf(clean[i + 3]));
    if (o < out.length) out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** Unpadded base32hex, as NSEC3 uses it (RFC 5155 §3.3). */
export function encodeBase32Hex(bytes: Uint8Array): string {
  let text = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += BASE32HEX[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) text += BASE32HEX[(buffer << (5 - bits)) & 31];
  return text;
}

export function decodeBase32Hex(text: string): Uint8Array {
  const upper = text.toUpperCase().replace(/=+$/, '');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of upper) {
    const value = BASE32HEX.indexOf(char);
    if (value < 0) throw new DecodeError('bad-base32', 'not base32hex');
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 255);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return Uint8Array.from(out);
}

export function encodeHex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0').toUpperCase();
  return text;
}

export function decodeHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new DecodeError('bad-hex', 'not hex');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Parses an IPv6 address (RFC 4291 §2.2, with `::` and an embedded IPv4 tail). */
export function parseIpv6(text: string): Uint8Array {
  const bad = (): never => {
    throw new DecodeError('bad-ipv6', `not an IPv6 address: ${JSON.stringify(text)}`);
  };
  let head = text;
  const out = new Uint8Array(16);
  let tailV4: number[] = [];
  const lastColon = head.lastIndexOf(':');
  if (head.slice(lastColon + 1).includes('.')) {
    const parts = head.slice(lastColon + 1).split('.');
    if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)) bad();
    tailV4 = parts.map(Number);
    head = head.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) bad();
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : bad())));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  if (halves.length === 1 && left.length !== 8) bad();
  if (halves.length === 2 && left.length + right.length > 7) bad();
  const words = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  words.forEach((word, i) => {
    out[2 * i] = word >>> 8;
    out[2 * i + 1] = word & 255;
  });
  if (tailV4.length === 4) out.set(tailV4, 12);
  return out;
}

/** RFC 5952 text form: lower case, longest run of two or more zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLength).join(':');
}

/** RRSIG times: `YYYYMMDDHHmmSS` or seconds since the epoch (RFC 4034 §3.2). */
export function parseRrsigTime(text: string): number {
  if (/^[0-9]{14}$/.test(text)) {
    const ms = Date.UTC(+text.slice(0, 4), +text.slice(4, 6) - 1, +text.slice(6, 8), +text.slice(8, 10), +text.slice(10, 12), +text.slice(12, 14));
    return (ms / 1000) >>> 0;
  }
  if (/^[0-9]{1,10}$/.test(text) && Number(text) <= 0xffff_ffff) return Number(text);
  throw new DecodeError('bad-time', `not an RRSIG time: ${JSON.stringify(text)}`);
}

export function formatRrsigTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}
