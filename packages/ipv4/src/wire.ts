/**
 * The IPv4 header (RFC 791 §3.1): a view over the bytes with the field offsets named once, a
 * plain representation, and parse/emit. Parsing validates what a receiver must check before
 * trusting any field (RFC 1122 §3.2.1.1-3.2.1.2); policy (TTL, addresses) is the layer's.
 */
import { DecodeError, checksumPartial, readIpv4, readU16, writeIpv4, writeU16 } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';

/** Byte offsets of the IPv4 header fields (RFC 791 §3.1, "Internet Header Format"). */
export const Ipv4Field = {
  /** Version (high nibble) and Internet Header Length in 32-bit words (low nibble). */
  versionAndHeaderLength: 0,
  /** Type of service: DSCP (6 bits) and ECN (2 bits) (RFC 2474, RFC 3168). */
  tos: 1,
  totalLength: 2,
  identification: 4,
  /** Flags (reserved, DF, MF) in the top 3 bits, fragment offset in 8-byte units below. */
  flagsAndFragmentOffset: 6,
  ttl: 8,
  protocol: 9,
  checksum: 10,
  source: 12,
  destination: 16,
  options: 20,
} as const;

/** Length of a header without options. */
export const IPV4_HEADER_LENGTH = 20;
/** Largest header: IHL is 4 bits of 32-bit words. */
export const IPV4_MAX_HEADER_LENGTH = 60;
/** Largest datagram: Total Length is 16 bits. */
export const IPV4_MAX_LENGTH = 65535;
/** Largest payload behind a header without options. */
export const IPV4_MAX_PAYLOAD = IPV4_MAX_LENGTH - IPV4_HEADER_LENGTH;
/** Fragment offsets count 8-byte blocks (RFC 791 §3.1, "Fragment Offset"). */
export const FRAGMENT_UNIT = 8;

const FLAG_RESERVED = 0x8000;
const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const OFFSET_MASK = 0x1fff;

/** Why bytes are not a usable IPv4 datagram; also the drop counter names of the receive path. */
export type Ipv4Problem = 'truncated' | 'bad-version' | 'bad-header-length' | 'bad-total-length' | 'bad-checksum';

/**
 * A view over an IPv4 datagram. Getters and setters read and write `bytes` in place; nothing
 * is copied. {@link Ipv4Packet.check} must pass before the getters are trusted.
 */
export class Ipv4Packet {
  /** The datagram, possibly followed by link-layer padding (see {@link Ipv4Packet.totalLength}). */
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * Why the datagram must be dropped, or undefined when its header is sound: the version is 4,
   * IHL is at least 5 and fits, Total Length covers the header and fits the bytes (anything
   * beyond it is Ethernet padding), and the header checksum verifies (RFC 1122 §3.2.1.1-2).
   * `verifyChecksum` false skips the last check (a quoted header in an ICMP error).
   */
  check(verifyChecksum = true): Ipv4Problem | undefined {
    const bytes = this.bytes;
    if (bytes.length < IPV4_HEADER_LENGTH) return 'truncated';
    if (bytes[0] >>> 4 !== 4) return 'bad-version';
    const headerLength = (bytes[0] & 0x0f) * 4;
    if (headerLength < IPV4_HEADER_LENGTH) return 'bad-header-length';
    if (headerLength > bytes.length) return 'truncated';
    const totalLength = readU16(bytes, Ipv4Field.totalLength);
    if (totalLength < headerLength) return 'bad-total-length';
    if (totalLength > bytes.length) return 'truncated';
    if (verifyChecksum && checksumPartial(bytes, 0, headerLength) !== 0xffff) return 'bad-checksum';
    return undefined;
  }

  get version(): number {
    return this.bytes[0] >>> 4;
  }

  /** Header length in bytes (IHL × 4). */
  get headerLength(): number {
    return (this.bytes[0] & 0x0f) * 4;
  }

  get tos(): number {
    return this.bytes[Ipv4Field.tos];
  }
  set tos(value: number) {
    this.bytes[Ipv4Field.tos] = value;
  }

