/**
 * Flow matches: the OpenFlow 1.0 fixed `ofp_match` (OpenFlow 1.0.0 §5.2.3) and the OpenFlow 1.3
 * OXM TLVs (OpenFlow 1.3.x §7.2.2), both read into one {@link Match} record.
 */
import { ByteReader, ByteWriter, DecodeError, UnsupportedError } from '@morgana/core';
import { OFP10, OFP13, OFPBMC_BAD_MASK, OFPBMC_BAD_PREREQ, OFPBMC_BAD_WILDCARDS } from './constants.js';

/** The match fields morgana names; each value is the field's wire value as a number. */
export type MatchFieldName =
  | 'inPort' | 'inPhyPort' | 'ethDst' | 'ethSrc' | 'ethType' | 'vlanVid' | 'vlanPcp'
  | 'ipDscp' | 'ipEcn' | 'ipProto' | 'ipv4Src' | 'ipv4Dst' | 'tcpSrc' | 'tcpDst'
  | 'udpSrc' | 'udpDst' | 'sctpSrc' | 'sctpDst' | 'icmpv4Type' | 'icmpv4Code'
  | 'arpOp' | 'arpSpa' | 'arpTpa' | 'arpSha' | 'arpTha'
  | 'ipv6Flabel' | 'icmpv6Type' | 'icmpv6Code' | 'ipv6NdSll' | 'ipv6NdTll'
  | 'mplsLabel' | 'mplsTc' | 'mplsBos' | 'pbbIsid' | 'ipv6Exthdr';

/**
 * An OXM TLV kept as bytes: another class, an unknown field, or one of the OpenFlow basic
 * fields wider than 48 bits (METADATA, IPV6_SRC, IPV6_DST, IPV6_ND_TARGET, TUNNEL_ID), whose
 * values do not fit a number.
 */
export interface RawOxm {
  readonly oxmClass: number;
  readonly field: number;
  readonly hasMask: boolean;
  /** Value followed by mask when `hasMask`. */
  readonly payload: Uint8Array;
}

/**
 * A match. Absent fields are wildcards. `vlanVid` is the version's wire value: in 1.3 it
 * carries OFPVID_PRESENT (0x1000), in 1.0 it is the bare VID (0xffff for "no tag").
 */
export type Match = {
  readonly [K in MatchFieldName]?: number;
} & {
  /** Bit masks of masked fields (1.3 OXM masks; 1.0 keeps only IPv4 prefix masks). */
  readonly masks?: { readonly [K in MatchFieldName]?: number };
  /** OXM TLVs outside the named set (1.3 only). */
  readonly other?: readonly RawOxm[];
};

/** OXM_OF_* field numbers (OpenFlow 1.3 §7.2.2.7) and value widths in bytes. */
export const OXM_FIELDS: readonly { readonly name: MatchFieldName; readonly field: number; readonly width: number; readonly maskable: boolean }[] = [
  { name: 'inPort', field: 0, width: 4, maskable: false },
  { name: 'inPhyPort', field: 1, width: 4, maskable: false },
  { name: 'ethDst', field: 3, width: 6, maskable: true },
  { name: 'ethSrc', field: 4, width: 6, maskable: true },
  { name: 'ethType', field: 5, width: 2, maskable: false },
  { name: 'vlanVid', field: 6, width: 2, maskable: true },
  { name: 'vlanPcp', field: 7, width: 1, maskable: false },
  { name: 'ipDscp', field: 8, width: 1, maskable: false },
  { name: 'ipEcn', field: 9, width: 1, maskable: false },
  { name: 'ipProto', field: 10, width: 1, maskable: false },
  { name: 'ipv4Src', field: 11, width: 4, maskable: true },
  { name: 'ipv4Dst', field: 12, width: 4, maskable: true },
  { name: 'tcpSrc', field: 13, width: 2, maskable: false },
  { name: 'tcpDst', field: 14, width: 2, maskable: false },
  { name: 'udpSrc', field: 15, width: 2, maskable: false },
  { name: 'udpDst', field: 16, width: 2, maskable: false },
  { name: 'sctpSrc', field: 17, width: 2, maskable: false },
  { name: 'sctpDst', field: 18, width: 2, maskable: false },
  { name: 'icmpv4Type', field: 19, width: 1, maskable: false },
  { name: 'icmpv4Code', field: 20, width: 1, maskable: false },
  { name: 'arpOp', field: 21, width: 2, maskable: false },
  { name: 'arpSpa', field: 22, width: 4, maskable: true },
  { name: 'arpTpa', field: 23, width: 4, maskable: true },
  { name: 'arpSha', field: 24, width: 6, maskable: true },
  { name: 'arpTha', field: 25, width: 6, maskable: true },
  { name: 'ipv6Flabel', field: 28, width: 4, maskable: true },
  { name: 'icmpv6Type', field: 29, width: 1, maskable: false },
  { name: 'icmpv6Code', field: 30, width: 1, maskable: false },
  { name: 'ipv6NdSll', field: 32, width: 6, maskable: false },
  { name: 'ipv6NdTll', field: 33, width: 6, maskable: false },
  { name: 'mplsLabel', field: 34, width: 4, maskable: false },
  { name: 'mplsTc', field: 35, width: 1, maskable: false },
  { name: 'mplsBos', field: 36, width: 1, maskable: false },
  { name: 'pbbIsid', field: 37, width: 3, maskable: true },
  { name: 'ipv6Exthdr', field: 39, width: 2, maskable: true },
];

