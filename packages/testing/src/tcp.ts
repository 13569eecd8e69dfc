/**
 * `@morgana/testing/tcp`: fast-check arbitraries for TCP segments with options (MSS, window
 * scale, SACK-permitted, SACK blocks, timestamps), valid by construction for `@morgana/tcp`'s
 * codec, raw option lists in any order, and mutators that make near-valid hostile variants
 * (options overrunning the header, bad option lengths, bad data offsets). Needs the optional
 * peer `@morgana/tcp`.
 */
import * as fc from 'fast-check';
import type { Ipv4Address } from '@morgana/core';
import { TCP_HEADER_LENGTH, TCP_MAX_OPTIONS_LENGTH, TcpField, TcpOptionKind, emitTcp, fillTcpChecksum, sackBlocksThatFit, tcpLength } from '@morgana/tcp';
import type { SackBlock, TcpRepr } from '@morgana/tcp';
import { arbIpv4Address, arbPort } from './arbitraries.js';
import { corruptChecksum, genericMutators, mutate } from './mutators.js';
import type { Mutant, Mutator } from './mutators.js';

const u16 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xffff });
const u32 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xffff_ffff });

/** A SACK block (RFC 2018 §3): any two sequence numbers. */
export function arbSackBlock(): fc.Arbitrary<SackBlock> {
  return fc.record({ left: u32(), right: u32() }, { noNullPrototype: true });
}

/** Options of {@link arbTcpRepr}. */
export interface TcpArbitraryOptions {
  /** Longest payload; default 1460. */
  readonly maxPayload?: number;
}

/**
 * A segment as the codec emits it: any ports, sequence numbers, control bits (ECE/CWR
 * included), window and urgent pointer, any combination of MSS, window scale (shifts above 14
 * too: the codec keeps them as received), SACK-permitted, timestamps, and as many SACK blocks
 * as fit next to them (RFC 2018 §3).
 */
export function arbTcpRepr(options: TcpArbitraryOptions = {}): fc.Arbitrary<TcpRepr> {
  return fc
    .record({
      sourcePort: arbPort({ min: 0 }),
      destinationPort: arbPort({ min: 0 }),
      seq: u32(),
      ack: u32(),
      flags: fc.integer({ min: 0, max: 0xff }),
      window: u16(),
      urgent: u16(),
      mss: fc.option(u16(), { nil: undefined }),
      windowScale: fc.option(fc.integer({ min: 0, max: 0xff }), { nil: undefined }),
      sackPermitted: fc.boolean(),
      sackBlocks: fc.array(arbSackBlock(), { maxLength: 4 }),
      timestamp: fc.option(fc.tuple(u32(), u32()), { nil: undefined }),
      payload: fc.uint8Array({ maxLength: options.maxPayload ?? 1460 }),
    })
    .map(({ timestamp, ...fields }) => {
      const repr = { ...fields, tsVal: timestamp?.[0], tsEcr: timestamp?.[1] };
      return { ...repr, sackBlocks: repr.sackBlocks.slice(0, sackBlocksThatFit(repr)) };
    });
}

/** A segment with the addresses of the IP header that carries it (the checksum covers them). */
export interface TcpSample {
  /** The segment. */
  readonly repr: TcpRepr;
  /** Source address of the carrying IP header (checksummed). */
  readonly source: Ipv4Address;
  /** Destination address of the carrying IP header (checksummed). */
  readonly destination: Ipv4Address;
}

/** {@link arbTcpRepr} with pseudo-header addresses. */
export function arbTcpSegment(options: TcpArbitraryOptions = {}): fc.Arbitrary<TcpSample> {
  return fc.record({ repr: arbTcpRepr(options), source: arbIpv4Address(), destination: arbIpv4Address() }, { noNullPrototype: true });
}

/** Emits a segment with its checksum. */
export function emitTcpSegment(sample: TcpSample): Uint8Array {
  const bytes = new Uint8Array(tcpLength(sample.repr));
  emitTcp(sample.repr, bytes, { source: sample.source, destination: sample.destination });
  return bytes;
}

