/**
 * The controller's per-message fast path. A reactive controller's traffic is mostly PACKET_INs
 * in and FLOW_MODs / PACKET_OUTs out: {@link RawPacketIn} reads a PACKET_IN's fields in place
 * from the receive buffer (no repr, no copy), and {@link FlowModTemplate} and
 * {@link PacketOutTemplate} write the two answers by patching bytes the general codec emitted
 * once, so every message they write is byte for byte what `emitMessage` makes of the same repr.
 */
import { readU16, readU32, writeU16, writeU32 } from '@morgana/core';
import { OFPFC_ADD, OFPG_ANY, OFPP_ANY, OFP_VERSION_1_0, OFP_VERSION_1_3, OFP13 } from './constants.js';
import { OXM_FIELDS, type Match, portFrom16, portTo16 } from './match.js';
import { HEADER, type OfpMessage, emitMessage } from './wire.js';

/** OFPT_PACKET_IN: the same number in 1.0 and 1.3. */
export const OFPT_PACKET_IN = 10;

/** ofp_packet_in, OpenFlow 1.0.0 §5.4.1: named offsets from the message start. */
export const PACKET_IN10 = { BUFFER_ID: 8, TOTAL_LEN: 12, IN_PORT: 14, REASON: 16, DATA: 18 } as const;
/** ofp_packet_in, OpenFlow 1.3 §7.4.1: the match (variable, padded to 8) starts at MATCH, 2 pad bytes follow it. */
export const PACKET_IN13 = { BUFFER_ID: 8, TOTAL_LEN: 12, REASON: 14, TABLE_ID: 15, COOKIE: 16, MATCH: 24 } as const;

/** `RawPacketIn.inPort` of a 1.3 PACKET_IN whose match has no IN_PORT field. */
export const NO_IN_PORT = -1;

const TWO_32 = 0x1_0000_0000;
/** What the OXM walk returns for a match it leaves to the general parser. */
const GENERAL_PARSE = -2;

/** Value width of each named OXM field of class OPENFLOW_BASIC, by field number (0 = not named). */
const OXM_WIDTH = new Uint8Array(64);
for (const entry of OXM_FIELDS) if (entry.field < 64) OXM_WIDTH[entry.field] = entry.width;

/** A 48-bit MAC address at `at`, as a number. */
export function readMacAt(bytes: Uint8Array, at: number): number {
  return readU16(bytes, at) * TWO_32 + readU32(bytes, at + 2);
}

/** Writes a 48-bit MAC address held in a number. */
export function writeMacAt(bytes: Uint8Array, at: number, mac: number): void {
  const high = Math.floor(mac / TWO_32);
  writeU16(bytes, at, high);
  writeU32(bytes, at + 2, mac - high * TWO_32);
}

function copyBytes(target: Uint8Array, at: number, source: Uint8Array, from: number, length: number): void {
  // Short frames (the usual PACKET_IN) copy faster by hand than through a subarray view.
  if (length <= 128) {
    for (let index = 0; index < length; index += 1) target[at + index] = source[from + index] as number;
  } else {
    target.set(source.subarray(from, from + length), at);
  }
}

/**
 * Walks a 1.3 OXM match body at [start, end) and returns its IN_PORT value, NO_IN_PORT, or
 * GENERAL_PARSE to leave the message to the general parser. Only matches of named OpenFlow-basic fields,
 * each once and at its width (the checks `parseMatch13` makes on them), are read here: anything
 * else (another class, an unnamed field, a malformed TLV) goes the general way, which reports
 * an error or delivers the message as it reads it.
 */
