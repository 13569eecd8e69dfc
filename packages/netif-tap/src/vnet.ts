/**
 * The virtio-net header (struct virtio_net_hdr, linux/virtio_net.h) that a TAP device opened
 * with IFF_VNET_HDR puts before every frame in both directions. It carries the checksum and
 * segmentation offload requests. The device is switched to little-endian (TUNSETVNETLE), so
 * the 16-bit fields are little-endian on every host.
 *
 * ```
 *  0      1        2            4           6             8              10
 *  | flags | gsoType | headerLength | gsoSize | checksumStart | checksumOffset |
 * ```
 */
import { DecodeError } from '@morgana/core';

/** Bytes of the header (the variant without `num_buffers`). */
export const VNET_HEADER_LENGTH = 10;

const FLAGS = 0;
const GSO_TYPE = 1;
const HEADER_LENGTH = 2;
const GSO_SIZE = 4;
const CHECKSUM_START = 6;
const CHECKSUM_OFFSET = 8;

/** `flags` bits. */
export const VnetFlags = {
  /** The transport checksum is partial: the receiver must finish it (csum_start/csum_offset). */
  needsChecksum: 0x01,
  /** The checksum was already verified. */
  dataValid: 0x02,
} as const;

/** `gsoType` values. */
export const VnetGso = {
  none: 0,
  tcpv4: 1,
  udp: 3,
  tcpv6: 4,
  udpL4: 5,
  /** Flag bit: the segments carry ECN CWR. */
  ecn: 0x80,
} as const;

/** The meaning of a virtio-net header. */
export interface VnetHeaderRepr {
  readonly flags: number;
  readonly gsoType: number;
  /** Bytes of Ethernet + IP + transport headers, for segmentation. */
  readonly headerLength: number;
  /** Payload bytes per segment. */
  readonly gsoSize: number;
  /** Offset of the transport header from the start of the frame. */
  readonly checksumStart: number;
  /** Offset of the checksum field from `checksumStart`. */
  readonly checksumOffset: number;
}

/** The all-zero header: a complete frame, no offload. */
export const VNET_HEADER_NONE: VnetHeaderRepr = {
  flags: 0,
  gsoType: VnetGso.none,
  headerLength: 0,
  gsoSize: 0,
  checksumStart: 0,
  checksumOffset: 0,
};

function readU16le(bytes: Uint8Array, offset: number): number {
  return bytes[offset] | (bytes[offset + 1] << 8);
}

function writeU16le(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
}

/** A view over a header at `offset` in `bytes` (no copy). */
export class VnetHeaderView {
  constructor(
    readonly bytes: Uint8Array,
    readonly offset = 0,
  ) {
    if (bytes.length - offset < VNET_HEADER_LENGTH) {
      throw new DecodeError('truncated', `virtio-net header needs ${VNET_HEADER_LENGTH} bytes`, offset);
    }
  }

  get flags(): number {
    return this.bytes[this.offset + FLAGS];
  }
  get gsoType(): number {
    return this.bytes[this.offset + GSO_TYPE];
  }
  get headerLength(): number {
    return readU16le(this.bytes, this.offset + HEADER_LENGTH);
  }
  get gsoSize(): number {
    return readU16le(this.bytes, this.offset + GSO_SIZE);
  }
  get checksumStart(): number {
    return readU16le(this.bytes, this.offset + CHECKSUM_START);
  }
  get checksumOffset(): number {
    return readU16le(this.bytes, this.offset + CHECKSUM_OFFSET);
  }
}

/** Parses a header; throws {@link DecodeError} when truncated or when the GSO type is unknown. */
export function parseVnetHeader(bytes: Uint8Array, offset = 0): VnetHeaderRepr {
  const view = new VnetHeaderView(bytes, offset);
  const gsoType = view.gsoType;
  const base = gsoType & ~VnetGso.ecn;
  if (base !== VnetGso.none && base !== VnetGso.tcpv4 && base !== VnetGso.udp && base !== VnetGso.tcpv6 && base !== VnetGso.udpL4) {
    throw new DecodeError('unknown-gso-type', `unknown virtio-net GSO type ${gsoType}`, offset + GSO_TYPE);
  }
  return {
    flags: view.flags,
    gsoType,
    headerLength: view.headerLength,
    gsoSize: view.gsoSize,
    checksumStart: view.checksumStart,
    checksumOffset: view.checksumOffset,
  };
}

/** Writes a header at `offset`; the caller provides {@link VNET_HEADER_LENGTH} bytes. */
export function emitVnetHeader(repr: VnetHeaderRepr, bytes: Uint8Array, offset = 0): void {
  bytes[offset + FLAGS] = repr.flags;
  bytes[offset + GSO_TYPE] = repr.gsoType;
  writeU16le(bytes, offset + HEADER_LENGTH, repr.headerLength);
  writeU16le(bytes, offset + GSO_SIZE, repr.gsoSize);
  writeU16le(bytes, offset + CHECKSUM_START, repr.checksumStart);
  writeU16le(bytes, offset + CHECKSUM_OFFSET, repr.checksumOffset);
}
