/**
 * The TCP header (RFC 9293 §3.1) and its options: MSS (RFC 9293 §3.2), window scale and
 * timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018).
 *
 * {@link TcpSegment} is a thin view with named offsets; {@link TcpRepr} is the header's meaning.
 * {@link parseTcp} validates and throws only {@link DecodeError}; {@link emitTcp} never fails on
 * a valid repr (one whose options fit in 40 bytes: see {@link tcpOptionsLength}).
 */
import {
  DecodeError,
  checksumPartial,
  ipv4PseudoHeaderSum,
  readU16,
  readU32,
  writeU16,
  writeU32,
} from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';

/** IP protocol number of TCP. */
export const TCP_PROTOCOL = 6;

/** Byte offsets of the header fields. */
export const TcpField = {
  sourcePort: 0,
  destinationPort: 2,
  seq: 4,
  ack: 8,
  dataOffset: 12,
  flags: 13,
  window: 14,
  checksum: 16,
  urgent: 18,
  options: 20,
} as const;

/** Length of the header without options. */
export const TCP_HEADER_LENGTH = 20;
/** Largest header (data offset 15). */
export const TCP_MAX_HEADER_LENGTH = 60;
/** Room for options. */
export const TCP_MAX_OPTIONS_LENGTH = 40;

/** Control bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR). */
export const TcpFlag = {
  fin: 0x01,
  syn: 0x02,
  rst: 0x04,
  psh: 0x08,
  ack: 0x10,
  urg: 0x20,
  ece: 0x40,
  cwr: 0x80,
} as const;

/**
 * Control bits in the letters packetdrill and tcpdump use: S, F, R, P, U, E (ECE), C (CWR),
 * and `.` for ACK, e.g. `'S.'` for a SYN-ACK. Throws RangeError on any other letter.
 */
export function parseTcpFlags(text: string): number {
  let flags = 0;
  for (const letter of text) {
    const bit = FLAG_LETTERS.find(([, l]) => l === letter)?.[0];
    if (bit === undefined) throw new RangeError(`unknown TCP flag letter ${letter}`);
    flags |= bit;
  }
  return flags;
}

/** The letters of {@link parseTcpFlags} for `flags`, ACK last. */
export function formatTcpFlags(flags: number): string {
  let text = '';
  for (const [bit, letter] of FLAG_LETTERS) if ((flags & bit) !== 0) text += letter;
  return text;
}

const FLAG_LETTERS: readonly (readonly [number, string])[] = [
  [TcpFlag.syn, 'S'], [TcpFlag.fin, 'F'], [TcpFlag.rst, 'R'], [TcpFlag.psh, 'P'], [TcpFlag.urg, 'U'],
  [TcpFlag.ece, 'E'], [TcpFlag.cwr, 'C'], [TcpFlag.ack, '.'],
];

/** Option kinds. */
export const TcpOptionKind = {
  end: 0,
  nop: 1,
  mss: 2,
  windowScale: 3,
  sackPermitted: 4,
  sack: 5,
  timestamp: 8,
} as const;

/** Largest window shift (RFC 7323 §2.3). */
export const MAX_WINDOW_SCALE = 14;

/** A SACK block: [left, right) in sequence space (RFC 2018 §3). */
export interface SackBlock {
  readonly left: number;
  readonly right: number;
}

/** The meaning of a TCP header and its payload. */
export interface TcpRepr {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Control bits, {@link TcpFlag}. */
  readonly flags: number;
  /** The window field as sent (unscaled). */
  readonly window: number;
  readonly urgent: number;
  /** MSS option, when present. */
  readonly mss: number | undefined;
  /** Window scale shift, when present (values above 14 are kept as received). */
  readonly windowScale: number | undefined;
  readonly sackPermitted: boolean;
  /** SACK blocks, in the order sent (empty when absent). */
  readonly sackBlocks: readonly SackBlock[];
  /** Timestamp option TSval/TSecr, when present. */
  readonly tsVal: number | undefined;
  readonly tsEcr: number | undefined;
  readonly payload: Uint8Array;
}