  get totalLength(): number {
    return readU16(this.bytes, Ipv4Field.totalLength);
  }
  set totalLength(value: number) {
    writeU16(this.bytes, Ipv4Field.totalLength, value);
  }

  get identification(): number {
    return readU16(this.bytes, Ipv4Field.identification);
  }
  set identification(value: number) {
    writeU16(this.bytes, Ipv4Field.identification, value);
  }

  /** The flags and offset word: reserved, DF and MF bits, then the offset in 8-byte units. */
  get flagsAndFragmentOffset(): number {
    return readU16(this.bytes, Ipv4Field.flagsAndFragmentOffset);
  }
  set flagsAndFragmentOffset(value: number) {
    writeU16(this.bytes, Ipv4Field.flagsAndFragmentOffset, value);
  }

  get dontFragment(): boolean {
    return (this.flagsAndFragmentOffset & FLAG_DONT_FRAGMENT) !== 0;
  }

  get moreFragments(): boolean {
    return (this.flagsAndFragmentOffset & FLAG_MORE_FRAGMENTS) !== 0;
  }

  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (this.flagsAndFragmentOffset & OFFSET_MASK) * FRAGMENT_UNIT;
  }

  /** True for any piece of a fragmented datagram (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return (this.flagsAndFragmentOffset & (FLAG_MORE_FRAGMENTS | OFFSET_MASK)) !== 0;
  }

  get ttl(): number {
    return this.bytes[Ipv4Field.ttl];
  }
  set ttl(value: number) {
    this.bytes[Ipv4Field.ttl] = value;
  }

  get protocol(): number {
    return this.bytes[Ipv4Field.protocol];
  }

  get checksum(): number {
    return readU16(this.bytes, Ipv4Field.checksum);
  }

  get source(): Ipv4Address {
    return readIpv4(this.bytes, Ipv4Field.source);
  }

  get destination(): Ipv4Address {
    return readIpv4(this.bytes, Ipv4Field.destination);
  }

  /** Options (a view), empty when IHL is 5. */
  get options(): Uint8Array {
    return this.bytes.subarray(Ipv4Field.options, this.headerLength);
  }

  /** The payload (a view), without link-layer padding. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength);
  }

  /** Recomputes the header checksum after fields changed. */
  fillChecksum(): void {
    fillHeaderChecksum(this.bytes, this.headerLength);
  }
}

/** The meaning of an IPv4 header. */
export interface Ipv4Repr {
  /** DSCP and ECN byte. */
  readonly tos: number;
  /** Payload bytes behind the header (Total Length less the header). */
  readonly payloadLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Offset of this fragment's payload in the original datagram, in bytes (a multiple of 8). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  /** Raw options, a multiple of 4 bytes and at most 40; this package never interprets them. */
  readonly options: Uint8Array;
}

/** A parsed datagram: its header and a view of its payload. */
export interface ParsedIpv4 {
  readonly repr: Ipv4Repr;
  readonly payload: Uint8Array;
}

const PROBLEM_MESSAGES: Readonly<Record<Ipv4Problem, string>> = {
  truncated: 'IPv4 datagram is shorter than its header or Total Length says',
  'bad-version': 'not an IPv4 datagram (version field is not 4)',
  'bad-header-length': 'IPv4 header length (IHL) is below 5 words',
  'bad-total-length': 'IPv4 Total Length is shorter than the header',
  'bad-checksum': 'IPv4 header checksum does not verify',
};

/**
 * Parses and validates a datagram (see {@link Ipv4Packet.check}). Bytes past Total Length
 * (Ethernet pads short frames to 60 bytes) are left out of the payload. Throws
 * {@link DecodeError} with the problem as its reason.
 */