function scanOxmInPort(bytes: Uint8Array, start: number, end: number): number {
  let at = start;
  // Fields seen so far: named fields are numbered below 64, one bit each in two words.
  let seenLow = 0;
  let seenHigh = 0;
  let inPort = NO_IN_PORT;
  while (at < end) {
    if (end - at < 4 || readU16(bytes, at) !== OFP13.OXM_CLASS_OPENFLOW_BASIC) return GENERAL_PARSE;
    const fieldAndMask = bytes[at + 2] as number;
    const length = bytes[at + 3] as number;
    const field = fieldAndMask >> 1;
    const width = field < 64 ? (OXM_WIDTH[field] as number) : 0;
    const value = at + 4;
    if (width === 0 || length !== ((fieldAndMask & 1) === 1 ? 2 * width : width) || end - value < length) return GENERAL_PARSE;
    const bit = 1 << (field & 31);
    if (field < 32) {
      if ((seenLow & bit) !== 0) return GENERAL_PARSE;
      seenLow |= bit;
    } else {
      if ((seenHigh & bit) !== 0) return GENERAL_PARSE;
      seenHigh |= bit;
    }
    if (field === 0) inPort = readU32(bytes, value);
    at = value + length;
  }
  return inPort;
}

/**
 * A PACKET_IN read in place: numbers, and the frame's position in `bytes`. The controller hands
 * one reused instance to packet-in handlers; it is valid only during the call (copy what you keep).
 */
export class RawPacketIn {
  /** The receive buffer holding the message. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Where the message starts in `bytes`, and its length. */
  offset = 0;
  length = 0;
  version = 0;
  xid = 0;
  bufferId = 0;
  totalLen = 0;
  reason = 0;
  /** 1.3 only (0 from 1.0). */
  tableId = 0;
  /** 32-bit form (1.0's reserved ports widened as in reprs); NO_IN_PORT when a 1.3 match lacks it. */
  inPort = NO_IN_PORT;
  /** Where the frame starts in `bytes`, and its length. */
  dataOffset = 0;
  dataLength = 0;
  /** The Clock's time when the message's read completed. */
  receivedAt = 0;

  /**
   * Reads the PACKET_IN at `bytes[offset, offset + length)` of `version`. Returns false, leaving
   * the fields undefined, for a message `parseMessage` rejects, and for a 1.3 match with fields
   * this reader leaves to it (see scanOxmInPort): the controller then parses it the general way.
   */
  read(bytes: Uint8Array, offset: number, length: number, version: number): boolean {
    if (bytes[offset + HEADER.TYPE] !== OFPT_PACKET_IN || readU16(bytes, offset + HEADER.LENGTH) !== length) return false;
    const end = offset + length;
    if (version === OFP_VERSION_1_0) {
      if (length < PACKET_IN10.DATA) return false;
      this.inPort = portFrom16(readU16(bytes, offset + PACKET_IN10.IN_PORT));
      this.reason = bytes[offset + PACKET_IN10.REASON] as number;
      this.tableId = 0;
      this.dataOffset = offset + PACKET_IN10.DATA;
    } else if (version === OFP_VERSION_1_3) {
      const match = offset + PACKET_IN13.MATCH;
      if (length < PACKET_IN13.MATCH + 4) return false;
      const matchLength = readU16(bytes, match + 2);
      if (readU16(bytes, match) !== OFP13.MATCH_TYPE_OXM || matchLength < 4) return false;
      const padded = match + matchLength + ((8 - (matchLength % 8)) % 8);
      // The padded match, then 2 pad bytes, must fit before the frame.
      if (padded + 2 > end) return false;
      const inPort = scanOxmInPort(bytes, match + 4, match + matchLength);
      if (inPort === GENERAL_PARSE) return false;
      this.inPort = inPort;
      this.reason = bytes[offset + PACKET_IN13.REASON] as number;
      this.tableId = bytes[offset + PACKET_IN13.TABLE_ID] as number;
      this.dataOffset = padded + 2;
    } else {
      return false;
    }
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    this.version = version;
    this.xid = readU32(bytes, offset + HEADER.XID);
    this.bufferId = readU32(bytes, offset + PACKET_IN10.BUFFER_ID);
    this.totalLen = readU16(bytes, offset + PACKET_IN10.TOTAL_LEN);
    this.dataLength = end - this.dataOffset;
    return true;
  }

