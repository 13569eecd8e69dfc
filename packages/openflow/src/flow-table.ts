/**
 * The switch side's flow table (OpenFlow 1.3.x §5.2-5.5): entries with priorities, OXM
 * matching with masks, idle and hard timeouts, and per-flow counters.
 */
import type { Clock } from '@morgana/core';
import type { Instruction } from './actions.js';
import { OFPFF_SEND_FLOW_REM, OFPP_ANY } from './constants.js';
import type { Match, MatchFieldName } from './match.js';

/** Header fields of one packet, named as match fields (absent: the packet lacks the header). */
export type PacketFields = { [K in MatchFieldName]?: number };

export interface FlowEntry {
  readonly match: Match;
  readonly priority: number;
  readonly cookie: bigint;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly flags: number;
  instructions: readonly Instruction[];
  packetCount: bigint;
  byteCount: bigint;
  readonly installedAt: number;
  lastUsed: number;
}

/** OFPRR_IDLE_TIMEOUT, OFPRR_HARD_TIMEOUT, OFPRR_DELETE. */
export const OFPRR_IDLE_TIMEOUT = 0;
export const OFPRR_HARD_TIMEOUT = 1;
export const OFPRR_DELETE = 2;

function readU8(bytes: Uint8Array, offset: number): number {
  return bytes[offset] as number;
}
function readU16(bytes: Uint8Array, offset: number): number {
  return readU8(bytes, offset) * 256 + readU8(bytes, offset + 1);
}
function readU32(bytes: Uint8Array, offset: number): number {
  return readU16(bytes, offset) * 65536 + readU16(bytes, offset + 2);
}
function readU48(bytes: Uint8Array, offset: number): number {
  return readU16(bytes, offset) * 0x1_0000_0000 + readU32(bytes, offset + 2);
}

/** Extracts the match fields of an Ethernet frame (OpenFlow 1.3.x §5.3 pipeline inputs). */
export function packetFields(frame: Uint8Array, inPort: number): PacketFields {
  const fields: PacketFields = { inPort };
  if (frame.length < 14) return fields;
  fields.ethDst = readU48(frame, 0);
  fields.ethSrc = readU48(frame, 6);
  let offset = 12;
  let ethType = readU16(frame, offset);
  // OFPVID_NONE (0) when untagged, VID | OFPVID_PRESENT when tagged (1.3 §7.2.2.7).
  fields.vlanVid = 0;
  if (ethType === 0x8100 && frame.length >= 18) {
    const tci = readU16(frame, 14);
    fields.vlanVid = (tci & 0x0fff) | 0x1000;
    fields.vlanPcp = tci >> 13;
    offset = 16;
    ethType = readU16(frame, offset);
  }
  fields.ethType = ethType;
  const l3 = offset + 2;
  if (ethType === 0x0806 && frame.length >= l3 + 28) {
    fields.arpOp = readU16(frame, l3 + 6);
    fields.arpSha = readU48(frame, l3 + 8);
    fields.arpSpa = readU32(frame, l3 + 14);
    fields.arpTha = readU48(frame, l3 + 18);
    fields.arpTpa = readU32(frame, l3 + 24);
  } else if (ethType === 0x0800 && frame.length >= l3 + 20) {
    const ihl = (readU8(frame, l3) & 0x0f) * 4;
    fields.ipDscp = readU8(frame, l3 + 1) >> 2;
    fields.ipEcn = readU8(frame, l3 + 1) & 3;
    const proto = readU8(frame, l3 + 9);
    fields.ipProto = proto;
    fields.ipv4Src = readU32(frame, l3 + 12);
    fields.ipv4Dst = readU32(frame, l3 + 16);
    const l4 = l3 + ihl;
    const fragment = (readU16(frame, l3 + 6) & 0x1fff) !== 0;
    if (!fragment && frame.length >= l4 + 4) {
      if (proto === 6) { fields.tcpSrc = readU16(frame, l4); fields.tcpDst = readU16(frame, l4 + 2); }
      else if (proto === 17) { fields.udpSrc = readU16(frame, l4); fields.udpDst = readU16(frame, l4 + 2); }
      else if (proto === 132) { fields.sctpSrc = readU16(frame, l4); fields.sctpDst = readU16(frame, l4 + 2); }
      else if (proto === 1) { fields.icmpv4Type = readU8(frame, l4); fields.icmpv4Code = readU8(frame, l4 + 1); }
    }
  }
  return fields;
}

/** Bitwise AND that works past 32 bits (MAC addresses are 48-bit numbers). */
function and(a: number, b: number): number {
  const high = (Math.floor(a / 0x1_0000_0000) & Math.floor(b / 0x1_0000_0000)) >>> 0;
  const low = ((a % 0x1_0000_0000) & (b % 0x1_0000_0000)) >>> 0;
  return high * 0x1_0000_0000 + low;
}

function fieldNames(match: Match): MatchFieldName[] {
  return (Object.keys(match) as (MatchFieldName | 'masks' | 'other')[]).filter((key): key is MatchFieldName => key !== 'masks' && key !== 'other');
}

/** Whether `packet` matches `match`: every field present and equal under its mask. */
export function matches(match: Match, packet: PacketFields): boolean {
  for (const name of fieldNames(match)) {
    const want = match[name] as number;
    const have = packet[name];
    if (have === undefined) return false;
    const mask = match.masks?.[name];
    if (mask === undefined ? want !== have : and(want, mask) !== and(have, mask)) return false;
  }
  return (match.other ?? []).length === 0;
}

