/**
 * The routing table of a host with one interface (RFC 1122 §3.3.1): the connected subnet, the
 * default gateway and static routes, chosen by longest prefix match.
 */
import { networkAddress, prefixMask } from '@morgana/core';
import type { IpRoute, Ipv4Address, Ipv4Prefix } from '@morgana/core';

/** Where a route came from; on a tie in prefix length the earlier kind in this order wins. */
export type RouteOrigin = 'connected' | 'static' | 'default';

/** A route with its origin, its prefix normalised to the network address. */
export interface TableRoute extends IpRoute {
  readonly origin: RouteOrigin;
  /** The prefix's netmask, kept so a lookup is one AND and one compare per route. */
  readonly mask: number;
}

const ORIGIN_RANK: Readonly<Record<RouteOrigin, number>> = { connected: 0, static: 1, default: 2 };

/** Normalises a prefix to its network address, so 10.0.0.7/24 and 10.0.0.0/24 are one key. */
export function normalizePrefix(prefix: Ipv4Prefix): Ipv4Prefix {
  return { address: networkAddress(prefix), length: prefix.length };
}

/**
 * Routes, kept sorted from most to least specific so a lookup returns the first match. A
 * tie in length goes to the connected route, then a static one, then the configured default
 * gateway: the directly attached subnet is the most trustworthy path (the usual
 * administrative-distance order).
 */
export class RoutingTable {
  private routes: TableRoute[] = [];

  /** Replaces the connected and default routes after an address change. */
  setInterface(address: Ipv4Prefix | undefined, gateway: Ipv4Address | undefined): void {
    const kept = this.routes.filter((route) => route.origin === 'static');
    if (address !== undefined) kept.push(tableRoute(address, undefined, 'connected'));
    if (gateway !== undefined) kept.push(tableRoute({ address: 0 as Ipv4Address, length: 0 }, gateway, 'default'));
    this.routes = sortRoutes(kept);
  }

  /** Adds a static route, replacing a static route for the same prefix. */
  addStatic(route: IpRoute): void {
    const destination = normalizePrefix(route.destination);
    const kept = this.routes.filter((existing) => !(existing.origin === 'static' && samePrefix(existing.destination, destination)));
    kept.push(tableRoute(destination, route.gateway, 'static'));
    this.routes = sortRoutes(kept);
  }

  /** Removes the static route for exactly `destination`; true when there was one. */
  removeStatic(destination: Ipv4Prefix): boolean {
    const normalized = normalizePrefix(destination);
    const kept = this.routes.filter((existing) => !(existing.origin === 'static' && samePrefix(existing.destination, normalized)));
    const removed = kept.length !== this.routes.length;
    this.routes = kept;
    return removed;
  }

  /** The most specific route containing `destination`, or undefined. */
  lookup(destination: Ipv4Address): TableRoute | undefined {
    for (const route of this.routes) {
      if (((destination & route.mask) >>> 0) === route.destination.address) return route;
    }
    return undefined;
  }

  /** Every route, most specific first. */
  list(): TableRoute[] {
    return this.routes.slice();
  }
}

function tableRoute(prefix: Ipv4Prefix, gateway: Ipv4Address | undefined, origin: RouteOrigin): TableRoute {
  return { destination: normalizePrefix(prefix), gateway, origin, mask: prefixMask(prefix.length) };
}

function samePrefix(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  return a.length === b.length && ((a.address & prefixMask(a.length)) >>> 0) === ((b.address & prefixMask(b.length)) >>> 0);
}

function sortRoutes(routes: TableRoute[]): TableRoute[] {
  return routes.sort(
    (a, b) => b.destination.length - a.destination.length || ORIGIN_RANK[a.origin] - ORIGIN_RANK[b.origin],
  );
}
