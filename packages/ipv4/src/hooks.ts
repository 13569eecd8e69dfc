/**
 * How the IP layer and the ICMP layer reach each other without importing each other's
 * factories (which would be a cycle): `createIpv4` files a small set of hooks for each IP
 * layer it makes here, and `createIcmp`, given that IP layer, looks them up. The public
 * `Ipv4` and `Icmp` interfaces stay exactly those of `@morgana/core`.
 *
 * - ICMP → IP: `deliverIcmpError` hands a parsed ICMP error to the transport that registered
 *   with `ip.onIcmpError(protocol, ...)`.
 * - IP → ICMP: the IP layer calls the {@link Ipv4ErrorReporter} that ICMP installed when it
 *   drops a datagram for an unknown protocol (Protocol Unreachable, RFC 1122 §3.2.2.1) and
 *   when a reassembly times out after fragment 0 arrived (Time Exceeded code 1, RFC 1122
 *   §3.3.2). With no ICMP layer attached, nothing is sent.
 */
import type { IcmpErrorInfo, Ip, IpReceiveInfo } from '@morgana/core';

/** What the IP layer asks ICMP to report. ICMP applies the rules of RFC 1122 §3.2.2 and the rate limit. */
export interface Ipv4ErrorReporter {
  /** No transport is registered for the protocol of this datagram. */
  protocolUnreachable(about: IpReceiveInfo): void;
  /** Reassembly timed out; `firstFragment` is fragment 0 (header and data) as it arrived. */
  reassemblyTimeExceeded(firstFragment: Uint8Array): void;
}

/** The IP layer's side of the link. */
export interface Ipv4IcmpHooks {
  /** Calls the handler registered with `onIcmpError` for `error.protocol`; false when there is none. */
  deliverIcmpError(error: IcmpErrorInfo): boolean;
  /** Installs (or, with undefined, removes) the reporter. */
  setErrorReporter(reporter: Ipv4ErrorReporter | undefined): void;
}

const registry = new WeakMap<Ip, Ipv4IcmpHooks>();

/** Files the hooks of an IP layer made by this package. */
export function attachIcmpHooks(ip: Ip, hooks: Ipv4IcmpHooks): void {
  registry.set(ip, hooks);
}

/** The hooks of `ip`, or undefined when it was not made by this package's `createIpv4`. */
export function icmpHooksOf(ip: Ip): Ipv4IcmpHooks | undefined {
  return registry.get(ip);
}
