/**
 * How the switch shows its state to controllers: OpenFlow 1.0 views of 1.3-style flow state
 * (VLAN match values, action lists), statistics bodies and the table-features reply.
 */
import { ByteWriter } from '@morgana/core';
import { type Action, type Instruction, emitActions } from './actions.js';
import { OFP13, OFPET_BAD_ACTION, OFPET_BAD_REQUEST, OFPET_FLOW_MOD_FAILED, OFPET_PORT_MOD_FAILED, OFPVID_PRESENT, OFP_VERSION_1_0 } from './constants.js';
import { type Match, type MatchFieldName, OXM_FIELDS } from './match.js';

/** OFPVID_NONE in a 1.0 match: "no tag" (1.0.0 §5.2.3). */
const OFP10_VLAN_NONE = 0xffff;

/**
 * A 1.0 match in the switch's 1.3 terms: a bare VID becomes VID | OFPVID_PRESENT and
 * 0xffff ("untagged") becomes OFPVID_NONE (0), so one table serves both versions.
 */
export function matchFrom10(match: Match): Match {
  if (match.vlanVid === undefined) return match;
  return { ...match, vlanVid: match.vlanVid === OFP10_VLAN_NONE ? 0 : (match.vlanVid & 0x0fff) | OFPVID_PRESENT };
}

/** Fields an OpenFlow 1.0 `ofp_match` has (1.0.0 §5.2.3), and the ones it can mask (IPv4 prefixes). */
const FIELDS_10: ReadonlySet<string> = new Set([
  'inPort', 'ethSrc', 'ethDst', 'vlanVid', 'vlanPcp', 'ethType', 'ipDscp', 'ipProto', 'arpOp', 'ipv4Src', 'ipv4Dst', 'arpSpa',
  'arpTpa', 'tcpSrc', 'tcpDst', 'udpSrc', 'udpDst', 'sctpSrc', 'sctpDst', 'icmpv4Type', 'icmpv4Code',
]);
const MASKABLE_10: ReadonlySet<string> = new Set(['ipv4Src', 'ipv4Dst', 'arpSpa', 'arpTpa']);

/**
 * The 1.0 view of a stored match, for statistics and FLOW_REMOVED: VLAN values back to 1.0's,
 * and only what a 1.0 match can say (a flow installed over 1.3 with other fields reads wider).
 */
export function matchTo10(match: Match): Match {
  const view: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(match)) if (FIELDS_10.has(name)) view[name] = value;
  const masks = Object.fromEntries(Object.entries(match.masks ?? {}).filter(([name]) => MASKABLE_10.has(name) && name in view));
  if (Object.keys(masks).length > 0) view.masks = masks;
  if (match.vlanVid !== undefined) view.vlanVid = (match.vlanVid & OFPVID_PRESENT) === 0 ? OFP10_VLAN_NONE : match.vlanVid & 0x0fff;
  return view as Match;
}

/** OpenFlow 1.0's error types (1.0.0 §5.4.4) where they differ from 1.3's numbering. */
const OFPET10_FLOW_MOD_FAILED = 3;
const OFPET10_PORT_MOD_FAILED = 4;
/** ofp_flow_mod_failed_code in 1.0: ALL_TABLES_FULL, OVERLAP, EPERM, BAD_EMERG_TIMEOUT, BAD_COMMAND, UNSUPPORTED. */
const FLOW_MOD_10: Readonly<Record<number, number>> = { 1: 0, 3: 1, 4: 2, 6: 4 };
const OFPFMFC10_UNSUPPORTED = 5;

/**
 * A 1.3 error (type and code) as OpenFlow 1.0 numbers it: bad-request and bad-action codes
 * agree, flow-mod and port-mod failures move, and 1.3-only refusals (bad instruction, bad
 * match, a table past 0) become a flow-mod failure "unsupported".
 */
export function errorIn10(error: { readonly type: number; readonly code: number }): { type: number; code: number } {
  switch (error.type) {
    case OFPET_BAD_REQUEST: case OFPET_BAD_ACTION: return { type: error.type, code: error.code };
    case OFPET_FLOW_MOD_FAILED: return { type: OFPET10_FLOW_MOD_FAILED, code: FLOW_MOD_10[error.code] ?? OFPFMFC10_UNSUPPORTED };
    case OFPET_PORT_MOD_FAILED: return { type: OFPET10_PORT_MOD_FAILED, code: error.code };
    default: return { type: OFPET10_FLOW_MOD_FAILED, code: OFPFMFC10_UNSUPPORTED };
  }
}

function encodable10(action: Action): boolean {
  try {
    emitActions(OFP_VERSION_1_0, new ByteWriter(32), [action]);
    return true;
  } catch {
    return false;
  }
}

/** The 1.0 view of an entry's instructions: its apply-actions that 1.0 can encode, as one list. */
export function instructionsTo10(instructions: readonly Instruction[]): Instruction[] {
  const actions = instructions.flatMap((instruction) => (instruction.type === 'apply-actions' ? instruction.actions : [])).filter(encodable10);
  return actions.length > 0 ? [{ type: 'apply-actions', actions }] : [];
}

