/**
 * OpenFlow messages (OpenFlow 1.0.0 §5, 1.3.x §7): the header view, one repr per message type
 * shared by both versions, and parse/emit. Fields a version lacks read as zero from it.
 */
import { ByteReader, ByteWriter, DecodeError, UnsupportedError, readU16, readU32 } from '@morgana/core';
import { type Action, type Instruction, emitActions, emitInstructions, parseActions, parseInstructions } from './actions.js';
import {
  OFP10, OFP13, OFPBAC_BAD_LEN, OFPBAC_BAD_SET_ARGUMENT, OFPBAC_BAD_TYPE, OFPBIC_BAD_LEN, OFPBIC_UNKNOWN_INST,
  OFPBMC_BAD_LEN, OFPBMC_BAD_TYPE, OFPBMC_DUP_FIELD, OFPBRC_BAD_LEN, OFPBRC_BAD_TYPE, OFPBRC_BAD_VERSION,
  OFPET_BAD_ACTION, OFPET_BAD_INSTRUCTION, OFPET_BAD_MATCH, OFPET_BAD_REQUEST, OFPET_EXPERIMENTER,
  OFPET_METER_MOD_FAILED, OFPMMFC_BAD_BAND, OFPMP_AGGREGATE, OFPMP_DESC, OFPMP_EXPERIMENTER, OFPMP_FLOW, OFPMP_GROUP,
  OFPMP_GROUP_DESC, OFPMP_GROUP_FEATURES, OFPMP_METER, OFPMP_METER_CONFIG, OFPMP_METER_FEATURES, OFPMP_PORT_DESC,
  OFPMP_PORT_STATS, OFPMP_QUEUE, OFPMP_TABLE, OFP_VERSION_1_0, OFP_VERSION_1_3, type OfpVersion,
} from './constants.js';
import {
  type GroupDescEntry, type GroupFeatures, type GroupMod, type GroupStatsEntry, emitGroupDesc, emitGroupFeatures, emitGroupMod,
  emitGroupStats, parseGroupDesc, parseGroupFeatures, parseGroupMod, parseGroupStats,
} from './group.js';
import { type Match, emitMatch10, emitMatch13, parseMatch10, parseMatch13, portFrom16, portTo16 } from './match.js';
import {
  type MeterConfigEntry, type MeterFeatures, type MeterMod, type MeterStatsEntry, emitMeterConfig, emitMeterFeatures,
  emitMeterMod, emitMeterStats, parseMeterConfig, parseMeterFeatures, parseMeterMod, parseMeterStats,
} from './meter.js';
import { type PacketQueue, type QueueStatsEntry, emitQueue, emitQueueStats, parseQueue, parseQueueStats, readPort, writePort } from './queue.js';

/** ofp_header (8 bytes): named offsets of the view. */
export const HEADER = { VERSION: 0, TYPE: 1, LENGTH: 2, XID: 4, SIZE: 8 } as const;
/** Largest message the 16-bit length field allows. */
export const OFP_MAX_MESSAGE = 0xffff;

/** A thin view over a message's header. */
export class OfpHeaderView {
  constructor(readonly bytes: Uint8Array) {
    if (bytes.length < HEADER.SIZE) throw new DecodeError('truncated', `OpenFlow header needs 8 bytes, got ${bytes.length}`);
  }
  get version(): number { return this.bytes[HEADER.VERSION] as number; }
  get type(): number { return this.bytes[HEADER.TYPE] as number; }
  get length(): number { return readU16(this.bytes, HEADER.LENGTH); }
  get xid(): number { return readU32(this.bytes, HEADER.XID); }
}

export interface PortDesc {
  readonly portNo: number;
  readonly hwAddr: number;
  readonly name: string;
  readonly config: number;
  readonly state: number;
  readonly curr: number;
  readonly advertised: number;
  readonly supported: number;
  readonly peer: number;
  /** kbps; 1.3 only. */
  readonly currSpeed: number;
  readonly maxSpeed: number;
}

export interface FlowStatsEntry {
  readonly tableId: number;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly priority: number;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  /** 1.3 only. */
  readonly flags: number;
  readonly cookie: bigint;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly match: Match;
  /** 1.0 actions read as one apply-actions instruction. */
  readonly instructions: readonly Instruction[];
}

export interface PortStatsEntry {
  readonly portNo: number;
  /** rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_errors, tx_errors, rx_frame_err, rx_over_err, rx_crc_err, collisions. */
  readonly counters: readonly bigint[];
  /** 1.3 only. */
  readonly durationSec: number;
  readonly durationNsec: number;
}

export interface FlowStatsRequest {
  readonly tableId: number;
  readonly outPort: number;
  /** 1.3 only. */
  readonly outGroup: number;
  readonly cookie: bigint;
  readonly cookieMask: bigint;
  readonly match: Match;
}

/** ofp_table_stats. `name`, `wildcards` and `maxEntries` are 1.0 only (empty/0 from 1.3). */
export interface TableStatsEntry {
  readonly tableId: number;
  readonly name: string;
  readonly wildcards: number;
  readonly maxEntries: number;
  readonly activeCount: number;
  readonly lookupCount: bigint;
  readonly matchedCount: bigint;
}

/** An experimenter (1.3) or vendor (1.0) payload, carried opaquely; `expType` is 1.3 only. */
export interface ExperimenterBody {
  readonly experimenter: number;
  readonly expType: number;
  readonly data: Uint8Array;
}

export interface SwitchDesc {
  readonly mfrDesc: string;
  readonly hwDesc: string;
  readonly swDesc: string;
  readonly serialNum: string;
  readonly dpDesc: string;
}

export type MultipartRequestBody =
  | { readonly kind: 'desc' }
  | ({ readonly kind: 'flow' } & FlowStatsRequest)
  | ({ readonly kind: 'aggregate' } & FlowStatsRequest)
  | { readonly kind: 'port-stats'; readonly portNo: number }
  | { readonly kind: 'port-desc' }
  | { readonly kind: 'table' }
  /** OFPP_ANY / OFPQ_ALL select every port / queue. */
  | { readonly kind: 'queue'; readonly portNo: number; readonly queueId: number }
  /** 1.3 only from here on. OFPG_ALL selects every group. */
  | { readonly kind: 'group'; readonly groupId: number }
  | { readonly kind: 'group-desc' }
  | { readonly kind: 'group-features' }
  /** OFPM_ALL selects every meter. */
  | { readonly kind: 'meter' | 'meter-config'; readonly meterId: number }
  | { readonly kind: 'meter-features' }
  | ({ readonly kind: 'experimenter' } & ExperimenterBody)
  /** Any other type (table-features, or a type the version lacks), carried raw. */
  | { readonly kind: 'other'; readonly statsType: number; readonly data: Uint8Array };

