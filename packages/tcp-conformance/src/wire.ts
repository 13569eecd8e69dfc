/**
 * The tester's frames: Ethernet II (no VLAN), ARP and IPv4 from morgana's own codecs, with a
 * TCP segment inside built by @morgana/tcp's codec. The tester crafts whole frames so it can
 * put anything on the wire (bad checksums, unknown options, the urgent pointer) and reads
 * every frame the TCP under test sends back.
 */
import { DecodeError, MAC_ZERO } from '@morgana/core';
import type { Ipv4Address, MacAddress } from '@morgana/core';
import {
  ARP_PACKET_LENGTH,
  ArpOperation,
  ArpPacket,
  ETHERNET_HEADER_LENGTH,
  ETHERNET_MIN_FRAME_LENGTH,
  EthernetFrame,
  emitArp,
  emitEthernet,
  parseArp,
  parseEthernet,
} from '@morgana/ethif';
import type { ArpRepr } from '@morgana/ethif';
import { IPV4_HEADER_LENGTH, emitIpv4, parseIpv4 } from '@morgana/ipv4';
import { TCP_HEADER_LENGTH, TCP_PROTOCOL, TcpField, emitTcpHeader, fillTcpChecksum, parseTcp, tcpLength } from '@morgana/tcp';
import type { TcpRepr } from '@morgana/tcp';

/** EtherTypes the tester speaks. */
export const EtherType = { ipv4: 0x0800, arp: 0x0806 } as const;

/** TTL of the tester's datagrams. */
export const TESTER_TTL = 64;

/** Options as raw bytes: at most 40, padded with zeros (end of list) to a multiple of 4. */
export const MAX_RAW_OPTIONS = 40;

/** A segment the tester sends: a {@link TcpRepr}, plus what a repr cannot say. */
export interface CraftedSegment {
  readonly repr: TcpRepr;
  /** Options bytes written instead of the repr's options (unknown kinds, odd layouts). */
  readonly rawOptions?: Uint8Array;
  /** Flip the checksum so the segment fails verification. */
  readonly badChecksum?: boolean;
}

/** Where a tester frame goes and comes from. */
export interface FrameAddressing {
  readonly sourceMac: MacAddress;
  readonly destinationMac: MacAddress;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
}

/** Bytes of the TCP segment {@link emitSegment} writes for `segment`. */
export function segmentLength(segment: CraftedSegment): number {
  if (segment.rawOptions === undefined) return tcpLength(segment.repr);
  return TCP_HEADER_LENGTH + paddedOptionsLength(segment.rawOptions) + segment.repr.payload.length;
}

function paddedOptionsLength(options: Uint8Array): number {
  if (options.length > MAX_RAW_OPTIONS) throw new RangeError(`raw TCP options of ${options.length} bytes exceed ${MAX_RAW_OPTIONS}`);
  return Math.ceil(options.length / 4) * 4;
}

/**
 * Writes the TCP segment into `into` with a checksum over the IPv4 pseudo-header (spoiled when
 * `badChecksum`) and returns its length.
 */
export function emitSegment(segment: CraftedSegment, into: Uint8Array, source: Ipv4Address, destination: Ipv4Address): number {
  const { repr, rawOptions } = segment;
  let headerLength: number;
  if (rawOptions === undefined) {
    headerLength = emitTcpHeader(repr, into);
  } else {
    const bare: TcpRepr = { ...repr, mss: undefined, windowScale: undefined, sackPermitted: false, sackBlocks: [], tsVal: undefined, tsEcr: undefined };
    emitTcpHeader(bare, into);
    const optionsLength = paddedOptionsLength(rawOptions);
    headerLength = TCP_HEADER_LENGTH + optionsLength;
    into.fill(0, TCP_HEADER_LENGTH, headerLength);
    into.set(rawOptions, TCP_HEADER_LENGTH);
    into[TcpField.dataOffset] = (headerLength / 4) << 4;
  }
  into.set(repr.payload, headerLength);
  const length = headerLength + repr.payload.length;
  fillTcpChecksum(into, length, source, destination);
  if (segment.badChecksum === true) into[TcpField.checksum] ^= 0xff;
  return length;
}

