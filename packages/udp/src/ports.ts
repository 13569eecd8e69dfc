/**
 * The table of bound sockets, keyed by local port and then local address, and ephemeral port
 * selection (RFC 6056).
 */
import { AddressInUse, IPV4_ANY, type Ipv4Address, type Random, randomBelow } from '@morgana/core';

/** What the table holds per bound (address, port); the UDP layer's socket implements it. */
export interface Bound {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
}

/** Sockets on one port: at most one bound to every address, or any number bound to distinct addresses. */
interface PortEntry<T extends Bound> {
  wildcard: T | undefined;
  specific: Map<Ipv4Address, T> | undefined;
}

/** Bound sockets, with the demultiplexing lookup of the receive path. */
export class PortTable<T extends Bound> {
  private readonly ports = new Map<number, PortEntry<T>>();

  /** Number of ports with at least one socket. */
  get size(): number {
    return this.ports.size;
  }

  /**
   * True when a socket on `address` could bind `port`: a wildcard socket conflicts with every
   * socket on the port, a specific one with the wildcard and its own address.
   */
  isFree(address: Ipv4Address, port: number): boolean {
    const entry = this.ports.get(port);
    if (entry === undefined) return true;
    if (entry.wildcard !== undefined) return false;
    if (address === IPV4_ANY) return entry.specific === undefined || entry.specific.size === 0;
    return entry.specific?.has(address) !== true;
  }

  /** True when nothing at all is bound to `port`. */
  isUnused(port: number): boolean {
    return !this.ports.has(port);
  }

  /** Adds a socket; throws {@link AddressInUse} when it conflicts. */
  add(socket: T): void {
    const { localAddress, localPort } = socket;
    if (!this.isFree(localAddress, localPort)) throw new AddressInUse(`UDP port ${localPort} is already bound`);
    let entry = this.ports.get(localPort);
    if (entry === undefined) {
      entry = { wildcard: undefined, specific: undefined };
      this.ports.set(localPort, entry);
    }
    if (localAddress === IPV4_ANY) {
      entry.wildcard = socket;
    } else {
      entry.specific ??= new Map();
      entry.specific.set(localAddress, socket);
    }
  }

  /** Removes a socket if it is the one bound at its address and port. */
  remove(socket: T): void {
    const entry = this.ports.get(socket.localPort);
    if (entry === undefined) return;
    if (entry.wildcard === socket) entry.wildcard = undefined;
    else if (entry.specific?.get(socket.localAddress) === socket) entry.specific.delete(socket.localAddress);
    if (entry.wildcard === undefined && (entry.specific === undefined || entry.specific.size === 0)) {
      this.ports.delete(socket.localPort);
    }
  }

  /**
   * The socket that receives a datagram for (`address`, `port`): the one bound to exactly that
   * address, else the wildcard one.
   */
  lookup(address: Ipv4Address, port: number): T | undefined {
    const entry = this.ports.get(port);
    if (entry === undefined) return undefined;
    if (entry.specific !== undefined) {
      const socket = entry.specific.get(address);
      if (socket !== undefined) return socket;
    }
    return entry.wildcard;
  }

  /** Every bound socket. */
  all(): T[] {
    const sockets: T[] = [];
    for (const entry of this.ports.values()) {
      if (entry.wildcard !== undefined) sockets.push(entry.wildcard);
      if (entry.specific !== undefined) sockets.push(...entry.specific.values());
    }
    return sockets;
  }
}

/** The ephemeral port range (RFC 6056 §2.1 recommends the IANA dynamic range 49152–65535). */
export interface EphemeralRange {
  readonly min: number;
  readonly max: number;
}

/**
 * RFC 6056 §3.3.1, Algorithm 1 ("simple port randomization"): start at a random port of the
 * range and search upward, wrapping, for one nothing is bound to. Algorithm 1 suits UDP: the
 * port is picked at bind time, before any remote endpoint is known, so the per-destination
 * hashing of Algorithm 3 has nothing to hash. A port is taken only when wholly unused, so an
 * ephemeral port never shares a port with a socket bound to a specific address either.
 * Throws {@link AddressInUse} when every port of the range is in use.
 */
export function pickEphemeralPort(range: EphemeralRange, random: Random, isUnused: (port: number) => boolean): number {
  const count = range.max - range.min + 1;
  let offset = randomBelow(random, count);
  for (let tries = 0; tries < count; tries++) {
    const port = range.min + offset;
    if (isUnused(port)) return port;
    offset = offset + 1 === count ? 0 : offset + 1;
  }
  throw new AddressInUse(`every ephemeral UDP port ${range.min}-${range.max} is in use`);
}
