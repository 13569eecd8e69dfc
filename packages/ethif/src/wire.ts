/**
 * Wire formats of this package: the Ethernet II header with an optional IEEE 802.1Q tag, and
 * the ARP packet for IPv4 over Ethernet (RFC 826). Each has a view over the bytes (field
 * offsets named once, length checked) and a plain representation with parse/emit.
 */
import { DecodeError, EtherType, readIpv4, readMac, readU16, writeIpv4, writeMac, writeU16 } from '@morgana/core';
import type { Ipv4Address, MacAddress } from '@morgana/core';

// ---------------------------------------------------------------------------------------------
// Ethernet II + 802.1Q

/** Byte offsets of the Ethernet II header and of the 802.1Q tag that may follow the source. */
export const EthernetField = {
  destination: 0,
  source: 6,
  /** EtherType of an untagged frame, or the tag protocol identifier (0x8100) of a tagged one. */
  ethertype: 12,
  /** 802.1Q tag control information: priority (3 bits), drop eligible (1), VLAN id (12). */
  tagControl: 14,
  /** EtherType of the payload of a tagged frame. */
  innerEthertype: 16,
} as const;

/** Length of an untagged Ethernet II header. */
export const ETHERNET_HEADER_LENGTH = 14;
/** Length of the 802.1Q tag inserted after the source address. */
export const VLAN_TAG_LENGTH = 4;
/** Shortest frame on the wire without the 4-byte FCS (IEEE 802.3 §4.4.2: 64 bytes with it). */
export const ETHERNET_MIN_FRAME_LENGTH = 60;
/**
 * Smallest EtherType (IEEE 802.3 §3.2.6): values up to 1500 are 802.3 length fields, and
 * 1501-1535 are undefined, so neither names an Ethernet II payload.
 */
export const ETHERTYPE_MIN = 0x0600;
/** Largest VLAN id that may be sent; 0xfff is reserved (IEEE 802.1Q Table 9-2). */
export const VLAN_ID_MAX = 0xffe;

/** A decoded 802.1Q tag. */
export interface VlanTag {
  /** VLAN identifier, 0-4094; 0 marks a priority-tagged frame that belongs to no VLAN. */
  readonly id: number;
  /** Priority code point (IEEE 802.1p), 0-7. */
  readonly priority: number;
  /** Drop eligible indicator. */
  readonly dropEligible: boolean;
}

/** The meaning of an Ethernet II header. */
export interface EthernetRepr {
  readonly destination: MacAddress;
  readonly source: MacAddress;
  /** EtherType of the payload (the inner one for a tagged frame), at least 0x0600. */
  readonly ethertype: number;
  /** The 802.1Q tag, or undefined for an untagged frame. */
  readonly vlan: VlanTag | undefined;
}

/**
 * A view over an Ethernet II frame, tagged or not. It does not copy: getters and setters read
 * and write `bytes`. {@link EthernetFrame.check} must pass before the getters are trusted.
 */
export class EthernetFrame {
  /** The frame, from the destination address to the end of the payload (no FCS). */
  bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** A view over `bytes`, throwing `DecodeError('truncated')` when the header does not fit. */
  static checked(bytes: Uint8Array): EthernetFrame {
    const frame = new EthernetFrame(bytes);
    const problem = frame.check();
    if (problem !== undefined) throw new DecodeError(problem, `Ethernet frame of ${bytes.length} bytes is too short for its header`, 0);
    return frame;
  }

  /** `'truncated'` when the header (with its tag, if the frame says it has one) does not fit, else undefined. */
  check(): string | undefined {
    if (this.bytes.length < ETHERNET_HEADER_LENGTH) return 'truncated';
    if (this.tagged && this.bytes.length < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) return 'truncated';
    return undefined;
  }

  get destination(): MacAddress {
    return readMac(this.bytes, EthernetField.destination);
  }

  set destination(mac: MacAddress) {
    writeMac(this.bytes, EthernetField.destination, mac);
  }

  get source(): MacAddress {
    return readMac(this.bytes, EthernetField.source);
  }

  set source(mac: MacAddress) {
    writeMac(this.bytes, EthernetField.source, mac);
  }

  /** The EtherType field after the source address: the tag protocol identifier of a tagged frame. */
  get outerEthertype(): number {
    return readU16(this.bytes, EthernetField.ethertype);
  }

  set outerEthertype(value: number) {
    writeU16(this.bytes, EthernetField.ethertype, value);
  }

  /** The frame carries an 802.1Q tag. */
  get tagged(): boolean {
    return readU16(this.bytes, EthernetField.ethertype) === EtherType.vlan;
  }

  /** Tag control information of a tagged frame. */
  get tagControl(): number {
    return readU16(this.bytes, EthernetField.tagControl);
  }

  set tagControl(value: number) {
    writeU16(this.bytes, EthernetField.tagControl, value);
  }

