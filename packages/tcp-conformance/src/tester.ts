/**
 * The tester: a raw endpoint on a {@link Netif} that plays the remote host. It answers ARP for
 * its own address, resolves the TCP under test's MAC, sends crafted segments and queues every
 * segment the TCP under test sends, with its arrival time. Nothing here interprets TCP: the
 * cases do, against the RFC model.
 */
import { CounterSet, DecodeError, MAC_BROADCAST } from '@morgana/core';
import type { Counters, Ipv4Address, MacAddress, Netif } from '@morgana/core';
import { ArpOperation } from '@morgana/ethif';
import type { TcpRepr } from '@morgana/tcp';
import type { Timeline } from './timeline.js';
import { arpRequest, buildArpFrame, buildSegmentFrame, parseFrame } from './wire.js';
import type { CraftedSegment } from './wire.js';

/** A segment the TCP under test sent, and when it arrived (the timeline's clock, ms). */
export interface ObservedSegment extends TcpRepr {
  readonly at: number;
}

/** Options of {@link Tester}. */
export interface TesterOptions {
  readonly netif: Netif;
  readonly timeline: Timeline;
  /** The tester's address (the remote host of every case). */
  readonly testerAddress: Ipv4Address;
  /** The TCP under test's address. */
  readonly targetAddress: Ipv4Address;
  /** ARP requests sent while resolving the target before giving up; default {@link DEFAULT_ARP_ATTEMPTS}. */
  readonly arpAttempts?: number;
  /** Time to wait for each ARP reply, ms; default {@link DEFAULT_ARP_WAIT_MS}. */
  readonly arpWaitMs?: number;
  /** Segments kept before the oldest are dropped (counted `queue-full`); default {@link DEFAULT_QUEUE_LIMIT}. */
  readonly queueLimit?: number;
}

/** Default of {@link TesterOptions.arpAttempts}. */
export const DEFAULT_ARP_ATTEMPTS = 5;
/** Default of {@link TesterOptions.arpWaitMs}. */
export const DEFAULT_ARP_WAIT_MS = 500;
/** Default of {@link TesterOptions.queueLimit}: far more than any case provokes, small enough to bound a flood. */
export const DEFAULT_QUEUE_LIMIT = 4096;

/**
 * The raw endpoint. Counters (kebab-case): `frames-in`, `segments-in`, `arp-replies-sent`,
 * `bad-frame`, `not-for-us`, `other-protocol`, `queue-full`, `frames-out`, `tx-dropped`.
 */
export class Tester {
  readonly testerAddress: Ipv4Address;
  readonly targetAddress: Ipv4Address;
  readonly timeline: Timeline;
  private readonly netif: Netif;
  private readonly counterSet = new CounterSet();
  private readonly queue: ObservedSegment[] = [];
  private readonly queueLimit: number;
  private readonly arpAttempts: number;
  private readonly arpWaitMs: number;
  private targetMac: MacAddress | undefined;
  private identification = 0;

  constructor(options: TesterOptions) {
    this.netif = options.netif;
    this.timeline = options.timeline;
    this.testerAddress = options.testerAddress;
    this.targetAddress = options.targetAddress;
    this.queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.arpAttempts = options.arpAttempts ?? DEFAULT_ARP_ATTEMPTS;
    this.arpWaitMs = options.arpWaitMs ?? DEFAULT_ARP_WAIT_MS;
    this.netif.listen((frame) => this.receive(frame));
  }

  /** Counters since the tester started. */
  counters(): Counters {
    return this.counterSet.snapshot();
  }

  /** The target's MAC once resolved. */
  get resolvedMac(): MacAddress | undefined {
    return this.targetMac;
  }

  /** Resolves the target's MAC with ARP; throws when it never answers. */
  async resolve(): Promise<MacAddress> {
    for (let attempt = 0; attempt < this.arpAttempts && this.targetMac === undefined; attempt++) {
      this.write(buildArpFrame(arpRequest(this.netif.mac, this.testerAddress, this.targetAddress), MAC_BROADCAST));
      await this.timeline.waitUntil(() => this.targetMac !== undefined, this.arpWaitMs);
    }
    if (this.targetMac === undefined) throw new Error(`the TCP under test never answered ARP (${this.arpAttempts} requests)`);
    return this.targetMac;
  }

  /** Sends a crafted segment to the target (whose MAC must be resolved). */
  send(segment: CraftedSegment): void {
    const mac = this.targetMac;
    if (mac === undefined) throw new Error('resolve() the target before sending');
    this.identification = (this.identification + 1) & 0xffff;
    const frame = buildSegmentFrame(
      segment,
      { sourceMac: this.netif.mac, destinationMac: mac, source: this.testerAddress, destination: this.targetAddress },
      this.identification,
    );
    this.write(frame);
  }

  /** Removes and returns the oldest queued segment that `accept` takes, or undefined. */
  take(accept: (segment: ObservedSegment) => boolean): ObservedSegment | undefined {
    const index = this.queue.findIndex(accept);
    if (index < 0) return undefined;
    return this.queue.splice(index, 1)[0];
  }

  /** Whether a queued segment satisfies `accept`. */
  has(accept: (segment: ObservedSegment) => boolean): boolean {
    return this.queue.some(accept);
  }

  /** Waits (on the timeline) up to `ms` for a segment `accept` takes; removes and returns it. */
  async next(accept: (segment: ObservedSegment) => boolean, ms: number): Promise<ObservedSegment | undefined> {
    await this.timeline.waitUntil(() => this.has(accept), ms);
    return this.take(accept);
  }

  /** Forgets every queued segment (between cases). */
  clear(): void {
    this.queue.length = 0;
  }

  private write(frame: Uint8Array): void {
    const sent = this.netif.write(frame.length, (buffer) => {
      buffer.set(frame);
      return frame.length;
    });
    this.counterSet.add(sent ? 'frames-out' : 'tx-dropped');
  }

  private receive(bytes: Uint8Array): void {
    this.counterSet.add('frames-in');
    let frame;
    try {
      frame = parseFrame(bytes);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.counterSet.add('bad-frame');
      return;
    }
    if (frame.kind === 'arp') {
      const arp = frame.arp;
      if (arp.senderAddress === this.targetAddress) this.targetMac = arp.senderMac;
      if (arp.operation === ArpOperation.request && arp.targetAddress === this.testerAddress) {
        this.write(
          buildArpFrame(
            { operation: ArpOperation.reply, senderMac: this.netif.mac, senderAddress: this.testerAddress, targetMac: arp.senderMac, targetAddress: arp.senderAddress },
            arp.senderMac,
          ),
        );
        this.counterSet.add('arp-replies-sent');
      }
      return;
    }
    if (frame.kind === 'other') {
      this.counterSet.add('other-protocol');
      return;
    }
    if (frame.source !== this.targetAddress || frame.destination !== this.testerAddress) {
      this.counterSet.add('not-for-us');
      return;
    }
    this.counterSet.add('segments-in');
    if (this.queue.length >= this.queueLimit) {
      this.queue.shift();
      this.counterSet.add('queue-full');
    }
    this.queue.push({ ...frame.segment, at: this.timeline.clock.now() });
  }
}
