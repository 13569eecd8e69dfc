/**
 * Actions (OpenFlow 1.0.0 §5.2.4, 1.3.x §7.2.5) and instructions (1.3.x §7.2.4) in one repr
 * for both versions. 1.0's set-* actions are read as `set-field` of the matching field.
 */
import { ByteReader, ByteWriter, DecodeError, UnsupportedError } from '@morgana/core';
import { OFP10, OFP13, OFP_VERSION_1_0, type OfpVersion } from './constants.js';
import { type MatchFieldName, type RawOxm, portFrom16, portTo16, readOxm, writeOxm, writeRawOxm } from './match.js';

export type Action =
  | { readonly type: 'output'; readonly port: number; readonly maxLen: number }
  | { readonly type: 'set-field'; readonly field: MatchFieldName; readonly value: number }
  /** A set-field whose OXM is kept as bytes (IPv6 addresses, metadata, tunnel id, other classes). */
  | { readonly type: 'set-field-oxm'; readonly oxm: RawOxm }
  | { readonly type: 'push-vlan'; readonly ethertype: number }
  | { readonly type: 'pop-vlan' }
  | { readonly type: 'push-mpls'; readonly ethertype: number }
  /** `ethertype`: the payload's Ethertype once the last label is popped. */
  | { readonly type: 'pop-mpls'; readonly ethertype: number }
  | { readonly type: 'push-pbb'; readonly ethertype: number }
  | { readonly type: 'pop-pbb' }
  | { readonly type: 'group'; readonly groupId: number }
  | { readonly type: 'set-queue'; readonly queueId: number }
  | { readonly type: 'copy-ttl-out' }
  | { readonly type: 'copy-ttl-in' }
  | { readonly type: 'set-mpls-ttl'; readonly mplsTtl: number }
  | { readonly type: 'dec-mpls-ttl' }
  | { readonly type: 'set-nw-ttl'; readonly nwTtl: number }
  | { readonly type: 'dec-nw-ttl' }
  /** OpenFlow 1.0 OFPAT_ENQUEUE. */
  | { readonly type: 'enqueue'; readonly port: number; readonly queueId: number }
  /** OFPAT_EXPERIMENTER (1.3) / OFPAT_VENDOR (1.0): carried opaquely; `data` is a multiple of 8 bytes. */
  | { readonly type: 'experimenter'; readonly experimenter: number; readonly data: Uint8Array };

export type Instruction =
  | { readonly type: 'goto-table'; readonly tableId: number }
  | { readonly type: 'write-metadata'; readonly metadata: bigint; readonly mask: bigint }
  | { readonly type: 'write-actions'; readonly actions: readonly Action[] }
  | { readonly type: 'apply-actions'; readonly actions: readonly Action[] }
  | { readonly type: 'clear-actions' }
  | { readonly type: 'meter'; readonly meterId: number }
  /** OFPIT_EXPERIMENTER: carried opaquely; `data` is a multiple of 8 bytes. */
  | { readonly type: 'experimenter'; readonly experimenter: number; readonly data: Uint8Array };

const A10 = OFP10.ACTIONS;
const A13 = OFP13.ACTIONS;
const I13 = OFP13.INSTRUCTIONS;

/** 1.0 set-* action types by field, and the fields they set. */
const SET10: readonly (readonly [number, MatchFieldName])[] = [
  [A10.SET_VLAN_VID, 'vlanVid'], [A10.SET_VLAN_PCP, 'vlanPcp'], [A10.SET_DL_SRC, 'ethSrc'],
  [A10.SET_DL_DST, 'ethDst'], [A10.SET_NW_SRC, 'ipv4Src'], [A10.SET_NW_DST, 'ipv4Dst'],
  [A10.SET_NW_TOS, 'ipDscp'], [A10.SET_TP_SRC, 'tcpSrc'], [A10.SET_TP_DST, 'tcpDst'],
];
const SET10_ALIASES: Partial<Record<MatchFieldName, MatchFieldName>> = {
  udpSrc: 'tcpSrc', sctpSrc: 'tcpSrc', udpDst: 'tcpDst', sctpDst: 'tcpDst',
};

function readMac(reader: ByteReader): number {
  return reader.u16() * 0x1_0000_0000 + reader.u32();
}

function writeMac(writer: ByteWriter, mac: number): void {
  writer.u16(Math.floor(mac / 0x1_0000_0000)).u32(mac % 0x1_0000_0000);
}