export type MultipartReplyBody =
  | ({ readonly kind: 'desc' } & SwitchDesc)
  | { readonly kind: 'flow'; readonly flows: readonly FlowStatsEntry[] }
  | { readonly kind: 'aggregate'; readonly packetCount: bigint; readonly byteCount: bigint; readonly flowCount: number }
  | { readonly kind: 'port-stats'; readonly ports: readonly PortStatsEntry[] }
  | { readonly kind: 'port-desc'; readonly ports: readonly PortDesc[] }
  | { readonly kind: 'table'; readonly tables: readonly TableStatsEntry[] }
  | { readonly kind: 'queue'; readonly queues: readonly QueueStatsEntry[] }
  /** 1.3 only from here on. */
  | { readonly kind: 'group'; readonly groups: readonly GroupStatsEntry[] }
  | { readonly kind: 'group-desc'; readonly groups: readonly GroupDescEntry[] }
  | ({ readonly kind: 'group-features' } & GroupFeatures)
  | { readonly kind: 'meter'; readonly meters: readonly MeterStatsEntry[] }
  | { readonly kind: 'meter-config'; readonly meters: readonly MeterConfigEntry[] }
  | ({ readonly kind: 'meter-features' } & MeterFeatures)
  | ({ readonly kind: 'experimenter' } & ExperimenterBody)
  | { readonly kind: 'other'; readonly statsType: number; readonly data: Uint8Array };

/** Asynchronous message masks (1.3 §7.3.10): index 0 for the master/equal role, 1 for slave. */
export type AsyncMask = readonly [number, number];

interface Base {
  /** Header version; bodies of any version but 1.0 use the 1.3 layouts (only a HELLO may carry another). */
  readonly version: number;
  readonly xid: number;
}

export type OfpMessage = Base & (
  /** `versions`: the HELLO version bitmap (1.3 §7.5.1); absent when the HELLO carries none. */
  | { readonly type: 'hello'; readonly versions?: readonly number[] }
  | {
    readonly type: 'error'; readonly errorType: number; readonly code: number; readonly data: Uint8Array;
    /**
     * OFPET_EXPERIMENTER errors (1.3 §7.4.4, ofp_error_experimenter_msg) only: the experimenter
     * id, read from between the exp_type (`code`) and the data. Absent otherwise.
     */
    readonly experimenter?: number;
  }
  | { readonly type: 'echo-request' | 'echo-reply'; readonly data: Uint8Array }
  | { readonly type: 'features-request' | 'get-config-request' | 'barrier-request' | 'barrier-reply' | 'get-async-request' }
  /** OFPT_EXPERIMENTER (1.3) / OFPT_VENDOR (1.0), carried opaquely. */
  | ({ readonly type: 'experimenter' } & ExperimenterBody)
  | {
    readonly type: 'features-reply'; readonly datapathId: bigint; readonly nBuffers: number; readonly nTables: number;
    /** 1.3 only. */
    readonly auxiliaryId: number; readonly capabilities: number;
    /** 1.0 only: supported actions bitmap and the port list. */
    readonly actions: number; readonly ports: readonly PortDesc[];
  }
  | { readonly type: 'get-config-reply' | 'set-config'; readonly flags: number; readonly missSendLen: number }
  | {
    readonly type: 'packet-in'; readonly bufferId: number; readonly totalLen: number; readonly reason: number;
    /** 1.3 only (0 from 1.0). */
    readonly tableId: number; readonly cookie: bigint;
    /** 1.0's in_port reads as `match.inPort`. */
    readonly match: Match; readonly data: Uint8Array;
  }
  | {
    readonly type: 'flow-removed'; readonly cookie: bigint; readonly priority: number; readonly reason: number;
    readonly tableId: number; readonly durationSec: number; readonly durationNsec: number; readonly idleTimeout: number;
    readonly hardTimeout: number; readonly packetCount: bigint; readonly byteCount: bigint; readonly match: Match;
  }
  | { readonly type: 'port-status'; readonly reason: number; readonly port: PortDesc }
  | { readonly type: 'packet-out'; readonly bufferId: number; readonly inPort: number; readonly actions: readonly Action[]; readonly data: Uint8Array }
  | {
    readonly type: 'flow-mod'; readonly cookie: bigint; readonly cookieMask: bigint; readonly tableId: number;
    readonly command: number; readonly idleTimeout: number; readonly hardTimeout: number; readonly priority: number;
    readonly bufferId: number; readonly outPort: number; readonly outGroup: number; readonly flags: number;
    /** 1.0: at most one apply-actions instruction (its actions). */
    readonly match: Match; readonly instructions: readonly Instruction[];
  }
  /** Changes the bits of `config` selected by `mask`; `advertise` 0 leaves advertising alone (1.3 §7.3.4.3). */
  | { readonly type: 'port-mod'; readonly portNo: number; readonly hwAddr: number; readonly config: number; readonly mask: number; readonly advertise: number }
  /** 1.3 only from here on. */
  | { readonly type: 'table-mod'; readonly tableId: number; readonly config: number }
  | ({ readonly type: 'group-mod' } & GroupMod)
  | ({ readonly type: 'meter-mod' } & MeterMod)
  | { readonly type: 'role-request' | 'role-reply'; readonly role: number; readonly generationId: bigint }
  | {
    readonly type: 'get-async-reply' | 'set-async'; readonly packetInMask: AsyncMask; readonly portStatusMask: AsyncMask;
    readonly flowRemovedMask: AsyncMask;
  }
  /** In both versions; `port` OFPP_ANY asks for every port's queues (1.3). */
  | { readonly type: 'queue-get-config-request'; readonly port: number }
  | { readonly type: 'queue-get-config-reply'; readonly port: number; readonly queues: readonly PacketQueue[] }
  | { readonly type: 'multipart-request'; readonly flags: number; readonly body: MultipartRequestBody }
  | { readonly type: 'multipart-reply'; readonly flags: number; readonly body: MultipartReplyBody }
);

export type OfpMessageType = OfpMessage['type'];

