/**
 * A segment-level script for TCP tests, in the spirit of packetdrill: the test plays the
 * remote host, injects segments into the TCP under test, expects the segments it sends, and
 * advances a virtual clock. The TCP under test is 10.0.0.1; the scripted peer is 10.0.0.2.
 */
import { expect } from 'vitest';
import { CounterSet } from '@morgana/core';
import type { Fill, IcmpErrorInfo, Ip, IpHandler, IpReceiveInfo, Ipv4Address, Tcp, TcpFlow, TcpListener } from '@morgana/core';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import { createTcp, emitTcp, formatTcpFlags, parseTcp, parseTcpFlags, tcpLength } from '../../src/index.js';
import type { SackBlock, TcpConfig, TcpRepr } from '../../src/index.js';

export const LOCAL = 0x0a000001 as Ipv4Address;
export const REMOTE = 0x0a000002 as Ipv4Address;

/** Flags written as packetdrill does: S (SYN), F (FIN), R (RST), P (PSH), `.` (ACK). */
export const flagsOf: (text: string) => number = parseTcpFlags;
export const flagsText: (flags: number) => string = formatTcpFlags;

/** A segment to inject: flags as text, everything else optional. */
export interface ScriptSegment {
  readonly flags: string;
  readonly seq?: number;
  readonly ack?: number;
  readonly window?: number;
  readonly sourcePort?: number;
  readonly destinationPort?: number;
  readonly mss?: number;
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  readonly sackBlocks?: readonly SackBlock[];
  readonly tsVal?: number;
  readonly tsEcr?: number;
  readonly payload?: Uint8Array | number;
}

/** What an expected segment must match (absent fields are not checked). */
export interface SegmentMatch {
  readonly flags?: string;
  readonly seq?: number;
  readonly ack?: number;
  readonly window?: number;
  readonly length?: number;
  readonly mss?: number;
  readonly windowScale?: number | null;
  readonly sackPermitted?: boolean;
  readonly sackBlocks?: readonly SackBlock[];
  readonly tsEcr?: number;
  readonly hasTimestamp?: boolean;
}

/** A sent segment and when. */
export interface SentSegment extends TcpRepr {
  readonly at: number;
}

class ScriptIp implements Ip {
  readonly txChecksumOffload = false;
  handler: IpHandler | undefined;
  icmpHandler: ((error: IcmpErrorInfo) => void) | undefined;
  readonly sent: SentSegment[] = [];
  readonly counters = new CounterSet();
  constructor(
    private readonly clock: VirtualClock,
    private readonly mtuValue: number,
  ) {}
  address(): Ipv4Address {
    return LOCAL;
  }
  register(protocol: number, handler: IpHandler): void {
    if (protocol === 6) this.handler = handler;
  }
  onIcmpError(protocol: number, handler: (error: IcmpErrorInfo) => void): void {
    if (protocol === 6) this.icmpHandler = handler;
  }
  write(destination: Ipv4Address, _protocol: number, size: number, fill: Fill): boolean {
    const buffer = new Uint8Array(size);
    const length = fill(buffer);
    expect(length).toBeLessThanOrEqual(this.mtuValue - 20);
    expect(destination).toBe(REMOTE);
    // Every segment we send must carry a valid checksum.
    const repr = parseTcp(buffer.slice(0, length), { source: LOCAL, destination });
    this.sent.push({ ...repr, payload: repr.payload.slice(), at: this.clock.now() });
    return true;
  }
  mtu(): number {
    return this.mtuValue - 20;
  }
  sourceFor(): Ipv4Address {
    return LOCAL;
  }
  stats() {
    return this.counters.snapshot();
  }
}

/** Options of {@link createScript}. */
export interface ScriptOptions {
  readonly config?: TcpConfig;
  /** IP MTU toward the peer; default 1500. */
  readonly mtu?: number;
  readonly seed?: number;
}

/** The TCP under test, its clock, and the script verbs. */
export class Script {
  readonly clock = new VirtualClock();
  readonly ip: ScriptIp;
  readonly tcp: Tcp;
  /** Remote port the peer uses by default. */
  remotePort = 40_000;
  /** Local port segments go to by default. */
  localPort = 80;
  private readIndex = 0;

  constructor(options: ScriptOptions = {}) {
    this.ip = new ScriptIp(this.clock, options.mtu ?? 1500);
    this.tcp = createTcp({ ip: this.ip, clock: this.clock, random: createSeededRandom(options.seed ?? 7) }, options.config);
  }

  /** Segments sent and not yet expected. */
  get pending(): SentSegment[] {
    return this.ip.sent.slice(this.readIndex);
  }

  /** Builds a segment from the peer, with a valid checksum (unless `badChecksum`). */
  build(segment: ScriptSegment, badChecksum = false): Uint8Array {
    const payload = typeof segment.payload === 'number' ? new Uint8Array(segment.payload).fill(0x61) : (segment.payload ?? new Uint8Array(0));
    const repr: TcpRepr = {
      sourcePort: segment.sourcePort ?? this.remotePort,
      destinationPort: segment.destinationPort ?? this.localPort,
      seq: (segment.seq ?? 0) >>> 0,
      ack: (segment.ack ?? 0) >>> 0,
      flags: flagsOf(segment.flags),
      window: segment.window ?? 65_535,
      urgent: 0,
      mss: segment.mss,
      windowScale: segment.windowScale,
      sackPermitted: segment.sackPermitted ?? false,
      sackBlocks: segment.sackBlocks ?? [],
      tsVal: segment.tsVal,
      tsEcr: segment.tsVal !== undefined ? (segment.tsEcr ?? 0) : undefined,
      payload,
    };
    const bytes = new Uint8Array(tcpLength(repr));
    emitTcp(repr, bytes, { source: REMOTE, destination: LOCAL });
    if (badChecksum) bytes[16] ^= 0xff;
    return bytes;
  }

