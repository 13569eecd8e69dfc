/**
 * `@morgana/testing/ethernet`: fast-check arbitraries for Ethernet II frames (802.1Q tags
 * included) and ARP packets, valid by construction for `@morgana/ethif`'s codec, and mutators
 * that make near-valid hostile variants. Needs the optional peer `@morgana/ethif`.
 */
import * as fc from 'fast-check';
import { readU16, writeU16 } from '@morgana/core';
import {
  ARP_PACKET_LENGTH,
  ArpField,
  ArpOperation,
  ArpPacket,
  ETHERNET_MIN_FRAME_LENGTH,
  ETHERTYPE_MIN,
  EthernetField,
  EthernetFrame,
  VLAN_ID_MAX,
  emitArp,
  emitEthernet,
  ethernetHeaderLength,
} from '@morgana/ethif';
import type { ArpRepr, EthernetRepr, VlanTag } from '@morgana/ethif';
import { arbIpv4Address, arbMacAddress } from './arbitraries.js';
import { corruptLength, genericMutators, mutate } from './mutators.js';
import type { Mutant, Mutator } from './mutators.js';

/** The 802.1Q tag protocol identifier. */
const TPID_VLAN = 0x8100;

/** An 802.1Q tag: VLAN id 0-4094 (4095 is reserved), priority 0-7, DEI either way. */
export function arbVlanTag(): fc.Arbitrary<VlanTag> {
  return fc.record({ id: fc.integer({ min: 0, max: VLAN_ID_MAX }), priority: fc.integer({ min: 0, max: 7 }), dropEligible: fc.boolean() }, { noNullPrototype: true });
}

/** An Ethernet II EtherType (at least 0x0600), never 0x8100, which would read as a second tag. */
export function arbEthertype(): fc.Arbitrary<number> {
  return fc.integer({ min: ETHERTYPE_MIN, max: 0xffff }).filter((value) => value !== TPID_VLAN);
}

/** An Ethernet II header: any addresses, any EtherType, tagged or not. */
export function arbEthernetRepr(): fc.Arbitrary<EthernetRepr> {
  return fc.record({ destination: arbMacAddress(), source: arbMacAddress(), ethertype: arbEthertype(), vlan: fc.option(arbVlanTag(), { nil: undefined }) }, { noNullPrototype: true });
}

/** A frame's header and payload. */
export interface EthernetSample {
  /** The header. */
  readonly repr: EthernetRepr;
  /** What follows the header (padding excluded). */
  readonly payload: Uint8Array;
}

/** A header and a payload of up to `maxPayload` (default 1500) bytes. */
export function arbEthernetFrame(maxPayload = 1500): fc.Arbitrary<EthernetSample> {
  return fc.record({ repr: arbEthernetRepr(), payload: fc.uint8Array({ maxLength: maxPayload }) }, { noNullPrototype: true });
}

/** Emits a frame as a device sends it: header, payload, zero padding up to the 60-byte minimum (IEEE 802.3 §3.2.8). */
export function emitEthernetFrame(sample: EthernetSample): Uint8Array {
  const header = ethernetHeaderLength(sample.repr);
  const bytes = new Uint8Array(Math.max(ETHERNET_MIN_FRAME_LENGTH, header + sample.payload.length));
  emitEthernet(sample.repr, new EthernetFrame(bytes));
  bytes.set(sample.payload, header);
  return bytes;
}

/** {@link arbEthernetFrame} emitted with {@link emitEthernetFrame}. */
export function arbEthernetFrameBytes(maxPayload = 1500): fc.Arbitrary<Uint8Array> {
  return arbEthernetFrame(maxPayload).map(emitEthernetFrame);
}

/** An ARP request or reply for IPv4 over Ethernet, any addresses. */
export function arbArpRepr(): fc.Arbitrary<ArpRepr> {
  return fc.record({
    operation: fc.constantFrom(ArpOperation.request, ArpOperation.reply),
    senderMac: arbMacAddress(),
    senderAddress: arbIpv4Address(),
    targetMac: arbMacAddress(),
    targetAddress: arbIpv4Address(),
  }, { noNullPrototype: true });
}

