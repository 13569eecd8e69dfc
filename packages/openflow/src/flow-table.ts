/**
 * The switch side's flow table (OpenFlow 1.3.x §5.2-5.5, §6.4): entries with priorities, OXM
 * matching with masks (metadata included), overlap checking, cookie-filtered modify and
 * delete, idle and hard timeouts, and per-flow and per-table counters.
 */
import type { Clock } from '@morgana/core';
import type { Instruction } from './actions.js';
import { OFPFF_CHECK_OVERLAP, OFPFF_SEND_FLOW_REM, OFPG_ANY, OFPP_ANY, OFP13 } from './constants.js';
import type { Match, MatchFieldName, RawOxm } from './match.js';

/** Header fields of one packet, named as match fields (absent: the packet lacks the header). */
export type PacketFields = { [K in MatchFieldName]?: number };

export interface FlowEntry {
  readonly match: Match;
  readonly priority: number;
  cookie: bigint;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly flags: number;
  instructions: readonly Instruction[];
  packetCount: bigint;
  byteCount: bigint;
  readonly installedAt: number;
  lastUsed: number;
}

/** What a flow-mod asks to install. */
export type FlowSpec = Pick<FlowEntry, 'match' | 'priority' | 'cookie' | 'idleTimeout' | 'hardTimeout' | 'flags' | 'instructions'>;

/** Which entries a modify, delete or statistics request selects (1.3.x §6.4, §7.3.5.2). */
export interface FlowFilter {
  readonly match: Match;
  /** Strict: the same match and priority; otherwise every entry `match` covers. */
  readonly strict: boolean;
  readonly priority: number;
  /** Only entries whose cookie equals `cookie` under `cookieMask` (0: no restriction). */
  readonly cookie?: bigint;
  readonly cookieMask?: bigint;
  /** Only entries with an output to this port / group; OFPP_ANY / OFPG_ANY for no restriction. */
  readonly outPort?: number;
  readonly outGroup?: number;
}

/** OFPRR_IDLE_TIMEOUT, OFPRR_HARD_TIMEOUT, OFPRR_DELETE, OFPRR_GROUP_DELETE. */
export const OFPRR_IDLE_TIMEOUT = 0;
export const OFPRR_HARD_TIMEOUT = 1;
export const OFPRR_DELETE = 2;
export const OFPRR_GROUP_DELETE = 3;
/** OFPFF_RESET_COUNTS (1.3): a modify zeroes the counters of the entries it changes. */
export const OFPFF_RESET_COUNTS = 4;
/** OXM_OF_METADATA's field number (1.3.x §7.2.2.7): the pipeline's 64-bit metadata register. */
export const OXM_FIELD_METADATA = 2;

/** Outcome of {@link FlowTable.add}. */
export type AddResult = 'added' | 'replaced' | 'table-full' | 'overlap';

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