/** {@link arbTcpSegment} emitted (the addresses are lost: use {@link arbTcpSegment} when the checksum matters). */
export function arbTcpSegmentBytes(options: TcpArbitraryOptions = {}): fc.Arbitrary<Uint8Array> {
  return arbTcpSegment(options).map(emitTcpSegment);
}

/** One option of a raw option list, in any order other stacks might send. */
export type TcpOption =
  | { readonly kind: 'nop' }
  | { readonly kind: 'mss'; readonly mss: number }
  | { readonly kind: 'window-scale'; readonly shift: number }
  | { readonly kind: 'sack-permitted' }
  | { readonly kind: 'sack'; readonly blocks: readonly SackBlock[] }
  | { readonly kind: 'timestamp'; readonly tsVal: number; readonly tsEcr: number }
  /** An option this codec does not know: skipped by its length (RFC 9293 §3.1, MUST-6). */
  | { readonly kind: 'unknown'; readonly type: number; readonly data: Uint8Array };

/** Bytes one option takes. */
export function tcpOptionLength(option: TcpOption): number {
  switch (option.kind) {
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'window-scale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * option.blocks.length;
    case 'timestamp':
      return 10;
    case 'unknown':
      return 2 + option.data.length;
  }
}

/** Encodes an option list, padded with End of Option List to a 4-byte boundary. */
export function encodeTcpOptions(options: readonly TcpOption[]): Uint8Array {
  const length = options.reduce((sum, option) => sum + tcpOptionLength(option), 0);
  const bytes = new Uint8Array(Math.ceil(length / 4) * 4);
  let at = 0;
  const u32At = (offset: number, value: number): void => {
    bytes[offset] = value >>> 24;
    bytes[offset + 1] = (value >>> 16) & 0xff;
    bytes[offset + 2] = (value >>> 8) & 0xff;
    bytes[offset + 3] = value & 0xff;
  };
  for (const option of options) {
    const size = tcpOptionLength(option);
    switch (option.kind) {
      case 'nop':
        bytes[at] = TcpOptionKind.nop;
        break;
      case 'mss':
        bytes.set([TcpOptionKind.mss, 4, option.mss >>> 8, option.mss & 0xff], at);
        break;
      case 'window-scale':
        bytes.set([TcpOptionKind.windowScale, 3, option.shift], at);
        break;
      case 'sack-permitted':
        bytes.set([TcpOptionKind.sackPermitted, 2], at);
        break;
      case 'sack':
        bytes.set([TcpOptionKind.sack, size], at);
        option.blocks.forEach((block, index) => {
          u32At(at + 2 + 8 * index, block.left);
          u32At(at + 6 + 8 * index, block.right);
        });
        break;
      case 'timestamp':
        bytes.set([TcpOptionKind.timestamp, 10], at);
        u32At(at + 2, option.tsVal);
        u32At(at + 6, option.tsEcr);
        break;
      case 'unknown':
        bytes.set([option.type, size], at);
        bytes.set(option.data, at + 2);
        break;
    }
    at += size;
  }
  return bytes;
}

/** Option kinds the codec interprets, and End/NOP: an unknown option never uses them. */
const KNOWN_KINDS: readonly number[] = Object.values(TcpOptionKind);

/** A list of options in any order and repetition whose encoding fits the 40 bytes of option space. */
export function arbTcpOptions(): fc.Arbitrary<TcpOption[]> {
  const option: fc.Arbitrary<TcpOption> = fc.oneof(
    fc.constant({ kind: 'nop' as const }),
    u16().map((mss) => ({ kind: 'mss' as const, mss })),
    fc.integer({ min: 0, max: 0xff }).map((shift) => ({ kind: 'window-scale' as const, shift })),
    fc.constant({ kind: 'sack-permitted' as const }),
    fc.array(arbSackBlock(), { minLength: 1, maxLength: 4 }).map((blocks) => ({ kind: 'sack' as const, blocks })),
    fc.tuple(u32(), u32()).map(([tsVal, tsEcr]) => ({ kind: 'timestamp' as const, tsVal, tsEcr })),
    fc.record({ type: fc.integer({ min: 0, max: 0xff }).filter((type) => !KNOWN_KINDS.includes(type)), data: fc.uint8Array({ maxLength: 10 }) }, { noNullPrototype: true }).map((unknown) => ({ kind: 'unknown' as const, ...unknown })),
  );
  return fc.array(option, { maxLength: 10 }).map((list) => {
    const kept: TcpOption[] = [];
    let length = 0;
    for (const entry of list) {
      if (length + tcpOptionLength(entry) > TCP_MAX_OPTIONS_LENGTH) continue;
      kept.push(entry);
      length += tcpOptionLength(entry);
    }
    return kept;
  });
}

