/**
 * Packet scripts, in the spirit of packetdrill: the test plays the network. It injects
 * packets into the stack under test, expects the next packet the stack sends, expects
 * silence, and moves the virtual clock. A failure says what was expected and shows what came
 * instead, decoded and as a hex dump.
 *
 * `PacketScript<T>` works over any "port" (frames, IP packets, TCP segments); a frame-level
 * script comes with a {@link ScriptedNetif}, and {@link PacketScript.map} lifts a script to a
 * higher level with decode/encode functions.
 */
import { bytesEqual, emptyNetifStats, localMac, NO_OFFLOAD } from '@morgana/core';
import type { Fill, FrameHandler, MacAddress, Netif, NetifStats, OffloadFlags } from '@morgana/core';
import type { VirtualClock } from './clock.js';
import { maxFrameLength } from './simulated-netif.js';

/** Raised when a script step fails; its message shows the packet that came instead. */
export class PacketScriptError extends Error {
  /** A failed step, with the message that explains it. */
  constructor(message: string) {
    super(message);
    this.name = 'PacketScriptError';
  }
}

/** Bytes shown by a hex dump before it elides the rest. */
const HEX_DUMP_LIMIT = 2048;

/** A `tcpdump -X`-style dump: offset, sixteen hex bytes, printable ASCII. */
export function hexDump(bytes: Uint8Array, limit = HEX_DUMP_LIMIT): string {
  const lines: string[] = [];
  const shown = Math.min(bytes.length, limit);
  for (let offset = 0; offset < shown; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, shown));
    let hex = '';
    let text = '';
    for (let i = 0; i < 16; i++) {
      hex += i < row.length ? row[i].toString(16).padStart(2, '0') + ' ' : '   ';
      if (i === 7) hex += ' ';
      if (i < row.length) text += row[i] >= 0x20 && row[i] < 0x7f ? String.fromCharCode(row[i]) : '.';
    }
    lines.push(`${offset.toString(16).padStart(4, '0')}  ${hex} |${text}|`);
  }
  if (bytes.length > shown) lines.push(`... ${bytes.length - shown} more bytes`);
  if (bytes.length === 0) lines.push('(0 bytes)');
  return lines.join('\n');
}

/** Text of any packet value: hex dumps for bytes, JSON-like for the rest (bigint, Map, bytes as hex). */
export function formatPacket(packet: unknown): string {
  if (packet instanceof Uint8Array) return `${packet.length} bytes\n${hexDump(packet)}`;
  return JSON.stringify(
    packet,
    (_key, value: unknown) => {
      if (typeof value === 'bigint') return `${value}n`;
      if (value instanceof Uint8Array) return `<${value.length} bytes ${Array.from(value.subarray(0, 64), (b) => b.toString(16).padStart(2, '0')).join('')}${value.length > 64 ? '...' : ''}>`;
      if (value instanceof Map) return Object.fromEntries(value);
      if (value instanceof Set) return [...value];
      return value;
    },
    2,
  ) ?? String(packet);
}

/** A partial expectation: listed fields must equal, nested objects and arrays compared the same way. */
export type PartialPacket<T> = T extends Uint8Array
  ? Uint8Array
  : T extends readonly (infer E)[]
    ? readonly PartialPacket<E>[]
    : T extends object
      ? { readonly [K in keyof T]?: PartialPacket<T[K]> }
      : T;

/**
 * What an expected packet must satisfy: a predicate (false or a throw is a mismatch, so
 * vitest `expect` calls work inside), exact bytes, or a partial object.
 */
export type PacketMatcher<T> = ((packet: T) => boolean | void) | PartialPacket<T>;