/** A view over a TCP segment's bytes. The constructor checks lengths. */
export class TcpSegment {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    if (bytes.length < TCP_HEADER_LENGTH) throw new DecodeError('truncated', `TCP segment of ${bytes.length} bytes`, 0);
    const headerLength = (bytes[TcpField.dataOffset] >>> 4) * 4;
    if (headerLength < TCP_HEADER_LENGTH) {
      throw new DecodeError('bad-data-offset', `TCP data offset ${headerLength / 4} is below 5`, TcpField.dataOffset);
    }
    if (headerLength > bytes.length) {
      throw new DecodeError('truncated', `TCP header of ${headerLength} bytes in a ${bytes.length}-byte segment`, TcpField.dataOffset);
    }
    this.bytes = bytes;
  }

  get sourcePort(): number {
    return readU16(this.bytes, TcpField.sourcePort);
  }
  get destinationPort(): number {
    return readU16(this.bytes, TcpField.destinationPort);
  }
  get seq(): number {
    return readU32(this.bytes, TcpField.seq);
  }
  get ack(): number {
    return readU32(this.bytes, TcpField.ack);
  }
  get headerLength(): number {
    return (this.bytes[TcpField.dataOffset] >>> 4) * 4;
  }
  get flags(): number {
    return this.bytes[TcpField.flags];
  }
  get window(): number {
    return readU16(this.bytes, TcpField.window);
  }
  get checksum(): number {
    return readU16(this.bytes, TcpField.checksum);
  }
  get urgent(): number {
    return readU16(this.bytes, TcpField.urgent);
  }
  /** The options bytes (a view). */
  get options(): Uint8Array {
    return this.bytes.subarray(TCP_HEADER_LENGTH, this.headerLength);
  }
  /** The payload (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/** Addresses for the pseudo-header checksum. */
export interface TcpChecksumContext {
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
}

/** The one's-complement sum of the first `length` bytes of `bytes` with the pseudo-header: 0xffff when the checksum is valid. */
export function tcpChecksumSum(bytes: Uint8Array, length: number, source: Ipv4Address, destination: Ipv4Address): number {
  const pseudo = ipv4PseudoHeaderSum(source, destination, TCP_PROTOCOL, length);
  return checksumPartial(bytes, 0, length, pseudo);
}

/** Computes and writes the checksum of the segment in the first `length` bytes of `bytes` (RFC 9293 §3.1, with the IPv4 pseudo-header). */
export function fillTcpChecksum(bytes: Uint8Array, length: number, source: Ipv4Address, destination: Ipv4Address): void {
  bytes[TcpField.checksum] = 0;
  bytes[TcpField.checksum + 1] = 0;
  writeU16(bytes, TcpField.checksum, ~tcpChecksumSum(bytes, length, source, destination) & 0xffff);
}

/** No SACK blocks: one shared empty list. */
export const NO_SACK: readonly SackBlock[] = [];

/** A {@link TcpRepr} whose fields the sender overwrites in place. */
export type MutableTcpRepr = { -readonly [K in keyof TcpRepr]: TcpRepr[K] };

/** A blank header to reuse for every segment a sender builds (no allocation per segment). */
export function scratchTcpRepr(): MutableTcpRepr {
  return {
    sourcePort: 0,
    destinationPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    urgent: 0,
    mss: undefined,
    windowScale: undefined,
    sackPermitted: false,
    sackBlocks: NO_SACK,
    tsVal: undefined,
    tsEcr: undefined,
    payload: new Uint8Array(0),
  };
}

/**
 * Parses a segment. With `context`, verifies the checksum first. Throws {@link DecodeError}
 * with reasons `truncated`, `bad-data-offset`, `bad-checksum`, `bad-option-length`.
 */