/** Message types that answer a request by its xid (echo, features, config, multipart, barrier, queue config, role, async) or refuse it (error). */
export const OFP_REPLY_TYPES: ReadonlySet<OfpMessageType> = new Set<OfpMessageType>([
  'echo-reply', 'features-reply', 'get-config-reply', 'multipart-reply', 'barrier-reply', 'queue-get-config-reply', 'role-reply',
  'get-async-reply', 'error',
]);

const typeName10: Map<number, string> = new Map(Object.entries(OFP10.TYPES).map(([name, code]) => [code, name]));
const typeName13: Map<number, string> = new Map(Object.entries(OFP13.TYPES).map(([name, code]) => [code, name]));

/** Limits of {@link parseMessage}. */
export interface ParseOptions {
  /** Versions accepted; default 1.0 and 1.3. */
  readonly versions?: readonly number[];
}

function readString(reader: ByteReader, size: number): string {
  const bytes = reader.bytesView(size);
  let end = bytes.indexOf(0);
  if (end < 0) end = size;
  let text = '';
  for (let index = 0; index < end; index += 1) text += String.fromCharCode(bytes[index] as number);
  return text;
}

function writeString(writer: ByteWriter, text: string, size: number): void {
  // Fixed-size, NUL-terminated ASCII: keep size - 1 characters so the terminator always fits.
  for (let index = 0; index < size; index += 1) writer.u8(index < size - 1 && index < text.length ? text.charCodeAt(index) & 0x7f : 0);
}

function readMac(reader: ByteReader): number {
  return reader.u16() * 0x1_0000_0000 + reader.u32();
}

function writeMac(writer: ByteWriter, mac: number): void {
  writer.u16(Math.floor(mac / 0x1_0000_0000)).u32(mac % 0x1_0000_0000);
}

/** ofp_phy_port (1.0, 48 bytes) / ofp_port (1.3, 64 bytes). */
export function parsePort(version: OfpVersion, reader: ByteReader): PortDesc {
  if (version === OFP_VERSION_1_0) {
    const portNo = portFrom16(reader.u16());
    const hwAddr = readMac(reader);
    const name = readString(reader, 16);
    return { portNo, hwAddr, name, config: reader.u32(), state: reader.u32(), curr: reader.u32(), advertised: reader.u32(), supported: reader.u32(), peer: reader.u32(), currSpeed: 0, maxSpeed: 0 };
  }
  const portNo = reader.u32();
  reader.skip(4);
  const hwAddr = readMac(reader);
  reader.skip(2);
  const name = readString(reader, 16);
  return {
    portNo, hwAddr, name, config: reader.u32(), state: reader.u32(), curr: reader.u32(), advertised: reader.u32(),
    supported: reader.u32(), peer: reader.u32(), currSpeed: reader.u32(), maxSpeed: reader.u32(),
  };
}

export function emitPort(version: OfpVersion, writer: ByteWriter, port: PortDesc): void {
  if (version === OFP_VERSION_1_0) {
    writer.u16(portTo16(port.portNo));
    writeMac(writer, port.hwAddr);
  } else {
    writer.u32(port.portNo).u32(0);
    writeMac(writer, port.hwAddr);
    writer.u16(0);
  }
  writeString(writer, port.name, 16);
  writer.u32(port.config).u32(port.state).u32(port.curr).u32(port.advertised).u32(port.supported).u32(port.peer);
  if (version !== OFP_VERSION_1_0) writer.u32(port.currSpeed).u32(port.maxSpeed);
}

function readAll<T>(reader: ByteReader, one: (r: ByteReader) => T): T[] {
  const items: T[] = [];
  while (reader.remaining > 0) items.push(one(reader));
  return items;
}

function actionsToInstructions(actions: Action[]): Instruction[] {
  return actions.length > 0 ? [{ type: 'apply-actions', actions }] : [];
}

function instructionsToActions(instructions: readonly Instruction[]): readonly Action[] {
  if (instructions.length === 0) return [];
  const [first] = instructions;
  if (instructions.length > 1 || first?.type !== 'apply-actions') {
    throw new UnsupportedError('OpenFlow 1.0 flows take one apply-actions instruction (their action list)');
  }
  return first.actions;
}

function parseFlowStatsRequest(version: OfpVersion, reader: ByteReader): FlowStatsRequest {
  if (version === OFP_VERSION_1_0) {
    const match = parseMatch10(reader);
    const tableId = reader.u8();
    reader.skip(1);
    return { match, tableId, outPort: portFrom16(reader.u16()), outGroup: 0, cookie: 0n, cookieMask: 0n };
  }
  const tableId = reader.u8();
  reader.skip(3);
  const outPort = reader.u32();
  const outGroup = reader.u32();
  reader.skip(4);
  const cookie = reader.u64();
  const cookieMask = reader.u64();
  return { tableId, outPort, outGroup, cookie, cookieMask, match: parseMatch13(reader) };
}

function emitFlowStatsRequest(version: OfpVersion, writer: ByteWriter, request: FlowStatsRequest): void {
  if (version === OFP_VERSION_1_0) {
    emitMatch10(writer, request.match);
    writer.u8(request.tableId).u8(0).u16(portTo16(request.outPort));
    return;
  }
  writer.u8(request.tableId).u8(0).u16(0).u32(request.outPort).u32(request.outGroup).u32(0);
  writer.u64(request.cookie).u64(request.cookieMask);
  emitMatch13(writer, request.match);
}

function parseFlowStatsEntry(version: OfpVersion, reader: ByteReader): FlowStatsEntry {
  const length = reader.u16();
  if (length < 4) throw new DecodeError('bad-length', `flow stats entry length ${length}`);
  const body = reader.sub(length - 2);
  const tableId = body.u8();
  body.skip(1);
  if (version === OFP_VERSION_1_0) {
    const match = parseMatch10(body);
    const durationSec = body.u32();
    const durationNsec = body.u32();
    const priority = body.u16();
    const idleTimeout = body.u16();
    const hardTimeout = body.u16();
    body.skip(6);
    const cookie = body.u64();
    const packetCount = body.u64();
    const byteCount = body.u64();
    return { tableId, match, durationSec, durationNsec, priority, idleTimeout, hardTimeout, flags: 0, cookie, packetCount, byteCount, instructions: actionsToInstructions(parseActions(version, body)) };
  }
  const durationSec = body.u32();
  const durationNsec = body.u32();
  const priority = body.u16();
  const idleTimeout = body.u16();
  const hardTimeout = body.u16();
  const flags = body.u16();
  body.skip(4);
  const cookie = body.u64();
  const packetCount = body.u64();
  const byteCount = body.u64();
  const match = parseMatch13(body);
  return { tableId, durationSec, durationNsec, priority, idleTimeout, hardTimeout, flags, cookie, packetCount, byteCount, match, instructions: parseInstructions(body) };
}

