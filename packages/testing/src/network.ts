/**
 * A simulated Ethernet: any number of {@link SimulatedNetif}s, each on its own cable to a
 * learning switch (IEEE 802.1D style: learn source addresses, forward known unicast to its
 * port, flood unknown, broadcast and multicast destinations), and a plain point-to-point pair.
 * Fully deterministic for a seed: every random choice comes from the injected {@link Random}
 * and every delivery is a clock timer.
 */
import {
  CounterSet,
  isMulticastMac,
  localMac,
  readMac,
  type Clock,
  type Counters,
  type MacAddress,
  type Random,
} from '@morgana/core';
import { Link, type LinkConditions } from './link.js';
import { createSeededRandom } from './random.js';
import { ETHERNET_HEADER_LENGTH, SimulatedNetif } from './simulated-netif.js';

/** Default of {@link SimulatedNetworkOptions.macTableSize}, entries. */
export const DEFAULT_MAC_TABLE_SIZE = 1024;
/** Default of {@link SimulatedNetworkOptions.macAgeingMs}: IEEE 802.1D's recommended 300 s. */
export const DEFAULT_MAC_AGEING_MS = 300_000;

/** Options of {@link SimulatedNetwork}. */
export interface SimulatedNetworkOptions {
  /** Time for every link and the switch; usually a {@link VirtualClock}. */
  readonly clock: Clock;
  /** Source of every random choice (loss, duplication, jitter); seed it for a repeatable run. */
  readonly random: Random;
  /** Learned addresses the switch keeps; when full it stops learning and floods (`mac-table-full`). */
  readonly macTableSize?: number;
  /** A learned address is forgotten this long after its last frame, ms. */
  readonly macAgeingMs?: number;
  /** Conditions of a new device's cable when `attach` gives none; default a perfect wire. */
  readonly defaultLink?: LinkConditions;
}

/** Options of {@link SimulatedNetwork.attach}. */
export interface AttachOptions {
  /** A label for messages; default `dev<N>`. */
  readonly name?: string;
  /** Default: locally administered 02:00:00:00:00:NN, numbered in attach order. */
  readonly mac?: MacAddress;
  /** Largest Ethernet payload; default 1500. */
  readonly mtu?: number;
  /** Conditions of both directions of the device's cable to the switch. */
  readonly link?: LinkConditions;
  /** Receive batch limit of the device, frames. */
  readonly rxQueueLimit?: number;
}

interface SwitchPort {
  readonly netif: SimulatedNetif;
  /** Switch to device. */
  readonly downlink: Link;
  attached: boolean;
}

interface MacEntry {
  port: SwitchPort;
  lastSeen: number;
}

/**
 * A learning switch with simulated cables. Switch counters: `forwarded`, `flooded`,
 * `filtered` (destination on the ingress port), `runt` (shorter than an Ethernet header),
 * `mac-table-full`, `mac-moved` (an address seen on a new port).
 */
export class SimulatedNetwork {
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly macTableSize: number;
  private readonly macAgeingMs: number;
  private readonly defaultLink: LinkConditions;
  private readonly ports: SwitchPort[] = [];
  private readonly table = new Map<MacAddress, MacEntry>();
  private readonly counterSet = new CounterSet();
  private nextIndex = 1;

  /** A switch with no ports yet; {@link attach} adds devices. */
  constructor(options: SimulatedNetworkOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.macTableSize = options.macTableSize ?? DEFAULT_MAC_TABLE_SIZE;
    this.macAgeingMs = options.macAgeingMs ?? DEFAULT_MAC_AGEING_MS;
    this.defaultLink = options.defaultLink ?? {};
    if (!(Number.isInteger(this.macTableSize) && this.macTableSize >= 0)) {
      throw new RangeError(`macTableSize must be an integer >= 0, got ${this.macTableSize}`);
    }
  }

