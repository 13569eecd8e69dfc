// Stacks on the simulated switch, driven by a virtual clock, and a Netif wrapper that lets a
// test see (or drop) the frames a stack receives and sends.
import {
  type Counters,
  type Fill,
  type FrameHandler,
  type Ipv4Address,
  type Netif,
  type NetifStats,
  type OffloadFlags,
  type TxOffload,
  parseIpv4,
} from '@morgana/core';
import { type LinkConditions, SimulatedNetwork, VirtualClock, createSeededRandom } from '@morgana/testing';
import { type ComposedStack, createDirectStack } from '../src/index.js';

/** One frame seen by a {@link Tap}. */
export interface TappedFrame {
  /** Virtual milliseconds. */
  readonly time: number;
  readonly direction: 'in' | 'out';
  readonly bytes: Uint8Array;
}

/**
 * A Netif in front of another: records every frame in both directions and can drop received
 * frames chosen by a predicate, as a wiretap or a selective fault.
 */
export class Tap implements Netif {
  readonly frames: TappedFrame[] = [];
  /** Return true to drop a received frame before the stack sees it. */
  dropIncoming: (frame: Uint8Array) => boolean = () => false;
  record = true;

  constructor(
    private readonly inner: Netif,
    private readonly now: () => number,
  ) {}

  get mac(): Netif['mac'] {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get offload(): OffloadFlags {
    return this.inner.offload;
  }
  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.inner.listen((frame, offload) => {
      if (this.dropIncoming(frame)) return;
      if (this.record) this.frames.push({ time: this.now(), direction: 'in', bytes: frame.slice() });
      onFrame(frame, offload);
    }, onBatchEnd);
  }
  write(size: number, fill: Fill, offload?: TxOffload): boolean {
    return this.inner.write(
      size,
      (buffer) => {
        const used = fill(buffer);
        if (this.record) this.frames.push({ time: this.now(), direction: 'out', bytes: buffer.slice(0, used) });
        return used;
      },
      offload,
    );
  }
  stats(): NetifStats {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Simulation {
  readonly clock: VirtualClock;
  readonly network: SimulatedNetwork;
  readonly stacks: ComposedStack[];
  readonly taps: Tap[];
  /** The address of stack `index`: 10.0.0.(index + 1). */
  address(index: number): Ipv4Address;
}

/** `count` stacks on one simulated switch, at 10.0.0.1/24, 10.0.0.2/24, ... */
export function simulate(count: number, options: { seed?: number; link?: LinkConditions; mtu?: number } = {}): Simulation {
  const clock = new VirtualClock();
  const random = createSeededRandom(options.seed ?? 1);
  const network = new SimulatedNetwork({ clock, random: random.fork(), defaultLink: options.link });
  const taps: Tap[] = [];
  const stacks: ComposedStack[] = [];
  for (let index = 0; index < count; index++) {
    const tap = new Tap(network.attach({ name: `host${index + 1}`, mtu: options.mtu }), () => clock.now());
    taps.push(tap);
    stacks.push(createDirectStack({ netif: tap, clock, random: random.fork(), ipv4: { address: `10.0.0.${index + 1}/24` } }));
  }
  return { clock, network, stacks, taps, address: (index) => parseIpv4(`10.0.0.${index + 1}`) };
}

/** Runs the virtual clock until `promise` settles, then returns its value or throws its error. */
export async function settle<T>(clock: VirtualClock, promise: Promise<T>, limitMs = 120_000): Promise<T> {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  promise.then(
    (value) => {
      outcome = { ok: true, value };
    },
    (error: unknown) => {
      outcome = { ok: false, error };
    },
  );
  await clock.runUntil(() => outcome !== undefined, limitMs);
  const settled = outcome as { ok: true; value: T } | { ok: false; error: unknown };
  if (!settled.ok) throw settled.error;
  return settled.value;
}

/** Sum of a counter over several counter sets. */
export function total(counters: readonly Counters[], name: string): number {
  return counters.reduce((sum, set) => sum + (set[name] ?? 0), 0);
}
