/**
 * Mutators: fast-check arbitraries that turn valid bytes into near-valid hostile ones. A decoder
 * fed their output must reject it with its typed error (or count a drop) and never throw
 * anything else, loop or allocate without bound.
 *
 * A {@link Mutator} maps one valid sample to an arbitrary of {@link Mutant}s; {@link mutate}
 * applies a set of mutators to an arbitrary of valid samples. Generic mutators work on any
 * bytes; the length and checksum ones take a {@link FieldSpec} saying where the field is.
 * Each protocol subpath (`@morgana/testing/dns`, ...) adds format-aware mutators and an
 * `arbHostile<Format>()` combining them.
 */
import * as fc from 'fast-check';

/** Hostile bytes and how they were made. */
export interface Mutant {
  /** The hostile bytes. */
  readonly bytes: Uint8Array;
  /** What was done to the valid sample, e.g. `"truncate to 13 of 42 bytes"`: for failure reports. */
  readonly mutation: string;
  /**
   * True when the mutation guarantees malformed input, so a strict decoder must reject it;
   * false when the result may happen to be valid (a flipped payload bit, say).
   */
  readonly invalid: boolean;
}

/** Makes hostile variants of one valid sample. */
export type Mutator = (bytes: Uint8Array) => fc.Arbitrary<Mutant>;

/** Where a numeric field lives in a sample: a fixed offset, or one computed from the sample. */
export interface FieldSpec {
  /** Name used in mutation descriptions, e.g. `"ipv4.totalLength"`. */
  readonly name: string;
  /** Byte offset of the field, or a function of the sample; `undefined` skips samples without the field. */
  readonly offset: number | ((bytes: Uint8Array) => number | undefined);
  /** Width in bytes; fields are big-endian (network byte order). */
  readonly size: 1 | 2 | 4;
}

/** A mutant that leaves the sample as it was; what a mutator yields when it cannot apply. */
function unchanged(bytes: Uint8Array, why: string): Mutant {
  return { bytes, mutation: `unchanged (${why})`, invalid: false };
}

function fieldOffset(field: FieldSpec, bytes: Uint8Array): number | undefined {
  const offset = typeof field.offset === 'number' ? field.offset : field.offset(bytes);
  if (offset === undefined || offset < 0 || offset + field.size > bytes.length) return undefined;
  return offset;
}

/** Reads a big-endian unsigned field of `size` bytes. */
export function readField(bytes: Uint8Array, offset: number, size: 1 | 2 | 4): number {
  let value = 0;
  for (let index = 0; index < size; index++) value = value * 256 + bytes[offset + index];
  return value;
}

/** Writes a big-endian unsigned field of `size` bytes (the value is taken modulo 2^(8·size)). */
export function writeField(bytes: Uint8Array, offset: number, size: 1 | 2 | 4, value: number): void {
  let rest = value;
  for (let index = size - 1; index >= 0; index--) {
    bytes[offset + index] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

/** Flips 1 to `maxBits` (default 4) random bits. */
export function flipBits(maxBits = 4): Mutator {
  return (bytes) => {
    if (bytes.length === 0) return fc.constant(unchanged(bytes, 'empty'));
    return fc.array(fc.nat({ max: bytes.length * 8 - 1 }), { minLength: 1, maxLength: maxBits }).map((bits) => {
      const out = bytes.slice();
      for (const bit of bits) out[bit >>> 3] ^= 0x80 >>> (bit & 7);
      return { bytes: out, mutation: `flip bits ${bits.join(', ')}`, invalid: false };
    });
  };
}

/** Cuts the sample short: keeps a strict prefix (possibly empty). */
export function truncate(): Mutator {
  return (bytes) => {
    if (bytes.length === 0) return fc.constant(unchanged(bytes, 'empty'));
    return fc.nat({ max: bytes.length - 1 }).map((length) => ({
      bytes: bytes.slice(0, length),
      mutation: `truncate to ${length} of ${bytes.length} bytes`,
      invalid: false,
    }));
  };
}

/** Appends 1 to `maxExtra` (default 64) arbitrary bytes. */
export function extend(maxExtra = 64): Mutator {
  return (bytes) =>
    fc.uint8Array({ minLength: 1, maxLength: maxExtra }).map((extra) => {
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes);
      out.set(extra, bytes.length);
      return { bytes: out, mutation: `append ${extra.length} bytes`, invalid: false };
    });
}

/** Inserts 1 to `maxInserted` (default 16) arbitrary bytes at an arbitrary position. */
export function insertBytes(maxInserted = 16): Mutator {
  return (bytes) =>
    fc.tuple(fc.nat({ max: bytes.length }), fc.uint8Array({ minLength: 1, maxLength: maxInserted })).map(([at, inserted]) => {
      const out = new Uint8Array(bytes.length + inserted.length);
      out.set(bytes.subarray(0, at));
      out.set(inserted, at);
      out.set(bytes.subarray(at), at + inserted.length);
      return { bytes: out, mutation: `insert ${inserted.length} bytes at ${at}`, invalid: false };
    });
}

/** Deletes a run of 1 to `maxDeleted` (default 16) bytes at an arbitrary position. */
export function deleteBytes(maxDeleted = 16): Mutator {
  return (bytes) => {
    if (bytes.length === 0) return fc.constant(unchanged(bytes, 'empty'));
    return fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: maxDeleted })).map(([at, wanted]) => {
      const count = Math.min(wanted, bytes.length - at);
      const out = new Uint8Array(bytes.length - count);
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(at + count), at);
      return { bytes: out, mutation: `delete ${count} bytes at ${at}`, invalid: false };
    });
  };
}

