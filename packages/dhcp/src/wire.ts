/**
 * The DHCP message (RFC 2131 §2, figure 1): the BOOTP header, the magic cookie and options.
 * A view with named offsets, a plain representation, and parse/emit.
 */
import { DecodeError, IPV4_ANY, type Ipv4Address, type MacAddress, readIpv4, readMac, readU16, readU32, writeIpv4, writeMac, writeU16, writeU32 } from '@morgana/core';
import { type DhcpOptions, type RawOptions, interpretOptions, optionsLength, readOptionRegion, writeOptions } from './options.js';

/** Field offsets (RFC 2131 §2, figure 1). */
const OP = 0;
const HTYPE = 1;
const HLEN = 2;
const HOPS = 3;
const XID = 4;
const SECS = 8;
const FLAGS = 10;
const CIADDR = 12;
const YIADDR = 16;
const SIADDR = 20;
const GIADDR = 24;
const CHADDR = 28;
const SNAME = 44;
const FILE = 108;
const COOKIE = 236;
const OPTIONS = 240;

const CHADDR_LENGTH = 16;
const SNAME_LENGTH = 64;
const FILE_LENGTH = 128;
/** 99.130.83.99 (RFC 2131 §3, RFC 2132 §2). */
const MAGIC_COOKIE = 0x63825363;
/** The BROADCAST bit of `flags` (RFC 2131 §2, figure 2). */
const FLAG_BROADCAST = 0x8000;

/** Header and cookie: the shortest DHCP message. */
export const DHCP_MIN_LENGTH = OPTIONS;
/** Messages are padded to the BOOTP minimum, which some relays and servers still expect (RFC 1542 §2.1). */
export const BOOTP_MIN_LENGTH = 300;
/** BOOTP op codes. */
export const BootpOp = { request: 1, reply: 2 } as const;
/** Hardware type of Ethernet (RFC 1700, ARP hardware types). */
export const HTYPE_ETHERNET = 1;

/** The meaning of a DHCP message. */
export interface DhcpMessage {
  readonly op: number;
  readonly htype: number;
  readonly hops: number;
  readonly xid: number;
  readonly secs: number;
  /** The BROADCAST flag: the client asks for replies to be broadcast. */
  readonly broadcast: boolean;
  readonly ciaddr: Ipv4Address;
  readonly yiaddr: Ipv4Address;
  readonly siaddr: Ipv4Address;
  readonly giaddr: Ipv4Address;
  /** Client hardware address, `hlen` bytes (at most 16). */
  readonly chaddr: Uint8Array;
  /** Server host name and boot file name, empty when absent or when they carry options. */
  readonly sname: string;
  readonly file: string;
  readonly options: DhcpOptions;
}

/** A view over a DHCP message; {@link DhcpPacket.check} validates the fixed part first. */
export class DhcpPacket {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** Throws {@link DecodeError} unless the fixed header and a valid magic cookie are present. */
  static check(bytes: Uint8Array): DhcpPacket {
    if (bytes.length < DHCP_MIN_LENGTH) throw new DecodeError('truncated', `DHCP message of ${bytes.length} bytes is shorter than ${DHCP_MIN_LENGTH}`, 0);
    if (readU32(bytes, COOKIE) !== MAGIC_COOKIE) throw new DecodeError('bad-magic-cookie', 'not a DHCP message: bad magic cookie', COOKIE);
    const op = bytes[OP];
    if (op !== BootpOp.request && op !== BootpOp.reply) throw new DecodeError('bad-op', `BOOTP op ${op} is neither request nor reply`, OP);
    if (bytes[HLEN] > CHADDR_LENGTH) throw new DecodeError('bad-hlen', `hardware address length ${bytes[HLEN]} exceeds 16`, HLEN);
    return new DhcpPacket(bytes);
  }

  get op(): number {
    return this.bytes[OP];
  }
  get htype(): number {
    return this.bytes[HTYPE];
  }
  get hlen(): number {
    return this.bytes[HLEN];
  }
  get hops(): number {
    return this.bytes[HOPS];
  }
  get xid(): number {
    return readU32(this.bytes, XID);
  }
  get secs(): number {
    return readU16(this.bytes, SECS);
  }
  get flags(): number {
    return readU16(this.bytes, FLAGS);
  }
  get ciaddr(): Ipv4Address {
    return readIpv4(this.bytes, CIADDR);
  }
  get yiaddr(): Ipv4Address {
    return readIpv4(this.bytes, YIADDR);
  }
  get siaddr(): Ipv4Address {
    return readIpv4(this.bytes, SIADDR);
  }
  get giaddr(): Ipv4Address {
    return readIpv4(this.bytes, GIADDR);
  }
  get chaddr(): Uint8Array {
    return this.bytes.subarray(CHADDR, CHADDR + this.hlen);
  }
  get snameField(): Uint8Array {
    return this.bytes.subarray(SNAME, SNAME + SNAME_LENGTH);
  }
  get fileField(): Uint8Array {
    return this.bytes.subarray(FILE, FILE + FILE_LENGTH);
  }
  get optionsField(): Uint8Array {
    return this.bytes.subarray(OPTIONS);
  }
}