/** OpenFlow basic fields carried as {@link RawOxm} (too wide for a number), with their widths. */
export const OXM_WIDE_FIELDS: readonly { readonly name: string; readonly field: number; readonly width: number; readonly maskable: boolean }[] = [
  { name: 'metadata', field: 2, width: 8, maskable: true },
  { name: 'ipv6Src', field: 26, width: 16, maskable: true },
  { name: 'ipv6Dst', field: 27, width: 16, maskable: true },
  { name: 'ipv6NdTarget', field: 31, width: 16, maskable: false },
  { name: 'tunnelId', field: 38, width: 8, maskable: true },
];

const byField = new Map(OXM_FIELDS.map((entry) => [entry.field, entry]));
const byName = new Map(OXM_FIELDS.map((entry) => [entry.name, entry]));
const wideByField = new Map(OXM_WIDE_FIELDS.map((entry) => [entry.field, entry]));

/** Width of a named field's value in bytes. */
export function fieldWidth(name: MatchFieldName): number {
  return byName.get(name)?.width ?? 0;
}

function readUint(reader: ByteReader, width: number): number {
  let value = 0;
  for (let index = 0; index < width; index += 1) value = value * 256 + reader.u8();
  return value;
}

function writeUint(writer: ByteWriter, width: number, value: number): void {
  for (let index = width - 1; index >= 0; index -= 1) writer.u8(Math.floor(value / 2 ** (8 * index)) % 256);
}

/** Reads one OXM TLV into `fields`/`masks`/`other`. */
export function readOxm(reader: ByteReader, fields: Record<string, number>, masks: Record<string, number>, other: RawOxm[]): void {
  const oxmClass = reader.u16();
  const fieldAndMask = reader.u8();
  const length = reader.u8();
  const field = fieldAndMask >> 1;
  const hasMask = (fieldAndMask & 1) === 1;
  const body = reader.sub(length);
  const known = oxmClass === OFP13.OXM_CLASS_OPENFLOW_BASIC ? byField.get(field) : undefined;
  if (known === undefined) {
    if (hasMask && length % 2 !== 0) throw new DecodeError('bad-oxm-length', `masked OXM field ${field} has odd length ${length}`);
    const wide = oxmClass === OFP13.OXM_CLASS_OPENFLOW_BASIC ? wideByField.get(field) : undefined;
    if (wide !== undefined && length !== wide.width * (hasMask ? 2 : 1)) {
      throw new DecodeError('bad-oxm-length', `OXM ${wide.name} is ${length} bytes, expected ${wide.width * (hasMask ? 2 : 1)}`);
    }
    other.push({ oxmClass, field, hasMask, payload: body.bytesCopy(length) });
    return;
  }
  const expected = known.width * (hasMask ? 2 : 1);
  if (length !== expected) throw new DecodeError('bad-oxm-length', `OXM ${known.name} is ${length} bytes, expected ${expected}`);
  if (known.name in fields) throw new DecodeError('duplicate-oxm', `OXM ${known.name} appears twice (OpenFlow 1.3 §7.2.2.3)`);
  fields[known.name] = readUint(body, known.width);
  if (hasMask) masks[known.name] = readUint(body, known.width);
}

