/**
 * A simulated network device: a {@link Netif} whose frames travel over simulated {@link Link}s,
 * to a learning switch ({@link SimulatedNetwork}) or straight to a peer ({@link createLinkPair}).
 */
import {
  CounterSet,
  emptyNetifStats,
  NO_OFFLOAD,
  type Clock,
  type Counters,
  type Fill,
  type FrameHandler,
  type MacAddress,
  type Netif,
  type NetifStats,
  type OffloadFlags,
} from '@morgana/core';
import type { Link, LinkConditions } from './link.js';

/** Ethernet header without a VLAN tag: destination, source, EtherType. */
export const ETHERNET_HEADER_LENGTH = 14;
/** An 802.1Q tag adds four bytes in front of the EtherType. */
const VLAN_TAG_LENGTH = 4;
const ETHERTYPE_VLAN = 0x8100;
/** Standard Ethernet payload size. */
export const DEFAULT_MTU = 1500;
/** Default of {@link SimulatedNetifOptions.rxQueueLimit}, frames. */
export const DEFAULT_RX_QUEUE_LIMIT = 1024;

/** Which direction(s) of a device's cable a change applies to. */
export type LinkDirection = 'both' | 'transmit' | 'receive';

/** Options shared by every way of making a simulated device. */
export interface SimulatedNetifOptions {
  /** A label for messages and pcap names. */
  readonly name: string;
  readonly mac: MacAddress;
  /** Largest Ethernet payload, default {@link DEFAULT_MTU}; larger frames are dropped and counted. */
  readonly mtu?: number;
  /**
   * Frames that arrived at one instant and wait for the device's next receive batch; more are
   * dropped (`rx-queue-full`). Default {@link DEFAULT_RX_QUEUE_LIMIT}.
   */
  readonly rxQueueLimit?: number;
}

/** Largest frame a device with this MTU carries, given the frame's own 802.1Q tag if any. */
export function maxFrameLength(mtu: number, frame: Uint8Array): number {
  const tagged = frame.length >= ETHERNET_HEADER_LENGTH && ((frame[12] << 8) | frame[13]) === ETHERTYPE_VLAN;
  return mtu + ETHERNET_HEADER_LENGTH + (tagged ? VLAN_TAG_LENGTH : 0);
}

/**
 * A {@link Netif} on a simulated cable. Device counters (kebab-case): `tx-oversize`,
 * `tx-closed`, `tx-bad-fill`, `rx-oversize`, `rx-closed`, `rx-no-listener`, `rx-queue-full`;
 * {@link counters} adds the cable's link counters with `tx-link-` / `rx-link-` prefixes.
 */
export class SimulatedNetif implements Netif {
  readonly name: string;
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly offload: OffloadFlags = NO_OFFLOAD;
  private readonly rxQueueLimit: number;
  private readonly netifStats: NetifStats = emptyNetifStats();
  private readonly deviceCounters = new CounterSet();
  private onFrame: FrameHandler | undefined;
  private onBatchEnd: (() => void) | undefined;
  private closed = false;
  private rxQueue: Uint8Array[] = [];
  private flushScheduled = false;
  private transmitLink: Link | undefined;
  private receiveLink: Link | undefined;
  private readonly onClose: () => void;

  /** @internal Made by {@link SimulatedNetwork.attach} and {@link createLinkPair}. */
  constructor(
    private readonly clock: Clock,
    options: SimulatedNetifOptions,
    onClose: () => void = () => {},
  ) {
    this.name = options.name;
    this.mac = options.mac;
    this.mtu = options.mtu ?? DEFAULT_MTU;
    this.rxQueueLimit = options.rxQueueLimit ?? DEFAULT_RX_QUEUE_LIMIT;
    if (!(Number.isInteger(this.mtu) && this.mtu >= 0)) throw new RangeError(`mtu must be an integer >= 0, got ${this.mtu}`);
    if (!(Number.isInteger(this.rxQueueLimit) && this.rxQueueLimit >= 1)) {
      throw new RangeError(`rxQueueLimit must be an integer >= 1, got ${this.rxQueueLimit}`);
    }
    this.onClose = onClose;
  }

  /** @internal Joins the device to its cable: frames it writes go into `transmit`, `receive` brings frames to it. */
  connect(transmit: Link, receive: Link): void {
    this.transmitLink = transmit;
    this.receiveLink = receive;
  }