export function parseTcp(bytes: Uint8Array, context?: TcpChecksumContext): TcpRepr {
  const segment = new TcpSegment(bytes);
  if (context !== undefined && tcpChecksumSum(bytes, bytes.length, context.source, context.destination) !== 0xffff) {
    throw new DecodeError('bad-checksum', 'TCP checksum does not match', TcpField.checksum);
  }
  const headerLength = segment.headerLength;
  let mss: number | undefined;
  let windowScale: number | undefined;
  let sackPermitted = false;
  let sackBlocks: readonly SackBlock[] = NO_SACK;
  let tsVal: number | undefined;
  let tsEcr: number | undefined;
  let offset = TCP_HEADER_LENGTH;
  while (offset < headerLength) {
    const kind = bytes[offset];
    if (kind === TcpOptionKind.end) break;
    if (kind === TcpOptionKind.nop) {
      offset++;
      continue;
    }
    if (offset + 1 >= headerLength) throw new DecodeError('bad-option-length', `option ${kind} has no length byte`, offset);
    const length = bytes[offset + 1];
    if (length < 2 || offset + length > headerLength) {
      throw new DecodeError('bad-option-length', `option ${kind} of length ${length} does not fit the header`, offset + 1);
    }
    switch (kind) {
      case TcpOptionKind.mss:
        expectLength(kind, length, 4, offset);
        mss = readU16(bytes, offset + 2);
        break;
      case TcpOptionKind.windowScale:
        expectLength(kind, length, 3, offset);
        windowScale = bytes[offset + 2];
        break;
      case TcpOptionKind.sackPermitted:
        expectLength(kind, length, 2, offset);
        sackPermitted = true;
        break;
      case TcpOptionKind.sack: {
        if (length < 10 || (length - 2) % 8 !== 0) {
          throw new DecodeError('bad-option-length', `SACK option of length ${length}`, offset + 1);
        }
        const blocks: SackBlock[] = [];
        for (let at = offset + 2; at < offset + length; at += 8) {
          blocks.push({ left: readU32(bytes, at), right: readU32(bytes, at + 4) });
        }
        sackBlocks = blocks;
        break;
      }
      case TcpOptionKind.timestamp:
        expectLength(kind, length, 10, offset);
        tsVal = readU32(bytes, offset + 2);
        tsEcr = readU32(bytes, offset + 6);
        break;
      default:
        // Unknown options are skipped by their length (RFC 9293 §3.1, MUST-6).
        break;
    }
    offset += length;
  }
  return {
    sourcePort: segment.sourcePort,
    destinationPort: segment.destinationPort,
    seq: segment.seq,
    ack: segment.ack,
    flags: segment.flags,
    window: segment.window,
    urgent: segment.urgent,
    mss,
    windowScale,
    sackPermitted,
    sackBlocks,
    tsVal,
    tsEcr,
    payload: bytes.subarray(headerLength),
  };
}

function expectLength(kind: number, length: number, expected: number, offset: number): void {
  if (length !== expected) {
    throw new DecodeError('bad-option-length', `option ${kind} has length ${length}, expected ${expected}`, offset + 1);
  }
}

/** The fields of a header that options depend on: what {@link tcpOptionsLength} reads. */
export type TcpOptionsRepr = Pick<TcpRepr, 'mss' | 'windowScale' | 'sackPermitted' | 'sackBlocks' | 'tsVal' | 'tsEcr'>;

/** SACK blocks that fit next to the other options (RFC 2018 §3: 4, or 3 with timestamps). */
export function sackBlocksThatFit(repr: TcpOptionsRepr): number {
  const fixed = fixedOptionsLength(repr);
  return Math.max(0, Math.min(repr.sackBlocks.length, Math.floor((TCP_MAX_OPTIONS_LENGTH - fixed - 4) / 8)));
}

function fixedOptionsLength(repr: TcpOptionsRepr): number {
  let length = 0;
  if (repr.mss !== undefined) length += 4;
  if (repr.tsVal !== undefined) length += 12; // SACK-permitted shares the timestamp's two padding bytes
  else if (repr.sackPermitted) length += 4;
  if (repr.windowScale !== undefined) length += 4;
  return length;
}

/** Bytes of options {@link emitTcp} writes for `repr` (a multiple of 4, at most 40). */
export function tcpOptionsLength(repr: TcpOptionsRepr): number {
  const blocks = sackBlocksThatFit(repr);
  return fixedOptionsLength(repr) + (blocks > 0 ? 4 + blocks * 8 : 0);
}