/** Writes one named field as an OXM TLV. */
export function writeOxm(writer: ByteWriter, name: MatchFieldName, value: number, mask?: number): void {
  const entry = byName.get(name);
  if (entry === undefined) throw new DecodeError('bad-oxm-field', `no OXM field named ${name}`);
  const hasMask = mask !== undefined;
  writer.u16(OFP13.OXM_CLASS_OPENFLOW_BASIC).u8((entry.field << 1) | (hasMask ? 1 : 0)).u8(entry.width * (hasMask ? 2 : 1));
  writeUint(writer, entry.width, value);
  if (hasMask) writeUint(writer, entry.width, mask);
}

/** Writes a raw OXM TLV. */
export function writeRawOxm(writer: ByteWriter, raw: RawOxm): void {
  writer.u16(raw.oxmClass).u8(((raw.field & 0x7f) << 1) | (raw.hasMask ? 1 : 0)).u8(raw.payload.length).bytes(raw.payload);
}

/** Parses an OpenFlow 1.3 `ofp_match` (type OXM) including its padding to 8 bytes. */
export function parseMatch13(reader: ByteReader): Match {
  const type = reader.u16();
  const length = reader.u16();
  if (type !== OFP13.MATCH_TYPE_OXM) throw new DecodeError('bad-match-type', `match type ${type} is not OXM`);
  if (length < 4) throw new DecodeError('bad-match-length', `match length ${length} is shorter than its header`);
  const body = reader.sub(length - 4);
  reader.skip((8 - (length % 8)) % 8);
  const fields: Record<string, number> = {};
  const masks: Record<string, number> = {};
  const other: RawOxm[] = [];
  while (body.remaining > 0) readOxm(body, fields, masks, other);
  return finishMatch(fields, masks, other);
}

function finishMatch(fields: Record<string, number>, masks: Record<string, number>, other: RawOxm[]): Match {
  const match: Record<string, unknown> = { ...fields };
  if (Object.keys(masks).length > 0) match.masks = masks;
  if (other.length > 0) match.other = other;
  return match as Match;
}

/** Emits an OpenFlow 1.3 `ofp_match`, fields in OXM order, padded to 8 bytes. */
export function emitMatch13(writer: ByteWriter, match: Match): void {
  const start = writer.length;
  writer.u16(OFP13.MATCH_TYPE_OXM).u16(0);
  // Stop once every named field is written: most matches name a few of the 35 fields.
  let named = 0;
  for (const key in match) if (key !== 'masks' && key !== 'other') named += 1;
  for (let index = 0; named > 0 && index < OXM_FIELDS.length; index += 1) {
    const entry = OXM_FIELDS[index] as (typeof OXM_FIELDS)[number];
    const value = match[entry.name];
    if (value === undefined) continue;
    named -= 1;
    writeOxm(writer, entry.name, value, match.masks?.[entry.name]);
  }
  for (const raw of match.other ?? []) writeRawOxm(writer, raw);
  const length = writer.length - start;
  writer.patchU16(start + 2, length);
  for (let pad = (8 - (length % 8)) % 8; pad > 0; pad -= 1) writer.u8(0);
}

/** OpenFlow 1.0 `ofp_match` layout (OpenFlow 1.0.0 §5.2.3): 40 bytes. */
export const MATCH10_SIZE = 40;

const W = OFP10.WILDCARDS;

function prefixMask(bits: number): number {
  return bits <= 0 ? 0 : ((0xffffffff << (32 - Math.min(bits, 32))) >>> 0);
}