function parseAction10(type: number, body: ByteReader): Action {
  switch (type) {
    case A10.OUTPUT: return { type: 'output', port: portFrom16(body.u16()), maxLen: body.u16() };
    case A10.SET_VLAN_VID: return { type: 'set-field', field: 'vlanVid', value: body.u16() };
    case A10.SET_VLAN_PCP: return { type: 'set-field', field: 'vlanPcp', value: body.u8() };
    case A10.STRIP_VLAN: return { type: 'pop-vlan' };
    case A10.SET_DL_SRC: return { type: 'set-field', field: 'ethSrc', value: readMac(body) };
    case A10.SET_DL_DST: return { type: 'set-field', field: 'ethDst', value: readMac(body) };
    case A10.SET_NW_SRC: return { type: 'set-field', field: 'ipv4Src', value: body.u32() };
    case A10.SET_NW_DST: return { type: 'set-field', field: 'ipv4Dst', value: body.u32() };
    case A10.SET_NW_TOS: return { type: 'set-field', field: 'ipDscp', value: body.u8() >> 2 };
    case A10.SET_TP_SRC: return { type: 'set-field', field: 'tcpSrc', value: body.u16() };
    case A10.SET_TP_DST: return { type: 'set-field', field: 'tcpDst', value: body.u16() };
    case A10.ENQUEUE: {
      const port = portFrom16(body.u16());
      body.skip(6);
      return { type: 'enqueue', port, queueId: body.u32() };
    }
    case A10.VENDOR: return { type: 'experimenter', experimenter: body.u32(), data: body.bytesCopy(body.remaining) };
    default: throw new DecodeError('bad-action', `unknown OpenFlow 1.0 action type ${type}`);
  }
}

function parseAction13(type: number, body: ByteReader): Action {
  switch (type) {
    case A13.OUTPUT: return { type: 'output', port: body.u32(), maxLen: body.u16() };
    case A13.PUSH_VLAN: return { type: 'push-vlan', ethertype: body.u16() };
    case A13.POP_VLAN: return { type: 'pop-vlan' };
    case A13.PUSH_MPLS: return { type: 'push-mpls', ethertype: body.u16() };
    case A13.POP_MPLS: return { type: 'pop-mpls', ethertype: body.u16() };
    case A13.PUSH_PBB: return { type: 'push-pbb', ethertype: body.u16() };
    case A13.POP_PBB: return { type: 'pop-pbb' };
    case A13.GROUP: return { type: 'group', groupId: body.u32() };
    case A13.SET_QUEUE: return { type: 'set-queue', queueId: body.u32() };
    case A13.COPY_TTL_OUT: return { type: 'copy-ttl-out' };
    case A13.COPY_TTL_IN: return { type: 'copy-ttl-in' };
    case A13.SET_MPLS_TTL: return { type: 'set-mpls-ttl', mplsTtl: body.u8() };
    case A13.DEC_MPLS_TTL: return { type: 'dec-mpls-ttl' };
    case A13.SET_NW_TTL: return { type: 'set-nw-ttl', nwTtl: body.u8() };
    case A13.DEC_NW_TTL: return { type: 'dec-nw-ttl' };
    case A13.EXPERIMENTER: return { type: 'experimenter', experimenter: body.u32(), data: body.bytesCopy(body.remaining) };
    case A13.SET_FIELD: {
      const fields: Record<string, number> = {};
      const masks: Record<string, number> = {};
      const other: RawOxm[] = [];
      readOxm(body, fields, masks, other);
      const names = Object.keys(fields) as MatchFieldName[];
      // A set-field carries exactly one unmasked OXM (OpenFlow 1.3.x §7.2.5), then zero padding.
      const raw = other[0];
      if (names.length === 0 && raw !== undefined && !raw.hasMask) return { type: 'set-field-oxm', oxm: raw };
      if (names.length !== 1 || other.length > 0 || Object.keys(masks).length > 0) {
        throw new DecodeError('bad-set-field', 'set-field needs one unmasked OXM');
      }
      const field = names[0] as MatchFieldName;
      return { type: 'set-field', field, value: fields[field] as number };
    }
    default: throw new DecodeError('bad-action', `unknown OpenFlow 1.3 action type ${type}`);
  }
}