/** Instructions this switch executes (table-features property OFPTFPT_INSTRUCTIONS). */
const INSTRUCTIONS = [OFP13.INSTRUCTIONS.GOTO_TABLE, OFP13.INSTRUCTIONS.WRITE_METADATA, OFP13.INSTRUCTIONS.WRITE_ACTIONS, OFP13.INSTRUCTIONS.APPLY_ACTIONS, OFP13.INSTRUCTIONS.CLEAR_ACTIONS, OFP13.INSTRUCTIONS.METER];
/** Actions it executes. */
export const SWITCH_ACTIONS: readonly number[] = [
  OFP13.ACTIONS.OUTPUT, OFP13.ACTIONS.PUSH_VLAN, OFP13.ACTIONS.POP_VLAN, OFP13.ACTIONS.SET_QUEUE, OFP13.ACTIONS.GROUP,
  OFP13.ACTIONS.SET_NW_TTL, OFP13.ACTIONS.DEC_NW_TTL, OFP13.ACTIONS.SET_FIELD,
];
/** Fields it extracts from packets and can match and set. */
const PACKET_FIELDS: readonly MatchFieldName[] = [
  'inPort', 'inPhyPort', 'ethDst', 'ethSrc', 'ethType', 'vlanVid', 'vlanPcp', 'ipDscp', 'ipEcn', 'ipProto', 'ipv4Src', 'ipv4Dst',
  'tcpSrc', 'tcpDst', 'udpSrc', 'udpDst', 'sctpSrc', 'sctpDst', 'icmpv4Type', 'icmpv4Code', 'arpOp', 'arpSpa', 'arpTpa', 'arpSha', 'arpTha',
];
const SET_FIELDS = PACKET_FIELDS.filter((name) => name !== 'inPort' && name !== 'inPhyPort');
/** OXM_OF_METADATA header (class, field 2, 8 bytes). */
const METADATA_FIELD = 2;

/** OFPTFPT_* property types (1.3.x §7.3.5.5.2). */
const TFPT = { INSTRUCTIONS: 0, NEXT_TABLES: 2, WRITE_ACTIONS: 4, APPLY_ACTIONS: 6, MATCH: 8, WILDCARDS: 10, WRITE_SETFIELD: 12, APPLY_SETFIELD: 14 } as const;

/**
 * The OFPMP_TABLE_FEATURES reply (1.3.x §7.3.5.5.1): one `ofp_table_features` per table with
 * the eight required properties, naming what this switch really implements.
 */
export function tableFeatures(nTables: number, maxEntries: number): Uint8Array[] {
  const tables: Uint8Array[] = [];
  for (let tableId = 0; tableId < nTables; tableId += 1) {
    const writer = new ByteWriter(1024);
    const start = 0;
    writer.u16(0).u8(tableId).u8(0).u32(0);
    const name = `table${tableId}`;
    for (let index = 0; index < 32; index += 1) writer.u8(index < name.length ? name.charCodeAt(index) : 0);
    writer.u64(0xffff_ffff_ffff_ffffn).u64(0xffff_ffff_ffff_ffffn).u32(0).u32(maxEntries);
    const property = (type: number, body: (w: ByteWriter) => void): void => {
      const at = writer.length;
      writer.u16(type).u16(0);
      body(writer);
      const length = writer.length - at;
      writer.patchU16(at + 2, length);
      for (let pad = (8 - (length % 8)) % 8; pad > 0; pad -= 1) writer.u8(0);
    };
    const oxmHeaders = (names: readonly MatchFieldName[], metadata: boolean) => (w: ByteWriter): void => {
      for (const field of OXM_FIELDS.filter((entry) => names.includes(entry.name))) w.u16(OFP13.OXM_CLASS_OPENFLOW_BASIC).u8(field.field << 1).u8(field.width);
      if (metadata) w.u16(OFP13.OXM_CLASS_OPENFLOW_BASIC).u8(METADATA_FIELD << 1).u8(8);
    };
    const last = tableId === nTables - 1;
    property(TFPT.INSTRUCTIONS, (w) => {
      for (const type of INSTRUCTIONS) if (!(last && type === OFP13.INSTRUCTIONS.GOTO_TABLE)) w.u16(type).u16(4);
    });
    property(TFPT.NEXT_TABLES, (w) => {
      for (let next = tableId + 1; next < nTables; next += 1) w.u8(next);
    });
    for (const type of [TFPT.WRITE_ACTIONS, TFPT.APPLY_ACTIONS]) property(type, (w) => { for (const action of SWITCH_ACTIONS) w.u16(action).u16(4); });
    property(TFPT.MATCH, oxmHeaders(PACKET_FIELDS, true));
    property(TFPT.WILDCARDS, oxmHeaders(PACKET_FIELDS, true));
    property(TFPT.WRITE_SETFIELD, oxmHeaders(SET_FIELDS, false));
    property(TFPT.APPLY_SETFIELD, oxmHeaders(SET_FIELDS, false));
    writer.patchU16(start, writer.length - start);
    tables.push(writer.finish());
  }
  return tables;
}