/** Parses a 40-byte OpenFlow 1.0 `ofp_match`; transport ports are named by `ipProto`. */
export function parseMatch10(reader: ByteReader): Match {
  const wildcards = reader.u32();
  const inPort = reader.u16();
  const dlSrc = readUint(reader, 6);
  const dlDst = readUint(reader, 6);
  const dlVlan = reader.u16();
  const dlVlanPcp = reader.u8();
  reader.skip(1);
  const dlType = reader.u16();
  const nwTos = reader.u8();
  const nwProto = reader.u8();
  reader.skip(2);
  const nwSrc = reader.u32();
  const nwDst = reader.u32();
  const tpSrc = reader.u16();
  const tpDst = reader.u16();
  const fields: Record<string, number> = {};
  const masks: Record<string, number> = {};
  if ((wildcards & W.IN_PORT) === 0) fields.inPort = portFrom16(inPort);
  if ((wildcards & W.DL_SRC) === 0) fields.ethSrc = dlSrc;
  if ((wildcards & W.DL_DST) === 0) fields.ethDst = dlDst;
  if ((wildcards & W.DL_VLAN) === 0) fields.vlanVid = dlVlan;
  if ((wildcards & W.DL_VLAN_PCP) === 0) fields.vlanPcp = dlVlanPcp;
  if ((wildcards & W.DL_TYPE) === 0) fields.ethType = dlType;
  const isArp = fields.ethType === 0x0806;
  if ((wildcards & W.NW_TOS) === 0) fields.ipDscp = nwTos >> 2;
  if ((wildcards & W.NW_PROTO) === 0) fields[isArp ? 'arpOp' : 'ipProto'] = nwProto;
  // nw_src/nw_dst wildcard counts: 0 matches all 32 bits, 32 or more wildcards the field (§5.2.3).
  const srcWild = (wildcards >>> W.NW_SRC_SHIFT) & 0x3f;
  const dstWild = (wildcards >>> W.NW_DST_SHIFT) & 0x3f;
  const srcName = isArp ? 'arpSpa' : 'ipv4Src';
  const dstName = isArp ? 'arpTpa' : 'ipv4Dst';
  if (srcWild < 32) {
    fields[srcName] = nwSrc;
    if (srcWild > 0) masks[srcName] = prefixMask(32 - srcWild);
  }
  if (dstWild < 32) {
    fields[dstName] = nwDst;
    if (dstWild > 0) masks[dstName] = prefixMask(32 - dstWild);
  }
  const proto = fields.ipProto;
  const [srcPort, dstPort] = proto === 17 ? ['udpSrc', 'udpDst'] : proto === 132 ? ['sctpSrc', 'sctpDst'] : proto === 1 ? ['icmpv4Type', 'icmpv4Code'] : ['tcpSrc', 'tcpDst'];
  if ((wildcards & W.TP_SRC) === 0) fields[srcPort as string] = tpSrc;
  if ((wildcards & W.TP_DST) === 0) fields[dstPort as string] = tpDst;
  return finishMatch(fields, masks, []);
}

/** The fields a 1.0 `ofp_match` has a place for, and those whose masks it keeps (as prefixes). */
const MATCH10_FIELDS: ReadonlySet<string> = new Set([
  'inPort', 'ethSrc', 'ethDst', 'vlanVid', 'vlanPcp', 'ethType', 'ipDscp', 'ipProto', 'arpOp', 'ipv4Src', 'ipv4Dst', 'arpSpa',
  'arpTpa', 'tcpSrc', 'tcpDst', 'udpSrc', 'udpDst', 'sctpSrc', 'sctpDst', 'icmpv4Type', 'icmpv4Code', 'masks', 'other',
]);
const MASKABLE10: ReadonlySet<string> = new Set(['ipv4Src', 'ipv4Dst', 'arpSpa', 'arpTpa']);

/**
 * Emits a 40-byte OpenFlow 1.0 `ofp_match`; non-prefix IPv4 masks widen to the enclosing prefix.
 * Throws `UnsupportedError` for a field, mask or raw OXM 1.0 has no place for: dropping it
 * would widen the match, and a wider flow-mod or delete acts on flows it was not meant for.
 */