  /** Injects a segment from the peer. */
  inject(segment: ScriptSegment, options: { badChecksum?: boolean; broadcast?: boolean } = {}): void {
    this.injectBytes(this.build(segment, options.badChecksum ?? false), options.broadcast ?? false);
  }

  /** Injects raw bytes as a TCP payload from the peer. */
  injectBytes(bytes: Uint8Array, broadcast = false, checksumVerified = false): void {
    const info: IpReceiveInfo = {
      source: REMOTE,
      destination: LOCAL,
      protocol: 6,
      ttl: 64,
      tos: 0,
      broadcast,
      datagram: bytes,
      checksumVerified,
    };
    this.ip.handler?.(bytes, info);
  }

  /** Delivers an ICMP error about one of our segments. */
  icmp(error: Omit<IcmpErrorInfo, 'source' | 'destination' | 'protocol'>): void {
    this.ip.icmpHandler?.({ ...error, source: LOCAL, destination: REMOTE, protocol: 6 });
  }

  /** Takes the next sent segment and checks it against `match`. */
  expect(match: SegmentMatch): SentSegment {
    const segment = this.ip.sent[this.readIndex];
    if (segment === undefined) throw new Error(`expected a segment ${JSON.stringify(match)} at t=${this.clock.now()}, none was sent`);
    this.readIndex++;
    const actual: Record<string, unknown> = {};
    const wanted: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(match)) {
      wanted[key] = value;
      if (key === 'flags') actual.flags = flagsText(segment.flags);
      else if (key === 'length') actual.length = segment.payload.length;
      else if (key === 'windowScale') actual.windowScale = segment.windowScale ?? null;
      else if (key === 'hasTimestamp') actual.hasTimestamp = segment.tsVal !== undefined;
      else if (key === 'sackBlocks') actual.sackBlocks = segment.sackBlocks.map((b) => ({ left: b.left, right: b.right }));
      else actual[key] = (segment as unknown as Record<string, unknown>)[key];
    }
    expect(actual, `segment #${this.readIndex} sent at t=${segment.at}`).toEqual(wanted);
    return segment;
  }

  /** Checks that nothing more was sent. */
  expectNone(): void {
    const rest = this.pending.map((s) => `${flagsText(s.flags)} seq=${s.seq} ack=${s.ack} len=${s.payload.length}`);
    expect(rest).toEqual([]);
  }

  /** Drops every sent segment not yet expected. */
  skip(): void {
    this.readIndex = this.ip.sent.length;
  }

  /** Moves virtual time, firing timers, and lets promise callbacks run. */
  async advance(ms: number): Promise<void> {
    await this.clock.run(ms);
  }

  /** Lets promise callbacks run without moving time. */
  async settle(): Promise<void> {
    await this.clock.run(0);
  }
}

/** Peer options for {@link Script.accept} and {@link Script.open}. */
export interface HandshakeOptions {
  readonly mss?: number;
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  /** Use timestamps with this starting TSval. */
  readonly tsVal?: number;
  readonly window?: number;
  /** The peer's ISN; default 1000. */
  readonly irs?: number;
}

/** A connection the script set up: the flow and both initial sequence numbers. */
export interface Handshake {
  readonly flow: TcpFlow;
  /** Our ISN (the TCP under test). */
  readonly iss: number;
  /** The peer's ISN. */
  readonly irs: number;
  /** Our TSval in the SYN or SYN-ACK, when timestamps are on. */
  readonly tsVal: number | undefined;
}

/** Completes a passive open on `script.localPort` (which must be listening with accept()). */
export async function acceptConnection(script: Script, listener: TcpListener, options: HandshakeOptions = {}): Promise<Handshake> {
  const irs = options.irs ?? 1000;
  script.inject({
    flags: 'S',
    seq: irs,
    window: options.window ?? 65_535,
    mss: options.mss ?? 1460,
    windowScale: options.windowScale,
    sackPermitted: options.sackPermitted,
    tsVal: options.tsVal,
  });
  const synAck = script.expect({ flags: 'S.', ack: irs + 1 });
  const accepting = listener.accept();
  script.inject({
    flags: '.',
    seq: irs + 1,
    ack: synAck.seq + 1,
    window: options.window ?? 65_535,
    tsVal: options.tsVal === undefined ? undefined : options.tsVal + 1,
    tsEcr: synAck.tsVal,
  });
  await script.settle();
  return { flow: await accepting, iss: synAck.seq, irs, tsVal: synAck.tsVal };
}

/** Completes an active open to the peer's `script.remotePort`. */
export async function openConnection(script: Script, options: HandshakeOptions = {}): Promise<Handshake> {
  const irs = options.irs ?? 5000;
  const connecting = script.tcp.connect(REMOTE, script.remotePort);
  const syn = script.expect({ flags: 'S' });
  script.localPort = syn.sourcePort;
  script.inject({
    flags: 'S.',
    seq: irs,
    ack: syn.seq + 1,
    window: options.window ?? 65_535,
    mss: options.mss ?? 1460,
    windowScale: options.windowScale,
    sackPermitted: options.sackPermitted,
    tsVal: options.tsVal,
    tsEcr: syn.tsVal,
    sourcePort: script.remotePort,
    destinationPort: syn.sourcePort,
  });
  script.expect({ flags: '.', seq: syn.seq + 1, ack: irs + 1 });
  await script.settle();
  return { flow: await connecting, iss: syn.seq, irs, tsVal: syn.tsVal };
}

export function createScript(options: ScriptOptions = {}): Script {
  return new Script(options);
}
