/** ARP: IPv4-to-MAC resolution on Ethernet (RFC 826). */
import type { Ipv4Address, MacAddress } from './address.js';
import type { Fill, TxOffload } from './netif.js';
import type { Counters } from './stats.js';

/** One row of the ARP cache. */
export interface ArpEntry {
  readonly address: Ipv4Address;
  /** Resolved MAC; undefined while pending. */
  readonly mac: MacAddress | undefined;
  readonly kind: 'static' | 'dynamic' | 'pending';
  /** Monotonic time (ms) at which a dynamic entry expires; undefined for static and pending. */
  readonly expiresAt: number | undefined;
}

/** An ARP layer. */
export interface Arp {
  /** The IPv4 addresses we answer for and announce; announces new ones (RFC 5227 §2.3). */
  setAddresses(addresses: readonly Ipv4Address[]): void;
  /** Our IPv4 addresses. */
  addresses(): readonly Ipv4Address[];
  /** The cached MAC for `address`, without sending anything. */
  lookup(address: Ipv4Address): MacAddress | undefined;
  /** Resolves `address`, sending requests with retries; rejects with `UnreachableError`. */
  query(address: Ipv4Address): Promise<MacAddress>;
  /**
   * Sends an Ethernet payload to the host with IPv4 address `address`: at once when it is
   * resolved, otherwise it is built now, queued (bounded per address, oldest dropped and
   * counted) and sent when the reply comes. Returns false when dropped.
   */
  output(address: Ipv4Address, ethertype: number, size: number, fill: Fill, offload?: TxOffload): boolean;
  /** Called with each address that stopped answering after every retry. */
  onUnreachable(handler: (address: Ipv4Address) => void): void;
  /**
   * RFC 5227 §2.1 probe: asks whether anyone uses `address` (sender address 0.0.0.0).
   * Resolves true when someone answered (the address is taken).
   */
  probe(address: Ipv4Address): Promise<boolean>;
  /** Adds a permanent entry, never expired, refreshed or evicted. */
  addStatic(address: Ipv4Address, mac: MacAddress): void;
  /** Forgets an entry (static or dynamic). */
  remove(address: Ipv4Address): void;
  /** The cache. */
  entries(): ArpEntry[];
  stats(): Counters;
}