/** Parses a list of actions filling `reader`. */
export function parseActions(version: OfpVersion, reader: ByteReader): Action[] {
  const actions: Action[] = [];
  while (reader.remaining > 0) {
    const type = reader.u16();
    const length = reader.u16();
    // Every action is a multiple of 8 bytes long (1.0.0 §5.2.4, 1.3.x §7.2.5).
    if (length < 8 || length % 8 !== 0) throw new DecodeError('bad-action-length', `action length ${length} is not a multiple of 8`);
    const body = reader.sub(length - 4);
    actions.push(version === OFP_VERSION_1_0 ? parseAction10(type, body) : parseAction13(type, body));
  }
  return actions;
}

function notInVersion(what: string, version: OfpVersion): never {
  throw new UnsupportedError(`${what} has no encoding in OpenFlow version ${version}`);
}

function emitAction10(writer: ByteWriter, action: Action): void {
  switch (action.type) {
    case 'output': writer.u16(A10.OUTPUT).u16(8).u16(portTo16(action.port)).u16(action.maxLen); return;
    case 'pop-vlan': writer.u16(A10.STRIP_VLAN).u16(8).u32(0); return;
    case 'enqueue': writer.u16(A10.ENQUEUE).u16(16).u16(portTo16(action.port)).u16(0).u32(0).u32(action.queueId); return;
    case 'experimenter': emitExperimenter(writer, A10.VENDOR, action.experimenter, action.data); return;
    case 'set-field': {
      const field = SET10_ALIASES[action.field] ?? action.field;
      const entry = SET10.find(([, name]) => name === field);
      if (entry === undefined) notInVersion(`set-field ${action.field}`, OFP_VERSION_1_0);
      const type = entry[0];
      if (field === 'ethSrc' || field === 'ethDst') {
        writer.u16(type).u16(16);
        writeMac(writer, action.value);
        writer.u16(0).u32(0);
      } else if (field === 'ipv4Src' || field === 'ipv4Dst') {
        writer.u16(type).u16(8).u32(action.value);
      } else if (field === 'vlanPcp' || field === 'ipDscp') {
        writer.u16(type).u16(8).u8(field === 'ipDscp' ? (action.value << 2) & 0xff : action.value).u8(0).u16(0);
      } else {
        writer.u16(type).u16(8).u16(action.value).u16(0);
      }
      return;
    }
    default: notInVersion(`action ${action.type}`, OFP_VERSION_1_0);
  }
}

/** An experimenter (vendor) action or instruction: type, length, id, then data padded to 8 bytes. */
function emitExperimenter(writer: ByteWriter, type: number, experimenter: number, data: Uint8Array): void {
  const pad = (8 - (data.length % 8)) % 8;
  writer.u16(type).u16(8 + data.length + pad).u32(experimenter).bytes(data);
  for (let index = 0; index < pad; index += 1) writer.u8(0);
}

function emitPaddedTo8(writer: ByteWriter, start: number): void {
  const unpadded = writer.length - start;
  const length = unpadded + ((8 - (unpadded % 8)) % 8);
  for (let pad = length - unpadded; pad > 0; pad -= 1) writer.u8(0);
  writer.patchU16(start + 2, length);
}