function emitFlowStatsEntry(version: OfpVersion, writer: ByteWriter, entry: FlowStatsEntry): void {
  const start = writer.length;
  writer.u16(0).u8(entry.tableId).u8(0);
  if (version === OFP_VERSION_1_0) {
    emitMatch10(writer, entry.match);
    writer.u32(entry.durationSec).u32(entry.durationNsec).u16(entry.priority).u16(entry.idleTimeout).u16(entry.hardTimeout);
    writer.u16(0).u32(0).u64(entry.cookie).u64(entry.packetCount).u64(entry.byteCount);
    emitActions(version, writer, instructionsToActions(entry.instructions));
  } else {
    writer.u32(entry.durationSec).u32(entry.durationNsec).u16(entry.priority).u16(entry.idleTimeout).u16(entry.hardTimeout).u16(entry.flags);
    writer.u32(0).u64(entry.cookie).u64(entry.packetCount).u64(entry.byteCount);
    emitMatch13(writer, entry.match);
    emitInstructions(writer, entry.instructions);
  }
  writer.patchU16(start, writer.length - start);
}

function parsePortStats(version: OfpVersion, reader: ByteReader): PortStatsEntry {
  const portNo = version === OFP_VERSION_1_0 ? portFrom16(reader.u16()) : reader.u32();
  reader.skip(version === OFP_VERSION_1_0 ? 6 : 4);
  const counters: bigint[] = [];
  for (let index = 0; index < 12; index += 1) counters.push(reader.u64());
  if (version === OFP_VERSION_1_0) return { portNo, counters, durationSec: 0, durationNsec: 0 };
  return { portNo, counters, durationSec: reader.u32(), durationNsec: reader.u32() };
}

function emitPortStats(version: OfpVersion, writer: ByteWriter, entry: PortStatsEntry): void {
  if (version === OFP_VERSION_1_0) writer.u16(portTo16(entry.portNo)).u16(0).u32(0);
  else writer.u32(entry.portNo).u32(0);
  for (let index = 0; index < 12; index += 1) writer.u64(entry.counters[index] ?? 0n);
  if (version !== OFP_VERSION_1_0) writer.u32(entry.durationSec).u32(entry.durationNsec);
}

function parseTableStats(version: OfpVersion, reader: ByteReader): TableStatsEntry {
  const tableId = reader.u8();
  reader.skip(3);
  if (version === OFP_VERSION_1_0) {
    const name = readString(reader, 32);
    const wildcards = reader.u32();
    const maxEntries = reader.u32();
    return { tableId, name, wildcards, maxEntries, activeCount: reader.u32(), lookupCount: reader.u64(), matchedCount: reader.u64() };
  }
  return { tableId, name: '', wildcards: 0, maxEntries: 0, activeCount: reader.u32(), lookupCount: reader.u64(), matchedCount: reader.u64() };
}

function emitTableStats(version: OfpVersion, writer: ByteWriter, entry: TableStatsEntry): void {
  writer.u8(entry.tableId).u8(0).u16(0);
  if (version === OFP_VERSION_1_0) {
    writeString(writer, entry.name, 32);
    writer.u32(entry.wildcards).u32(entry.maxEntries);
  }
  writer.u32(entry.activeCount).u64(entry.lookupCount).u64(entry.matchedCount);
}

/** Experimenter (1.3) / vendor (1.0) bodies: the id, 1.3's exp_type, then opaque data. */
function parseExperimenter(version: OfpVersion, reader: ByteReader): ExperimenterBody {
  const experimenter = reader.u32();
  const expType = version === OFP_VERSION_1_0 ? 0 : reader.u32();
  return { experimenter, expType, data: reader.bytesCopy(reader.remaining) };
}

function emitExperimenter(version: OfpVersion, writer: ByteWriter, body: ExperimenterBody): void {
  writer.u32(body.experimenter);
  if (version !== OFP_VERSION_1_0) writer.u32(body.expType);
  writer.bytes(body.data);
}

/** The multipart kinds OpenFlow 1.0's stats messages have; the others are 1.3 only. */
const STATS_KINDS_10: ReadonlySet<string> = new Set(['desc', 'flow', 'aggregate', 'table', 'port-stats', 'queue', 'experimenter', 'other']);

function parseMultipartRequest(version: OfpVersion, statsType: number, reader: ByteReader): MultipartRequestBody {
  if (version !== OFP_VERSION_1_0) {
    switch (statsType) {
      case OFPMP_PORT_DESC: return { kind: 'port-desc' };
      case OFPMP_GROUP: {
        const groupId = reader.u32();
        reader.skip(4);
        return { kind: 'group', groupId };
      }
      case OFPMP_GROUP_DESC: return { kind: 'group-desc' };
      case OFPMP_GROUP_FEATURES: return { kind: 'group-features' };
      case OFPMP_METER: case OFPMP_METER_CONFIG: {
        const meterId = reader.u32();
        reader.skip(4);
        return { kind: statsType === OFPMP_METER ? 'meter' : 'meter-config', meterId };
      }
      case OFPMP_METER_FEATURES: return { kind: 'meter-features' };
      default: break;
    }
  }
  switch (statsType) {
    case OFPMP_DESC: return { kind: 'desc' };
    case OFPMP_FLOW: return { kind: 'flow', ...parseFlowStatsRequest(version, reader) };
    case OFPMP_AGGREGATE: return { kind: 'aggregate', ...parseFlowStatsRequest(version, reader) };
    case OFPMP_PORT_STATS: {
      const portNo = version === OFP_VERSION_1_0 ? portFrom16(reader.u16()) : reader.u32();
      reader.skip(version === OFP_VERSION_1_0 ? 6 : 4);
      return { kind: 'port-stats', portNo };
    }
    case OFPMP_TABLE: return { kind: 'table' };
    case OFPMP_QUEUE: {
      const portNo = readPort(version, reader);
      if (version === OFP_VERSION_1_0) reader.skip(2);
      return { kind: 'queue', portNo, queueId: reader.u32() };
    }
    case OFPMP_EXPERIMENTER: return { kind: 'experimenter', ...parseExperimenter(version, reader) };
    default: return { kind: 'other', statsType, data: reader.bytesCopy(reader.remaining) };
  }
}

