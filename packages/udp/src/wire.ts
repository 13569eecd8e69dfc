/**
 * The UDP header (RFC 768): a view over the bytes with named field offsets, a plain
 * representation, and parse/emit. The checksum covers the IPv4 pseudo-header, the header and
 * the payload.
 */
import {
  DecodeError,
  type Ipv4Address,
  IpProtocol,
  checksumPartial,
  ipv4PseudoHeaderSum,
  readU16,
  writeU16,
} from '@morgana/core';

/** Field offsets (RFC 768, "Format"). */
const SOURCE_PORT = 0;
const DESTINATION_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;

/** Size of the UDP header. */
export const UDP_HEADER_LENGTH = 8;
/** Largest UDP datagram: the length field is 16 bits. */
export const UDP_MAX_LENGTH = 0xffff;
/** Largest payload over IPv4: 65535 less the 20-byte IPv4 header and the 8-byte UDP header. */
export const UDP_MAX_PAYLOAD_IPV4 = UDP_MAX_LENGTH - 20 - UDP_HEADER_LENGTH;

/**
 * Why the lengths of a received datagram are unusable, or undefined when they are fine:
 * `'truncated'` (shorter than the header), `'bad-length'` (length field below 8) or
 * `'length-exceeds-ip-payload'`. The receive path uses this instead of catching an exception.
 * A length field shorter than the IP payload is valid: the bytes past it are ignored.
 */
export function udpLengthProblem(bytes: Uint8Array): 'truncated' | 'bad-length' | 'length-exceeds-ip-payload' | undefined {
  if (bytes.length < UDP_HEADER_LENGTH) return 'truncated';
  const length = readU16(bytes, LENGTH);
  if (length < UDP_HEADER_LENGTH) return 'bad-length';
  if (length > bytes.length) return 'length-exceeds-ip-payload';
  return undefined;
}

/**
 * A view over a UDP datagram (header and payload). Getters and setters read and write the
 * bytes in place; nothing is copied. {@link UdpPacket.check} validates lengths first.
 */
export class UdpPacket {
  /** The datagram as received: the IP payload, which may extend past the UDP length. */
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * Checks that the header fits and that the length field is sane: at least the header and
   * at most the bytes the IP layer delivered. Throws {@link DecodeError}
   * (`'truncated'`, `'bad-length'`, `'length-exceeds-ip-payload'`).
   */
  static check(bytes: Uint8Array): UdpPacket {
    const problem = udpLengthProblem(bytes);
    if (problem !== undefined) {
      const message =
        problem === 'truncated'
          ? `UDP datagram of ${bytes.length} bytes is shorter than its 8-byte header`
          : `UDP length field ${readU16(bytes, LENGTH)} does not fit the ${bytes.length}-byte IP payload`;
      throw new DecodeError(problem, message, problem === 'truncated' ? 0 : LENGTH);
    }
    return new UdpPacket(bytes);
  }

  get sourcePort(): number {
    return readU16(this.bytes, SOURCE_PORT);
  }
  set sourcePort(value: number) {
    writeU16(this.bytes, SOURCE_PORT, value);
  }

  get destinationPort(): number {
    return readU16(this.bytes, DESTINATION_PORT);
  }
  set destinationPort(value: number) {
    writeU16(this.bytes, DESTINATION_PORT, value);
  }

  /** Header plus payload, in bytes. */
  get length(): number {
    return readU16(this.bytes, LENGTH);
  }
  set length(value: number) {
    writeU16(this.bytes, LENGTH, value);
  }

  get checksum(): number {
    return readU16(this.bytes, CHECKSUM);
  }
  set checksum(value: number) {
    writeU16(this.bytes, CHECKSUM, value);
  }

  /** The payload, as far as the length field says (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(UDP_HEADER_LENGTH, this.length);
  }

  /**
   * True when the checksum verifies, or is zero: on IPv4 a zero checksum means the sender
   * did not compute one (RFC 768).
   */
  verifyChecksum(source: Ipv4Address, destination: Ipv4Address): boolean {
    if (this.checksum === 0) return true;
    const length = this.length;
    const pseudo = ipv4PseudoHeaderSum(source, destination, IpProtocol.udp, length);
    return checksumPartial(this.bytes, 0, length, pseudo) === 0xffff;
  }

