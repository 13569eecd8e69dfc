/** ICMP: echo and error reporting for IPv4 (RFC 792, RFC 1122 §3.2.2). */
import type { Ipv4Address } from './address.js';
import type { IpReceiveInfo } from './ip.js';
import type { Counters } from './stats.js';

/** ICMPv4 Destination Unreachable codes used by transports (RFC 792, RFC 1122 3.2.2.1). */
export const UnreachableCode = {
  net: 0,
  host: 1,
  protocol: 2,
  port: 3,
  fragmentationNeeded: 4,
} as const;

/** Options of one ping. */
export interface PingOptions {
  /** Payload bytes after the 8-byte ICMP header; default 56. */
  readonly size?: number;
  /** Milliseconds to wait for the reply; default 1000. */
  readonly timeout?: number;
  readonly ttl?: number;
}

/** The answer to a ping. */
export interface PingResult {
  /** Round-trip time in milliseconds. */
  readonly rtt: number;
  /** TTL of the reply. */
  readonly ttl: number;
  /** Payload bytes echoed. */
  readonly size: number;
}

/** An ICMPv4 layer. */
export interface Icmp {
  /** Sends an echo request; resolves with the round trip time or rejects with `TimeoutError`. */
  ping(destination: Ipv4Address, options?: PingOptions): Promise<PingResult>;
  /**
   * Reports Destination Unreachable about a datagram we received (transports call this for a
   * closed port or unknown protocol). Rate-limited; never sent about an ICMP error, a
   * broadcast, or a fragment other than the first (RFC 1122 3.2.2).
   */
  destinationUnreachable(code: number, about: IpReceiveInfo): void;
  stats(): Counters;
}