/** Replaces a byte with an arbitrary different value. */
export function replaceByte(): Mutator {
  return (bytes) => {
    if (bytes.length === 0) return fc.constant(unchanged(bytes, 'empty'));
    return fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, delta]) => {
      const out = bytes.slice();
      out[at] = (out[at] + delta) & 0xff;
      return { bytes: out, mutation: `byte ${at}: ${bytes[at]} -> ${out[at]}`, invalid: false };
    });
  };
}

/** Options of {@link corruptLength}. */
export interface CorruptLengthOptions {
  /**
   * Which lies to tell. `'any'` (default): any other value. `'longer'`: more than the true
   * value, so the field claims bytes that are not there.
   */
  readonly direction?: 'any' | 'longer' | 'shorter';
  /** The result is guaranteed malformed (sets {@link Mutant.invalid}); default false. */
  readonly invalid?: boolean;
}

/**
 * Rewrites a length field with a lie: off by one, zero, the maximum, or any other value,
 * weighted towards the boundaries where decoders go wrong.
 */
export function corruptLength(field: FieldSpec, options: CorruptLengthOptions = {}): Mutator {
  const max = 2 ** (8 * field.size) - 1;
  const direction = options.direction ?? 'any';
  return (bytes) => {
    const offset = fieldOffset(field, bytes);
    if (offset === undefined) return fc.constant(unchanged(bytes, `no ${field.name}`));
    const actual = readField(bytes, offset, field.size);
    const low = direction === 'longer' ? actual + 1 : 0;
    const high = direction === 'shorter' ? actual - 1 : max;
    if (low > high) return fc.constant(unchanged(bytes, `${field.name} cannot be ${direction}`));
    const boundaries = [0, 1, actual - 1, actual + 1, actual + 2, actual + 8, max].filter((value) => value >= low && value <= high && value !== actual);
    const values = boundaries.length > 0 ? fc.oneof(fc.constantFrom(...boundaries), fc.integer({ min: low, max: high })) : fc.integer({ min: low, max: high });
    return values
      .filter((value) => value !== actual)
      .map((value) => {
        const out = bytes.slice();
        writeField(out, offset, field.size, value);
        return { bytes: out, mutation: `${field.name}: ${actual} -> ${value}`, invalid: options.invalid ?? false };
      });
  };
}

/**
 * Corrupts a checksum field: XORs it with a non-zero value, so a decoder that verifies the
 * checksum must reject the result. (For checksums where 0 means "none", as in UDP, the
 * mutation never writes 0.)
 */
export function corruptChecksum(field: FieldSpec): Mutator {
  const max = 2 ** (8 * field.size) - 1;
  return (bytes) => {
    const offset = fieldOffset(field, bytes);
    if (offset === undefined) return fc.constant(unchanged(bytes, `no ${field.name}`));
    const actual = readField(bytes, offset, field.size);
    return fc
      .integer({ min: 1, max })
      // One's complement arithmetic has two zeros: 0x0000 and 0xffff verify alike (RFC 1624 §3).
      .map((mask) => (actual ^ mask) >>> 0)
      .filter((value) => value !== 0 && !(field.size === 2 && actual === 0 && value === 0xffff))
      .map((value) => {
        const out = bytes.slice();
        writeField(out, offset, field.size, value);
        return { bytes: out, mutation: `${field.name}: 0x${actual.toString(16)} -> 0x${value.toString(16)}`, invalid: true };
      });
  };
}

/** Every generic mutator with default settings: bit flips, truncation, extension, insertion, deletion, byte replacement. */
export function genericMutators(): Mutator[] {
  return [flipBits(), truncate(), extend(), insertBytes(), deleteBytes(), replaceByte()];
}

/**
 * Hostile variants of valid samples: draws a sample from `valid`, then one of `mutators`
 * (default {@link genericMutators}) applied to it. Shrinks the sample and the mutation both.
 */
export function mutate(valid: fc.Arbitrary<Uint8Array>, mutators: readonly Mutator[] = genericMutators()): fc.Arbitrary<Mutant> {
  if (mutators.length === 0) throw new RangeError('mutate needs at least one mutator');
  return fc.tuple(valid, fc.nat({ max: mutators.length - 1 })).chain(([bytes, which]) => mutators[which](bytes));
}

/**
 * Applies 1 to `rounds` (default 3) mutations in a row, each to the previous one's output.
 * A stacked mutant is marked `invalid: false`: a later mutation may undo an earlier one's damage.
 */
export function mutateRepeatedly(valid: fc.Arbitrary<Uint8Array>, mutators: readonly Mutator[] = genericMutators(), rounds = 3): fc.Arbitrary<Mutant> {
  let result: fc.Arbitrary<Mutant> = mutate(valid, mutators);
  for (let round = 1; round < rounds; round++) {
    const previous = result;
    result = fc.oneof(
      previous,
      previous.chain((first) =>
        mutate(fc.constant(first.bytes), mutators).map((next) => ({ bytes: next.bytes, mutation: `${first.mutation}; ${next.mutation}`, invalid: false })),
      ),
    );
  }
  return result;
}
