/** What the datagram and stream devices share: identity, counters, the receive handlers. */
import { ClosedError, CounterSet, NO_OFFLOAD, emptyNetifStats, localMac, parseMac } from '@morgana/core';
import type { Counters, Fill, FrameHandler, MacAddress, Netif, NetifStats, OffloadFlags, TxOffload } from '@morgana/core';

/** Ethernet header without a VLAN tag. */
export const ETHERNET_HEADER = 14;
/** An 802.1Q tag may ride on top of an MTU-sized payload. */
export const VLAN_TAG = 4;
/** Default MTU, standard Ethernet. */
export const DEFAULT_MTU = 1500;
/** Default of `maxWriteQueueBytes`: about 700 full frames waiting in the socket. */
export const DEFAULT_MAX_WRITE_QUEUE_BYTES = 1024 * 1024;

/** Options every socket device takes. */
export interface SocketNetifOptions {
  /** The stack's MAC address. Default: a random locally administered one. */
  readonly mac?: MacAddress | string;
  /** Largest Ethernet payload. Default 1500. */
  readonly mtu?: number;
  /** Bytes allowed to wait in the socket before writes are dropped as `'queue-full'`. Default 1 MiB. */
  readonly maxWriteQueueBytes?: number;
}

/** A frames-over-socket device. */
export interface SocketNetif extends Netif {
  /** Drop and event reasons, kebab-case (`'too-large'`, `'queue-full'`, `'not-connected'`, ...). */
  counters(): Counters;
}

function ignoreFrame(): void {}

export function resolveMac(mac: MacAddress | string | undefined): MacAddress {
  if (typeof mac === 'string') return parseMac(mac);
  if (mac !== undefined) return mac;
  const bits = new Uint32Array(1);
  crypto.getRandomValues(bits);
  return localMac(bits[0]);
}

export function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export abstract class SocketNetifBase implements SocketNetif {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly offload: OffloadFlags = NO_OFFLOAD;
  /** Largest frame either way: header, VLAN tag and MTU. */
  protected readonly maxFrame: number;
  protected readonly maxWriteQueueBytes: number;
  protected readonly counterSet = new CounterSet();
  protected readonly netifStats: NetifStats = emptyNetifStats();
  protected onFrame: FrameHandler = ignoreFrame;
  protected onBatchEnd: (() => void) | undefined;
  protected closed = false;

  constructor(options: SocketNetifOptions) {
    this.mac = resolveMac(options.mac);
    this.mtu = positiveInteger(options.mtu ?? DEFAULT_MTU, 'mtu');
    this.maxFrame = ETHERNET_HEADER + VLAN_TAG + this.mtu;
    this.maxWriteQueueBytes = positiveInteger(options.maxWriteQueueBytes ?? DEFAULT_MAX_WRITE_QUEUE_BYTES, 'maxWriteQueueBytes');
  }

  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    if (this.closed) throw new ClosedError('the socket device is closed');
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  abstract write(size: number, fill: Fill, offload?: TxOffload): boolean;
  abstract close(): Promise<void>;

  stats(): NetifStats {
    return { ...this.netifStats };
  }

  counters(): Counters {
    return this.counterSet.snapshot();
  }

  /** Checks a write before anything is allocated; returns the reason to drop it, if any. */
  protected refuseWrite(size: number, offload: TxOffload | undefined): string | undefined {
    if (this.closed) return 'closed';
    // Nothing on the other side finishes checksums or segments: the stack must not ask.
    if (offload !== undefined) return 'offload-unsupported';
    if (size > this.maxFrame) return 'too-large';
    return undefined;
  }

  protected deliver(frame: Uint8Array): void {
    this.netifStats.rxFrames++;
    this.netifStats.rxBytes += frame.length;
    this.onFrame(frame);
  }

  protected sent(bytes: number): void {
    this.netifStats.txFrames++;
    this.netifStats.txBytes += bytes;
  }

  protected dropTx(reason: string): false {
    this.netifStats.txDropped++;
    this.counterSet.add(reason);
    return false;
  }

  protected dropRx(reason: string): void {
    this.netifStats.rxDropped++;
    this.counterSet.add(reason);
  }

  protected stopReceiving(): void {
    this.onFrame = ignoreFrame;
    this.onBatchEnd = undefined;
  }
}