  /** VLAN id of a tagged frame. */
  get vlanId(): number {
    return this.tagControl & 0x0fff;
  }

  /** EtherType of the payload, looking past the tag of a tagged frame. */
  get ethertype(): number {
    return this.tagged ? readU16(this.bytes, EthernetField.innerEthertype) : readU16(this.bytes, EthernetField.ethertype);
  }

  /** EtherType of the payload of a tagged frame. */
  set innerEthertype(value: number) {
    writeU16(this.bytes, EthernetField.innerEthertype, value);
  }

  /** Length of the header, tag included. */
  get headerLength(): number {
    return this.tagged ? ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH : ETHERNET_HEADER_LENGTH;
  }

  /** The payload (a view, padding included). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/** Header length of a frame described by `repr`. */
export function ethernetHeaderLength(repr: EthernetRepr): number {
  return repr.vlan === undefined ? ETHERNET_HEADER_LENGTH : ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
}

/** Packs an 802.1Q tag's fields into the 16-bit tag control information. */
export function vlanTagControl(tag: VlanTag): number {
  return ((tag.priority & 7) << 13) | (tag.dropEligible ? 0x1000 : 0) | (tag.id & 0x0fff);
}

/**
 * Decodes the header. Throws {@link DecodeError}: `'truncated'`, `'not-ethernet-ii'` (an 802.3
 * length field where the EtherType belongs) or `'reserved-vlan'` (VLAN id 0xfff).
 */
export function parseEthernet(frame: EthernetFrame): EthernetRepr {
  const problem = frame.check();
  if (problem !== undefined) throw new DecodeError(problem, `Ethernet frame of ${frame.bytes.length} bytes is too short for its header`, 0);
  const ethertype = frame.ethertype;
  if (ethertype < ETHERTYPE_MIN) {
    throw new DecodeError('not-ethernet-ii', `EtherType 0x${ethertype.toString(16)} is an IEEE 802.3 length, not an Ethernet II type`, frame.headerLength - 2);
  }
  let vlan: VlanTag | undefined;
  if (frame.tagged) {
    const control = frame.tagControl;
    const id = control & 0x0fff;
    if (id > VLAN_ID_MAX) throw new DecodeError('reserved-vlan', 'VLAN id 4095 is reserved', EthernetField.tagControl);
    vlan = { id, priority: control >>> 13, dropEligible: (control & 0x1000) !== 0 };
  }
  return { destination: frame.destination, source: frame.source, ethertype, vlan };
}

/**
 * Writes the header described by `repr` at the start of `frame` (which must hold
 * {@link ethernetHeaderLength} bytes). Returns the header length.
 */
export function emitEthernet(repr: EthernetRepr, frame: EthernetFrame): number {
  frame.destination = repr.destination;
  frame.source = repr.source;
  if (repr.vlan === undefined) {
    frame.outerEthertype = repr.ethertype;
    return ETHERNET_HEADER_LENGTH;
  }
  frame.outerEthertype = EtherType.vlan;
  frame.tagControl = vlanTagControl(repr.vlan);
  frame.innerEthertype = repr.ethertype;
  return ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
}

// ---------------------------------------------------------------------------------------------
// ARP (RFC 826) for IPv4 over Ethernet

/** Byte offsets of an ARP packet for IPv4 over Ethernet (RFC 826 "Packet format": ar$hrd ... ar$tpa). */
export const ArpField = {
  hardwareType: 0,
  protocolType: 2,
  hardwareLength: 4,
  protocolLength: 5,
  operation: 6,
  senderMac: 8,
  senderAddress: 14,
  targetMac: 18,
  targetAddress: 24,
} as const;

/** Length of an ARP packet for IPv4 over Ethernet. */
export const ARP_PACKET_LENGTH = 28;
/** ar$hrd for Ethernet (IANA ARP hardware types). */
export const ARP_HARDWARE_ETHERNET = 1;

/** ar$op values (RFC 826). */
export const ArpOperation = {
  request: 1,
  reply: 2,
} as const;

/** An ARP operation this package speaks. */
export type ArpOperationCode = (typeof ArpOperation)[keyof typeof ArpOperation];

/** The meaning of an ARP packet for IPv4 over Ethernet. */
export interface ArpRepr {
  readonly operation: ArpOperationCode;
  /** ar$sha */
  readonly senderMac: MacAddress;
  /** ar$spa; 0.0.0.0 in an RFC 5227 probe. */
  readonly senderAddress: Ipv4Address;
  /** ar$tha; zero in a request. */
  readonly targetMac: MacAddress;
  /** ar$tpa */
  readonly targetAddress: Ipv4Address;
}

/** A view over an ARP packet. {@link ArpPacket.check} must pass before the getters are trusted. */
export class ArpPacket {
  /** The packet; trailing bytes (Ethernet padding) are ignored. */
  bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** A view over `bytes`, throwing `DecodeError('truncated')` when shorter than an ARP packet. */
  static checked(bytes: Uint8Array): ArpPacket {
    const packet = new ArpPacket(bytes);
    if (packet.check() !== undefined) throw truncatedArp(bytes.length);
    return packet;
  }