  /** Fills the fields from a parsed PACKET_IN whose bytes are `bytes[offset, offset + length)`. */
  fromMessage(message: Extract<OfpMessage, { type: 'packet-in' }>, bytes: Uint8Array, offset: number, length: number): void {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    this.version = message.version;
    this.xid = message.xid;
    this.bufferId = message.bufferId;
    this.totalLen = message.totalLen;
    this.reason = message.reason;
    this.tableId = message.tableId;
    this.inPort = message.match.inPort ?? NO_IN_PORT;
    // The frame is the message's tail in both versions.
    this.dataLength = message.data.length;
    this.dataOffset = offset + length - message.data.length;
  }

  /** The frame's destination MAC; the frame must hold at least 6 bytes. */
  ethDst(): number {
    return readMacAt(this.bytes, this.dataOffset);
  }

  /** The frame's source MAC; the frame must hold at least 12 bytes. */
  ethSrc(): number {
    return readMacAt(this.bytes, this.dataOffset + 6);
  }

  /** A copy of the frame. */
  data(): Uint8Array {
    return this.bytes.slice(this.dataOffset, this.dataOffset + this.dataLength);
  }
}

/** The constant fields of a {@link FlowModTemplate}. */
export interface FlowModSettings {
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly priority: number;
  /** Default 0. */
  readonly cookie?: bigint;
  /** Default 0 (1.3 only). */
  readonly tableId?: number;
  /** Default 0. */
  readonly flags?: number;
  /** max_len of the output action; default 0. */
  readonly maxLen?: number;
}

/** Patch offsets of the exact-match FLOW_MOD layouts (from the message start). */
const FLOW_MOD10 = { IN_PORT: 12, ETH_SRC: 14, ETH_DST: 20, BUFFER_ID: 64, OUTPUT_PORT: 76, SIZE: 80 } as const;
/** 1.3: the match's OXMs come in field order: IN_PORT (value at 56), ETH_DST (64), ETH_SRC (74). */
const FLOW_MOD13 = { BUFFER_ID: 32, IN_PORT: 56, ETH_DST: 64, ETH_SRC: 74, OUTPUT_PORT: 92, SIZE: 104 } as const;

/**
 * OFPFC_ADD of a flow matching exactly in_port, eth_src and eth_dst with one output action (the
 * learning switch's flow), written by patching bytes the general codec emitted once.
 */
export class FlowModTemplate {
  readonly size: number;
  private readonly bytes: Uint8Array;

  constructor(readonly version: number, private readonly settings: FlowModSettings) {
    if (version !== OFP_VERSION_1_0 && version !== OFP_VERSION_1_3) throw new RangeError(`no FLOW_MOD template for OpenFlow version ${version}`);
    this.bytes = emitMessage(this.message(0, 0, 1, 0, 0, 1));
    this.size = this.bytes.length;
    // The patch offsets below assume the codec's layout; a codec that lays it out otherwise is caught here.
    if (this.size !== (version === OFP_VERSION_1_0 ? FLOW_MOD10.SIZE : FLOW_MOD13.SIZE)) throw new RangeError(`FLOW_MOD template is ${this.size} bytes, not the layout's`);
  }

  /** The repr the template writes, for the given per-message fields. */
  message(xid: number, bufferId: number, inPort: number, ethSrc: number, ethDst: number, outPort: number): OfpMessage {
    const s = this.settings;
    const match: Match = { inPort, ethSrc, ethDst };
    return {
      version: this.version, xid, type: 'flow-mod', cookie: s.cookie ?? 0n, cookieMask: 0n, tableId: s.tableId ?? 0, command: OFPFC_ADD,
      idleTimeout: s.idleTimeout, hardTimeout: s.hardTimeout, priority: s.priority, bufferId, outPort: OFPP_ANY, outGroup: OFPG_ANY,
      flags: s.flags ?? 0, match, instructions: [{ type: 'apply-actions', actions: [{ type: 'output', port: outPort, maxLen: s.maxLen ?? 0 }] }],
    };
  }