export function emitMatch10(writer: ByteWriter, match: Match): void {
  for (const name of Object.keys(match)) {
    if (!MATCH10_FIELDS.has(name)) throw new UnsupportedError(`OpenFlow 1.0 matches have no ${name} field`);
  }
  for (const name of Object.keys(match.masks ?? {})) {
    if (!MASKABLE10.has(name)) throw new UnsupportedError(`OpenFlow 1.0 matches cannot mask ${name}`);
  }
  if ((match.other ?? []).length > 0) throw new UnsupportedError('OpenFlow 1.0 matches carry no OXM TLVs');
  let wildcards = 0;
  const flag = (present: boolean, bit: number): void => {
    if (!present) wildcards |= bit;
  };
  flag(match.inPort !== undefined, W.IN_PORT);
  flag(match.ethSrc !== undefined, W.DL_SRC);
  flag(match.ethDst !== undefined, W.DL_DST);
  flag(match.vlanVid !== undefined, W.DL_VLAN);
  flag(match.vlanPcp !== undefined, W.DL_VLAN_PCP);
  flag(match.ethType !== undefined, W.DL_TYPE);
  flag(match.ipDscp !== undefined, W.NW_TOS);
  const nwProto = match.ipProto ?? match.arpOp;
  flag(nwProto !== undefined, W.NW_PROTO);
  const tpSrc = match.tcpSrc ?? match.udpSrc ?? match.sctpSrc ?? match.icmpv4Type;
  const tpDst = match.tcpDst ?? match.udpDst ?? match.sctpDst ?? match.icmpv4Code;
  flag(tpSrc !== undefined, W.TP_SRC);
  flag(tpDst !== undefined, W.TP_DST);
  const nwSrc = match.ipv4Src ?? match.arpSpa;
  const nwDst = match.ipv4Dst ?? match.arpTpa;
  const srcMask = match.masks?.ipv4Src ?? match.masks?.arpSpa;
  const dstMask = match.masks?.ipv4Dst ?? match.masks?.arpTpa;
  const wildBits = (value: number | undefined, mask: number | undefined): number => {
    if (value === undefined) return 32;
    if (mask === undefined) return 0;
    // The mask's leading ones: a prefix mask exactly, any other mask its longest prefix.
    return 32 - Math.clz32(~mask >>> 0);
  };
  wildcards |= wildBits(nwSrc, srcMask) << W.NW_SRC_SHIFT;
  wildcards |= wildBits(nwDst, dstMask) << W.NW_DST_SHIFT;
  writer.u32(wildcards >>> 0);
  writer.u16((match.inPort ?? 0) & 0xffff);
  writeUint(writer, 6, match.ethSrc ?? 0);
  writeUint(writer, 6, match.ethDst ?? 0);
  writer.u16(match.vlanVid ?? 0).u8(match.vlanPcp ?? 0).u8(0);
  writer.u16(match.ethType ?? 0).u8(((match.ipDscp ?? 0) << 2) & 0xff).u8(nwProto ?? 0).u16(0);
  writer.u32(nwSrc ?? 0).u32(nwDst ?? 0);
  writer.u16(tpSrc ?? 0).u16(tpDst ?? 0);
}

/**
 * Port numbers are 32-bit in reprs. OpenFlow 1.0's 16-bit reserved ports (0xff00 and up)
 * widen to their 1.3 values (0xffffff00 and up), so OFPP_FLOOD is one constant for both.
 */
export function portFrom16(port: number): number {
  return port >= 0xff00 ? (0xffff0000 | port) >>> 0 : port;
}

/** The 16-bit OpenFlow 1.0 port number of a 32-bit repr port. */
export function portTo16(port: number): number {
  return port & 0xffff;
}

/** The ETH_TYPE values of IPv4, IPv6, ARP, MPLS (unicast, multicast) and PBB. */
const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const ARP = 0x0806;
const MPLS = [0x8847, 0x8848];
const PBB = 0x88e7;

/**
 * Each field's prerequisite (OpenFlow 1.3.x §7.2.3.7, Table 12): the field it depends on and
 * the values that field must hold. A prerequisite is itself checked as a field, so chains
 * (TCP_SRC needs IP_PROTO 6, which needs ETH_TYPE IPv4 or IPv6) follow.
 */
