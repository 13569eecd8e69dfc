/**
 * MAC and IPv4 addresses. Both are plain numbers at run time (48 and 32 bits fit a double
 * exactly), so they compare with `===`, key a `Map` without allocation, and cost nothing to
 * pass around; the brand keeps them apart from ports and lengths in the type system.
 */
import { AddressError } from './errors.js';

/** A 48-bit IEEE 802 MAC address as an integer (first octet most significant). */
export type MacAddress = number & { readonly __brand: 'MacAddress' };

/** An IPv4 address as an unsigned 32-bit integer (first octet most significant). */
export type Ipv4Address = number & { readonly __brand: 'Ipv4Address' };

/** An IPv4 network: an address and a prefix length (0-32). */
export interface Ipv4Prefix {
  /** The address as written; not necessarily the network address. */
  readonly address: Ipv4Address;
  /** Number of leading one bits in the mask. */
  readonly length: number;
}

const TWO_32 = 0x1_0000_0000;

/** ff:ff:ff:ff:ff:ff */
export const MAC_BROADCAST = 0xffff_ffff_ffff as MacAddress;
/** 00:00:00:00:00:00 */
export const MAC_ZERO = 0 as MacAddress;
/** 0.0.0.0 */
export const IPV4_ANY = 0 as Ipv4Address;
/** 255.255.255.255, the limited broadcast address (RFC 919). */
export const IPV4_BROADCAST = 0xffff_ffff as Ipv4Address;

/** Parses `aa:bb:cc:dd:ee:ff` (or with `-`); throws {@link AddressError}. */
export function parseMac(text: string): MacAddress {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6) throw new AddressError(`not a MAC address: ${JSON.stringify(text)}`);
  let value = 0;
  for (const part of parts) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(part)) throw new AddressError(`not a MAC address: ${JSON.stringify(text)}`);
    value = value * 256 + parseInt(part, 16);
  }
  return value as MacAddress;
}

/** Formats as lower-case `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: MacAddress): string {
  let text = '';
  for (let shift = 40; shift >= 0; shift -= 8) {
    const octet = Math.floor(mac / 2 ** shift) % 256;
    text += (shift === 40 ? '' : ':') + octet.toString(16).padStart(2, '0');
  }
  return text;
}

/** Reads six bytes at `offset` as a MAC address. The caller checks the length. */
export function readMac(bytes: Uint8Array, offset: number): MacAddress {
  const high = (bytes[offset] << 8) | bytes[offset + 1];
  const low = ((bytes[offset + 2] << 24) | (bytes[offset + 3] << 16) | (bytes[offset + 4] << 8) | bytes[offset + 5]) >>> 0;
  return (high * TWO_32 + low) as MacAddress;
}

/** Writes a MAC address as six bytes at `offset`. */
export function writeMac(bytes: Uint8Array, offset: number, mac: MacAddress): void {
  const high = Math.floor(mac / TWO_32);
  const low = mac >>> 0;
  bytes[offset] = high >>> 8;
  bytes[offset + 1] = high;
  bytes[offset + 2] = low >>> 24;
  bytes[offset + 3] = low >>> 16;
  bytes[offset + 4] = low >>> 8;
  bytes[offset + 5] = low;
}

/** True for group addresses (the I/G bit, least significant bit of the first octet), broadcast included. */
export function isMulticastMac(mac: MacAddress): boolean {
  return Math.floor(mac / 2 ** 40) % 2 === 1;
}

/** A locally administered unicast MAC (RFC 7042 §2.1) from four random bytes: 02:xx:xx:xx:xx:xx with our fixed second octet. */
export function localMac(randomBits: number): MacAddress {
  return (0x02_00 * TWO_32 + (randomBits >>> 0)) as MacAddress;
}