  /**
   * Computes and stores the checksum over the first `length` bytes. A computed zero is sent
   * as all ones, because zero on the wire means "no checksum" (RFC 768).
   */
  fillChecksum(source: Ipv4Address, destination: Ipv4Address): void {
    const length = this.length;
    this.checksum = 0;
    const pseudo = ipv4PseudoHeaderSum(source, destination, IpProtocol.udp, length);
    const value = ~checksumPartial(this.bytes, 0, length, pseudo) & 0xffff;
    this.checksum = value === 0 ? 0xffff : value;
  }
}

/** The meaning of a UDP header. */
export interface UdpRepr {
  readonly sourcePort: number;
  readonly destinationPort: number;
}

/** Options of {@link parseUdp}. */
export interface UdpParseOptions {
  /** Skip the checksum (the device verified it); default false. */
  readonly checksumVerified?: boolean;
}

/** A parsed datagram: the header's meaning and the payload (a view into the input). */
export interface ParsedUdp {
  readonly repr: UdpRepr;
  readonly payload: Uint8Array;
}

/**
 * Parses a UDP datagram received from `source` for `destination`. Throws {@link DecodeError}
 * for a short datagram, a bad length field, or a bad checksum (`'bad-checksum'`).
 */
export function parseUdp(bytes: Uint8Array, source: Ipv4Address, destination: Ipv4Address, options?: UdpParseOptions): ParsedUdp {
  const packet = UdpPacket.check(bytes);
  if (options?.checksumVerified !== true && !packet.verifyChecksum(source, destination)) {
    throw new DecodeError('bad-checksum', 'UDP checksum does not verify', CHECKSUM);
  }
  return {
    repr: { sourcePort: packet.sourcePort, destinationPort: packet.destinationPort },
    payload: packet.payload,
  };
}

/**
 * Writes the header for a payload of `payloadLength` bytes already placed at
 * `buffer[8, 8 + payloadLength)`, then the checksum. Returns the datagram length.
 * `buffer` must hold at least `8 + payloadLength` bytes.
 */
export function emitUdpHeader(
  repr: UdpRepr,
  buffer: Uint8Array,
  payloadLength: number,
  source: Ipv4Address,
  destination: Ipv4Address,
): number {
  return writeUdpHeader(buffer, repr.sourcePort, repr.destinationPort, payloadLength, source, destination);
}

/** {@link emitUdpHeader} from the fields themselves: the send path's form, which allocates nothing. */
export function writeUdpHeader(
  buffer: Uint8Array,
  sourcePort: number,
  destinationPort: number,
  payloadLength: number,
  source: Ipv4Address,
  destination: Ipv4Address,
): number {
  const length = UDP_HEADER_LENGTH + payloadLength;
  writeU16(buffer, SOURCE_PORT, sourcePort);
  writeU16(buffer, DESTINATION_PORT, destinationPort);
  writeU16(buffer, LENGTH, length);
  writeU16(buffer, CHECKSUM, 0);
  const pseudo = ipv4PseudoHeaderSum(source, destination, IpProtocol.udp, length);
  const checksum = ~checksumPartial(buffer, 0, length, pseudo) & 0xffff;
  // A computed zero is sent as all ones: zero on the wire means "no checksum" (RFC 768).
  writeU16(buffer, CHECKSUM, checksum === 0 ? 0xffff : checksum);
  return length;
}

/** Emits a whole datagram (header, `payload`, checksum) into a new array. */
export function emitUdp(repr: UdpRepr, payload: Uint8Array, source: Ipv4Address, destination: Ipv4Address): Uint8Array {
  if (payload.length > UDP_MAX_LENGTH - UDP_HEADER_LENGTH) {
    throw new RangeError(`UDP payload of ${payload.length} bytes exceeds ${UDP_MAX_LENGTH - UDP_HEADER_LENGTH}`);
  }
  const buffer = new Uint8Array(UDP_HEADER_LENGTH + payload.length);
  buffer.set(payload, UDP_HEADER_LENGTH);
  emitUdpHeader(repr, buffer, payload.length, source, destination);
  return buffer;
}
