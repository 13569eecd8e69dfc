/** IP: the network layer as transports see it (IPv4 today). */
import type { Ipv4Address, Ipv4Prefix } from './address.js';
import type { MorganaError } from './errors.js';
import type { Fill } from './netif.js';
import type { Counters } from './stats.js';

/** IP protocol numbers used by the suite. */
export const IpProtocol = {
  icmp: 1,
  tcp: 6,
  udp: 17,
} as const;

/** What a transport learns about a received datagram. Valid only during the handler call. */
export interface IpReceiveInfo {
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly protocol: number;
  readonly ttl: number;
  readonly tos: number;
  /** Sent to a broadcast or multicast address: transports never answer these with errors. */
  readonly broadcast: boolean;
  /** The whole datagram, header included: what an ICMP error about it quotes. */
  readonly datagram: Uint8Array;
  /** The backend verified the transport checksum; the transport may skip it. */
  readonly checksumVerified: boolean;
}

/** Receives a transport payload (a view valid only during the call). */
export type IpHandler = (payload: Uint8Array, info: IpReceiveInfo) => void;

/** An ICMP error about a datagram we sent, surfaced to the transport that sent it. */
export interface IcmpErrorInfo {
  /** ICMP type and code (RFC 792). */
  readonly type: number;
  readonly code: number;
  /** Addresses and protocol of our original datagram. */
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly protocol: number;
  /** The quoted start of our transport header (at least 8 bytes: ports, and TCP's sequence number). */
  readonly transportHeader: Uint8Array;
  /** Next-hop MTU for "fragmentation needed" (RFC 1191), else 0. */
  readonly nextHopMtu: number;
  /** The error a socket should report (`ConnectionRefused`, `UnreachableError`, ...). */
  readonly error: MorganaError;
}

/** Options for one outgoing datagram. */
export interface IpWriteOptions {
  /** Time to live; default from the layer's config (64). */
  readonly ttl?: number;
  /** Type of service / DSCP+ECN byte; default 0. */
  readonly tos?: number;
  /** Set DF and never fragment; the write fails if the datagram exceeds the route MTU. */
  readonly dontFragment?: boolean;
  /** Source address; default: the address of the route's interface. */
  readonly source?: Ipv4Address;
  /**
   * The transport left its checksum to the IP layer: the offset of the (zeroed) checksum field
   * in the payload. The IP layer seeds it with the pseudo-header sum and asks the device to
   * finish it when `txChecksumOffload` holds and the datagram is not fragmented; otherwise it
   * computes the checksum itself (a computed UDP checksum of 0 is sent as 0xffff, RFC 768).
   * Absent: the transport filled its checksum.
   */
  readonly checksumOffset?: number;
}

/** A route. */
export interface IpRoute {
  readonly destination: Ipv4Prefix;
  /** Next hop; undefined for an on-link route. */
  readonly gateway: Ipv4Address | undefined;
}

/** Interface address configuration. */
export interface Ipv4Config {
  /** Our address and prefix length; address 0.0.0.0 when unconfigured (before DHCP). */
  readonly address: Ipv4Prefix;
  /** Default gateway, if any. */
  readonly gateway?: Ipv4Address;
}

/** An IP layer. */
export interface Ip {
  /** Our primary address (0.0.0.0 when unconfigured). */
  address(): Ipv4Address;
  /** Delivers datagrams of this protocol to `handler` (replacing any earlier one). */
  register(protocol: number, handler: IpHandler): void;
  /** Delivers ICMP errors about datagrams of this protocol that we sent. */
  onIcmpError(protocol: number, handler: (error: IcmpErrorInfo) => void): void;
  /**
   * Sends a datagram whose payload of at most `size` bytes is built in place by `fill`,
   * fragmenting when it exceeds the route MTU (unless `dontFragment`). Returns false when it
   * was dropped (no route, unresolvable next hop, queue full); the reason is counted.
   */
  write(destination: Ipv4Address, protocol: number, size: number, fill: Fill, options?: IpWriteOptions): boolean;
  /** Largest payload that fits one unfragmented datagram toward `destination` (route MTU less the header). */
  mtu(destination: Ipv4Address): number;
  /** The source address we would use toward `destination`. */
  sourceFor(destination: Ipv4Address): Ipv4Address;
  /** The device computes transport checksums on transmit: transports may leave them to it. */
  readonly txChecksumOffload: boolean;
  stats(): Counters;
}

/** The IPv4 layer: an {@link Ip} with configuration and a routing table. */
export interface Ipv4 extends Ip {
  /** Current configuration. */
  config(): Ipv4Config;
  /** Changes the address (DHCP, or a user); ARP announces the new one. */
  configure(config: Ipv4Config): void;
  /** Adds a static route. */
  addRoute(route: IpRoute): void;
  /** Removes the static route for exactly this destination prefix. */
  removeRoute(destination: Ipv4Prefix): void;
  /** All routes, connected and default ones included. */
  routes(): IpRoute[];
}