/** What the codec should read from an option list: the last occurrence of each option wins. */
export function tcpOptionsMeaning(options: readonly TcpOption[]): Pick<TcpRepr, 'mss' | 'windowScale' | 'sackPermitted' | 'sackBlocks' | 'tsVal' | 'tsEcr'> {
  let meaning: Pick<TcpRepr, 'mss' | 'windowScale' | 'sackPermitted' | 'sackBlocks' | 'tsVal' | 'tsEcr'> = {
    mss: undefined,
    windowScale: undefined,
    sackPermitted: false,
    sackBlocks: [],
    tsVal: undefined,
    tsEcr: undefined,
  };
  for (const option of options) {
    if (option.kind === 'mss') meaning = { ...meaning, mss: option.mss };
    else if (option.kind === 'window-scale') meaning = { ...meaning, windowScale: option.shift };
    else if (option.kind === 'sack-permitted') meaning = { ...meaning, sackPermitted: true };
    else if (option.kind === 'sack') meaning = { ...meaning, sackBlocks: option.blocks };
    else if (option.kind === 'timestamp') meaning = { ...meaning, tsVal: option.tsVal, tsEcr: option.tsEcr };
  }
  return meaning;
}

/**
 * Replaces a segment's options with `options` (data offset adjusted; the checksum is left
 * zero). The segment must hold its whole header.
 */
export function withTcpOptions(segment: Uint8Array, options: Uint8Array): Uint8Array {
  const headerLength = (segment[TcpField.dataOffset] >>> 4) * 4;
  const out = new Uint8Array(TCP_HEADER_LENGTH + options.length + segment.length - headerLength);
  out.set(segment.subarray(0, TCP_HEADER_LENGTH));
  out.set(options, TCP_HEADER_LENGTH);
  out.set(segment.subarray(headerLength), TCP_HEADER_LENGTH + options.length);
  out[TcpField.dataOffset] = (((TCP_HEADER_LENGTH + options.length) / 4) << 4) | (segment[TcpField.dataOffset] & 0x0f);
  out[TcpField.checksum] = 0;
  out[TcpField.checksum + 1] = 0;
  return out;
}

/** A hostile segment with the addresses its checksum is verified against. */
export interface TcpMutant extends Mutant {
  /** Source address of the carrying IP header (checksummed). */
  readonly source: Ipv4Address;
  /** Destination address of the carrying IP header (checksummed). */
  readonly destination: Ipv4Address;
}

/** Option bytes of 4-byte aligned length holding `body`, End-of-list padded. */
function padded(body: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(body.length / 4) * 4);
  bytes.set(body);
  return bytes;
}

/**
 * Option lists that no reading accepts (RFC 9293 §3.1, MUST-7: an option length must be
 * sane): an option whose length runs past the header, a length below 2, a kind with no length
 * byte at the end of the header, known options with the wrong fixed length, a SACK option
 * whose length is not 2 + 8n.
 */