/** Parses dotted-quad `a.b.c.d` (no leading zeros, which some parsers read as octal); throws {@link AddressError}. */
export function parseIpv4(text: string): Ipv4Address {
  const parts = text.split('.');
  if (parts.length !== 4) throw new AddressError(`not an IPv4 address: ${JSON.stringify(text)}`);
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) throw new AddressError(`not an IPv4 address: ${JSON.stringify(text)}`);
    const octet = Number(part);
    if (octet > 255) throw new AddressError(`not an IPv4 address: ${JSON.stringify(text)}`);
    value = value * 256 + octet;
  }
  return value as Ipv4Address;
}

/** Accepts an address or its dotted-quad text. */
export function toIpv4(address: Ipv4Address | string): Ipv4Address {
  return typeof address === 'string' ? parseIpv4(address) : address;
}

/** Formats as dotted quad. */
export function formatIpv4(address: Ipv4Address): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/** Reads four bytes at `offset` as an IPv4 address. The caller checks the length. */
export function readIpv4(bytes: Uint8Array, offset: number): Ipv4Address {
  return (((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0) as Ipv4Address;
}

/** Writes an IPv4 address as four bytes at `offset`. */
export function writeIpv4(bytes: Uint8Array, offset: number, address: Ipv4Address): void {
  bytes[offset] = address >>> 24;
  bytes[offset + 1] = address >>> 16;
  bytes[offset + 2] = address >>> 8;
  bytes[offset + 3] = address;
}

/** The netmask of a prefix length, as an address (`/24` is 255.255.255.0). */
export function prefixMask(length: number): Ipv4Address {
  if (!Number.isInteger(length) || length < 0 || length > 32) throw new AddressError(`not a prefix length: ${length}`);
  return (length === 0 ? 0 : (0xffff_ffff << (32 - length)) >>> 0) as Ipv4Address;
}

/** The prefix length of a contiguous netmask; throws {@link AddressError} for a non-contiguous one. */
export function maskLength(mask: Ipv4Address): number {
  const inverted = ~mask >>> 0;
  if ((inverted & (inverted + 1)) !== 0) throw new AddressError(`not a contiguous netmask: ${formatIpv4(mask)}`);
  return Math.clz32(inverted);
}

/** Parses `a.b.c.d/len`; throws {@link AddressError}. */
export function parseIpv4Prefix(text: string): Ipv4Prefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new AddressError(`not an IPv4 prefix (a.b.c.d/len): ${JSON.stringify(text)}`);
  const lengthText = text.slice(slash + 1);
  if (!/^[0-9]{1,2}$/.test(lengthText)) throw new AddressError(`not an IPv4 prefix (a.b.c.d/len): ${JSON.stringify(text)}`);
  const length = Number(lengthText);
  if (length > 32) throw new AddressError(`prefix length over 32: ${JSON.stringify(text)}`);
  return { address: parseIpv4(text.slice(0, slash)), length };
}

/** Formats as `a.b.c.d/len`. */
export function formatIpv4Prefix(prefix: Ipv4Prefix): string {
  return `${formatIpv4(prefix.address)}/${prefix.length}`;
}

/** The network address of a prefix (host bits cleared). */
export function networkAddress(prefix: Ipv4Prefix): Ipv4Address {
  return ((prefix.address & prefixMask(prefix.length)) >>> 0) as Ipv4Address;
}

/** The directed broadcast address of a prefix (host bits set). */
export function broadcastAddress(prefix: Ipv4Prefix): Ipv4Address {
  return ((prefix.address | ~prefixMask(prefix.length)) >>> 0) as Ipv4Address;
}

/** True when `address` lies inside `prefix`. */
export function prefixContains(prefix: Ipv4Prefix, address: Ipv4Address): boolean {
  const mask = prefixMask(prefix.length);
  return ((prefix.address & mask) >>> 0) === ((address & mask) >>> 0);
}

/** 224.0.0.0/4 (RFC 5771). */
export function isMulticastIpv4(address: Ipv4Address): boolean {
  return address >>> 28 === 0xe;
}

/** 127.0.0.0/8 (RFC 1122 3.2.1.3). */
export function isLoopbackIpv4(address: Ipv4Address): boolean {
  return address >>> 24 === 127;
}