/** A whole Ethernet frame carrying `segment` in an IPv4 datagram. */
export function buildSegmentFrame(segment: CraftedSegment, addressing: FrameAddressing, identification: number): Uint8Array {
  const tcpBytes = segmentLength(segment);
  const frame = new Uint8Array(Math.max(ETHERNET_MIN_FRAME_LENGTH, ETHERNET_HEADER_LENGTH + IPV4_HEADER_LENGTH + tcpBytes));
  emitEthernet(
    { destination: addressing.destinationMac, source: addressing.sourceMac, ethertype: EtherType.ipv4, vlan: undefined },
    new EthernetFrame(frame),
  );
  const ip = frame.subarray(ETHERNET_HEADER_LENGTH);
  emitIpv4(
    {
      tos: 0,
      payloadLength: tcpBytes,
      identification: identification & 0xffff,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: TESTER_TTL,
      protocol: TCP_PROTOCOL,
      source: addressing.source,
      destination: addressing.destination,
      options: new Uint8Array(0),
    },
    ip,
  );
  emitSegment(segment, ip.subarray(IPV4_HEADER_LENGTH), addressing.source, addressing.destination);
  return frame;
}

/** A whole Ethernet frame carrying an ARP packet. */
export function buildArpFrame(repr: ArpRepr, destinationMac: MacAddress): Uint8Array {
  const frame = new Uint8Array(ETHERNET_MIN_FRAME_LENGTH);
  emitEthernet({ destination: destinationMac, source: repr.senderMac, ethertype: EtherType.arp, vlan: undefined }, new EthernetFrame(frame));
  emitArp(repr, new ArpPacket(frame.subarray(ETHERNET_HEADER_LENGTH, ETHERNET_HEADER_LENGTH + ARP_PACKET_LENGTH)));
  return frame;
}

/** An ARP request for `target` from the tester. */
export function arpRequest(senderMac: MacAddress, senderAddress: Ipv4Address, target: Ipv4Address): ArpRepr {
  return { operation: ArpOperation.request, senderMac, senderAddress, targetMac: MAC_ZERO, targetAddress: target };
}

/** What a received frame is, as far as the tester cares. */
export type ReceivedFrame =
  | { readonly kind: 'arp'; readonly source: MacAddress; readonly arp: ArpRepr }
  | {
      readonly kind: 'tcp';
      readonly sourceMac: MacAddress;
      readonly source: Ipv4Address;
      readonly destination: Ipv4Address;
      readonly ttl: number;
      readonly segment: TcpRepr;
    }
  | { readonly kind: 'other'; readonly ethertype: number; readonly protocol: number | undefined };

/**
 * Decodes a frame the TCP under test sent. Throws only {@link DecodeError}: a TCP segment must
 * be whole, unfragmented and carry a valid checksum (a TCP under test that sends a bad one
 * fails every case that expects that segment, which is the point).
 */
export function parseFrame(bytes: Uint8Array): ReceivedFrame {
  const ethernet = new EthernetFrame(bytes);
  const header = parseEthernet(ethernet);
  const payload = ethernet.payload;
  if (header.ethertype === EtherType.arp) {
    if (payload.length < ARP_PACKET_LENGTH) throw new DecodeError('truncated', `ARP packet of ${payload.length} bytes`, ETHERNET_HEADER_LENGTH);
    return { kind: 'arp', source: header.source, arp: parseArp(new ArpPacket(payload.subarray(0, ARP_PACKET_LENGTH))) };
  }
  if (header.ethertype !== EtherType.ipv4) return { kind: 'other', ethertype: header.ethertype, protocol: undefined };
  const { repr: ip, payload: datagram } = parseIpv4(payload);
  if (ip.protocol !== TCP_PROTOCOL) return { kind: 'other', ethertype: header.ethertype, protocol: ip.protocol };
  if (ip.moreFragments || ip.fragmentOffset !== 0) throw new DecodeError('fragment', 'the TCP under test sent an IP fragment', ETHERNET_HEADER_LENGTH);
  const segment = parseTcp(datagram, { source: ip.source, destination: ip.destination });
  return { kind: 'tcp', sourceMac: header.source, source: ip.source, destination: ip.destination, ttl: ip.ttl, segment: { ...segment, payload: segment.payload.slice() } };
}