/** A NUL-terminated string field, one character per byte. */
function readCString(field: Uint8Array): string {
  let value = '';
  for (const byte of field) {
    if (byte === 0) break;
    value += String.fromCharCode(byte);
  }
  return value;
}

/**
 * Parses a DHCP message. Options overloaded into `file` and `sname` (option 52) are read
 * after the options field, `file` first (RFC 3396 §5). Throws {@link DecodeError}.
 */
export function parseDhcp(bytes: Uint8Array): DhcpMessage {
  const packet = DhcpPacket.check(bytes);
  const raw: RawOptions = new Map();
  readOptionRegion(packet.optionsField, raw);
  const overloadValue = raw.get(52);
  const overload = overloadValue !== undefined && overloadValue.length === 1 ? overloadValue[0] : 0;
  if ((overload & 1) !== 0) readOptionRegion(packet.fileField, raw);
  if ((overload & 2) !== 0) readOptionRegion(packet.snameField, raw);
  const options = interpretOptions(raw);
  return {
    op: packet.op,
    htype: packet.htype,
    hops: packet.hops,
    xid: packet.xid,
    secs: packet.secs,
    broadcast: (packet.flags & FLAG_BROADCAST) !== 0,
    ciaddr: packet.ciaddr,
    yiaddr: packet.yiaddr,
    siaddr: packet.siaddr,
    giaddr: packet.giaddr,
    chaddr: packet.chaddr.slice(),
    sname: (overload & 2) !== 0 ? '' : readCString(packet.snameField),
    file: (overload & 1) !== 0 ? '' : readCString(packet.fileField),
    options,
  };
}

/** Bytes {@link emitDhcp} produces for `message`. */
export function dhcpLength(message: DhcpMessage): number {
  return Math.max(BOOTP_MIN_LENGTH, OPTIONS + optionsLength(message.options));
}

function writeCString(buffer: Uint8Array, offset: number, value: string): void {
  for (let i = 0; i < value.length; i++) buffer[offset + i] = value.charCodeAt(i);
}

/**
 * Writes `message` at the start of `buffer` (which must hold {@link dhcpLength} bytes and be
 * zeroed) and returns the length. A valid message has `chaddr` of at most 16 bytes, `sname`
 * of at most 63 and `file` of at most 127 one-byte characters, and no `overload` option.
 */
export function emitDhcpInto(message: DhcpMessage, buffer: Uint8Array): number {
  buffer[OP] = message.op;
  buffer[HTYPE] = message.htype;
  buffer[HLEN] = message.chaddr.length;
  buffer[HOPS] = message.hops;
  writeU32(buffer, XID, message.xid);
  writeU16(buffer, SECS, message.secs);
  writeU16(buffer, FLAGS, message.broadcast ? FLAG_BROADCAST : 0);
  writeIpv4(buffer, CIADDR, message.ciaddr);
  writeIpv4(buffer, YIADDR, message.yiaddr);
  writeIpv4(buffer, SIADDR, message.siaddr);
  writeIpv4(buffer, GIADDR, message.giaddr);
  buffer.set(message.chaddr, CHADDR);
  writeCString(buffer, SNAME, message.sname);
  writeCString(buffer, FILE, message.file);
  writeU32(buffer, COOKIE, MAGIC_COOKIE);
  const end = writeOptions(message.options, buffer, OPTIONS);
  return Math.max(BOOTP_MIN_LENGTH, end);
}

/** Emits `message` into a new array. */
export function emitDhcp(message: DhcpMessage): Uint8Array {
  const buffer = new Uint8Array(dhcpLength(message));
  emitDhcpInto(message, buffer);
  return buffer;
}

/** The six bytes of an Ethernet address, as `chaddr`. */
export function macBytes(mac: MacAddress): Uint8Array {
  const bytes = new Uint8Array(6);
  writeMac(bytes, 0, mac);
  return bytes;
}

/** The Ethernet address in `chaddr`, or undefined when it is not a 6-byte one. */
export function chaddrMac(chaddr: Uint8Array): MacAddress | undefined {
  return chaddr.length === 6 ? readMac(chaddr, 0) : undefined;
}

/** A message with every field zero or empty but those given. */
export function dhcpMessage(fields: Partial<DhcpMessage> & Pick<DhcpMessage, 'op' | 'xid' | 'chaddr' | 'options'>): DhcpMessage {
  return {
    htype: HTYPE_ETHERNET,
    hops: 0,
    secs: 0,
    broadcast: false,
    ciaddr: IPV4_ANY,
    yiaddr: IPV4_ANY,
    siaddr: IPV4_ANY,
    giaddr: IPV4_ANY,
    sname: '',
    file: '',
    ...fields,
  };
}