/** Whether every packet `narrow` matches is also matched by `wide` (non-strict modify/delete, §6.4). */
export function covers(wide: Match, narrow: Match): boolean {
  for (const name of fieldNames(wide)) {
    const value = narrow[name];
    if (value === undefined) return false;
    const wideMask = wide.masks?.[name] ?? 2 ** 48 - 1;
    const narrowMask = narrow.masks?.[name] ?? 2 ** 48 - 1;
    if (and(wideMask, narrowMask) !== wideMask) return false;
    if (and(wide[name] as number, wideMask) !== and(value, wideMask)) return false;
  }
  return true;
}

function sameMatch(a: Match, b: Match): boolean {
  return covers(a, b) && covers(b, a);
}

function outputsTo(entry: FlowEntry, port: number): boolean {
  if (port === OFPP_ANY) return true;
  return entry.instructions.some((instruction) => (instruction.type === 'apply-actions' || instruction.type === 'write-actions')
    && instruction.actions.some((action) => action.type === 'output' && action.port === port));
}

export interface FlowTableConfig {
  readonly clock: Clock;
  /** Flow entries held; an ADD beyond it fails with OFPFMFC_TABLE_FULL; default 4 096. */
  readonly maxFlows?: number;
}

/** A single flow table. */
export class FlowTable {
  private entries: FlowEntry[] = [];
  private readonly maxFlows: number;
  lookups = 0n;
  matched = 0n;

  constructor(private readonly config: FlowTableConfig) {
    this.maxFlows = config.maxFlows ?? 4_096;
  }

  /** The most entries the table holds. */
  get capacity(): number {
    return this.maxFlows;
  }

  get size(): number {
    return this.entries.length;
  }

  all(): readonly FlowEntry[] {
    return this.entries;
  }

  /** OFPFC_ADD: replaces an entry with the same match and priority (§6.4); false when full. */
  add(spec: Pick<FlowEntry, 'match' | 'priority' | 'cookie' | 'idleTimeout' | 'hardTimeout' | 'flags' | 'instructions'>): boolean {
    const now = this.config.clock.now();
    const index = this.entries.findIndex((entry) => entry.priority === spec.priority && sameMatch(entry.match, spec.match));
    const entry: FlowEntry = { ...spec, packetCount: 0n, byteCount: 0n, installedAt: now, lastUsed: now };
    if (index >= 0) {
      this.entries[index] = entry;
      return true;
    }
    if (this.entries.length >= this.maxFlows) return false;
    // Kept sorted by descending priority so lookup takes the first hit.
    const at = this.entries.findIndex((other) => other.priority < spec.priority);
    if (at < 0) this.entries.push(entry);
    else this.entries.splice(at, 0, entry);
    return true;
  }

  /** OFPFC_MODIFY(_STRICT): replaces the instructions of matching entries, keeping counters; returns how many. */
  modify(match: Match, priority: number, strict: boolean, instructions: readonly Instruction[]): number {
    let count = 0;
    for (const entry of this.entries) {
      if (strict ? entry.priority === priority && sameMatch(entry.match, match) : covers(match, entry.match)) {
        entry.instructions = instructions;
        count += 1;
      }
    }
    return count;
  }

  /** OFPFC_DELETE(_STRICT): removes and returns matching entries. */
  delete(match: Match, priority: number, strict: boolean, outPort: number): FlowEntry[] {
    const removed: FlowEntry[] = [];
    this.entries = this.entries.filter((entry) => {
      const hit = (strict ? entry.priority === priority && sameMatch(entry.match, match) : covers(match, entry.match)) && outputsTo(entry, outPort);
      if (hit) removed.push(entry);
      return !hit;
    });
    return removed;
  }

  /** The highest-priority entry matching `packet`, its counters updated; undefined on a table miss. */
  lookup(packet: PacketFields, length: number): FlowEntry | undefined {
    this.lookups += 1n;
    const entry = this.entries.find((candidate) => matches(candidate.match, packet));
    if (entry === undefined) return undefined;
    this.matched += 1n;
    entry.packetCount += 1n;
    entry.byteCount += BigInt(length);
    entry.lastUsed = this.config.clock.now();
    return entry;
  }

  /** Removes entries past their idle or hard timeout (seconds, §5.5) and returns them with the reason. */
  expire(): { entry: FlowEntry; reason: number }[] {
    const now = this.config.clock.now();
    const expired: { entry: FlowEntry; reason: number }[] = [];
    this.entries = this.entries.filter((entry) => {
      if (entry.hardTimeout > 0 && now - entry.installedAt >= entry.hardTimeout * 1000) {
        expired.push({ entry, reason: OFPRR_HARD_TIMEOUT });
        return false;
      }
      if (entry.idleTimeout > 0 && now - entry.lastUsed >= entry.idleTimeout * 1000) {
        expired.push({ entry, reason: OFPRR_IDLE_TIMEOUT });
        return false;
      }
      return true;
    });
    return expired;
  }

  /** Whether an expired or deleted entry asked for FLOW_REMOVED. */
  static notifies(entry: FlowEntry): boolean {
    return (entry.flags & OFPFF_SEND_FLOW_REM) !== 0;
  }
}