function parseMultipartReply(version: OfpVersion, statsType: number, reader: ByteReader): MultipartReplyBody {
  if (version !== OFP_VERSION_1_0) {
    switch (statsType) {
      case OFPMP_PORT_DESC: return { kind: 'port-desc', ports: readAll(reader, (r) => parsePort(version, r)) };
      case OFPMP_GROUP: return { kind: 'group', groups: readAll(reader, parseGroupStats) };
      case OFPMP_GROUP_DESC: return { kind: 'group-desc', groups: readAll(reader, parseGroupDesc) };
      case OFPMP_GROUP_FEATURES: return { kind: 'group-features', ...parseGroupFeatures(reader) };
      case OFPMP_METER: return { kind: 'meter', meters: readAll(reader, parseMeterStats) };
      case OFPMP_METER_CONFIG: return { kind: 'meter-config', meters: readAll(reader, parseMeterConfig) };
      case OFPMP_METER_FEATURES: return { kind: 'meter-features', ...parseMeterFeatures(reader) };
      default: break;
    }
  }
  switch (statsType) {
    case OFPMP_DESC:
      return { kind: 'desc', mfrDesc: readString(reader, 256), hwDesc: readString(reader, 256), swDesc: readString(reader, 256), serialNum: readString(reader, 32), dpDesc: readString(reader, 256) };
    case OFPMP_FLOW: return { kind: 'flow', flows: readAll(reader, (r) => parseFlowStatsEntry(version, r)) };
    case OFPMP_AGGREGATE: {
      const packetCount = reader.u64();
      const byteCount = reader.u64();
      const flowCount = reader.u32();
      reader.skip(4);
      return { kind: 'aggregate', packetCount, byteCount, flowCount };
    }
    case OFPMP_PORT_STATS: return { kind: 'port-stats', ports: readAll(reader, (r) => parsePortStats(version, r)) };
    case OFPMP_TABLE: return { kind: 'table', tables: readAll(reader, (r) => parseTableStats(version, r)) };
    case OFPMP_QUEUE: return { kind: 'queue', queues: readAll(reader, (r) => parseQueueStats(version, r)) };
    case OFPMP_EXPERIMENTER: return { kind: 'experimenter', ...parseExperimenter(version, reader) };
    default: return { kind: 'other', statsType, data: reader.bytesCopy(reader.remaining) };
  }
}

const STATS_TYPE: Record<string, number> = {
  desc: OFPMP_DESC, flow: OFPMP_FLOW, aggregate: OFPMP_AGGREGATE, table: OFPMP_TABLE, 'port-stats': OFPMP_PORT_STATS, queue: OFPMP_QUEUE,
  group: OFPMP_GROUP, 'group-desc': OFPMP_GROUP_DESC, 'group-features': OFPMP_GROUP_FEATURES, meter: OFPMP_METER,
  'meter-config': OFPMP_METER_CONFIG, 'meter-features': OFPMP_METER_FEATURES, 'port-desc': OFPMP_PORT_DESC, experimenter: OFPMP_EXPERIMENTER,
};

function statsTypeOf(version: OfpVersion, body: MultipartRequestBody | MultipartReplyBody): number {
  if (body.kind === 'other') return body.statsType;
  if (version === OFP_VERSION_1_0 && !STATS_KINDS_10.has(body.kind)) {
    throw new UnsupportedError(`OpenFlow 1.0 has no ${body.kind} statistics${body.kind === 'port-desc' ? ' (use features-reply ports)' : ''}`);
  }
  return STATS_TYPE[body.kind] as number;
}

function emitMultipartRequest(version: OfpVersion, writer: ByteWriter, body: MultipartRequestBody): void {
  switch (body.kind) {
    case 'desc': case 'port-desc': return;
    case 'flow': case 'aggregate': emitFlowStatsRequest(version, writer, body); return;
    case 'port-stats':
      if (version === OFP_VERSION_1_0) writer.u16(portTo16(body.portNo)).u16(0).u32(0);
      else writer.u32(body.portNo).u32(0);
      return;
    case 'table': case 'group-desc': case 'group-features': case 'meter-features': return;
    case 'queue':
      writePort(version, writer, body.portNo);
      if (version === OFP_VERSION_1_0) writer.u16(0);
      writer.u32(body.queueId);
      return;
    case 'group': writer.u32(body.groupId).u32(0); return;
    case 'meter': case 'meter-config': writer.u32(body.meterId).u32(0); return;
    case 'experimenter': emitExperimenter(version, writer, body); return;
    case 'other': writer.bytes(body.data);
  }
}

function emitMultipartReply(version: OfpVersion, writer: ByteWriter, body: MultipartReplyBody): void {
  switch (body.kind) {
    case 'desc':
      writeString(writer, body.mfrDesc, 256); writeString(writer, body.hwDesc, 256); writeString(writer, body.swDesc, 256);
      writeString(writer, body.serialNum, 32); writeString(writer, body.dpDesc, 256);
      return;
    case 'flow': for (const flow of body.flows) emitFlowStatsEntry(version, writer, flow); return;
    case 'aggregate': writer.u64(body.packetCount).u64(body.byteCount).u32(body.flowCount).u32(0); return;
    case 'port-stats': for (const port of body.ports) emitPortStats(version, writer, port); return;
    case 'port-desc': for (const port of body.ports) emitPort(version, writer, port); return;
    case 'table': for (const table of body.tables) emitTableStats(version, writer, table); return;
    case 'queue': for (const queue of body.queues) emitQueueStats(version, writer, queue); return;
    case 'group': for (const group of body.groups) emitGroupStats(writer, group); return;
    case 'group-desc': for (const group of body.groups) emitGroupDesc(writer, group); return;
    case 'group-features': emitGroupFeatures(writer, body); return;
    case 'meter': for (const meter of body.meters) emitMeterStats(writer, meter); return;
    case 'meter-config': for (const meter of body.meters) emitMeterConfig(writer, meter); return;
    case 'meter-features': emitMeterFeatures(writer, body); return;
    case 'experimenter': emitExperimenter(version, writer, body); return;
    case 'other': writer.bytes(body.data);
  }
}

