/**
 * Byte helpers shared by every codec: big-endian field access, a bounds-checked reader that
 * throws {@link DecodeError} (codecs catch it at their boundary), and a writer.
 */
import { DecodeError } from './errors.js';

/** Reads a big-endian 16-bit field. The caller checks the length. */
export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

/** Reads a big-endian 32-bit field as an unsigned number. The caller checks the length. */
export function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Writes a big-endian 16-bit field. */
export function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value;
}

/** Writes a big-endian 32-bit field. */
export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** True when both arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Joins chunks into one new array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A copy that owns its memory (use it to keep bytes past a receive callback). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

const HEX = '0123456789abcdef';

/** Lower-case hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += HEX[bytes[i] >>> 4] + HEX[bytes[i] & 15];
  return text;
}

/** Parses hex (whitespace ignored); throws {@link DecodeError} on odd length or a non-hex digit. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new DecodeError('bad-hex', 'not a hex string');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 encoding of a string. */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 decoding; invalid sequences become U+FFFD unless `strict`, which throws {@link DecodeError}. */
export function utf8Decode(bytes: Uint8Array, strict = false): string {
  if (!strict) return decoder.decode(bytes);
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new DecodeError('bad-utf8', 'invalid UTF-8');
  }
}

/**
 * A cursor over bytes for decoding. Every read checks the length and throws
 * {@link DecodeError} (`'truncated'`) past the end, so a codec can read fields in order and
 * catch once at its boundary.
 */
export class ByteReader {
  /** The bytes being read. */
  readonly bytes: Uint8Array;
  /** Current position. */
  offset: number;
  /** End of the readable range (exclusive). */
  readonly end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes;
    this.offset = offset;
    this.end = end;
  }

  /** Bytes left. */
  get remaining(): number {
    return this.end - this.offset;
  }

  private need(count: number): void {
    if (this.offset + count > this.end) {
      throw new DecodeError('truncated', `need ${count} bytes at offset ${this.offset}, have ${this.end - this.offset}`, this.offset);
    }
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++];
  }

  u16(): number {
    this.need(2);
    const value = readU16(this.bytes, this.offset);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = readU32(this.bytes, this.offset);
    this.offset += 4;
    return value;
  }

  /** 64-bit unsigned as a bigint. */
  u64(): bigint {
    const high = this.u32();
    const low = this.u32();
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** A view (no copy) of the next `count` bytes. */
  bytesView(count: number): Uint8Array {
    this.need(count);
    const view = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return view;
  }

  /** A copy of the next `count` bytes. */
  bytesCopy(count: number): Uint8Array {
    return this.bytesView(count).slice();
  }

  skip(count: number): void {
    this.need(count);
    this.offset += count;
  }

  /** A reader over the next `count` bytes; this reader moves past them. */
  sub(count: number): ByteReader {
    this.need(count);
    const reader = new ByteReader(this.bytes, this.offset, this.offset + count);
    this.offset += count;
    return reader;
  }
}

/**
 * A writer for encoding. Grows its buffer as needed (doubling) up to `maxSize`, past which it
 * throws {@link DecodeError} (`'too-large'`): encoders stay bounded too.
 */
export class ByteWriter {
  private buffer: Uint8Array;
  /** Bytes written so far. */
  length = 0;
  private readonly maxSize: number;

  constructor(initialSize = 256, maxSize = 16 * 1024 * 1024) {
    this.buffer = new Uint8Array(initialSize);
    this.maxSize = maxSize;
  }

  private ensure(count: number): void {
    const needed = this.length + count;
    if (needed <= this.buffer.length) return;
    if (needed > this.maxSize) throw new DecodeError('too-large', `encoding exceeds ${this.maxSize} bytes`);
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.maxSize));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buffer[this.length++] = value;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    writeU16(this.buffer, this.length, value);
    this.length += 2;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    writeU32(this.buffer, this.length, value);
    this.length += 4;
    return this;
  }

  u64(value: bigint): this {
    this.u32(Number((value >> 32n) & 0xffff_ffffn));
    return this.u32(Number(value & 0xffff_ffffn));
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
    return this;
  }

  /** Writes a 16-bit value at an earlier position (a length field filled in afterwards). */
  patchU16(offset: number, value: number): void {
    writeU16(this.buffer, offset, value);
  }

  /** Writes a 32-bit value at an earlier position. */
  patchU32(offset: number, value: number): void {
    writeU32(this.buffer, offset, value);
  }

  /** A view of what was written (shares memory with the writer until it grows again). */
  view(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
