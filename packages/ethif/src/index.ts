export { createEthernet } from './ethernet.js';
export type { EthernetConfig, EthernetVlanConfig } from './ethernet.js';
export { createArp } from './arp.js';
export { ARP_DEFAULTS, resolveArpConfig } from './config.js';
export type { ArpConfig, ResolvedArpConfig } from './config.js';
export {
  ARP_HARDWARE_ETHERNET,
  ARP_PACKET_LENGTH,
  ArpField,
  ArpOperation,
  ArpPacket,
  ETHERNET_HEADER_LENGTH,
  ETHERNET_MIN_FRAME_LENGTH,
  ETHERTYPE_MIN,
  EthernetField,
  EthernetFrame,
  VLAN_ID_MAX,
  VLAN_TAG_LENGTH,
  emitArp,
  emitEthernet,
  ethernetHeaderLength,
  parseArp,
  parseEthernet,
  vlanTagControl,
} from './wire.js';
export type { ArpOperationCode, ArpRepr, EthernetRepr, VlanTag } from './wire.js';
