/**
 * The switch's packet edits (OpenFlow 1.3.x §5.12 actions on an Ethernet frame): where each
 * header sits, set-field on every named field with the checksums kept right by incremental
 * update (RFC 1624), push/pop of an 802.1Q tag and the IPv4 TTL decrement.
 */
import { internetChecksum, readU16, readU32, updateChecksum16, updateChecksum32, writeU16, writeU32 } from '@morgana/core';
import type { MatchFieldName } from './match.js';

/** Ethernet offsets (IEEE 802.3) and the 802.1Q TPIDs a tag may carry. */
const ETH = { DST: 0, SRC: 6, TYPE: 12, HEADER: 14 } as const;
const TPID_8021Q = 0x8100;
const TPID_8021AD = 0x88a8;
const VLAN_TAG = 4;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
/** IPv4 header offsets (RFC 791). */
const IP = { TOS: 1, FRAGMENT: 6, TTL: 8, PROTO: 9, CHECKSUM: 10, SRC: 12, DST: 16, MIN: 20 } as const;
/** ARP for IPv4 over Ethernet (RFC 826). */
const ARP = { OP: 6, SHA: 8, SPA: 14, THA: 18, TPA: 24, SIZE: 28 } as const;
const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_SCTP = 132;
/** Checksum offsets inside each transport header. */
const TCP_CHECKSUM = 16;
const UDP_CHECKSUM = 6;
const ICMP_CHECKSUM = 2;
const SCTP_CHECKSUM = 8;

/** Where the headers of one frame start; -1 for a header the frame lacks. */
export interface FrameLayout {
  /** Offset of the outermost 802.1Q tag's TCI, or -1 when untagged. */
  readonly vlan: number;
  /** Offset of the EtherType after any tags. */
  readonly ethTypeAt: number;
  readonly ethType: number;
  /** Offset of the IPv4 or ARP header. */
  readonly l3: number;
  /** Offset of the transport header of an IPv4 first fragment (or whole datagram). */
  readonly l4: number;
  /** IPv4 protocol number, or -1. */
  readonly ipProto: number;
}

/** Finds the headers of `frame` (only as far as the bytes are there). */
export function frameLayout(frame: Uint8Array): FrameLayout {
  if (frame.length < ETH.HEADER) return { vlan: -1, ethTypeAt: -1, ethType: -1, l3: -1, l4: -1, ipProto: -1 };
  let ethTypeAt: number = ETH.TYPE;
  let ethType = readU16(frame, ethTypeAt);
  let vlan = -1;
  // The outermost tag only: OpenFlow 1.3 matches and edits one VLAN header (§7.2.2.7).
  if ((ethType === TPID_8021Q || ethType === TPID_8021AD) && frame.length >= ETH.HEADER + VLAN_TAG) {
    vlan = ETH.TYPE + 2;
    ethTypeAt = ETH.TYPE + VLAN_TAG;
    ethType = readU16(frame, ethTypeAt);
  }
  const l3 = ethTypeAt + 2;
  if (ethType === ETHERTYPE_ARP) return { vlan, ethTypeAt, ethType, l3: frame.length >= l3 + ARP.SIZE ? l3 : -1, l4: -1, ipProto: -1 };
  if (ethType !== ETHERTYPE_IPV4 || frame.length < l3 + IP.MIN) return { vlan, ethTypeAt, ethType, l3: -1, l4: -1, ipProto: -1 };
  const ihl = ((frame[l3] as number) & 0x0f) * 4;
  const ipProto = frame[l3 + IP.PROTO] as number;
  const fragmentOffset = readU16(frame, l3 + IP.FRAGMENT) & 0x1fff;
  const l4 = l3 + ihl;
  const transport = ihl >= IP.MIN && fragmentOffset === 0 && frame.length >= l4 + 4 ? l4 : -1;
  return { vlan, ethTypeAt, ethType, l3, l4: transport, ipProto };
}

function writeMac(frame: Uint8Array, offset: number, mac: number): void {
  for (let index = 0; index < 6; index += 1) frame[offset + index] = Math.floor(mac / 2 ** (8 * (5 - index))) % 256;
}

/** The offset of the transport checksum to keep right, or -1 (none, or a UDP datagram sent without one). */
function transportChecksumAt(frame: Uint8Array, layout: FrameLayout): number {
  if (layout.l4 < 0) return -1;
  if (layout.ipProto === PROTO_TCP && frame.length >= layout.l4 + TCP_CHECKSUM + 2) return layout.l4 + TCP_CHECKSUM;
  // A zero UDP checksum means "none computed" and stays zero (RFC 768).
  if (layout.ipProto === PROTO_UDP && frame.length >= layout.l4 + 8 && readU16(frame, layout.l4 + UDP_CHECKSUM) !== 0) return layout.l4 + UDP_CHECKSUM;
  return -1;
}