function parseHello(reader: ByteReader): readonly number[] | undefined {
  let versions: number[] | undefined;
  // Hello elements (1.3 §7.5.1); unknown element types are ignored, as the spec requires.
  while (reader.remaining >= 4) {
    const type = reader.u16();
    const length = reader.u16();
    if (length < 4) throw new DecodeError('bad-hello-element', `hello element length ${length}`);
    const body = reader.sub(length - 4);
    reader.skip(Math.min(reader.remaining, (8 - (length % 8)) % 8));
    if (type !== OFP13.HELLO_ELEM_VERSIONBITMAP) continue;
    versions = [];
    for (let word = 0; body.remaining >= 4; word += 1) {
      const bits = body.u32();
      for (let bit = 0; bit < 32; bit += 1) if ((bits >>> bit) & 1) versions.push(word * 32 + bit);
    }
  }
  return versions;
}

function emitHello(writer: ByteWriter, versions: readonly number[]): void {
  const words = Math.floor(Math.max(0, ...versions) / 32) + 1;
  const length = 4 + 4 * words;
  writer.u16(OFP13.HELLO_ELEM_VERSIONBITMAP).u16(length);
  for (let word = 0; word < words; word += 1) {
    let bits = 0;
    for (const version of versions) if (Math.floor(version / 32) === word) bits |= 1 << (version % 32);
    writer.u32(bits >>> 0);
  }
  for (let pad = (8 - (length % 8)) % 8; pad > 0; pad -= 1) writer.u8(0);
}

function parseBody(version: OfpVersion, type: string, xid: number, r: ByteReader): OfpMessage {
  const v10 = version === OFP_VERSION_1_0;
  switch (type) {
    case 'hello': {
      const versions = parseHello(r);
      return versions === undefined ? { version, xid, type } : { version, xid, type, versions };
    }
    case 'error': {
      const errorType = r.u16();
      const code = r.u16();
      if (!v10 && errorType === OFPET_EXPERIMENTER) return { version, xid, type, errorType, code, experimenter: r.u32(), data: r.bytesCopy(r.remaining) };
      return { version, xid, type, errorType, code, data: r.bytesCopy(r.remaining) };
    }
    case 'echo-request': case 'echo-reply': return { version, xid, type, data: r.bytesCopy(r.remaining) };
    case 'features-request': case 'get-config-request': case 'barrier-request': case 'barrier-reply': case 'get-async-request':
      return { version, xid, type };
    case 'features-reply': {
      const datapathId = r.u64();
      const nBuffers = r.u32();
      const nTables = r.u8();
      const auxiliaryId = v10 ? 0 : r.u8();
      r.skip(v10 ? 3 : 2);
      const capabilities = r.u32();
      const actions = r.u32();
      return { version, xid, type, datapathId, nBuffers, nTables, auxiliaryId, capabilities, actions: v10 ? actions : 0, ports: v10 ? readAll(r, (p) => parsePort(version, p)) : [] };
    }
    case 'get-config-reply': case 'set-config': return { version, xid, type, flags: r.u16(), missSendLen: r.u16() };
    case 'packet-in': {
      const bufferId = r.u32();
      const totalLen = r.u16();
      if (v10) {
        const inPort = portFrom16(r.u16());
        const reason = r.u8();
        r.skip(1);
        return { version, xid, type, bufferId, totalLen, reason, tableId: 0, cookie: 0n, match: { inPort }, data: r.bytesCopy(r.remaining) };
      }
      const reason = r.u8();
      const tableId = r.u8();
      const cookie = r.u64();
      const match = parseMatch13(r);
      r.skip(2);
      return { version, xid, type, bufferId, totalLen, reason, tableId, cookie, match, data: r.bytesCopy(r.remaining) };
    }
    case 'flow-removed': {
      if (v10) {
        const match = parseMatch10(r);
        const cookie = r.u64();
        const priority = r.u16();
        const reason = r.u8();
        r.skip(1);
        const durationSec = r.u32();
        const durationNsec = r.u32();
        const idleTimeout = r.u16();
        r.skip(2);
        return { version, xid, type, match, cookie, priority, reason, tableId: 0, durationSec, durationNsec, idleTimeout, hardTimeout: 0, packetCount: r.u64(), byteCount: r.u64() };
      }
      const cookie = r.u64();
      const priority = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const durationSec = r.u32();
      const durationNsec = r.u32();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const packetCount = r.u64();
      const byteCount = r.u64();
      return { version, xid, type, cookie, priority, reason, tableId, durationSec, durationNsec, idleTimeout, hardTimeout, packetCount, byteCount, match: parseMatch13(r) };
    }
    case 'port-status': {
      const reason = r.u8();
      r.skip(7);
      return { version, xid, type, reason, port: parsePort(version, r) };
    }
    case 'packet-out': {
      const bufferId = r.u32();
      const inPort = v10 ? portFrom16(r.u16()) : r.u32();
      const actionsLen = r.u16();
      if (!v10) r.skip(6);
      const actions = parseActions(version, r.sub(actionsLen));
      return { version, xid, type, bufferId, inPort, actions, data: r.bytesCopy(r.remaining) };
    }
    case 'flow-mod': {
      if (v10) {
        const match = parseMatch10(r);
        const cookie = r.u64();
        const command = r.u16();
        const idleTimeout = r.u16();
        const hardTimeout = r.u16();
        const priority = r.u16();
        const bufferId = r.u32();
        const outPort = portFrom16(r.u16());
        const flags = r.u16();
        return { version, xid, type, match, cookie, cookieMask: 0n, tableId: 0, command, idleTimeout, hardTimeout, priority, bufferId, outPort, outGroup: 0, flags, instructions: actionsToInstructions(parseActions(version, r)) };
      }
      const cookie = r.u64();
      const cookieMask = r.u64();
      const tableId = r.u8();
      const command = r.u8();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const priority = r.u16();
      const bufferId = r.u32();
      const outPort = r.u32();
      const outGroup = r.u32();
      const flags = r.u16();
      r.skip(2);
      const match = parseMatch13(r);
      return { version, xid, type, cookie, cookieMask, tableId, command, idleTimeout, hardTimeout, priority, bufferId, outPort, outGroup, flags, match, instructions: parseInstructions(r) };
    }
    case 'multipart-request': case 'multipart-reply': {
      const statsType = r.u16();
      const flags = r.u16();
      if (!v10) r.skip(4);
      return type === 'multipart-request'
        ? { version, xid, type, flags, body: parseMultipartRequest(version, statsType, r) }
        : { version, xid, type, flags, body: parseMultipartReply(version, statsType, r) };
    }
    case 'experimenter': return { version, xid, type, ...parseExperimenter(version, r) };
    case 'port-mod': {
      const portNo = readPort(version, r);
      if (!v10) r.skip(4);
      const hwAddr = readMac(r);
      if (!v10) r.skip(2);
      const config = r.u32();
      const mask = r.u32();
      const advertise = r.u32();
      r.skip(4);
      return { version, xid, type, portNo, hwAddr, config, mask, advertise };
    }
    case 'table-mod': {
      const tableId = r.u8();
      r.skip(3);
      return { version, xid, type, tableId, config: r.u32() };
    }
    case 'group-mod': return { version, xid, type, ...parseGroupMod(r) };
    case 'meter-mod': return { version, xid, type, ...parseMeterMod(r) };
    case 'role-request': case 'role-reply': {
      const role = r.u32();
      r.skip(4);
      return { version, xid, type, role, generationId: r.u64() };
    }
    case 'get-async-reply': case 'set-async': {
      const packetInMask: AsyncMask = [r.u32(), r.u32()];
      const portStatusMask: AsyncMask = [r.u32(), r.u32()];
      const flowRemovedMask: AsyncMask = [r.u32(), r.u32()];
      return { version, xid, type, packetInMask, portStatusMask, flowRemovedMask };
    }
    case 'queue-get-config-request': {
      const port = readPort(version, r);
      r.skip(v10 ? 2 : 4);
      return { version, xid, type, port };
    }
    case 'queue-get-config-reply': {
      const port = readPort(version, r);
      r.skip(v10 ? 6 : 4);
      return { version, xid, type, port, queues: readAll(r, (q) => parseQueue(version, q)) };
    }
    default:
      throw new DecodeError('bad-type', `OpenFlow message type ${type} is not supported`);
  }
}