  /** Plugs a new device into the switch. */
  attach(options: AttachOptions = {}): SimulatedNetif {
    const index = this.nextIndex++;
    let port: SwitchPort | undefined;
    const netif = new SimulatedNetif(
      this.clock,
      { name: options.name ?? `dev${index}`, mac: options.mac ?? localMac(index), mtu: options.mtu, rxQueueLimit: options.rxQueueLimit },
      () => {
        if (port !== undefined) this.detach(port);
      },
    );
    const conditions = options.link ?? this.defaultLink;
    // Each direction draws from its own stream, so traffic on one cable never changes the
    // random choices made on another.
    const uplink = new Link(this.clock, createSeededRandom(this.random.uint32()), (frame) => {
      if (port !== undefined) this.ingress(port, frame);
    }, conditions);
    const downlink = new Link(this.clock, createSeededRandom(this.random.uint32()), (frame) => netif.arrive(frame), conditions);
    port = { netif, downlink, attached: true };
    netif.connect(uplink, downlink);
    this.ports.push(port);
    return netif;
  }

  /** Switch counters. */
  counters(): Counters {
    return this.counterSet.snapshot();
  }

  /** The learned, unexpired addresses and the name of the device each was learned from. */
  macTable(): Map<MacAddress, string> {
    const now = this.clock.now();
    const result = new Map<MacAddress, string>();
    for (const [mac, entry] of this.table) {
      if (now - entry.lastSeen < this.macAgeingMs) result.set(mac, entry.port.netif.name);
    }
    return result;
  }

  private detach(port: SwitchPort): void {
    port.attached = false;
    const index = this.ports.indexOf(port);
    if (index >= 0) this.ports.splice(index, 1);
    for (const [mac, entry] of this.table) if (entry.port === port) this.table.delete(mac);
  }

  private ingress(port: SwitchPort, frame: Uint8Array): void {
    if (!port.attached) return;
    if (frame.length < ETHERNET_HEADER_LENGTH) {
      this.counterSet.add('runt');
      return;
    }
    const now = this.clock.now();
    const destination = readMac(frame, 0);
    const source = readMac(frame, 6);
    if (!isMulticastMac(source)) this.learn(source, port, now);
    const entry = isMulticastMac(destination) ? undefined : this.table.get(destination);
    if (entry !== undefined && now - entry.lastSeen < this.macAgeingMs && entry.port.attached) {
      if (entry.port === port) {
        this.counterSet.add('filtered');
        return;
      }
      this.counterSet.add('forwarded');
      entry.port.downlink.send(frame);
      return;
    }
    this.counterSet.add('flooded');
    for (const other of this.ports) if (other !== port) other.downlink.send(frame);
  }

  private learn(source: MacAddress, port: SwitchPort, now: number): void {
    const entry = this.table.get(source);
    if (entry !== undefined) {
      if (entry.port !== port) this.counterSet.add('mac-moved');
      entry.port = port;
      entry.lastSeen = now;
      return;
    }
    if (this.table.size >= this.macTableSize) {
      this.evictExpired(now);
      if (this.table.size >= this.macTableSize) {
        this.counterSet.add('mac-table-full');
        return;
      }
    }
    this.table.set(source, { port, lastSeen: now });
  }

  private evictExpired(now: number): void {
    for (const [mac, entry] of this.table) if (now - entry.lastSeen >= this.macAgeingMs) this.table.delete(mac);
  }
}

/** Options of {@link createLinkPair}. */
export interface LinkPairOptions {
  /** Names of the two ends; default `a` and `b`. */
  readonly names?: readonly [string, string];
  /** MACs of the two ends; default 02:00:00:00:00:01 and :02. */
  readonly macs?: readonly [MacAddress, MacAddress];
  /** MTU of both ends; default 1500. */
  readonly mtu?: number;
}

/**
 * Two devices joined directly by one cable (no switch): each direction is one {@link Link}
 * with `conditions`. Cutting or changing either end's link changes the shared cable.
 */
export function createLinkPair(
  clock: Clock,
  random: Random,
  conditions: LinkConditions = {},
  options: LinkPairOptions = {},
): [SimulatedNetif, SimulatedNetif] {
  const [nameA, nameB] = options.names ?? ['a', 'b'];
  const [macA, macB] = options.macs ?? [localMac(1), localMac(2)];
  const a = new SimulatedNetif(clock, { name: nameA, mac: macA, mtu: options.mtu });
  const b = new SimulatedNetif(clock, { name: nameB, mac: macB, mtu: options.mtu });
  const aToB = new Link(clock, createSeededRandom(random.uint32()), (frame) => b.arrive(frame), conditions);
  const bToA = new Link(clock, createSeededRandom(random.uint32()), (frame) => a.arrive(frame), conditions);
  a.connect(aToB, bToA);
  b.connect(bToA, aToB);
  return [a, b];
}
