/**
 * An in-memory IP layer pair for TCP tests and benchmarks: two `Ip` endpoints that hand
 * datagrams to each other, either through a clock timer (with a seeded link model: delay,
 * jitter that reorders, loss, duplication, bandwidth with a drop-tail queue) or synchronously
 * from a queue drained in a microtask (the zero-delay benchmark path).
 */
import { CounterSet } from '@morgana/core';
import type { Clock, Fill, IcmpErrorInfo, Ip, IpHandler, IpReceiveInfo, IpWriteOptions, Ipv4Address, Random } from '@morgana/core';

/** How one direction of the link treats datagrams. */
export interface LinkModel {
  /** One-way delay, ms; default 0. */
  readonly delay?: number;
  /** Extra random delay in [0, jitter) ms per datagram: reorders them; default 0. */
  readonly jitter?: number;
  /** Probability of losing a datagram; default 0. */
  readonly loss?: number;
  /** Probability of delivering a datagram twice; default 0. */
  readonly duplicate?: number;
  /** Bytes per ms (1 = 8 kbit/s... 125_000 = 1 Gbit/s); default unlimited. */
  readonly bandwidth?: number;
  /** Bytes waiting for the wire before drop-tail (with `bandwidth`); default 96 000. */
  readonly queueBytes?: number;
}

/** Options of {@link createMemoryIpPair}. */
export interface MemoryIpPairOptions {
  readonly clock: Clock;
  /** Drives the link model; required when any probability is set. */
  readonly random?: Random;
  /** IP MTU (payload limit is this less 20); default 1500. */
  readonly mtu?: number;
  /** Deliver through clock timers (default) or synchronously from a microtask-drained queue. */
  readonly mode?: 'clock' | 'microtask';
  readonly aToB?: LinkModel;
  readonly bToA?: LinkModel;
  /** Claim checksum offload: senders leave the checksum, receivers see it verified. */
  readonly checksumOffload?: boolean;
}

/** One endpoint: an `Ip` plus test hooks. */
export interface MemoryIp extends Ip {
  /** Called with each datagram this endpoint sends (payload bytes, a copy); return false to drop it. */
  tap: ((payload: Uint8Array, destination: Ipv4Address) => boolean) | undefined;
  /** Delivers an ICMP error to the registered handler, as IPv4 would. */
  injectIcmpError(error: IcmpErrorInfo): void;
  /** Delivers a TCP payload to this endpoint as if it came from `source`. */
  inject(payload: Uint8Array, source: Ipv4Address, options?: { broadcast?: boolean; checksumVerified?: boolean }): void;
  /** Datagrams sent. */
  sent: number;
}

/** The pair. */
export interface MemoryIpPair {
  readonly a: MemoryIp;
  readonly b: MemoryIp;
  readonly addressA: Ipv4Address;
  readonly addressB: Ipv4Address;
  /** Datagrams queued or in flight. */
  inFlight(): number;
  /** Changes a direction's link model (for a test that cuts or heals the link). */
  setLink(direction: 'aToB' | 'bToA', model: LinkModel): void;
}

const SLAB_SIZE = 1 << 20;

export const ADDRESS_A = 0x0a000001 as Ipv4Address;
export const ADDRESS_B = 0x0a000002 as Ipv4Address;

