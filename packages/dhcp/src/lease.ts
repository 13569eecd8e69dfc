/** A lease as the client holds it, built from the options of a DHCPACK. */
import { DecodeError, type Ipv4Address, type Ipv4Prefix, maskLength } from '@morgana/core';
import type { DhcpOptions } from './options.js';

/** Lease time meaning "forever" (RFC 2131 3.3). */
export const INFINITE_LEASE = 0xffff_ffff;

/** What a DHCPACK gave us. Times in seconds, as the server sent them. */
export interface DhcpLease {
  readonly address: Ipv4Address;
  /** Prefix length from the subnet mask (option 1), or the address's class when absent. */
  readonly prefixLength: number;
  /** The first router (option 3), our default gateway. */
  readonly gateway: Ipv4Address | undefined;
  readonly routers: readonly Ipv4Address[];
  readonly dnsServers: readonly Ipv4Address[];
  readonly domainName: string | undefined;
  /** The server that granted the lease (option 54). */
  readonly server: Ipv4Address;
  /** Lease time; {@link INFINITE_LEASE} for a lease that never expires. */
  readonly leaseTime: number;
  /** T1 and T2 (RFC 2131 4.4.5): options 58 and 59, or 0.5 and 0.875 of the lease. */
  readonly renewalTime: number;
  readonly rebindingTime: number;
  /** Monotonic time (ms) of the DHCPREQUEST the lease answers: lease times count from it (RFC 2131 4.4.1). */
  readonly obtainedAt: number;
  /** Every option of the DHCPACK. */
  readonly options: DhcpOptions;
}

/**
 * The prefix of an address without a subnet mask option: its class's natural mask (RFC 791
 * classes; RFC 1122 3.3.1.1 leaves the default to the host).
 */
function classfulLength(address: Ipv4Address): number {
  const first = address >>> 24;
  if (first < 128) return 8;
  if (first < 192) return 16;
  return 24;
}

/** The configuration the lease asks for. */
export function leasePrefix(lease: DhcpLease): Ipv4Prefix {
  return { address: lease.address, length: lease.prefixLength };
}

/**
 * Builds a lease from an ACK for `address` sent by `server`. Throws {@link DecodeError} when
 * it lacks a lease time or its subnet mask is not contiguous.
 */
export function leaseFromAck(address: Ipv4Address, server: Ipv4Address, options: DhcpOptions, obtainedAt: number): DhcpLease {
  const leaseTime = options.leaseTime;
  // RFC 2131 table 3: a DHCPACK to a DHCPREQUEST MUST carry the lease time.
  if (leaseTime === undefined) throw new DecodeError('no-lease-time', 'DHCPACK without a lease time');
  let prefixLength: number;
  if (options.subnetMask === undefined) {
    prefixLength = classfulLength(address);
  } else {
    try {
      prefixLength = maskLength(options.subnetMask);
    } catch {
      throw new DecodeError('bad-subnet-mask', 'DHCPACK with a non-contiguous subnet mask');
    }
  }
  let renewalTime: number;
  let rebindingTime: number;
  if (leaseTime === INFINITE_LEASE) {
    renewalTime = INFINITE_LEASE;
    rebindingTime = INFINITE_LEASE;
  } else {
    // RFC 2131 4.4.5: T1 defaults to half the lease, T2 to 0.875 of it; server values are
    // used only when they keep T1 < T2 < lease, so the timers always fire in order.
    const t1 = options.renewalTime;
    const t2 = options.rebindingTime;
    rebindingTime = t2 !== undefined && t2 < leaseTime ? t2 : Math.floor(leaseTime * 0.875);
    renewalTime = t1 !== undefined && t1 < rebindingTime ? t1 : Math.floor(leaseTime * 0.5);
    if (renewalTime > rebindingTime) renewalTime = rebindingTime;
  }
  const routers = options.routers ?? [];
  return {
    address,
    prefixLength,
    gateway: routers[0],
    routers,
    dnsServers: options.dnsServers ?? [],
    domainName: options.domainName,
    server,
    leaseTime,
    renewalTime,
    rebindingTime,
    obtainedAt,
    options,
  };
}