function patch16(frame: Uint8Array, at: number, checksumAt: number, value: number): void {
  const old = readU16(frame, at);
  writeU16(frame, at, value);
  if (checksumAt >= 0) writeU16(frame, checksumAt, updateChecksum16(readU16(frame, checksumAt), old, value));
}

/** CRC-32C (Castagnoli), the SCTP checksum (RFC 9260 Appendix A), bit-reflected. */
const CRC32C_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index += 1) {
    let crc = index;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[index] = crc >>> 0;
  }
  return table;
})();

/** Recomputes an SCTP packet's CRC-32C after a port changed (it has no incremental form). */
function sctpChecksum(frame: Uint8Array, l4: number, end: number): void {
  writeU32(frame, l4 + SCTP_CHECKSUM, 0);
  let crc = 0xffffffff;
  for (let index = l4; index < end; index += 1) crc = (CRC32C_TABLE[(crc ^ (frame[index] as number)) & 0xff] as number) ^ (crc >>> 8);
  crc = ~crc >>> 0;
  // Stored least significant byte first (RFC 9260 Appendix A).
  for (let index = 0; index < 4; index += 1) frame[l4 + SCTP_CHECKSUM + index] = (crc >>> (8 * index)) & 0xff;
}

function ipEnd(frame: Uint8Array, layout: FrameLayout): number {
  return Math.min(frame.length, layout.l3 + readU16(frame, layout.l3 + 2));
}

/**
 * Applies OFPAT_SET_FIELD (1.3.x §7.2.5) to `frame` in place, or pushes a tag first for a VLAN
 * field on an untagged frame (OpenFlow 1.0's SET_VLAN_VID/PCP do that, §5.2.4). Returns
 * the frame (a new array when it grew) or undefined when the frame lacks the field's header.
 */
export function setField(frame: Uint8Array, field: MatchFieldName, value: number): Uint8Array | undefined {
  let layout = frameLayout(frame);
  if (layout.ethTypeAt < 0) return undefined;
  switch (field) {
    case 'ethDst': writeMac(frame, ETH.DST, value); return frame;
    case 'ethSrc': writeMac(frame, ETH.SRC, value); return frame;
    case 'ethType': writeU16(frame, layout.ethTypeAt, value); return frame;
    case 'vlanVid': case 'vlanPcp': {
      let target = frame;
      if (layout.vlan < 0) {
        target = pushVlan(frame, TPID_8021Q) as Uint8Array;
        layout = frameLayout(target);
      }
      const tci = readU16(target, layout.vlan);
      writeU16(target, layout.vlan, field === 'vlanVid' ? (tci & 0xf000) | (value & 0x0fff) : (tci & 0x1fff) | ((value & 7) << 13));
      return target;
    }
    default:
      break;
  }
  if (layout.l3 < 0) return undefined;
  const l3 = layout.l3;
  if (layout.ethType === ETHERTYPE_ARP) {
    switch (field) {
      case 'arpOp': writeU16(frame, l3 + ARP.OP, value); return frame;
      case 'arpSha': writeMac(frame, l3 + ARP.SHA, value); return frame;
      case 'arpSpa': writeU32(frame, l3 + ARP.SPA, value >>> 0); return frame;
      case 'arpTha': writeMac(frame, l3 + ARP.THA, value); return frame;
      case 'arpTpa': writeU32(frame, l3 + ARP.TPA, value >>> 0); return frame;
      default: return undefined;
    }
  }
  const ipChecksum = l3 + IP.CHECKSUM;
  switch (field) {
    case 'ipDscp': case 'ipEcn': {
      const word = readU16(frame, l3);
      const tos = word & 0xff;
      const updated = field === 'ipDscp' ? ((value & 0x3f) << 2) | (tos & 3) : (tos & 0xfc) | (value & 3);
      patch16(frame, l3, ipChecksum, (word & 0xff00) | updated);
      return frame;
    }
    case 'ipProto': {
      const word = readU16(frame, l3 + IP.TTL);
      patch16(frame, l3 + IP.TTL, ipChecksum, (word & 0xff00) | (value & 0xff));
      return frame;
    }
    case 'ipv4Src': case 'ipv4Dst': {
      const at = l3 + (field === 'ipv4Src' ? IP.SRC : IP.DST);
      const old = readU32(frame, at);
      const next = value >>> 0;
      writeU32(frame, at, next);
      writeU16(frame, ipChecksum, updateChecksum32(readU16(frame, ipChecksum), old, next));
      // The addresses are in the TCP/UDP pseudo-header (RFC 9293 §3.1, RFC 768).
      const transport = transportChecksumAt(frame, layout);
      if (transport >= 0) {
        const updated = updateChecksum32(readU16(frame, transport), old, next);
        writeU16(frame, transport, layout.ipProto === PROTO_UDP && updated === 0 ? 0xffff : updated);
      }
      return frame;
    }
    default:
      break;
  }
  const l4 = layout.l4;
  if (l4 < 0) return undefined;
  const proto = layout.ipProto;
  if (field === 'tcpSrc' || field === 'tcpDst' || field === 'udpSrc' || field === 'udpDst') {
    const tcp = field === 'tcpSrc' || field === 'tcpDst';
    if ((tcp && proto !== PROTO_TCP) || (!tcp && proto !== PROTO_UDP)) return undefined;
    const checksumAt = transportChecksumAt(frame, layout);
    patch16(frame, l4 + (field === 'tcpSrc' || field === 'udpSrc' ? 0 : 2), checksumAt, value & 0xffff);
    // RFC 768: a computed UDP checksum of zero is sent as all ones.
    if (!tcp && checksumAt >= 0 && readU16(frame, checksumAt) === 0) writeU16(frame, checksumAt, 0xffff);
    return frame;
  }
  if (field === 'sctpSrc' || field === 'sctpDst') {
    if (proto !== PROTO_SCTP || frame.length < l4 + 12) return undefined;
    writeU16(frame, l4 + (field === 'sctpSrc' ? 0 : 2), value & 0xffff);
    sctpChecksum(frame, l4, ipEnd(frame, layout));
    return frame;
  }
  if (field === 'icmpv4Type' || field === 'icmpv4Code') {
    if (proto !== PROTO_ICMP) return undefined;
    const word = readU16(frame, l4);
    const next = field === 'icmpv4Type' ? ((value & 0xff) << 8) | (word & 0xff) : (word & 0xff00) | (value & 0xff);
    patch16(frame, l4, l4 + ICMP_CHECKSUM, next);
    return frame;
  }
  return undefined;
}

