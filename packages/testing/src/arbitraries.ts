/**
 * fast-check arbitraries for the values every protocol test needs: addresses, prefixes,
 * ports and payloads. fast-check is a peer dependency: the test suite brings its own.
 */
import * as fc from 'fast-check';
import type { Ipv4Address, Ipv4Prefix, MacAddress } from '@morgana/core';

const TWO_32 = 0x1_0000_0000;

/** Any 48-bit MAC address, group and broadcast addresses included. */
export function arbMacAddress(): fc.Arbitrary<MacAddress> {
  return fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff_ffff })).map(([high, low]) => (high * TWO_32 + low) as MacAddress);
}

/** A unicast MAC address: the I/G bit (least significant bit of the first octet) clear (IEEE 802 §8.2). */
export function arbUnicastMac(): fc.Arbitrary<MacAddress> {
  return fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff_ffff }))
    // 0xfeff clears bit 8 of the high 16 bits: the first octet's least significant bit.
    .map(([high, low]) => ((high & 0xfeff) * TWO_32 + low) as MacAddress);
}

/** Any IPv4 address. */
export function arbIpv4Address(): fc.Arbitrary<Ipv4Address> {
  return fc.integer({ min: 0, max: 0xffff_ffff }).map((value) => value as Ipv4Address);
}

/**
 * A unicast host address a stack may take as its own: not in 0.0.0.0/8 ("this network",
 * RFC 1122 3.2.1.3), 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast) or 240.0.0.0/4
 * (reserved, including the limited broadcast address).
 */
export function arbUnicastIpv4(): fc.Arbitrary<Ipv4Address> {
  return fc
    .integer({ min: 0x0100_0000, max: 0xdfff_ffff })
    .filter((value) => value >>> 24 !== 127)
    .map((value) => value as Ipv4Address);
}

/** Options of {@link arbIpv4Prefix}. */
export interface PrefixArbitraryOptions {
  readonly minLength?: number;
  readonly maxLength?: number;
  /** Clear the host bits, so the address is the network address; default false. */
  readonly network?: boolean;
}

/** An IPv4 prefix with a length in [minLength, maxLength] (default 0-32). */
export function arbIpv4Prefix(options: PrefixArbitraryOptions = {}): fc.Arbitrary<Ipv4Prefix> {
  const minLength = options.minLength ?? 0;
  const maxLength = options.maxLength ?? 32;
  return fc.tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: minLength, max: maxLength })).map(([address, length]) => {
    const mask = length === 0 ? 0 : (0xffff_ffff << (32 - length)) >>> 0;
    return { address: (options.network === true ? (address & mask) >>> 0 : address) as Ipv4Address, length };
  });
}

/** Options of {@link arbPort}. */
export interface PortArbitraryOptions {
  /** Default 1: port 0 means "any" in most APIs. */
  readonly min?: number;
  /** Default 65535. */
  readonly max?: number;
}

/** A TCP or UDP port number. */
export function arbPort(options: PortArbitraryOptions = {}): fc.Arbitrary<number> {
  return fc.integer({ min: options.min ?? 1, max: options.max ?? 0xffff });
}

/** A port from the dynamic (ephemeral) range 49152-65535 (RFC 6335 §6). */
export function arbEphemeralPort(): fc.Arbitrary<number> {
  return fc.integer({ min: 49_152, max: 0xffff });
}

/** Options of {@link arbPayload}. */
export interface PayloadArbitraryOptions {
  readonly minLength?: number;
  /** Default 1500, one Ethernet MTU. */
  readonly maxLength?: number;
}

/** Payload bytes. */
export function arbPayload(options: PayloadArbitraryOptions = {}): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: options.minLength ?? 0, maxLength: options.maxLength ?? 1500 });
}