/** Extracts the match fields of an Ethernet frame (OpenFlow 1.3.x §5.3 pipeline inputs, §7.2.2.7 values). */
export function packetFields(frame: Uint8Array, inPort: number): PacketFields {
  const fields: PacketFields = { inPort, inPhyPort: inPort };
  if (frame.length < 14) return fields;
  fields.ethDst = readU48(frame, 0);
  fields.ethSrc = readU48(frame, 6);
  let offset = 12;
  let ethType = readU16(frame, offset);
  // OFPVID_NONE (0) when untagged, VID | OFPVID_PRESENT when tagged (1.3 §7.2.2.7).
  fields.vlanVid = 0;
  if ((ethType === 0x8100 || ethType === 0x88a8) && frame.length >= 18) {
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
    // Only a first fragment (or a whole datagram) carries the transport header.
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

const ALL_ONES = 2 ** 48 - 1;

function fieldNames(match: Match): MatchFieldName[] {
  return (Object.keys(match) as (MatchFieldName | 'masks' | 'other')[]).filter((key): key is MatchFieldName => key !== 'masks' && key !== 'other');
}

function isMetadata(raw: RawOxm): boolean {
  return raw.oxmClass === OFP13.OXM_CLASS_OPENFLOW_BASIC && raw.field === OXM_FIELD_METADATA && raw.payload.length === (raw.hasMask ? 16 : 8);
}

function u64(bytes: Uint8Array, offset: number): bigint {
  let value = 0n;
  for (let index = 0; index < 8; index += 1) value = (value << 8n) | BigInt(bytes[offset + index] as number);
  return value;
}

/** The metadata value and mask a match asks for (OXM_OF_METADATA, kept as a raw OXM by the codec). */
export function metadataMatch(match: Match): { readonly value: bigint; readonly mask: bigint } | undefined {
  const raw = match.other?.find(isMetadata);
  if (raw === undefined) return undefined;
  return { value: u64(raw.payload, 0), mask: raw.hasMask ? u64(raw.payload, 8) : 0xffff_ffff_ffff_ffffn };
}

/** Raw OXMs of a match the switch cannot match on (any but metadata); a flow-mod with one is refused. */
export function unsupportedOxms(match: Match): readonly RawOxm[] {
  return (match.other ?? []).filter((raw) => !isMetadata(raw));
}

/** A match prepared for lookups: its fields as parallel arrays, masks of -1 for exact. */
interface CompiledMatch {
  readonly names: readonly MatchFieldName[];
  readonly values: readonly number[];
  readonly masks: readonly number[];
  readonly metadata: { readonly value: bigint; readonly mask: bigint } | undefined;
  /** A raw OXM the switch cannot match on: the entry never matches. */
  readonly impossible: boolean;
}

const compiled = new WeakMap<Match, CompiledMatch>();

function compile(match: Match): CompiledMatch {
  let found = compiled.get(match);
  if (found === undefined) {
    const names = fieldNames(match);
    const masks = names.map((name) => match.masks?.[name] ?? -1);
    // Values are stored already masked, so a lookup masks only the packet's side.
    const values = names.map((name, index) => (masks[index] === -1 ? (match[name] as number) : and(match[name] as number, masks[index] as number)));
    found = { names, values, masks, metadata: metadataMatch(match), impossible: unsupportedOxms(match).length > 0 };
    compiled.set(match, found);
  }
  return found;
}

/** Whether `packet` (with the pipeline's `metadata`) matches `match`: every field present and equal under its mask. */
export function matches(match: Match, packet: PacketFields, metadata = 0n): boolean {
  return matchesCompiled(compile(match), packet, metadata);
}

function matchesCompiled(prepared: CompiledMatch, packet: PacketFields, metadata: bigint): boolean {
  const { names, values, masks, metadata: wanted, impossible } = prepared;
  if (impossible) return false;
  for (let index = 0; index < names.length; index += 1) {
    const have = packet[names[index] as MatchFieldName];
    if (have === undefined) return false;
    const mask = masks[index] as number;
    if ((mask === -1 ? have : and(have, mask)) !== values[index]) return false;
  }
  return wanted === undefined || (wanted.value & wanted.mask) === (metadata & wanted.mask);
}

/** Whether every packet `narrow` matches is also matched by `wide` (non-strict modify/delete, §6.4). */
export function covers(wide: Match, narrow: Match): boolean {
  for (const name of fieldNames(wide)) {
    const value = narrow[name];
    if (value === undefined) return false;
    const wideMask = wide.masks?.[name] ?? ALL_ONES;
    const narrowMask = narrow.masks?.[name] ?? ALL_ONES;
    if (and(wideMask, narrowMask) !== wideMask) return false;
    if (and(wide[name] as number, wideMask) !== and(value, wideMask)) return false;
  }
  const wideMetadata = metadataMatch(wide);
  if (wideMetadata === undefined) return true;
  const narrowMetadata = metadataMatch(narrow);
  if (narrowMetadata === undefined || (wideMetadata.mask & narrowMetadata.mask) !== wideMetadata.mask) return false;
  return (wideMetadata.value & wideMetadata.mask) === (narrowMetadata.value & wideMetadata.mask);
}

/** Whether some packet could match both (OFPFF_CHECK_OVERLAP, 1.3.x §6.4): every shared field agrees where both masks care. */
export function overlaps(a: Match, b: Match): boolean {
  for (const name of fieldNames(a)) {
    const other = b[name];
    if (other === undefined) continue;
    const mask = and(a.masks?.[name] ?? ALL_ONES, b.masks?.[name] ?? ALL_ONES);
    if (and(a[name] as number, mask) !== and(other, mask)) return false;
  }
  const first = metadataMatch(a);
  const second = metadataMatch(b);
  if (first === undefined || second === undefined) return true;
  const mask = first.mask & second.mask;
  return (first.value & mask) === (second.value & mask);
}

function sameMatch(a: Match, b: Match): boolean {
  return covers(a, b) && covers(b, a);
}

function actionsOf(entry: FlowEntry): readonly { readonly type: string; readonly port?: number; readonly groupId?: number }[] {
  return entry.instructions.flatMap((instruction) => (instruction.type === 'apply-actions' || instruction.type === 'write-actions' ? instruction.actions : []));
}

/** Whether `entry` passes the out_port, out_group and cookie restrictions of `filter`. */
function passes(entry: FlowEntry, filter: FlowFilter): boolean {
  const mask = filter.cookieMask ?? 0n;
  if (mask !== 0n && (entry.cookie & mask) !== ((filter.cookie ?? 0n) & mask)) return false;
  const port = filter.outPort ?? OFPP_ANY;
  if (port !== OFPP_ANY && !actionsOf(entry).some((action) => action.type === 'output' && action.port === port)) return false;
  const group = filter.outGroup ?? OFPG_ANY;
  return group === OFPG_ANY || actionsOf(entry).some((action) => action.type === 'group' && action.groupId === group);
}

/** Whether `entry` is selected by `filter` (match, priority when strict, cookie, out port/group). */
export function selects(filter: FlowFilter, entry: FlowEntry): boolean {
  const hit = filter.strict ? entry.priority === filter.priority && sameMatch(entry.match, filter.match) : covers(filter.match, entry.match);
  return hit && passes(entry, filter);
}

export interface FlowTableConfig {
  readonly clock: Clock;
  /** Flow entries held; an ADD beyond it fails with OFPFMFC_TABLE_FULL; default 4 096. */
  readonly maxFlows?: number;
}

/** The compiled match kept with each stored entry, so a lookup does no per-entry preparation. */
const COMPILED: unique symbol = Symbol('compiled match');
type StoredEntry = FlowEntry & { readonly [COMPILED]: CompiledMatch };

/**
 * A lookup index over a table's entries (tuple space search): entries grouped by their shape
 * (which fields, under which masks), each shape a map from the masked values to its entries
 * in lookup order. A lookup probes one map per shape instead of testing every entry; shapes
 * are visited by their best priority, so the search stops once no shape can beat the hit.
 */
class LookupIndex {
  private readonly shapes: Shape[] = [];

  constructor(entries: readonly StoredEntry[]) {
    const byId = new Map<string, Shape>();
    entries.forEach((entry, position) => {
      const prepared = entry[COMPILED];
      if (prepared.impossible) return;
      const id = `${prepared.names.join(',')}|${prepared.masks.join(',')}|${prepared.metadata?.mask ?? ''}`;
      let shape = byId.get(id);
      if (shape === undefined) {
        shape = { prepared, top: entry.priority, buckets: new Map() };
        byId.set(id, shape);
        this.shapes.push(shape);
      }
      const key = keyOf(prepared, prepared.values, prepared.metadata?.value);
      const bucket = shape.buckets.get(key);
      // Entries arrive in lookup order, so a bucket's first entry is its best.
      if (bucket === undefined) shape.buckets.set(key, { entry, position });
    });
    this.shapes.sort((a, b) => b.top - a.top);
  }

  lookup(packet: PacketFields, metadata: bigint): StoredEntry | undefined {
    let best: { entry: StoredEntry; position: number } | undefined;
    const values: number[] = [];
    for (const shape of this.shapes) {
      if (best !== undefined && shape.top < best.entry.priority) break;
      const { names, masks } = shape.prepared;
      values.length = 0;
      let complete = true;
      for (let index = 0; index < names.length; index += 1) {
        const have = packet[names[index] as MatchFieldName];
        if (have === undefined) {
          complete = false;
          break;
        }
        const mask = masks[index] as number;
        values.push(mask === -1 ? have : and(have, mask));
      }
      if (!complete) continue;
      const wanted = shape.prepared.metadata;
      const hit = shape.buckets.get(keyOf(shape.prepared, values, wanted === undefined ? undefined : metadata & wanted.mask));
      if (hit === undefined) continue;
      if (best === undefined || hit.entry.priority > best.entry.priority || (hit.entry.priority === best.entry.priority && hit.position < best.position)) best = hit;
    }
    return best?.entry;
  }
}

interface Shape {
  readonly prepared: CompiledMatch;
  /** The highest priority among the shape's entries. */
  readonly top: number;
  readonly buckets: Map<string, { readonly entry: StoredEntry; readonly position: number }>;
}

function keyOf(prepared: CompiledMatch, values: readonly number[], metadata: bigint | undefined): string {
  let key = '';
  for (let index = 0; index < prepared.names.length; index += 1) key += `${values[index]},`;
  return metadata === undefined ? key : `${key}m${metadata & (prepared.metadata?.mask ?? 0n)}`;
}

/** Default of {@link FlowTableConfig.maxFlows}. */
export const DEFAULT_MAX_FLOWS = 4_096;

/** One flow table. */
export class FlowTable {
  private entries: StoredEntry[] = [];
  /** Rebuilt on the first lookup after the entries changed. */
  private index: LookupIndex | undefined;
  private readonly maxFlows: number;
  /** Packets looked up and packets that hit an entry (table statistics, 1.3.x §7.3.5.4). */
  lookups = 0n;
  matched = 0n;

  constructor(private readonly config: FlowTableConfig) {
    this.maxFlows = config.maxFlows ?? DEFAULT_MAX_FLOWS;
  }

  /** The most entries the table holds. */
  get capacity(): number {
    return this.maxFlows;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Entries in lookup order (descending priority). */
  all(): readonly FlowEntry[] {
    return this.entries;
  }

  /**
   * OFPFC_ADD (1.3.x §6.4): replaces an entry with the same match and priority (counters
   * reset); with OFPFF_CHECK_OVERLAP refuses one that overlaps an entry of the same priority.
   */
  add(spec: FlowSpec): AddResult {
    const now = this.config.clock.now();
    if ((spec.flags & OFPFF_CHECK_OVERLAP) !== 0) {
      const clash = this.entries.some((entry) => entry.priority === spec.priority && overlaps(entry.match, spec.match) && !sameMatch(entry.match, spec.match));
      if (clash) return 'overlap';
    }
    const index = this.entries.findIndex((entry) => entry.priority === spec.priority && sameMatch(entry.match, spec.match));
    const entry: StoredEntry = { ...spec, packetCount: 0n, byteCount: 0n, installedAt: now, lastUsed: now, [COMPILED]: compile(spec.match) };
    if (index >= 0) {
      this.entries[index] = entry;
      this.index = undefined;
      return 'replaced';
    }
    if (this.entries.length >= this.maxFlows) return 'table-full';
    // Kept sorted by descending priority, oldest first within one, so lookup takes the first hit.
    const at = this.entries.findIndex((other) => other.priority < spec.priority);
    if (at < 0) this.entries.push(entry);
    else this.entries.splice(at, 0, entry);
    this.index = undefined;
    return 'added';
  }

  /**
   * OFPFC_MODIFY(_STRICT): replaces the instructions of the selected entries; cookies, timeouts
   * and counters stay (OFPFF_RESET_COUNTS zeroes the counters, 1.3.x §6.4). Returns how many.
   */
  modify(filter: FlowFilter, instructions: readonly Instruction[], flags = 0): number {
    let count = 0;
    for (const entry of this.entries) {
      if (!selects(filter, entry)) continue;
      entry.instructions = instructions;
      if ((flags & OFPFF_RESET_COUNTS) !== 0) {
        entry.packetCount = 0n;
        entry.byteCount = 0n;
      }
      count += 1;
    }
    return count;
  }

  /** OFPFC_DELETE(_STRICT): removes and returns the selected entries. */
  delete(filter: FlowFilter): FlowEntry[] {
    const removed: FlowEntry[] = [];
    this.entries = this.entries.filter((entry) => {
      const hit = selects(filter, entry);
      if (hit) removed.push(entry);
      return !hit;
    });
    if (removed.length > 0) this.index = undefined;
    return removed;
  }

  /** Removes entries for which `predicate` holds (a deleted group's users, 1.3.x §6.5) and returns them. */
  deleteWhere(predicate: (entry: FlowEntry) => boolean): FlowEntry[] {
    const removed: FlowEntry[] = this.entries.filter(predicate);
    if (removed.length > 0) {
      this.entries = this.entries.filter((entry) => !predicate(entry));
      this.index = undefined;
    }
    return removed;
  }

  /** The highest-priority entry matching `packet`, its counters updated; undefined on a table miss. */
  lookup(packet: PacketFields, length: number, metadata = 0n): FlowEntry | undefined {
    this.lookups += 1n;
    this.index ??= new LookupIndex(this.entries);
    const found = this.index.lookup(packet, metadata);
    if (found === undefined) return undefined;
    this.matched += 1n;
    found.packetCount += 1n;
    found.byteCount += BigInt(length);
    found.lastUsed = this.config.clock.now();
    return found;
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
    if (expired.length > 0) this.index = undefined;
    return expired;
  }

  /** Whether an expired or deleted entry asked for FLOW_REMOVED. */
  static notifies(entry: FlowEntry): boolean {
    return (entry.flags & OFPFF_SEND_FLOW_REM) !== 0;
  }

  /** Whether an entry is a table-miss entry: priority 0 and every field wildcarded (1.3.x §5.4). */
  static isTableMiss(entry: FlowEntry): boolean {
    return entry.priority === 0 && fieldNames(entry.match).length === 0 && (entry.match.other ?? []).length === 0;
  }
}