  /** Writes the message at `target[at]` (size bytes). */
  write(target: Uint8Array, at: number, xid: number, bufferId: number, inPort: number, ethSrc: number, ethDst: number, outPort: number): void {
    target.set(this.bytes, at);
    writeU32(target, at + HEADER.XID, xid);
    if (this.version === OFP_VERSION_1_0) {
      writeU16(target, at + FLOW_MOD10.IN_PORT, portTo16(inPort));
      writeMacAt(target, at + FLOW_MOD10.ETH_SRC, ethSrc);
      writeMacAt(target, at + FLOW_MOD10.ETH_DST, ethDst);
      writeU32(target, at + FLOW_MOD10.BUFFER_ID, bufferId);
      writeU16(target, at + FLOW_MOD10.OUTPUT_PORT, portTo16(outPort));
    } else {
      writeU32(target, at + FLOW_MOD13.BUFFER_ID, bufferId);
      writeU32(target, at + FLOW_MOD13.IN_PORT, inPort);
      writeMacAt(target, at + FLOW_MOD13.ETH_DST, ethDst);
      writeMacAt(target, at + FLOW_MOD13.ETH_SRC, ethSrc);
      writeU32(target, at + FLOW_MOD13.OUTPUT_PORT, outPort);
    }
  }
}

/** Patch offsets of the one-output PACKET_OUT layouts. */
const PACKET_OUT10 = { BUFFER_ID: 8, IN_PORT: 12, OUTPUT_PORT: 20, DATA: 24 } as const;
const PACKET_OUT13 = { BUFFER_ID: 8, IN_PORT: 12, OUTPUT_PORT: 28, DATA: 40 } as const;

/** A PACKET_OUT with one output action and the frame (or none, for a buffered packet), from a template. */
export class PacketOutTemplate {
  /** Bytes before the frame. */
  readonly headSize: number;
  private readonly head: Uint8Array;

  constructor(readonly version: number, private readonly maxLen = 0) {
    if (version !== OFP_VERSION_1_0 && version !== OFP_VERSION_1_3) throw new RangeError(`no PACKET_OUT template for OpenFlow version ${version}`);
    this.head = emitMessage(this.message(0, 0, 0, 0, new Uint8Array(0)));
    this.headSize = this.head.length;
    if (this.headSize !== (version === OFP_VERSION_1_0 ? PACKET_OUT10.DATA : PACKET_OUT13.DATA)) throw new RangeError(`PACKET_OUT template is ${this.headSize} bytes, not the layout's`);
  }

  /** The repr the template writes. */
  message(xid: number, bufferId: number, inPort: number, outPort: number, data: Uint8Array): OfpMessage {
    return { version: this.version, xid, type: 'packet-out', bufferId, inPort, actions: [{ type: 'output', port: outPort, maxLen: this.maxLen }], data };
  }

  /** Writes the message, with `source[from, from + length)` as its frame, at `target[at]` (headSize + length bytes). */
  write(target: Uint8Array, at: number, xid: number, bufferId: number, inPort: number, outPort: number, source: Uint8Array, from: number, length: number): void {
    target.set(this.head, at);
    writeU16(target, at + HEADER.LENGTH, this.headSize + length);
    writeU32(target, at + HEADER.XID, xid);
    writeU32(target, at + PACKET_OUT10.BUFFER_ID, bufferId);
    if (this.version === OFP_VERSION_1_0) {
      writeU16(target, at + PACKET_OUT10.IN_PORT, portTo16(inPort));
      writeU16(target, at + PACKET_OUT10.OUTPUT_PORT, portTo16(outPort));
    } else {
      writeU32(target, at + PACKET_OUT13.IN_PORT, inPort);
      writeU32(target, at + PACKET_OUT13.OUTPUT_PORT, outPort);
    }
    copyBytes(target, at + this.headSize, source, from, length);
  }
}