/**
 * Parses one whole message (exactly `bytes`). Throws `DecodeError` with reason `'bad-version'`,
 * `'bad-type'`, `'bad-length'`, `'truncated'` or a field-specific reason.
 */
export function parseMessage(bytes: Uint8Array, options: ParseOptions = {}): OfpMessage {
  const view = new OfpHeaderView(bytes);
  if (view.length !== bytes.length || view.length < HEADER.SIZE) {
    throw new DecodeError('bad-length', `header length ${view.length} but message is ${bytes.length} bytes`, HEADER.LENGTH);
  }
  const versions = options.versions ?? [OFP_VERSION_1_0, OFP_VERSION_1_3];
  const version = view.version;
  // HELLO is read at any version: negotiation (1.3 §6.3.1) must see the peer's highest version.
  if (view.type !== 0 && !versions.includes(version)) throw new DecodeError('bad-version', `OpenFlow version ${version} is not spoken`, HEADER.VERSION);
  const names = version === OFP_VERSION_1_0 ? typeName10 : typeName13;
  const type = names.get(view.type);
  if (type === undefined) throw new DecodeError('bad-type', `OpenFlow ${version} message type ${view.type} is not defined`, HEADER.TYPE);
  const reader = new ByteReader(bytes, HEADER.SIZE);
  const message = parseBody(version === OFP_VERSION_1_0 ? OFP_VERSION_1_0 : OFP_VERSION_1_3, type, view.xid, reader);
  // A fixed-layout body followed by more bytes means the header's length lies (OFPBRC_BAD_LEN).
  // HELLO is exempt: later versions may append elements this one cannot read (1.3 §7.5.1).
  if (reader.remaining !== 0 && type !== 'hello') {
    throw new DecodeError('bad-length', `${reader.remaining} bytes left over after an OpenFlow ${type} body`, reader.offset);
  }
  return message.version === version ? message : { ...message, version };
}

