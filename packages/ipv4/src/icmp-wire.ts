/**
 * ICMPv4 messages (RFC 792): a view over the bytes with named offsets, a plain representation
 * of echo and error messages (other types are carried opaquely), and parse/emit. The checksum
 * covers the whole message (RFC 792, "Checksum").
 */
import { DecodeError, checksumPartial, readU16, readU32, writeU16, writeU32 } from '@morgana/core';

/** Byte offsets of the ICMP header fields (RFC 792). */
export const IcmpField = {
  type: 0,
  code: 1,
  checksum: 2,
  /** Echo: identifier. Errors: unused, or (Destination Unreachable code 4) unused + MTU. */
  identifier: 4,
  /** Echo: sequence number. Fragmentation needed: next-hop MTU (RFC 1191 §4). */
  sequence: 6,
  /** Parameter Problem: pointer to the offending octet. */
  pointer: 4,
  nextHopMtu: 6,
  /** Echo data, or the quoted datagram of an error. */
  data: 8,
} as const;

/** Length of the ICMP header (type, code, checksum and the 4-byte second word). */
export const ICMP_HEADER_LENGTH = 8;

/** ICMP message types this package handles by name (RFC 792). */
export const IcmpType = {
  echoReply: 0,
  destinationUnreachable: 3,
  sourceQuench: 4,
  redirect: 5,
  echoRequest: 8,
  timeExceeded: 11,
  parameterProblem: 12,
  timestamp: 13,
  timestampReply: 14,
  informationRequest: 15,
  informationReply: 16,
  addressMaskRequest: 17,
  addressMaskReply: 18,
} as const;

/** Time Exceeded codes (RFC 792). */
export const TimeExceededCode = {
  ttl: 0,
  reassembly: 1,
} as const;

/**
 * True for the query types (echo, timestamp, information, address mask and their replies).
 * Everything else, unknown types included, counts as an error message, about which no ICMP
 * error is ever sent (RFC 1122 §3.2.2): an unknown type might be an error we cannot recognise.
 */
export function isIcmpQueryType(type: number): boolean {
  return type === IcmpType.echoReply || type === IcmpType.echoRequest || (type >= IcmpType.timestamp && type <= IcmpType.addressMaskReply);
}

/** Echo Request or Echo Reply (RFC 792, "Echo or Echo Reply Message"). */
export interface IcmpEchoRepr {
  readonly kind: 'echo-request' | 'echo-reply';
  readonly identifier: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

/** Destination Unreachable (RFC 792; next-hop MTU for code 4 from RFC 1191 §4). */
export interface IcmpUnreachableRepr {
  readonly kind: 'destination-unreachable';
  readonly code: number;
  /** Next-hop MTU for code 4 (fragmentation needed and DF set), else 0. */
  readonly nextHopMtu: number;
  /** The start of the datagram the error is about: its IP header and at least 8 bytes more. */
  readonly quoted: Uint8Array;
}

/** Time Exceeded (RFC 792): code 0 TTL expired in transit, 1 reassembly time exceeded. */
export interface IcmpTimeExceededRepr {
  readonly kind: 'time-exceeded';
  readonly code: number;
  readonly quoted: Uint8Array;
}

/** Parameter Problem (RFC 792): `pointer` is the offset of the octet at fault. */
export interface IcmpParameterProblemRepr {
  readonly kind: 'parameter-problem';
  readonly code: number;
  readonly pointer: number;
  readonly quoted: Uint8Array;
}

/** Any other type, carried as its second header word and its data. */
export interface IcmpOtherRepr {
  readonly kind: 'other';
  readonly type: number;
  readonly code: number;
  /** The 32-bit word after the checksum. */
  readonly rest: number;
  readonly data: Uint8Array;
}

/** The meaning of an ICMP message. */
export type IcmpRepr = IcmpEchoRepr | IcmpUnreachableRepr | IcmpTimeExceededRepr | IcmpParameterProblemRepr | IcmpOtherRepr;

/** Why bytes are not a usable ICMP message; also the drop counter names. */
export type IcmpProblem = 'truncated' | 'bad-checksum';

/** A view over an ICMP message. {@link IcmpPacket.check} must pass before the getters are trusted. */
export class IcmpPacket {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** `'truncated'` below 8 bytes, `'bad-checksum'` when the checksum does not verify, else undefined. */
  check(): IcmpProblem | undefined {
    if (this.bytes.length < ICMP_HEADER_LENGTH) return 'truncated';
    if (checksumPartial(this.bytes) !== 0xffff) return 'bad-checksum';
    return undefined;
  }

  get type(): number {
    return this.bytes[IcmpField.type];
  }

  get code(): number {
    return this.bytes[IcmpField.code];
  }