/**
 * OFPAT_PUSH_VLAN (1.3.x §5.12.1): a new outermost tag, its VID and PCP copied from the tag
 * below when there is one, else zero. Returns a new, four bytes longer frame, or undefined for
 * a runt without an Ethernet header.
 */
export function pushVlan(frame: Uint8Array, ethertype: number): Uint8Array | undefined {
  const layout = frameLayout(frame);
  if (layout.ethTypeAt < 0) return undefined;
  const tci = layout.vlan >= 0 ? readU16(frame, layout.vlan) : 0;
  const pushed = new Uint8Array(frame.length + VLAN_TAG);
  pushed.set(frame.subarray(0, ETH.TYPE));
  writeU16(pushed, ETH.TYPE, ethertype);
  writeU16(pushed, ETH.TYPE + 2, tci);
  pushed.set(frame.subarray(ETH.TYPE), ETH.TYPE + VLAN_TAG);
  return pushed;
}

/** OFPAT_POP_VLAN: removes the outermost tag; undefined when the frame has none. */
export function popVlan(frame: Uint8Array): Uint8Array | undefined {
  if (frameLayout(frame).vlan < 0) return undefined;
  const popped = new Uint8Array(frame.length - VLAN_TAG);
  popped.set(frame.subarray(0, ETH.TYPE));
  popped.set(frame.subarray(ETH.TYPE + VLAN_TAG), ETH.TYPE);
  return popped;
}

/**
 * OFPAT_DEC_NW_TTL on IPv4: 'ok' after the decrement, 'invalid' when the TTL was already 0
 * or 1 (the packet goes to the controller or is dropped, 1.3.x §5.12.1), 'absent' without IPv4.
 */
export function decrementTtl(frame: Uint8Array): 'ok' | 'invalid' | 'absent' {
  const layout = frameLayout(frame);
  if (layout.ethType !== ETHERTYPE_IPV4 || layout.l3 < 0) return 'absent';
  const at = layout.l3 + IP.TTL;
  const word = readU16(frame, at);
  const ttl = word >> 8;
  if (ttl <= 1) return 'invalid';
  patch16(frame, at, layout.l3 + IP.CHECKSUM, word - 0x100);
  return 'ok';
}

/** OFPAT_SET_NW_TTL on IPv4; false without an IPv4 header. */
export function setTtl(frame: Uint8Array, ttl: number): boolean {
  const layout = frameLayout(frame);
  if (layout.ethType !== ETHERTYPE_IPV4 || layout.l3 < 0) return false;
  const at = layout.l3 + IP.TTL;
  patch16(frame, at, layout.l3 + IP.CHECKSUM, ((ttl & 0xff) << 8) | (readU16(frame, at) & 0xff));
  return true;
}

/** Whether the IPv4 header checksum of `frame` verifies (for tests and drop accounting). */
export function ipv4HeaderValid(frame: Uint8Array): boolean {
  const layout = frameLayout(frame);
  if (layout.l3 < 0 || layout.ethType !== ETHERTYPE_IPV4) return false;
  const ihl = ((frame[layout.l3] as number) & 0x0f) * 4;
  return internetChecksum(frame, layout.l3, layout.l3 + ihl) === 0;
}