  /** `'truncated'` when the packet is shorter than 28 bytes, else undefined. */
  check(): string | undefined {
    return this.bytes.length < ARP_PACKET_LENGTH ? 'truncated' : undefined;
  }

  get hardwareType(): number {
    return readU16(this.bytes, ArpField.hardwareType);
  }

  set hardwareType(value: number) {
    writeU16(this.bytes, ArpField.hardwareType, value);
  }

  get protocolType(): number {
    return readU16(this.bytes, ArpField.protocolType);
  }

  set protocolType(value: number) {
    writeU16(this.bytes, ArpField.protocolType, value);
  }

  get hardwareLength(): number {
    return this.bytes[ArpField.hardwareLength];
  }

  set hardwareLength(value: number) {
    this.bytes[ArpField.hardwareLength] = value;
  }

  get protocolLength(): number {
    return this.bytes[ArpField.protocolLength];
  }

  set protocolLength(value: number) {
    this.bytes[ArpField.protocolLength] = value;
  }

  get operation(): number {
    return readU16(this.bytes, ArpField.operation);
  }

  set operation(value: number) {
    writeU16(this.bytes, ArpField.operation, value);
  }

  get senderMac(): MacAddress {
    return readMac(this.bytes, ArpField.senderMac);
  }

  set senderMac(mac: MacAddress) {
    writeMac(this.bytes, ArpField.senderMac, mac);
  }

  get senderAddress(): Ipv4Address {
    return readIpv4(this.bytes, ArpField.senderAddress);
  }

  set senderAddress(address: Ipv4Address) {
    writeIpv4(this.bytes, ArpField.senderAddress, address);
  }

  get targetMac(): MacAddress {
    return readMac(this.bytes, ArpField.targetMac);
  }

  set targetMac(mac: MacAddress) {
    writeMac(this.bytes, ArpField.targetMac, mac);
  }

  get targetAddress(): Ipv4Address {
    return readIpv4(this.bytes, ArpField.targetAddress);
  }

  set targetAddress(address: Ipv4Address) {
    writeIpv4(this.bytes, ArpField.targetAddress, address);
  }
}

function truncatedArp(length: number): DecodeError {
  return new DecodeError('truncated', `ARP packet of ${length} bytes is shorter than ${ARP_PACKET_LENGTH}`, 0);
}

/**
 * Decodes an ARP packet, accepting only IPv4 over Ethernet (RFC 826 "Packet Reception": the
 * hardware and protocol types we speak). Throws {@link DecodeError}: `'truncated'`,
 * `'bad-hardware-type'`, `'bad-protocol-type'`, `'bad-address-length'` or `'bad-operation'`.
 */
export function parseArp(packet: ArpPacket): ArpRepr {
  if (packet.check() !== undefined) throw truncatedArp(packet.bytes.length);
  const hardwareType = packet.hardwareType;
  if (hardwareType !== ARP_HARDWARE_ETHERNET) {
    throw new DecodeError('bad-hardware-type', `ARP hardware type ${hardwareType} is not Ethernet (1)`, ArpField.hardwareType);
  }
  const protocolType = packet.protocolType;
  if (protocolType !== EtherType.ipv4) {
    throw new DecodeError('bad-protocol-type', `ARP protocol type 0x${protocolType.toString(16)} is not IPv4 (0x0800)`, ArpField.protocolType);
  }
  if (packet.hardwareLength !== 6 || packet.protocolLength !== 4) {
    throw new DecodeError(
      'bad-address-length',
      `ARP address lengths ${packet.hardwareLength}/${packet.protocolLength} are not 6/4`,
      ArpField.hardwareLength,
    );
  }
  const operation = packet.operation;
  if (operation !== ArpOperation.request && operation !== ArpOperation.reply) {
    throw new DecodeError('bad-operation', `ARP operation ${operation} is neither request (1) nor reply (2)`, ArpField.operation);
  }
  return {
    operation,
    senderMac: packet.senderMac,
    senderAddress: packet.senderAddress,
    targetMac: packet.targetMac,
    targetAddress: packet.targetAddress,
  };
}

/** Writes `repr` into `packet` (which must hold 28 bytes). Returns the packet length. */
export function emitArp(repr: ArpRepr, packet: ArpPacket): number {
  packet.hardwareType = ARP_HARDWARE_ETHERNET;
  packet.protocolType = EtherType.ipv4;
  packet.hardwareLength = 6;
  packet.protocolLength = 4;
  packet.operation = repr.operation;
  packet.senderMac = repr.senderMac;
  packet.senderAddress = repr.senderAddress;
  packet.targetMac = repr.targetMac;
  packet.targetAddress = repr.targetAddress;
  return ARP_PACKET_LENGTH;
}
