/**
 * DHCP options (RFC 2132), with RFC 3396 long options: an option may appear several times and
 * its values are concatenated in order, so a value longer than 255 bytes is split on emit.
 */
import { DecodeError, type Ipv4Address, readIpv4, readU16, readU32, writeIpv4, writeU16, writeU32 } from '@morgana/core';

/** Option codes used by the client (RFC 2132). */
export const DhcpOptionCode = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dnsServers: 6,
  hostName: 12,
  domainName: 15,
  broadcastAddress: 28,
  requestedAddress: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterRequestList: 55,
  message: 56,
  maxMessageSize: 57,
  renewalTime: 58,
  rebindingTime: 59,
  clientId: 61,
  end: 255,
} as const;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const DhcpMessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;

/** An option this codec has no field for, kept as its code and (concatenated) value. */
export interface DhcpRawOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/** The meaning of a message's options. Absent fields were not present. */
export interface DhcpOptions {
  readonly messageType?: number;
  readonly subnetMask?: Ipv4Address;
  readonly routers?: readonly Ipv4Address[];
  readonly dnsServers?: readonly Ipv4Address[];
  /** NVT ASCII strings (RFC 2132 §3.14, §3.17), one character per byte. */
  readonly hostName?: string;
  readonly domainName?: string;
  readonly broadcastAddress?: Ipv4Address;
  readonly requestedAddress?: Ipv4Address;
  /** Seconds; 0xffffffff is infinite (RFC 2131 3.3). */
  readonly leaseTime?: number;
  /** 1: `file` holds options, 2: `sname` does, 3: both (RFC 2132 §9.3). */
  readonly overload?: number;
  readonly serverId?: Ipv4Address;
  readonly parameterRequestList?: readonly number[];
  readonly message?: string;
  readonly maxMessageSize?: number;
  /** T1 and T2, seconds. */
  readonly renewalTime?: number;
  readonly rebindingTime?: number;
  /** Type byte then identifier (RFC 2132 §9.14). */
  readonly clientId?: Uint8Array;
  /** Every other option, in code order. */
  readonly other?: readonly DhcpRawOption[];
}

/** Options parsed so far: values per code, concatenated across instances (RFC 3396 §5). */
export type RawOptions = Map<number, Uint8Array>;

/**
 * Reads the options of one region (`options`, `file` or `sname`) into `into`, appending to
 * values already there. Stops at End; a region that ends without End is accepted, since
 * padding to the message end is common. Throws {@link DecodeError} for an option running past
 * the region.
 */
export function readOptionRegion(bytes: Uint8Array, into: RawOptions): void {
  let offset = 0;
  while (offset < bytes.length) {
    const code = bytes[offset];
    if (code === DhcpOptionCode.end) return;
    if (code === DhcpOptionCode.pad) {
      offset++;
      continue;
    }
    if (offset + 2 > bytes.length) throw new DecodeError('truncated', `option ${code} has no length byte`, offset);
    const length = bytes[offset + 1];
    if (offset + 2 + length > bytes.length) throw new DecodeError('truncated', `option ${code} runs past its region`, offset);
    const value = bytes.subarray(offset + 2, offset + 2 + length);
    const earlier = into.get(code);
    if (earlier === undefined) {
      into.set(code, value.slice());
    } else {
      const joined = new Uint8Array(earlier.length + length);
      joined.set(earlier);
      joined.set(value, earlier.length);
      into.set(code, joined);
    }
    offset += 2 + length;
  }
}

function badLength(code: number, length: number): DecodeError {
  return new DecodeError('bad-option-length', `option ${code} has a bad length ${length}`);
}

function exactly(code: number, data: Uint8Array, length: number): Uint8Array {
  if (data.length !== length) throw badLength(code, data.length);
  return data;
}

function address(code: number, data: Uint8Array): Ipv4Address {
  return readIpv4(exactly(code, data, 4), 0);
}

function addresses(code: number, data: Uint8Array): Ipv4Address[] {
  if (data.length === 0 || data.length % 4 !== 0) throw badLength(code, data.length);
  const list: Ipv4Address[] = [];
  for (let offset = 0; offset < data.length; offset += 4) list.push(readIpv4(data, offset));
  return list;
}

function u32(code: number, data: Uint8Array): number {
  return readU32(exactly(code, data, 4), 0);
}

function text(code: number, data: Uint8Array): string {
  if (data.length === 0) throw badLength(code, 0);
  let value = '';
  for (const byte of data) value += String.fromCharCode(byte);
  return value;
}