  /** Netif: receive frames (one batch per instant, then `onBatchEnd`). */
  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  /** Netif: send a frame of at most `size` bytes that `fill` writes; false when it was dropped (counted). */
  write(size: number, fill: Fill): boolean {
    const stats = this.netifStats;
    if (this.closed || this.transmitLink === undefined) {
      stats.txDropped++;
      this.deviceCounters.add('tx-closed');
      return false;
    }
    const buffer = new Uint8Array(Math.max(0, size));
    const length = fill(buffer);
    if (!(Number.isInteger(length) && length >= 0 && length <= buffer.length)) {
      stats.txDropped++;
      this.deviceCounters.add('tx-bad-fill');
      return false;
    }
    const frame = length === buffer.length ? buffer : buffer.subarray(0, length);
    if (frame.length > maxFrameLength(this.mtu, frame)) {
      stats.txDropped++;
      this.deviceCounters.add('tx-oversize');
      return false;
    }
    stats.txFrames++;
    stats.txBytes += frame.length;
    this.transmitLink.send(frame);
    return true;
  }

  /** Netif: frame and byte counts. */
  stats(): NetifStats {
    return { ...this.netifStats };
  }

  /** Device counters plus the cable's link counters (`tx-link-lost`, `rx-link-delivered`, ...). */
  counters(): Counters {
    const result: Record<string, number> = { ...this.deviceCounters.snapshot() };
    for (const [prefix, link] of [
      ['tx-link-', this.transmitLink],
      ['rx-link-', this.receiveLink],
    ] as const) {
      if (link === undefined) continue;
      for (const [name, value] of Object.entries(link.counters())) result[prefix + name] = value;
    }
    return result;
  }

  /** Changes the conditions of the device's cable, both directions unless told otherwise. */
  setLink(conditions: LinkConditions, direction: LinkDirection = 'both'): void {
    for (const link of this.links(direction)) link.setConditions(conditions);
  }

  /** Cuts the device's cable: frames in flight and frames sent while cut are lost. */
  cut(direction: LinkDirection = 'both'): void {
    for (const link of this.links(direction)) link.cut();
  }

  /** Reconnects the device's cable. */
  restore(direction: LinkDirection = 'both'): void {
    for (const link of this.links(direction)) link.restore();
  }

  /** Netif: stops sending and receiving. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.rxQueue = [];
      this.onFrame = undefined;
      this.onBatchEnd = undefined;
      this.onClose();
    }
    return Promise.resolve();
  }

  /** @internal A frame arrives from the wire; it is handed to the listener in the next receive batch at this instant. */
  arrive(frame: Uint8Array): void {
    const stats = this.netifStats;
    if (this.closed) {
      stats.rxDropped++;
      this.deviceCounters.add('rx-closed');
      return;
    }
    if (frame.length > maxFrameLength(this.mtu, frame)) {
      stats.rxDropped++;
      this.deviceCounters.add('rx-oversize');
      return;
    }
    if (this.rxQueue.length >= this.rxQueueLimit) {
      stats.rxDropped++;
      this.deviceCounters.add('rx-queue-full');
      return;
    }
    // Every receiver gets its own copy: a flooded or duplicated frame is never shared.
    this.rxQueue.push(frame.slice());
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.clock.setTimer(0, () => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.rxQueue;
    this.rxQueue = [];
    const stats = this.netifStats;
    let delivered = 0;
    for (const frame of batch) {
      const onFrame = this.onFrame;
      if (onFrame === undefined) {
        stats.rxDropped++;
        this.deviceCounters.add(this.closed ? 'rx-closed' : 'rx-no-listener');
        continue;
      }
      stats.rxFrames++;
      stats.rxBytes += frame.length;
      delivered++;
      onFrame(frame);
    }
    if (delivered > 0) this.onBatchEnd?.();
  }

  private links(direction: LinkDirection): Link[] {
    const links: Link[] = [];
    if (direction !== 'receive' && this.transmitLink !== undefined) links.push(this.transmitLink);
    if (direction !== 'transmit' && this.receiveLink !== undefined && this.receiveLink !== this.transmitLink) {
      links.push(this.receiveLink);
    }
    return links;
  }
}