export function arbMalformedTcpOptions(): fc.Arbitrary<{ readonly options: Uint8Array; readonly what: string }> {
  const prefix = fc.array(fc.constant(TcpOptionKind.nop), { maxLength: 8 });
  const fixed: readonly (readonly [number, number])[] = [
    [TcpOptionKind.mss, 4],
    [TcpOptionKind.windowScale, 3],
    [TcpOptionKind.sackPermitted, 2],
    [TcpOptionKind.timestamp, 10],
  ];
  return fc.oneof(
    // Runs past the header: the length counts bytes the header does not have.
    fc.tuple(prefix, fc.integer({ min: 2, max: 0xff }), fc.integer({ min: 2, max: 0xff })).map(([nops, kind, extra]) => {
      const options = padded([...nops, kind, 0]);
      const start = nops.length;
      options[start + 1] = Math.min(0xff, options.length - start + (extra % 64) + 1);
      return { options, what: `option ${kind} of length ${options[start + 1]} overruns the header` };
    }),
    fc.tuple(prefix, fc.integer({ min: 2, max: 0xff }), fc.integer({ min: 0, max: 1 })).map(([nops, kind, length]) => ({
      options: padded([...nops, kind, length, 0, 0]),
      what: `option ${kind} of length ${length}`,
    })),
    fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 2, max: 0xff })).map(([words, kind]) => {
      const options = new Uint8Array(words * 4 + 4).fill(TcpOptionKind.nop);
      options[options.length - 1] = kind;
      return { options, what: `option ${kind} with no length byte` };
    }),
    fc.tuple(prefix, fc.constantFrom(...fixed), fc.integer({ min: 2, max: 20 })).filter(([, [, good], length]) => length !== good).map(([nops, [kind], length]) => {
      const body = [...nops, kind, length, ...new Array<number>(Math.max(0, length - 2)).fill(0)];
      return { options: padded(body), what: `option ${kind} of length ${length}` };
    }),
    fc.tuple(prefix, fc.integer({ min: 2, max: 34 }).filter((length) => length < 10 || (length - 2) % 8 !== 0)).map(([nops, length]) => {
      const body = [...nops, TcpOptionKind.sack, length, ...new Array<number>(length - 2).fill(0)];
      return { options: padded(body), what: `SACK option of length ${length}` };
    }),
  ).filter(({ options }) => options.length <= TCP_MAX_OPTIONS_LENGTH);
}

/**
 * TCP-aware mutators, each guaranteed malformed, with the checksum refilled (when `addresses`
 * are given) so the header checks are what reject them: malformed options
 * ({@link arbMalformedTcpOptions}), a data offset below 5 or past the end, a cut header, and
 * a corrupted checksum.
 */
export function tcpMutators(addresses?: { readonly source: Ipv4Address; readonly destination: Ipv4Address }): Mutator[] {
  const refill = (bytes: Uint8Array): Uint8Array => {
    if (addresses !== undefined && bytes.length >= TCP_HEADER_LENGTH) fillTcpChecksum(bytes, bytes.length, addresses.source, addresses.destination);
    return bytes;
  };
  const headerless = (bytes: Uint8Array): fc.Arbitrary<Mutant> => fc.constant({ bytes, mutation: 'unchanged (no header)', invalid: false });
  return [
    (bytes) => {
      if (bytes.length < TCP_HEADER_LENGTH || (bytes[TcpField.dataOffset] >>> 4) * 4 > bytes.length) return headerless(bytes);
      return arbMalformedTcpOptions().map(({ options, what }): Mutant => ({ bytes: refill(withTcpOptions(bytes, options)), mutation: what, invalid: true }));
    },
    (bytes) =>
      bytes.length < TCP_HEADER_LENGTH ? headerless(bytes) : fc.integer({ min: 0, max: 15 }).filter((offset) => offset < 5 || offset * 4 > bytes.length).map((offset): Mutant => {
        const out = bytes.slice();
        out[TcpField.dataOffset] = (offset << 4) | (out[TcpField.dataOffset] & 0x0f);
        return { bytes: refill(out), mutation: `data offset ${offset} in ${bytes.length} bytes`, invalid: true };
      }),
    (bytes) => fc.nat({ max: TCP_HEADER_LENGTH - 1 }).map((length): Mutant => ({ bytes: bytes.slice(0, length), mutation: `cut to ${length} bytes`, invalid: true })),
    ...(addresses === undefined ? [] : [corruptChecksum({ name: 'tcp.checksum', offset: TcpField.checksum, size: 2 })]),
  ];
}

/** Hostile segments: {@link tcpMutators} and the generic mutators over valid segments, with their pseudo-header addresses. */
export function arbHostileTcp(): fc.Arbitrary<TcpMutant> {
  return arbTcpSegment({ maxPayload: 100 }).chain((sample) => {
    const addresses = { source: sample.source, destination: sample.destination };
    return mutate(fc.constant(emitTcpSegment(sample)), [...tcpMutators(addresses), ...genericMutators()]).map((mutant) => ({ ...mutant, ...addresses }));
  });
}