/** Gives the meaning of raw options; throws {@link DecodeError} for a known option of a bad length or value. */
export function interpretOptions(raw: RawOptions): DhcpOptions {
  const options: { -readonly [K in keyof DhcpOptions]: DhcpOptions[K] } = {};
  const other: DhcpRawOption[] = [];
  const codes = [...raw.keys()].sort((a, b) => a - b);
  for (const code of codes) {
    const data = raw.get(code) as Uint8Array;
    switch (code) {
      case DhcpOptionCode.subnetMask:
        options.subnetMask = address(code, data);
        break;
      case DhcpOptionCode.router:
        options.routers = addresses(code, data);
        break;
      case DhcpOptionCode.dnsServers:
        options.dnsServers = addresses(code, data);
        break;
      case DhcpOptionCode.hostName:
        options.hostName = text(code, data);
        break;
      case DhcpOptionCode.domainName:
        options.domainName = text(code, data);
        break;
      case DhcpOptionCode.broadcastAddress:
        options.broadcastAddress = address(code, data);
        break;
      case DhcpOptionCode.requestedAddress:
        options.requestedAddress = address(code, data);
        break;
      case DhcpOptionCode.leaseTime:
        options.leaseTime = u32(code, data);
        break;
      case DhcpOptionCode.overload: {
        const value = exactly(code, data, 1)[0];
        if (value < 1 || value > 3) throw new DecodeError('bad-option-value', `option overload value ${value} is not 1, 2 or 3`);
        options.overload = value;
        break;
      }
      case DhcpOptionCode.messageType: {
        const value = exactly(code, data, 1)[0];
        if (value < DhcpMessageType.discover || value > DhcpMessageType.inform) {
          throw new DecodeError('bad-option-value', `DHCP message type ${value} is unknown`);
        }
        options.messageType = value;
        break;
      }
      case DhcpOptionCode.serverId:
        options.serverId = address(code, data);
        break;
      case DhcpOptionCode.parameterRequestList:
        if (data.length === 0) throw badLength(code, 0);
        options.parameterRequestList = [...data];
        break;
      case DhcpOptionCode.message:
        options.message = text(code, data);
        break;
      case DhcpOptionCode.maxMessageSize: {
        const value = readU16(exactly(code, data, 2), 0);
        // RFC 2132 §9.10: the minimum legal value is 576.
        if (value < 576) throw new DecodeError('bad-option-value', `maximum message size ${value} is below 576`);
        options.maxMessageSize = value;
        break;
      }
      case DhcpOptionCode.renewalTime:
        options.renewalTime = u32(code, data);
        break;
      case DhcpOptionCode.rebindingTime:
        options.rebindingTime = u32(code, data);
        break;
      case DhcpOptionCode.clientId:
        // RFC 2132 §9.14: a type byte and at least one byte of identifier.
        if (data.length < 2) throw badLength(code, data.length);
        options.clientId = data;
        break;
      default:
        other.push({ code, data });
    }
  }
  if (other.length > 0) options.other = other;
  return options;
}

/** Encodes the options as (code, value) pairs, message type first, others by code. */
function optionValues(options: DhcpOptions): [number, Uint8Array][] {
  const values: [number, Uint8Array][] = [];
  const addressBytes = (list: readonly Ipv4Address[]): Uint8Array => {
    const bytes = new Uint8Array(list.length * 4);
    list.forEach((value, index) => writeIpv4(bytes, index * 4, value));
    return bytes;
  };
  const u32Bytes = (value: number): Uint8Array => {
    const bytes = new Uint8Array(4);
    writeU32(bytes, 0, value);
    return bytes;
  };
  const textBytes = (value: string): Uint8Array => Uint8Array.from(value, (char) => char.charCodeAt(0));
  if (options.messageType !== undefined) values.push([DhcpOptionCode.messageType, Uint8Array.of(options.messageType)]);
  if (options.subnetMask !== undefined) values.push([DhcpOptionCode.subnetMask, addressBytes([options.subnetMask])]);
  if (options.routers !== undefined) values.push([DhcpOptionCode.router, addressBytes(options.routers)]);
  if (options.dnsServers !== undefined) values.push([DhcpOptionCode.dnsServers, addressBytes(options.dnsServers)]);
  if (options.hostName !== undefined) values.push([DhcpOptionCode.hostName, textBytes(options.hostName)]);
  if (options.domainName !== undefined) values.push([DhcpOptionCode.domainName, textBytes(options.domainName)]);
  if (options.broadcastAddress !== undefined) values.push([DhcpOptionCode.broadcastAddress, addressBytes([options.broadcastAddress])]);
  if (options.requestedAddress !== undefined) values.push([DhcpOptionCode.requestedAddress, addressBytes([options.requestedAddress])]);
  if (options.leaseTime !== undefined) values.push([DhcpOptionCode.leaseTime, u32Bytes(options.leaseTime)]);
  if (options.overload !== undefined) values.push([DhcpOptionCode.overload, Uint8Array.of(options.overload)]);
  if (options.serverId !== undefined) values.push([DhcpOptionCode.serverId, addressBytes([options.serverId])]);
  if (options.parameterRequestList !== undefined) values.push([DhcpOptionCode.parameterRequestList, Uint8Array.from(options.parameterRequestList)]);
  if (options.message !== undefined) values.push([DhcpOptionCode.message, textBytes(options.message)]);
  if (options.maxMessageSize !== undefined) {
    const bytes = new Uint8Array(2);
    writeU16(bytes, 0, options.maxMessageSize);
    values.push([DhcpOptionCode.maxMessageSize, bytes]);
  }
  if (options.renewalTime !== undefined) values.push([DhcpOptionCode.renewalTime, u32Bytes(options.renewalTime)]);
  if (options.rebindingTime !== undefined) values.push([DhcpOptionCode.rebindingTime, u32Bytes(options.rebindingTime)]);
  if (options.clientId !== undefined) values.push([DhcpOptionCode.clientId, options.clientId]);
  for (const option of options.other ?? []) values.push([option.code, option.data]);
  return values;
}

/** Bytes {@link writeOptions} will use, End included. */
export function optionsLength(options: DhcpOptions): number {
  let length = 1;
  for (const [, value] of optionValues(options)) {
    // RFC 3396: a value of more than 255 bytes is split over several instances.
    const instances = Math.max(1, Math.ceil(value.length / 255));
    length += instances * 2 + value.length;
  }
  return length;
}

/** Writes the options and End at `offset`; returns the offset after End. */
export function writeOptions(options: DhcpOptions, buffer: Uint8Array, offset: number): number {
  for (const [code, value] of optionValues(options)) {
    let start = 0;
    do {
      const length = Math.min(255, value.length - start);
      buffer[offset] = code;
      buffer[offset + 1] = length;
      buffer.set(value.subarray(start, start + length), offset + 2);
      offset += 2 + length;
      start += length;
    } while (start < value.length);
  }
  buffer[offset] = DhcpOptionCode.end;
  return offset + 1;
}