/** Why `actual` does not match `expected`, or undefined when it does. */
function mismatch(actual: unknown, expected: unknown, path: string): string | undefined {
  if (expected instanceof Uint8Array) {
    if (!(actual instanceof Uint8Array)) return `${path || 'packet'}: expected bytes, got ${typeof actual}`;
    if (bytesEqual(actual, expected)) return undefined;
    let first = 0;
    while (first < actual.length && first < expected.length && actual[first] === expected[first]) first++;
    return `${path || 'bytes'}: differ at offset ${first} (expected ${expected.length} bytes, got ${actual.length})\nexpected:\n${hexDump(expected)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path || 'packet'}: expected an array, got ${formatPacket(actual)}`;
    if (actual.length !== expected.length) return `${path || 'packet'}: expected ${expected.length} elements, got ${actual.length}`;
    for (let i = 0; i < expected.length; i++) {
      const reason = mismatch(actual[i], expected[i], `${path}[${i}]`);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null) return `${path || 'packet'}: expected an object, got ${formatPacket(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      if (value === undefined) continue;
      const reason = mismatch((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }
  return Object.is(actual, expected) ? undefined : `${path || 'packet'}: expected ${formatPacket(expected)}, got ${formatPacket(actual)}`;
}

function check<T>(packet: T, matcher: PacketMatcher<T>): string | undefined {
  if (typeof matcher === 'function') {
    try {
      return (matcher as (packet: T) => boolean | void)(packet) === false ? 'the predicate returned false' : undefined;
    } catch (error) {
      return `the predicate threw: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return mismatch(packet, matcher, '');
}

/** A packet the stack sent, with its text for failure messages. */
export interface SentPacket<T> {
  readonly packet: T;
  readonly describe: () => string;
}

/** How a script reaches the stack under test and reads what it sent. */
export interface PacketScriptPort<T> {
  /** Hands packets to the stack as one receive batch. */
  inject(packets: readonly T[]): void;
  /** The oldest packet the stack sent and no step consumed yet; throws PacketScriptError when it cannot be decoded. */
  take(): SentPacket<T> | undefined;
  /** Packets waiting to be consumed. */
  waiting(): number;
}

/** Options of a {@link PacketScript} over a port of your own. */
export interface PacketScriptOptions<T> {
  readonly clock: VirtualClock;
  /** Delivers one packet to the stack under test (give this or `injectBatch`). */
  readonly inject?: (packet: T) => void;
  /** Called after each {@link PacketScript.inject} call's packets, like a backend's end of batch. */
  readonly endBatch?: () => void;
  /** Delivers the packets of one {@link PacketScript.inject} call as one batch (instead of `inject` and `endBatch`). */
  readonly injectBatch?: (packets: readonly T[]) => void;
  /** Text of a packet in failure messages; default {@link formatPacket}. */
  readonly format?: (packet: T) => string;
}

/** Decode/encode functions that lift a script to a higher level ({@link PacketScript.map}). */
export interface PacketCodec<T, U> {
  /** Reads the higher-level packet out of a lower one; throwing fails the step with a dump of the raw packet. */
  readonly decode: (packet: T) => U;
  /** Builds the lower-level packet to inject. */
  readonly encode: (packet: U) => T;
  /** Packets the mapped script never sees (say ARP frames under an IP script); counted in {@link PacketScript.skipped}. */
  readonly skip?: (packet: T) => boolean;
  readonly format?: (packet: U) => string;
}

/**
 * A conversation with a stack under test. Every step first fires the timers due now, so a
 * packet the stack sends from a zero-delay timer counts as sent "now".
 */
export class PacketScript<T> {
  /** Packets a mapped script skipped. */
  skipped = 0;
  /** The clock the script moves. */
  readonly clock: VirtualClock;
  private readonly port: PacketScriptPort<T>;
  /** The queue {@link capture} fills; undefined for a mapped script, which reads its parent's. */
  private readonly captured: T[] | undefined;

  /** A script over your own port: call {@link capture} with every packet the stack sends. */
  constructor(options: PacketScriptOptions<T>);
  /** A script over a port that queues what the stack sends itself (this is how {@link map} reads its parent). */
  constructor(options: PacketScriptOptions<T>, port: PacketScriptPort<T>);
  /** A script over `port` (or over `options.inject` and friends); see {@link PacketScriptOptions}. */
  constructor(options: PacketScriptOptions<T>, port?: PacketScriptPort<T>) {
    this.clock = options.clock;
    if (port !== undefined) {
      this.port = port;
      this.captured = undefined;
      return;
    }
    const { inject, endBatch, injectBatch } = options;
    if (inject === undefined && injectBatch === undefined) throw new TypeError('PacketScript needs inject or injectBatch');
    const queue: T[] = [];
    const format = options.format ?? formatPacket;
    this.captured = queue;
    this.port = {
      inject:
        injectBatch ??
        ((packets) => {
          for (const packet of packets) (inject as (packet: T) => void)(packet);
          endBatch?.();
        }),
      take: () => {
        if (queue.length === 0) return undefined;
        const packet = queue.shift() as T;
        return { packet, describe: () => format(packet) };
      },
      waiting: () => queue.length,
    };
  }

  /** Records a packet the stack under test sent (for scripts over your own port). */
  capture(packet: T): void {
    if (this.captured === undefined) throw new PacketScriptError('capture() belongs to the script that owns the port; this one is mapped');
    this.captured.push(packet);
  }

  /** Hands packets to the stack, as one receive batch. */
  inject(...packets: T[]): void {
    this.port.inject(packets);
  }

  /** Fires the timers due now and returns how many sent packets wait for a step. */
  pending(): number {
    this.clock.tick();
    return this.port.waiting();
  }

  /** Moves the clock forward, firing timers; packets sent meanwhile wait for the next step. */
  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** Like {@link advance}, but lets promise callbacks run between timers (for async APIs). */
  run(ms: number): Promise<void> {
    return this.clock.run(ms);
  }

  /** Takes the next packet the stack sent (now) and checks it; returns it for further checks. */
  expect(matcher: PacketMatcher<T>, description = 'a packet'): T {
    this.clock.tick();
    const sent = this.port.take();
    if (sent === undefined) throw new PacketScriptError(`expected ${description} at t=${this.clock.now()}ms, but the stack sent nothing`);
    return this.verify(sent, matcher, description);
  }

  /**
   * Moves the clock, timer by timer, until the stack sends a packet or `ms` pass; then checks
   * it as {@link expect} does. For retransmissions and other timed sends.
   */
  expectWithin(ms: number, matcher: PacketMatcher<T>, description = 'a packet'): T {
    const clock = this.clock;
    const limit = clock.now() + ms;
    clock.tick();
    while (this.port.waiting() === 0) {
      const next = clock.nextDeadline();
      if (next === undefined || next > limit) {
        clock.advance(Math.max(0, limit - clock.now()));
        break;
      }
      clock.advance(next - clock.now());
    }
    const sent = this.port.take();
    if (sent === undefined) throw new PacketScriptError(`expected ${description} within ${ms}ms (until t=${limit}ms), but the stack sent nothing`);
    return this.verify(sent, matcher, description);
  }

  /** Moves the clock by `ms` (default 0) and fails if the stack sent anything meanwhile. */
  expectNothing(ms = 0, description = 'nothing'): void {
    this.clock.tick();
    if (this.port.waiting() === 0) this.clock.advance(ms);
    const sent = this.port.take();
    if (sent !== undefined) {
      throw new PacketScriptError(`expected ${description} for ${ms}ms, but by t=${this.clock.now()}ms the stack sent:\n${sent.describe()}`);
    }
  }

  /** Takes every packet sent so far (after firing timers due now), unchecked. */
  takeAll(): T[] {
    this.clock.tick();
    const packets: T[] = [];
    for (let sent = this.port.take(); sent !== undefined; sent = this.port.take()) packets.push(sent.packet);
    return packets;
  }

  /**
   * A script over the same conversation one level up: it injects `encode(u)` and reads
   * `decode(t)`. Both scripts consume from one queue, so steps may mix levels.
   */
  map<U>(codec: PacketCodec<T, U>): PacketScript<U> {
    const parent = this.port;
    const format = codec.format ?? formatPacket;
    const skip = codec.skip;
    let child: PacketScript<U> | undefined;
    const take = (): SentPacket<U> | undefined => {
      for (;;) {
        const raw = parent.take();
        if (raw === undefined) return undefined;
        if (skip !== undefined && skip(raw.packet)) {
          if (child !== undefined) child.skipped++;
          continue;
        }
        let packet: U;
        try {
          packet = codec.decode(raw.packet);
        } catch (error) {
          throw new PacketScriptError(
            `the stack sent a packet that does not decode (${error instanceof Error ? error.message : String(error)}):\n${raw.describe()}`,
          );
        }
        return { packet, describe: () => `${format(packet)}\nraw:\n${raw.describe()}` };
      }
    };
    child = new PacketScript<U>(
      { clock: this.clock, format },
      {
        inject: (packets) => parent.inject(packets.map((packet) => codec.encode(packet))),
        take,
        waiting: () => parent.waiting(),
      },
    );
    return child;
  }

  private verify(sent: SentPacket<T>, matcher: PacketMatcher<T>, description: string): T {
    const reason = check(sent.packet, matcher);
    if (reason !== undefined) {
      throw new PacketScriptError(`expected ${description} at t=${this.clock.now()}ms, but ${reason}\ngot:\n${sent.describe()}`);
    }
    return sent.packet;
  }
}

/** Options of {@link createFrameScript}. */
export interface FrameScriptOptions {
  readonly clock: VirtualClock;
  /** The scripted device's MAC; default 02:00:00:00:00:01. */
  readonly mac?: MacAddress;
  /** Default 1500; larger frames the stack writes are dropped and counted, like a real device. */
  readonly mtu?: number;
}

/**
 * The device a frame-level script gives to the stack under test: frames the stack writes go
 * to the script, frames the script injects reach the stack's listener.
 */
export class ScriptedNetif implements Netif {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly offload: OffloadFlags = NO_OFFLOAD;
  private readonly netifStats: NetifStats = emptyNetifStats();
  private onFrame: FrameHandler | undefined;
  private onBatchEnd: (() => void) | undefined;
  private closed = false;

  /** @internal Made by {@link createFrameScript}. */
  constructor(
    options: FrameScriptOptions,
    private readonly sent: (frame: Uint8Array) => void,
  ) {
    this.mac = options.mac ?? localMac(1);
    this.mtu = options.mtu ?? 1500;
  }

  /** Netif: receive frames (one batch per instant, then `onBatchEnd`). */
  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  /** Netif: send a frame of at most `size` bytes that `fill` writes; false when it was dropped (counted). */
  write(size: number, fill: Fill): boolean {
    if (this.closed) {
      this.netifStats.txDropped++;
      return false;
    }
    const buffer = new Uint8Array(Math.max(0, size));
    const length = fill(buffer);
    if (!(Number.isInteger(length) && length >= 0 && length <= buffer.length) || length > maxFrameLength(this.mtu, buffer.subarray(0, length))) {
      this.netifStats.txDropped++;
      return false;
    }
    this.netifStats.txFrames++;
    this.netifStats.txBytes += length;
    this.sent(buffer.slice(0, length));
    return true;
  }

  /** Netif: frame and byte counts. */
  stats(): NetifStats {
    return { ...this.netifStats };
  }

  /** True once the stack closed the device. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Netif: stops sending and receiving. */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** @internal Delivers frames to the stack as one batch (copies: the stack may keep none of ours). */
  deliver(frames: readonly Uint8Array[]): void {
    const onFrame = this.onFrame;
    if (onFrame === undefined || this.closed) {
      throw new PacketScriptError(this.closed ? 'cannot inject: the stack closed the device' : 'cannot inject: the stack is not listening on the device');
    }
    for (const frame of frames) {
      this.netifStats.rxFrames++;
      this.netifStats.rxBytes += frame.length;
      onFrame(frame.slice());
    }
    this.onBatchEnd?.();
  }
}

/** A frame-level script and the device to hand to the stack under test. */
export interface FrameScript {
  readonly script: PacketScript<Uint8Array>;
  readonly netif: ScriptedNetif;
}

/** Makes a {@link ScriptedNetif} and the frame-level script that plays its network. */
export function createFrameScript(options: FrameScriptOptions): FrameScript {
  const netif: ScriptedNetif = new ScriptedNetif(options, (frame) => script.capture(frame));
  const script = new PacketScript<Uint8Array>({ clock: options.clock, injectBatch: (frames) => netif.deliver(frames), format: formatPacket });
  return { script, netif };
}