  get checksum(): number {
    return readU16(this.bytes, IcmpField.checksum);
  }

  get identifier(): number {
    return readU16(this.bytes, IcmpField.identifier);
  }

  get sequence(): number {
    return readU16(this.bytes, IcmpField.sequence);
  }

  get nextHopMtu(): number {
    return readU16(this.bytes, IcmpField.nextHopMtu);
  }

  get pointer(): number {
    return this.bytes[IcmpField.pointer];
  }

  /** The second header word, whatever the type makes of it. */
  get rest(): number {
    return readU32(this.bytes, IcmpField.identifier);
  }

  /** Echo data or the quoted datagram (a view). */
  get data(): Uint8Array {
    return this.bytes.subarray(IcmpField.data);
  }

  /** Computes and stores the checksum over the whole message. */
  fillChecksum(): void {
    writeU16(this.bytes, IcmpField.checksum, 0);
    writeU16(this.bytes, IcmpField.checksum, ~checksumPartial(this.bytes) & 0xffff);
  }
}

/**
 * Parses and validates a message (length and checksum). Data and quotes are copies, so the
 * repr outlives the receive buffer. Throws {@link DecodeError}.
 */
export function parseIcmp(bytes: Uint8Array): IcmpRepr {
  const packet = new IcmpPacket(bytes);
  const problem = packet.check();
  if (problem === 'truncated') throw new DecodeError(problem, `ICMP message of ${bytes.length} bytes is shorter than its 8-byte header`, 0);
  if (problem === 'bad-checksum') throw new DecodeError(problem, 'ICMP checksum does not verify', IcmpField.checksum);
  const data = packet.data.slice();
  switch (packet.type) {
    case IcmpType.echoRequest:
    case IcmpType.echoReply:
      if (packet.code !== 0) break;
      return {
        kind: packet.type === IcmpType.echoRequest ? 'echo-request' : 'echo-reply',
        identifier: packet.identifier,
        sequence: packet.sequence,
        data,
      };
    case IcmpType.destinationUnreachable:
      return {
        kind: 'destination-unreachable',
        code: packet.code,
        nextHopMtu: packet.code === 4 ? packet.nextHopMtu : 0,
        quoted: data,
      };
    case IcmpType.timeExceeded:
      return { kind: 'time-exceeded', code: packet.code, quoted: data };
    case IcmpType.parameterProblem:
      return { kind: 'parameter-problem', code: packet.code, pointer: packet.pointer, quoted: data };
    default:
      break;
  }
  return { kind: 'other', type: packet.type, code: packet.code, rest: packet.rest, data };
}

/** Bytes the message of `repr` takes. */
export function icmpLength(repr: IcmpRepr): number {
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
    case 'other':
      return ICMP_HEADER_LENGTH + repr.data.length;
    default:
      return ICMP_HEADER_LENGTH + repr.quoted.length;
  }
}

/** Writes `repr` with its checksum at the start of `into`; returns the bytes written. */
export function emitIcmp(repr: IcmpRepr, into: Uint8Array): number {
  const length = icmpLength(repr);
  const message = into.subarray(0, length);
  switch (repr.kind) {
    case 'echo-request':
    case 'echo-reply':
      message[IcmpField.type] = repr.kind === 'echo-request' ? IcmpType.echoRequest : IcmpType.echoReply;
      message[IcmpField.code] = 0;
      writeU16(message, IcmpField.identifier, repr.identifier);
      writeU16(message, IcmpField.sequence, repr.sequence);
      message.set(repr.data, IcmpField.data);
      break;
    case 'destination-unreachable':
      message[IcmpField.type] = IcmpType.destinationUnreachable;
      message[IcmpField.code] = repr.code;
      writeU16(message, IcmpField.identifier, 0);
      writeU16(message, IcmpField.nextHopMtu, repr.code === 4 ? repr.nextHopMtu : 0);
      message.set(repr.quoted, IcmpField.data);
      break;
    case 'time-exceeded':
      message[IcmpField.type] = IcmpType.timeExceeded;
      message[IcmpField.code] = repr.code;
      writeU32(message, IcmpField.identifier, 0);
      message.set(repr.quoted, IcmpField.data);
      break;
    case 'parameter-problem':
      message[IcmpField.type] = IcmpType.parameterProblem;
      message[IcmpField.code] = repr.code;
      writeU32(message, IcmpField.identifier, 0);
      message[IcmpField.pointer] = repr.pointer;
      message.set(repr.quoted, IcmpField.data);
      break;
    case 'other':
      message[IcmpField.type] = repr.type;
      message[IcmpField.code] = repr.code;
      writeU32(message, IcmpField.identifier, repr.rest);
      message.set(repr.data, IcmpField.data);
      break;
  }
  new IcmpPacket(message).fillChecksum();
  return length;
}
