/** ETHERNET: Ethernet II framing and EtherType demultiplexing on top of a {@link Netif}. */
import type { MacAddress } from './address.js';
import type { Fill, TxOffload } from './netif.js';
import type { Counters } from './stats.js';

/** EtherType values used by the suite. */
export const EtherType = {
  ipv4: 0x0800,
  arp: 0x0806,
  vlan: 0x8100,
  ipv6: 0x86dd,
} as const;

/** What the receive path knows about a frame besides its payload. Valid only during the handler call. */
export interface EthernetFrameInfo {
  readonly source: MacAddress;
  readonly destination: MacAddress;
  readonly ethertype: number;
  /** 802.1Q VLAN identifier, or -1 for an untagged frame. */
  readonly vlan: number;
  /** The backend verified the transport checksum. */
  readonly checksumVerified: boolean;
}

/** Receives the payload of one frame (a view valid only during the call). */
export type EthernetHandler = (payload: Uint8Array, info: EthernetFrameInfo) => void;

/** An Ethernet layer. */
export interface Ethernet {
  /** Our MAC address. */
  readonly mac: MacAddress;
  /** Largest payload per frame (the device MTU, less 4 when sending VLAN-tagged). */
  readonly mtu: number;
  /** Whether the device can compute transport checksums for us. */
  readonly txChecksumOffload: boolean;
  /** Delivers frames of this EtherType to `handler` (replacing any earlier one). */
  register(ethertype: number, handler: EthernetHandler): void;
  /**
   * Sends a frame whose payload of at most `size` bytes is built in place by `fill`. Returns
   * false when dropped (larger than the MTU, device queue full); the reason is counted.
   */
  write(destination: MacAddress, ethertype: number, size: number, fill: Fill, offload?: TxOffload): boolean;
  /** Counters: frames in and out, and one counter per drop reason. */
  stats(): Counters;
}