/**
 * Writes the header and options of `repr` into `buffer` (checksum field zero) and returns the
 * header length. Options are laid out as common stacks do (MSS; SACK-permitted in the
 * timestamp's padding; NOP-padded window scale and SACK), so everything stays 4-byte aligned.
 * SACK blocks that do not fit are left out.
 */
export function emitTcpHeader(repr: TcpRepr, buffer: Uint8Array): number {
  const headerLength = TCP_HEADER_LENGTH + tcpOptionsLength(repr);
  writeU16(buffer, TcpField.sourcePort, repr.sourcePort);
  writeU16(buffer, TcpField.destinationPort, repr.destinationPort);
  writeU32(buffer, TcpField.seq, repr.seq);
  writeU32(buffer, TcpField.ack, repr.ack);
  buffer[TcpField.dataOffset] = (headerLength / 4) << 4;
  buffer[TcpField.flags] = repr.flags;
  writeU16(buffer, TcpField.window, repr.window);
  buffer[TcpField.checksum] = 0;
  buffer[TcpField.checksum + 1] = 0;
  writeU16(buffer, TcpField.urgent, repr.urgent);
  let at = TCP_HEADER_LENGTH;
  if (repr.mss !== undefined) {
    buffer[at] = TcpOptionKind.mss;
    buffer[at + 1] = 4;
    writeU16(buffer, at + 2, repr.mss);
    at += 4;
  }
  if (repr.tsVal !== undefined) {
    if (repr.sackPermitted) {
      buffer[at] = TcpOptionKind.sackPermitted;
      buffer[at + 1] = 2;
    } else {
      buffer[at] = TcpOptionKind.nop;
      buffer[at + 1] = TcpOptionKind.nop;
    }
    buffer[at + 2] = TcpOptionKind.timestamp;
    buffer[at + 3] = 10;
    writeU32(buffer, at + 4, repr.tsVal);
    writeU32(buffer, at + 8, repr.tsEcr ?? 0);
    at += 12;
  } else if (repr.sackPermitted) {
    buffer[at] = TcpOptionKind.nop;
    buffer[at + 1] = TcpOptionKind.nop;
    buffer[at + 2] = TcpOptionKind.sackPermitted;
    buffer[at + 3] = 2;
    at += 4;
  }
  if (repr.windowScale !== undefined) {
    buffer[at] = TcpOptionKind.nop;
    buffer[at + 1] = TcpOptionKind.windowScale;
    buffer[at + 2] = 3;
    buffer[at + 3] = repr.windowScale;
    at += 4;
  }
  const blocks = sackBlocksThatFit(repr);
  if (blocks > 0) {
    buffer[at] = TcpOptionKind.nop;
    buffer[at + 1] = TcpOptionKind.nop;
    buffer[at + 2] = TcpOptionKind.sack;
    buffer[at + 3] = 2 + blocks * 8;
    at += 4;
    for (let i = 0; i < blocks; i++) {
      writeU32(buffer, at, repr.sackBlocks[i].left);
      writeU32(buffer, at + 4, repr.sackBlocks[i].right);
      at += 8;
    }
  }
  return headerLength;
}

/** Bytes {@link emitTcp} writes for `repr`. */
export function tcpLength(repr: TcpRepr): number {
  return TCP_HEADER_LENGTH + tcpOptionsLength(repr) + repr.payload.length;
}

/**
 * Writes the whole segment (header, options, payload) into `buffer` and returns its length.
 * With `context`, fills the checksum; without, leaves it zero for a device that offloads it.
 */
export function emitTcp(repr: TcpRepr, buffer: Uint8Array, context?: TcpChecksumContext): number {
  const headerLength = emitTcpHeader(repr, buffer);
  buffer.set(repr.payload, headerLength);
  const length = headerLength + repr.payload.length;
  if (context !== undefined) fillTcpChecksum(buffer, length, context.source, context.destination);
  return length;
}