function emitAction13(writer: ByteWriter, action: Action): void {
  switch (action.type) {
    case 'output': writer.u16(A13.OUTPUT).u16(16).u32(action.port).u16(action.maxLen).u16(0).u32(0); return;
    case 'push-vlan': writer.u16(A13.PUSH_VLAN).u16(8).u16(action.ethertype).u16(0); return;
    case 'pop-vlan': writer.u16(A13.POP_VLAN).u16(8).u32(0); return;
    case 'push-mpls': writer.u16(A13.PUSH_MPLS).u16(8).u16(action.ethertype).u16(0); return;
    case 'pop-mpls': writer.u16(A13.POP_MPLS).u16(8).u16(action.ethertype).u16(0); return;
    case 'push-pbb': writer.u16(A13.PUSH_PBB).u16(8).u16(action.ethertype).u16(0); return;
    case 'pop-pbb': writer.u16(A13.POP_PBB).u16(8).u32(0); return;
    case 'group': writer.u16(A13.GROUP).u16(8).u32(action.groupId); return;
    case 'set-queue': writer.u16(A13.SET_QUEUE).u16(8).u32(action.queueId); return;
    case 'copy-ttl-out': writer.u16(A13.COPY_TTL_OUT).u16(8).u32(0); return;
    case 'copy-ttl-in': writer.u16(A13.COPY_TTL_IN).u16(8).u32(0); return;
    case 'set-mpls-ttl': writer.u16(A13.SET_MPLS_TTL).u16(8).u8(action.mplsTtl).u8(0).u16(0); return;
    case 'dec-mpls-ttl': writer.u16(A13.DEC_MPLS_TTL).u16(8).u32(0); return;
    case 'set-nw-ttl': writer.u16(A13.SET_NW_TTL).u16(8).u8(action.nwTtl).u8(0).u16(0); return;
    case 'dec-nw-ttl': writer.u16(A13.DEC_NW_TTL).u16(8).u32(0); return;
    case 'experimenter': emitExperimenter(writer, A13.EXPERIMENTER, action.experimenter, action.data); return;
    case 'set-field': {
      const start = writer.length;
      writer.u16(A13.SET_FIELD).u16(0);
      writeOxm(writer, action.field, action.value);
      emitPaddedTo8(writer, start);
      return;
    }
    case 'set-field-oxm': {
      const start = writer.length;
      writer.u16(A13.SET_FIELD).u16(0);
      writeRawOxm(writer, action.oxm);
      emitPaddedTo8(writer, start);
      return;
    }
    default: notInVersion(`action ${action.type}`, 4);
  }
}

/** Emits a list of actions; throws `UnsupportedError` for an action the version lacks. */
export function emitActions(version: OfpVersion, writer: ByteWriter, actions: readonly Action[]): void {
  for (const action of actions) {
    if (version === OFP_VERSION_1_0) emitAction10(writer, action);
    else emitAction13(writer, action);
  }
}

/** Parses OpenFlow 1.3 instructions filling `reader`. */
export function parseInstructions(reader: ByteReader): Instruction[] {
  const instructions: Instruction[] = [];
  while (reader.remaining > 0) {
    const type = reader.u16();
    const length = reader.u16();
    if (length < 8 || length % 8 !== 0) throw new DecodeError('bad-instruction-length', `instruction length ${length} is not a multiple of 8`);
    const body = reader.sub(length - 4);
    switch (type) {
      case I13.GOTO_TABLE: instructions.push({ type: 'goto-table', tableId: body.u8() }); break;
      case I13.WRITE_METADATA: body.skip(4); instructions.push({ type: 'write-metadata', metadata: body.u64(), mask: body.u64() }); break;
      case I13.WRITE_ACTIONS: body.skip(4); instructions.push({ type: 'write-actions', actions: parseActions(4, body) }); break;
      case I13.APPLY_ACTIONS: body.skip(4); instructions.push({ type: 'apply-actions', actions: parseActions(4, body) }); break;
      case I13.CLEAR_ACTIONS: instructions.push({ type: 'clear-actions' }); break;
      case I13.METER: instructions.push({ type: 'meter', meterId: body.u32() }); break;
      case I13.EXPERIMENTER: instructions.push({ type: 'experimenter', experimenter: body.u32(), data: body.bytesCopy(body.remaining) }); break;
      default: throw new DecodeError('bad-instruction', `unknown instruction type ${type}`);
    }
  }
  return instructions;
}

/** Emits OpenFlow 1.3 instructions. */
export function emitInstructions(writer: ByteWriter, instructions: readonly Instruction[]): void {
  for (const instruction of instructions) {
    switch (instruction.type) {
      case 'goto-table': writer.u16(I13.GOTO_TABLE).u16(8).u8(instruction.tableId).u8(0).u16(0); break;
      case 'write-metadata': writer.u16(I13.WRITE_METADATA).u16(24).u32(0).u64(instruction.metadata).u64(instruction.mask); break;
      case 'clear-actions': writer.u16(I13.CLEAR_ACTIONS).u16(8).u32(0); break;
      case 'meter': writer.u16(I13.METER).u16(8).u32(instruction.meterId); break;
      case 'experimenter': emitExperimenter(writer, I13.EXPERIMENTER, instruction.experimenter, instruction.data); break;
      case 'write-actions':
      case 'apply-actions': {
        const start = writer.length;
        writer.u16(instruction.type === 'apply-actions' ? I13.APPLY_ACTIONS : I13.WRITE_ACTIONS).u16(0).u32(0);
        emitActions(4, writer, instruction.actions);
        writer.patchU16(start + 2, writer.length - start);
        break;
      }
    }
  }
}