export function parseIpv4(bytes: Uint8Array): ParsedIpv4 {
  const packet = new Ipv4Packet(bytes);
  const problem = packet.check();
  if (problem !== undefined) throw new DecodeError(problem, PROBLEM_MESSAGES[problem], problem === 'bad-checksum' ? Ipv4Field.checksum : 0);
  const flags = packet.flagsAndFragmentOffset;
  const headerLength = packet.headerLength;
  const repr: Ipv4Repr = {
    tos: packet.tos,
    payloadLength: packet.totalLength - headerLength,
    identification: packet.identification,
    dontFragment: (flags & FLAG_DONT_FRAGMENT) !== 0,
    moreFragments: (flags & FLAG_MORE_FRAGMENTS) !== 0,
    fragmentOffset: (flags & OFFSET_MASK) * FRAGMENT_UNIT,
    ttl: packet.ttl,
    protocol: packet.protocol,
    source: packet.source,
    destination: packet.destination,
    options: bytes.slice(IPV4_HEADER_LENGTH, headerLength),
  };
  return { repr, payload: packet.payload };
}

/** Header length `repr` needs. */
export function ipv4HeaderLength(repr: Ipv4Repr): number {
  return IPV4_HEADER_LENGTH + repr.options.length;
}

/**
 * Writes the header of `repr` (checksum included) at the start of `into`, which must hold at
 * least the header; the payload, if any, goes behind it. Returns the header length.
 * A valid repr has options of a multiple of 4 bytes up to 40, a fragment offset that is a
 * multiple of 8 below 65536 and a total length up to 65535.
 */
export function emitIpv4(repr: Ipv4Repr, into: Uint8Array): number {
  const headerLength = ipv4HeaderLength(repr);
  const flags = (repr.dontFragment ? FLAG_DONT_FRAGMENT : 0) | (repr.moreFragments ? FLAG_MORE_FRAGMENTS : 0);
  into.set(repr.options, IPV4_HEADER_LENGTH);
  writeIpv4Header(
    into,
    headerLength,
    headerLength + repr.payloadLength,
    repr.tos,
    repr.identification,
    flags | (repr.fragmentOffset / FRAGMENT_UNIT),
    repr.ttl,
    repr.protocol,
    repr.source,
    repr.destination,
  );
  return headerLength;
}

/**
 * Writes the fixed header fields and the checksum; options, when `headerLength` exceeds 20,
 * must already be in place. The send path calls this directly to avoid building a repr.
 */
export function writeIpv4Header(
  into: Uint8Array,
  headerLength: number,
  totalLength: number,
  tos: number,
  identification: number,
  flagsAndFragmentOffset: number,
  ttl: number,
  protocol: number,
  source: Ipv4Address,
  destination: Ipv4Address,
): void {
  into[0] = 0x40 | (headerLength >>> 2);
  into[1] = tos;
  writeU16(into, Ipv4Field.totalLength, totalLength);
  writeU16(into, Ipv4Field.identification, identification);
  writeU16(into, Ipv4Field.flagsAndFragmentOffset, flagsAndFragmentOffset & ~FLAG_RESERVED);
  into[Ipv4Field.ttl] = ttl;
  into[Ipv4Field.protocol] = protocol;
  writeIpv4(into, Ipv4Field.source, source);
  writeIpv4(into, Ipv4Field.destination, destination);
  fillHeaderChecksum(into, headerLength);
}

/** Computes and stores the header checksum over `headerLength` bytes (RFC 791 §3.1). */
function fillHeaderChecksum(bytes: Uint8Array, headerLength: number): void {
  writeU16(bytes, Ipv4Field.checksum, 0);
  writeU16(bytes, Ipv4Field.checksum, ~checksumPartial(bytes, 0, headerLength) & 0xffff);
}

/** The flags-and-offset word for a fragment: DF, MF and an offset in bytes (a multiple of 8). */
export function fragmentWord(dontFragment: boolean, moreFragments: boolean, offsetBytes: number): number {
  return (dontFragment ? FLAG_DONT_FRAGMENT : 0) | (moreFragments ? FLAG_MORE_FRAGMENTS : 0) | (offsetBytes / FRAGMENT_UNIT);
}