export function createMemoryIpPair(options: MemoryIpPairOptions): MemoryIpPair {
  const clock = options.clock;
  const mtu = options.mtu ?? 1500;
  const offload = options.checksumOffload ?? false;
  const links: Record<'aToB' | 'bToA', LinkModel> = { aToB: options.aToB ?? {}, bToA: options.bToA ?? {} };
  const wireFree = { aToB: 0, bToA: 0 };
  let inFlight = 0;
  const microQueue: { target: Endpoint; payload: Uint8Array; source: Ipv4Address }[] = [];
  let draining = false;
  // Datagrams are carved from slabs: a buffer per datagram would measure the allocator, not TCP.
  let slab = new Uint8Array(SLAB_SIZE);
  let slabUsed = 0;
  const allocate = (size: number): Uint8Array => {
    if (size > SLAB_SIZE) return new Uint8Array(size);
    if (slabUsed + size > SLAB_SIZE) {
      slab = new Uint8Array(SLAB_SIZE);
      slabUsed = 0;
    }
    const buffer = slab.subarray(slabUsed, slabUsed + size);
    slabUsed += (size + 7) & ~7;
    return buffer;
  };

  const drain = (): void => {
    draining = false;
    for (let i = 0; i < microQueue.length; i++) {
      const item = microQueue[i];
      inFlight--;
      item.target.receive(item.payload, item.source);
    }
    microQueue.length = 0;
  };

  class Endpoint implements MemoryIp {
    tap: ((payload: Uint8Array, destination: Ipv4Address) => boolean) | undefined;
    sent = 0;
    peer!: Endpoint;
    readonly txChecksumOffload = offload;
    private handler: IpHandler | undefined;
    private icmpHandler: ((error: IcmpErrorInfo) => void) | undefined;
    private readonly counters = new CounterSet();
    constructor(
      readonly own: Ipv4Address,
      readonly direction: 'aToB' | 'bToA',
    ) {}
    address(): Ipv4Address {
      return this.own;
    }
    register(protocol: number, handler: IpHandler): void {
      if (protocol === 6) this.handler = handler;
    }
    onIcmpError(protocol: number, handler: (error: IcmpErrorInfo) => void): void {
      if (protocol === 6) this.icmpHandler = handler;
    }
    mtu(): number {
      return mtu - 20;
    }
    sourceFor(): Ipv4Address {
      return this.own;
    }
    stats() {
      return this.counters.snapshot();
    }
    write(destination: Ipv4Address, _protocol: number, size: number, fill: Fill, _options?: IpWriteOptions): boolean {
      const buffer = allocate(size);
      const length = fill(buffer);
      const payload = length === size ? buffer : buffer.subarray(0, length);
      this.sent++;
      if (length > mtu - 20) {
        this.counters.add('too-big');
        return false;
      }
      if (this.tap !== undefined && !this.tap(payload, destination)) return true;
      if (destination !== this.peer.own) return true;
      this.transmit(payload);
      return true;
    }
    private transmit(payload: Uint8Array): void {
      const link = links[this.direction];
      const random = options.random;
      if (options.mode === 'microtask') {
        inFlight++;
        microQueue.push({ target: this.peer, payload, source: this.own });
        if (!draining) {
          draining = true;
          queueMicrotask(drain);
        }
        return;
      }
      if (random !== undefined && (link.loss ?? 0) > 0 && random.uint32() / 2 ** 32 < (link.loss ?? 0)) {
        this.counters.add('link-loss');
        return;
      }
      let copies = 1;
      if (random !== undefined && (link.duplicate ?? 0) > 0 && random.uint32() / 2 ** 32 < (link.duplicate ?? 0)) copies = 2;
      let departure = clock.now();
      if (link.bandwidth !== undefined) {
        const backlog = (wireFree[this.direction] - departure) * link.bandwidth;
        if (backlog > (link.queueBytes ?? 96_000)) {
          this.counters.add('queue-drop');
          return;
        }
        departure = Math.max(departure, wireFree[this.direction]) + payload.length / link.bandwidth;
        wireFree[this.direction] = departure;
      }
      for (let copy = 0; copy < copies; copy++) {
        const jitter = random !== undefined && (link.jitter ?? 0) > 0 ? (random.uint32() / 2 ** 32) * (link.jitter ?? 0) : 0;
        const at = departure + (link.delay ?? 0) + jitter;
        inFlight++;
        const target = this.peer;
        const source = this.own;
        clock.setTimer(at - clock.now(), () => {
          inFlight--;
          target.receive(payload, source);
        });
      }
    }
    receive(payload: Uint8Array, source: Ipv4Address, broadcast = false, checksumVerified = offload): void {
      const info: IpReceiveInfo = {
        source,
        destination: this.own,
        protocol: 6,
        ttl: 64,
        tos: 0,
        broadcast,
        datagram: payload,
        checksumVerified,
      };
      this.handler?.(payload, info);
    }
    inject(payload: Uint8Array, source: Ipv4Address, injectOptions: { broadcast?: boolean; checksumVerified?: boolean } = {}): void {
      this.receive(payload, source, injectOptions.broadcast ?? false, injectOptions.checksumVerified ?? offload);
    }
    injectIcmpError(error: IcmpErrorInfo): void {
      this.icmpHandler?.(error);
    }
  }

  const a = new Endpoint(ADDRESS_A, 'aToB');
  const b = new Endpoint(ADDRESS_B, 'bToA');
  a.peer = b;
  b.peer = a;
  return {
    a,
    b,
    addressA: ADDRESS_A,
    addressB: ADDRESS_B,
    inFlight: () => inFlight,
    setLink(direction, model) {
      links[direction] = model;
    },
  };
}