/** Emits an ARP packet into 28 new bytes. */
export function emitArpPacket(repr: ArpRepr): Uint8Array {
  const bytes = new Uint8Array(ARP_PACKET_LENGTH);
  emitArp(repr, new ArpPacket(bytes));
  return bytes;
}

/** {@link arbArpRepr} emitted. */
export function arbArpBytes(): fc.Arbitrary<Uint8Array> {
  return arbArpRepr().map(emitArpPacket);
}

/** Writes a 16-bit value at `offset` of a copy. */
function with16(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const out = bytes.slice();
  writeU16(out, offset, value);
  return out;
}

/**
 * Ethernet-aware mutations, each guaranteed malformed: the header cut short (in the tag too),
 * an IEEE 802.3 length where the EtherType belongs, the reserved VLAN id 4095.
 */
export function ethernetMutators(): Mutator[] {
  return [
    (bytes) =>
      fc.nat({ max: readTagged(bytes) ? 17 : 13 }).map((length): Mutant => ({ bytes: bytes.slice(0, length), mutation: `cut the header at ${length} bytes`, invalid: true })),
    (bytes) =>
      fc.nat({ max: ETHERTYPE_MIN - 1 }).map((length): Mutant => ({
        bytes: with16(bytes, readTagged(bytes) ? EthernetField.innerEthertype : EthernetField.ethertype, length),
        mutation: `802.3 length ${length} as EtherType`,
        invalid: true,
      })),
    (bytes) =>
      fc.integer({ min: 0, max: 0xf }).map((high): Mutant => {
        const tagged = with16(bytes, EthernetField.ethertype, TPID_VLAN);
        writeU16(tagged, EthernetField.tagControl, (high << 12) | 0x0fff);
        if (readU16(tagged, EthernetField.innerEthertype) < ETHERTYPE_MIN) writeU16(tagged, EthernetField.innerEthertype, 0x0800);
        return { bytes: tagged, mutation: 'VLAN id 4095 (reserved, IEEE 802.1Q §9.6)', invalid: true };
      }),
  ];
}

function readTagged(bytes: Uint8Array): boolean {
  return bytes.length >= 14 && readU16(bytes, EthernetField.ethertype) === TPID_VLAN;
}

/** Hostile Ethernet frames: {@link ethernetMutators} and the generic mutators over valid frames. */
export function arbHostileEthernetFrame(): fc.Arbitrary<Mutant> {
  return mutate(arbEthernetFrameBytes(200), [...ethernetMutators(), ...genericMutators()]);
}

/**
 * ARP-aware mutations, each guaranteed malformed: truncation below 28 bytes, a hardware type
 * other than Ethernet, a protocol type other than IPv4, address lengths other than 6/4, an
 * operation other than request or reply (RFC 826 "Packet Reception").
 */
export function arpMutators(): Mutator[] {
  const changed16 = (offset: number, name: string, good: readonly number[]): Mutator => (bytes) =>
    fc.integer({ min: 0, max: 0xffff }).filter((value) => !good.includes(value)).map((value): Mutant => ({ bytes: with16(bytes, offset, value), mutation: `${name} ${value}`, invalid: true }));
  return [
    (bytes) => fc.nat({ max: ARP_PACKET_LENGTH - 1 }).map((length): Mutant => ({ bytes: bytes.slice(0, length), mutation: `truncate to ${length} bytes`, invalid: true })),
    changed16(ArpField.hardwareType, 'hardware type', [1]),
    changed16(ArpField.protocolType, 'protocol type', [0x0800]),
    changed16(ArpField.operation, 'operation', [ArpOperation.request, ArpOperation.reply]),
    corruptLength({ name: 'arp.hardwareLength', offset: ArpField.hardwareLength, size: 1 }, { invalid: true }),
    corruptLength({ name: 'arp.protocolLength', offset: ArpField.protocolLength, size: 1 }, { invalid: true }),
  ];
}

/** Hostile ARP packets: {@link arpMutators} and the generic mutators over valid packets. */
export function arbHostileArp(): fc.Arbitrary<Mutant> {
  return mutate(arbArpBytes(), [...arpMutators(), ...genericMutators()]);
}
