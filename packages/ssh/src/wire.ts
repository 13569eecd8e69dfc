/** SSH data types (RFC 4251 §5): boolean, uint32, string, mpint, name-list. */
import { ByteReader, ByteWriter, DecodeError, utf8Decode, utf8Encode } from '@morgana/core';

/** Reads RFC 4251 §5 types; every overrun throws {@link DecodeError}. */
export class SshReader extends ByteReader {
  boolean(): boolean {
    return this.u8() !== 0;
  }

  /** A `string` as a view into the message. */
  string(): Uint8Array {
    return this.bytesView(this.u32());
  }

  /** A `string` that must be UTF-8 text. */
  text(): string {
    try {
      return utf8Decode(this.string(), true);
    } catch {
      throw new DecodeError('bad-utf8', 'string is not valid UTF-8', this.offset);
    }
  }

  /** A `name-list`: comma-separated US-ASCII names, none empty (RFC 4251 §5). */
  nameList(): string[] {
    const raw = this.string();
    if (raw.length === 0) return [];
    for (const byte of raw) {
      if (byte < 0x21 || byte > 0x7e) throw new DecodeError('bad-name-list', 'name-list holds a non-printable byte', this.offset);
    }
    const names = utf8Decode(raw).split(',');
    if (names.some((name) => name.length === 0)) throw new DecodeError('bad-name-list', 'name-list holds an empty name', this.offset);
    return names;
  }

  /** A non-negative `mpint` as big-endian magnitude bytes (RFC 4251 §5); negatives are refused. */
  mpint(): Uint8Array {
    const raw = this.string();
    if (raw.length > 0 && (raw[0] & 0x80) !== 0) throw new DecodeError('negative-mpint', 'mpint is negative', this.offset);
    let start = 0;
    while (start < raw.length && raw[start] === 0) start++;
    return raw.subarray(start);
  }

  /** Throws unless the message was read to its end. */
  expectEnd(): void {
    if (this.remaining !== 0) throw new DecodeError('trailing-bytes', `${this.remaining} unexpected bytes after the message`, this.offset);
  }
}

/** Writes RFC 4251 §5 types. */
export class SshWriter extends ByteWriter {
  boolean(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  string(value: Uint8Array | string): this {
    const data = typeof value === 'string' ? utf8Encode(value) : value;
    this.u32(data.length);
    return this.bytes(data);
  }

  nameList(names: readonly string[]): this {
    return this.string(names.join(','));
  }

  /** An `mpint` from big-endian unsigned magnitude bytes (RFC 4251 §5: minimal, sign bit clear). */
  mpint(magnitude: Uint8Array): this {
    let start = 0;
    while (start < magnitude.length && magnitude[start] === 0) start++;
    const body = magnitude.subarray(start);
    if (body.length === 0) return this.u32(0);
    const pad = (body[0] & 0x80) !== 0 ? 1 : 0;
    this.u32(body.length + pad);
    if (pad) this.u8(0);
    return this.bytes(body);
  }
}

/** Encodes one message from a builder; `capacity` sizes the buffer up front (no regrowth). */
export function encode(build: (writer: SshWriter) => void, capacity = 64): Uint8Array {
  const writer = new SshWriter(capacity);
  build(writer);
  return writer.finish();
}