/** Emits a message; throws `UnsupportedError` when its content has no encoding in its version. */
export function emitMessage(message: OfpMessage): Uint8Array {
  const version: OfpVersion = message.version === OFP_VERSION_1_0 ? OFP_VERSION_1_0 : OFP_VERSION_1_3;
  const v10 = version === OFP_VERSION_1_0;
  const types: Record<string, number> = v10 ? OFP10.TYPES : OFP13.TYPES;
  const typeCode = types[message.type];
  if (typeCode === undefined) throw new UnsupportedError(`OpenFlow ${message.type} has no encoding in version ${version}`);
  const w = new ByteWriter(256, OFP_MAX_MESSAGE);
  w.u8(message.version).u8(typeCode).u16(0).u32(message.xid >>> 0);
  const m = message;
  switch (m.type) {
    case 'hello': if (m.versions !== undefined) emitHello(w, m.versions); break;
    case 'error':
      w.u16(m.errorType).u16(m.code);
      if (!v10 && m.errorType === OFPET_EXPERIMENTER) w.u32(m.experimenter ?? 0);
      w.bytes(m.data);
      break;
    case 'echo-request': case 'echo-reply': w.bytes(m.data); break;
    case 'features-request': case 'get-config-request': case 'barrier-request': case 'barrier-reply': case 'get-async-request': break;
    case 'features-reply':
      w.u64(m.datapathId).u32(m.nBuffers).u8(m.nTables);
      if (v10) w.u8(0).u16(0); else w.u8(m.auxiliaryId).u16(0);
      w.u32(m.capabilities).u32(v10 ? m.actions : 0);
      if (v10) for (const port of m.ports) emitPort(version, w, port);
      break;
    case 'get-config-reply': case 'set-config': w.u16(m.flags).u16(m.missSendLen); break;
    case 'packet-in':
      w.u32(m.bufferId).u16(m.totalLen);
      if (v10) w.u16(portTo16(m.match.inPort ?? 0)).u8(m.reason).u8(0);
      else {
        w.u8(m.reason).u8(m.tableId).u64(m.cookie);
        emitMatch13(w, m.match);
        w.u16(0);
      }
      w.bytes(m.data);
      break;
    case 'flow-removed':
      if (v10) {
        emitMatch10(w, m.match);
        w.u64(m.cookie).u16(m.priority).u8(m.reason).u8(0).u32(m.durationSec).u32(m.durationNsec).u16(m.idleTimeout).u16(0);
        w.u64(m.packetCount).u64(m.byteCount);
      } else {
        w.u64(m.cookie).u16(m.priority).u8(m.reason).u8(m.tableId).u32(m.durationSec).u32(m.durationNsec);
        w.u16(m.idleTimeout).u16(m.hardTimeout).u64(m.packetCount).u64(m.byteCount);
        emitMatch13(w, m.match);
      }
      break;
    case 'port-status':
      w.u8(m.reason).u8(0).u16(0).u32(0);
      emitPort(version, w, m.port);
      break;
    case 'packet-out': {
      w.u32(m.bufferId);
      if (v10) w.u16(portTo16(m.inPort)); else w.u32(m.inPort);
      const lengthAt = w.length;
      w.u16(0);
      if (!v10) w.u16(0).u32(0);
      const start = w.length;
      emitActions(version, w, m.actions);
      w.patchU16(lengthAt, w.length - start);
      w.bytes(m.data);
      break;
    }
    case 'flow-mod':
      if (v10) {
        emitMatch10(w, m.match);
        w.u64(m.cookie).u16(m.command).u16(m.idleTimeout).u16(m.hardTimeout).u16(m.priority).u32(m.bufferId);
        w.u16(portTo16(m.outPort)).u16(m.flags);
        emitActions(version, w, instructionsToActions(m.instructions));
      } else {
        w.u64(m.cookie).u64(m.cookieMask).u8(m.tableId).u8(m.command).u16(m.idleTimeout).u16(m.hardTimeout).u16(m.priority);
        w.u32(m.bufferId).u32(m.outPort).u32(m.outGroup).u16(m.flags).u16(0);
        emitMatch13(w, m.match);
        emitInstructions(w, m.instructions);
      }
      break;
    case 'multipart-request': case 'multipart-reply':
      w.u16(statsTypeOf(version, m.body)).u16(m.flags);
      if (!v10) w.u32(0);
      if (m.type === 'multipart-request') emitMultipartRequest(version, w, m.body);
      else emitMultipartReply(version, w, m.body);
      break;
    case 'experimenter': emitExperimenter(version, w, m); break;
    case 'port-mod':
      writePort(version, w, m.portNo);
      if (!v10) w.u32(0);
      writeMac(w, m.hwAddr);
      if (!v10) w.u16(0);
      w.u32(m.config).u32(m.mask).u32(m.advertise).u32(0);
      break;
    case 'table-mod': w.u8(m.tableId).u8(0).u16(0).u32(m.config); break;
    case 'group-mod': emitGroupMod(w, m); break;
    case 'meter-mod': emitMeterMod(w, m); break;
    case 'role-request': case 'role-reply': w.u32(m.role).u32(0).u64(m.generationId); break;
    case 'get-async-reply': case 'set-async':
      for (const mask of [m.packetInMask, m.portStatusMask, m.flowRemovedMask]) w.u32(mask[0]).u32(mask[1]);
      break;
    case 'queue-get-config-request':
      writePort(version, w, m.port);
      if (v10) w.u16(0); else w.u32(0);
      break;
    case 'queue-get-config-reply':
      writePort(version, w, m.port);
      if (v10) w.u16(0).u32(0); else w.u32(0);
      for (const queue of m.queues) emitQueue(version, w, queue);
      break;
  }
  w.patchU16(HEADER.LENGTH, w.length);
  return w.finish();
}

/**
 * The error a receiver sends back for a message it cannot take (1.3 §7.4.4): `OFPET_BAD_REQUEST`
 * with a code from the decode failure, carrying the first 64 bytes of the offending message.
 */
export function errorFor(version: number, offending: Uint8Array, errorType: number, code: number): OfpMessage {
  const xid = offending.length >= HEADER.SIZE ? readU32(offending, HEADER.XID) : 0;
  return { version, xid, type: 'error', errorType, code, data: offending.slice(0, 64) };
}

/** Error type and code per DecodeError reason (1.3 §7.4.4); anything else is OFPBRC_BAD_LEN. */
const REFUSALS: Readonly<Record<string, readonly [number, number]>> = {
  'bad-type': [OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE],
  'bad-version': [OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION],
  'bad-action': [OFPET_BAD_ACTION, OFPBAC_BAD_TYPE],
  'bad-action-length': [OFPET_BAD_ACTION, OFPBAC_BAD_LEN],
  // More than one OXM, or a masked one, in a set-field (1.3 §7.2.5); 1.0 never raises it.
  'bad-set-field': [OFPET_BAD_ACTION, OFPBAC_BAD_SET_ARGUMENT],
};
/** 1.3 only: OpenFlow 1.0 has no bad-instruction or bad-match error types. */
const REFUSALS_13: Readonly<Record<string, readonly [number, number]>> = {
  'bad-instruction': [OFPET_BAD_INSTRUCTION, OFPBIC_UNKNOWN_INST],
  'bad-instruction-length': [OFPET_BAD_INSTRUCTION, OFPBIC_BAD_LEN],
  'bad-match-type': [OFPET_BAD_MATCH, OFPBMC_BAD_TYPE],
  'bad-match-length': [OFPET_BAD_MATCH, OFPBMC_BAD_LEN],
  'bad-oxm-length': [OFPET_BAD_MATCH, OFPBMC_BAD_LEN],
  'duplicate-oxm': [OFPET_BAD_MATCH, OFPBMC_DUP_FIELD],
  'bad-meter-band': [OFPET_METER_MOD_FAILED, OFPMMFC_BAD_BAND],
};

/**
 * The ERROR that refuses a message {@link parseMessage} rejected with `error`: an undefined type
 * is OFPET_BAD_REQUEST/OFPBRC_BAD_TYPE, a version we do not speak OFPBRC_BAD_VERSION, a bad
 * action, instruction or match its own error type (1.3 §7.4.4), anything else OFPBRC_BAD_LEN;
 * it carries the first 64 bytes of `offending`.
 */
export function errorForDecodeError(version: number, offending: Uint8Array, error: DecodeError): OfpMessage {
  const refusal = REFUSALS[error.reason] ?? (version === OFP_VERSION_1_0 ? undefined : REFUSALS_13[error.reason]);
  const [errorType, code] = refusal ?? [OFPET_BAD_REQUEST, OFPBRC_BAD_LEN];
  return errorFor(version, offending, errorType, code);
}

/** Highest version both sides speak (1.3 §6.3.1), from our list and the peer's HELLO; undefined when none. */
export function negotiateVersion(ours: readonly number[], peerHello: { readonly version: number; readonly versions?: readonly number[] }): number | undefined {
  if (peerHello.versions !== undefined) {
    const common = ours.filter((version) => peerHello.versions?.includes(version));
    return common.length > 0 ? Math.max(...common) : undefined;
  }
  const candidate = Math.min(Math.max(...ours), peerHello.version);
  return ours.includes(candidate) ? candidate : undefined;
}