const PREREQUISITES: Readonly<Partial<Record<MatchFieldName | 'ipv6Src' | 'ipv6Dst' | 'ipv6NdTarget', readonly [MatchFieldName, readonly number[]]>>> = {
  inPhyPort: ['inPort', []], ipDscp: ['ethType', [IPV4, IPV6]], ipEcn: ['ethType', [IPV4, IPV6]], ipProto: ['ethType', [IPV4, IPV6]],
  ipv4Src: ['ethType', [IPV4]], ipv4Dst: ['ethType', [IPV4]], tcpSrc: ['ipProto', [6]], tcpDst: ['ipProto', [6]],
  udpSrc: ['ipProto', [17]], udpDst: ['ipProto', [17]], sctpSrc: ['ipProto', [132]], sctpDst: ['ipProto', [132]],
  icmpv4Type: ['ipProto', [1]], icmpv4Code: ['ipProto', [1]], arpOp: ['ethType', [ARP]], arpSpa: ['ethType', [ARP]],
  arpTpa: ['ethType', [ARP]], arpSha: ['ethType', [ARP]], arpTha: ['ethType', [ARP]], ipv6Src: ['ethType', [IPV6]],
  ipv6Dst: ['ethType', [IPV6]], ipv6Flabel: ['ethType', [IPV6]], icmpv6Type: ['ipProto', [58]], icmpv6Code: ['ipProto', [58]],
  ipv6NdTarget: ['icmpv6Type', [135, 136]], ipv6NdSll: ['icmpv6Type', [135]], ipv6NdTll: ['icmpv6Type', [136]],
  mplsLabel: ['ethType', MPLS], mplsTc: ['ethType', MPLS], mplsBos: ['ethType', MPLS], pbbIsid: ['ethType', [PBB]],
  ipv6Exthdr: ['ethType', [IPV6]],
};

/** Why a 1.3 match is refused: an OFPBMC_* code and the field at fault. */
export interface MatchError {
  readonly code: number;
  readonly field: string;
}

function prerequisiteMet(match: Match, field: keyof typeof PREREQUISITES): boolean {
  const prerequisite = PREREQUISITES[field];
  if (prerequisite === undefined) return true;
  const [name, values] = prerequisite;
  const value = match[name];
  return value !== undefined && (values.length === 0 || values.includes(value));
}

/**
 * Checks a 1.3 match the way a switch must before taking it (1.3.x §7.2.3.5-7): masks only
 * on maskable fields (OFPBMC_BAD_MASK), no value bit set where its mask is 0
 * (OFPBMC_BAD_WILDCARDS), and every field's prerequisite present with a matching value
 * (OFPBMC_BAD_PREREQ). Returns the first failure, or undefined for a match to accept.
 */
export function checkMatch13(match: Match): MatchError | undefined {
  for (const [name, mask] of Object.entries(match.masks ?? {}) as [MatchFieldName, number][]) {
    const entry = byName.get(name);
    if (entry === undefined || !entry.maskable) return { code: OFPBMC_BAD_MASK, field: name };
    const value = match[name] ?? 0;
    // Bits outside the mask: value & ~mask, computed in two halves for 48-bit fields.
    const high = Math.floor(value / 0x1_0000_0000) & ~Math.floor(mask / 0x1_0000_0000);
    const low = (value % 0x1_0000_0000) & ~(mask % 0x1_0000_0000);
    if (high !== 0 || low !== 0) return { code: OFPBMC_BAD_WILDCARDS, field: name };
  }
  for (const raw of match.other ?? []) {
    const wide = raw.oxmClass === OFP13.OXM_CLASS_OPENFLOW_BASIC ? wideByField.get(raw.field) : undefined;
    if (wide === undefined) continue;
    if (raw.hasMask && !wide.maskable) return { code: OFPBMC_BAD_MASK, field: wide.name };
    if (raw.hasMask) {
      for (let index = 0; index < wide.width; index += 1) {
        if (((raw.payload[index] as number) & ~(raw.payload[wide.width + index] as number)) !== 0) return { code: OFPBMC_BAD_WILDCARDS, field: wide.name };
      }
    }
    if (!prerequisiteMet(match, wide.name as keyof typeof PREREQUISITES)) return { code: OFPBMC_BAD_PREREQ, field: wide.name };
  }
  for (const entry of OXM_FIELDS) {
    if (match[entry.name] === undefined) continue;
    if (entry.name === 'vlanPcp') {
      // VLAN_PCP needs a tag: VLAN_VID with OFPVID_PRESENT (0x1000) set and not masked away.
      const vid = match.vlanVid;
      const mask = match.masks?.vlanVid ?? 0x1fff;
      if (vid === undefined || (vid & mask & 0x1000) === 0) return { code: OFPBMC_BAD_PREREQ, field: entry.name };
    } else if (!prerequisiteMet(match, entry.name)) {
      return { code: OFPBMC_BAD_PREREQ, field: entry.name };
    }
  }
  return undefined;
}
