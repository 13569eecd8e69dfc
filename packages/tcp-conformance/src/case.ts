/**
 * A conformance case: one rule of RFC 9293 (or 5961, 7323, 2018, 6298, 1122) as a packet
 * script with a stable id and a citation, and the context it runs in: the tester's wire verbs,
 * the implementation's user side, and helpers that open connections the way the RFC says.
 */
import type { Ipv4Address, TcpState } from '@morgana/core';
import { TcpFlag, formatTcpFlags, parseTcpFlags } from '@morgana/tcp';
import type { SackBlock, TcpRepr } from '@morgana/tcp';
import type { ConnectionId, ReadResult, TcpControl } from './control.js';
import type { ObservedSegment, Tester } from './tester.js';
import type { Timeline } from './timeline.js';

/** What a case may need from a target before it can run. */
export interface CaseNeeds {
  /** Longest the case waits for a timer in the worst case, ms; skipped when over the target's budget. */
  readonly waitMs?: number;
}

/** One rule, as a script. */
export interface ConformanceCase {
  /** Stable id, `area.rule` in kebab-case (reports and skip lists refer to it). */
  readonly id: string;
  /** The rule in one sentence. */
  readonly title: string;
  /** Where the rule is written, e.g. "RFC 9293 §3.10.7.4". */
  readonly rfc: string;
  readonly needs?: CaseNeeds;
  run(context: CaseContext): Promise<void>;
}

/** Thrown by a case when the implementation does something the model does not. */
export class Difference extends Error {
  constructor(
    /** What the model expected. */
    readonly expected: string,
    /** What happened. */
    readonly actual: string,
  ) {
    super(`expected ${expected}; got ${actual}`);
    this.name = 'Difference';
  }
}

/** Thrown by a case that cannot run against this target. */
export class Skip extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'Skip';
  }
}

/** Flags written as packetdrill and tcpdump do: S, F, R, P, U, E, C and `.` for ACK. */
export const flagsOf: (text: string) => number = parseTcpFlags;

/** The text of `flags` in the {@link flagsOf} notation. */
export const flagsText: (flags: number) => string = formatTcpFlags;

/** One line describing a segment, tcpdump-like. */
export function describeSegment(segment: TcpRepr): string {
  const options: string[] = [];
  if (segment.mss !== undefined) options.push(`mss ${segment.mss}`);
  if (segment.windowScale !== undefined) options.push(`wscale ${segment.windowScale}`);
  if (segment.sackPermitted) options.push('sackOK');
  if (segment.sackBlocks.length > 0) options.push(`sack ${segment.sackBlocks.map((b) => `${b.left}:${b.right}`).join(' ')}`);
  if (segment.tsVal !== undefined) options.push(`TS val ${segment.tsVal} ecr ${segment.tsEcr ?? 0}`);
  const text = `${flagsText(segment.flags) || 'none'} seq ${segment.seq} ack ${segment.ack} win ${segment.window} len ${segment.payload.length}`;
  return options.length > 0 ? `${text} <${options.join(',')}>` : text;
}

/** What an expected segment must match; absent fields are not checked. */
export interface SegmentMatch {
  /** Exactly these flags (PSH is ignored unless `strictPush`). */
  readonly flags?: string;
  readonly strictPush?: boolean;
  readonly seq?: number;
  readonly ack?: number;
  readonly window?: number;
  /** Payload length, exact. */
  readonly length?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** MSS option value; null: absent. */
  readonly mss?: number | null;
  /** Window scale option value; null: absent. */
  readonly windowScale?: number | null;
  readonly sackPermitted?: boolean;
  readonly hasTimestamp?: boolean;
  readonly tsEcr?: number;
  readonly sackBlocks?: readonly SackBlock[];
}

/** Why `segment` does not match, or undefined. */
export function mismatch(segment: TcpRepr, match: SegmentMatch): string | undefined {
  const problems: string[] = [];
  if (match.flags !== undefined) {
    const ignore = match.strictPush === true ? 0 : TcpFlag.psh;
    const want = flagsOf(match.flags) & ~ignore;
    if ((segment.flags & ~ignore) !== want) problems.push(`flags ${flagsText(segment.flags)} instead of ${match.flags}`);
  }
  if (match.seq !== undefined && segment.seq !== match.seq >>> 0) problems.push(`seq ${segment.seq} instead of ${match.seq >>> 0}`);
  if (match.ack !== undefined && segment.ack !== match.ack >>> 0) problems.push(`ack ${segment.ack} instead of ${match.ack >>> 0}`);
  if (match.window !== undefined && segment.window !== match.window) problems.push(`window ${segment.window} instead of ${match.window}`);
  const length = segment.payload.length;
  if (match.length !== undefined && length !== match.length) problems.push(`length ${length} instead of ${match.length}`);
  if (match.minLength !== undefined && length < match.minLength) problems.push(`length ${length} below ${match.minLength}`);
  if (match.maxLength !== undefined && length > match.maxLength) problems.push(`length ${length} above ${match.maxLength}`);
  if (match.mss !== undefined && (segment.mss ?? null) !== match.mss) problems.push(`MSS ${segment.mss ?? 'absent'} instead of ${match.mss ?? 'absent'}`);
  if (match.windowScale !== undefined && (segment.windowScale ?? null) !== match.windowScale) {
    problems.push(`window scale ${segment.windowScale ?? 'absent'} instead of ${match.windowScale ?? 'absent'}`);
  }
  if (match.sackPermitted !== undefined && segment.sackPermitted !== match.sackPermitted) {
    problems.push(match.sackPermitted ? 'no SACK-permitted option' : 'an unexpected SACK-permitted option');
  }
  if (match.hasTimestamp !== undefined && (segment.tsVal !== undefined) !== match.hasTimestamp) {
    problems.push(match.hasTimestamp ? 'no timestamp option' : 'an unexpected timestamp option');
  }
  if (match.tsEcr !== undefined && segment.tsEcr !== match.tsEcr >>> 0) problems.push(`TSecr ${segment.tsEcr ?? 'absent'} instead of ${match.tsEcr >>> 0}`);
  if (match.sackBlocks !== undefined) {
    const got = segment.sackBlocks.map((b) => `${b.left}:${b.right}`).join(' ');
    const want = match.sackBlocks.map((b) => `${b.left >>> 0}:${b.right >>> 0}`).join(' ');
    if (got !== want) problems.push(`SACK blocks [${got}] instead of [${want}]`);
  }
  return problems.length > 0 ? problems.join(', ') : undefined;
}

/** The description of a match, for reports. */
export function describeMatch(match: SegmentMatch): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(match)) {
    if (value === undefined || key === 'strictPush') continue;
    if (key === 'sackBlocks') parts.push(`sack [${(value as SackBlock[]).map((b) => `${b.left >>> 0}:${b.right >>> 0}`).join(' ')}]`);
    else if (key === 'seq' || key === 'ack' || key === 'tsEcr') parts.push(`${key} ${(value as number) >>> 0}`);
    else parts.push(`${key} ${value === null ? 'absent' : String(value)}`);
  }
  return parts.join(' ');
}

/** A segment a case sends on a connection; unset fields come from the connection. */
export interface SegmentSpec {
  readonly flags: string;
  /** Default: the tester's SND.NXT (and the segment advances it). */
  readonly seq?: number;
  /** Default: everything the target sent so far (when the flags have `.`). */
  readonly ack?: number;
  readonly window?: number;
  readonly urgent?: number;
  readonly mss?: number;
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  readonly sackBlocks?: readonly SackBlock[];
  /** Default with timestamps on: the tester's next TSval. */
  readonly tsVal?: number;
  readonly tsEcr?: number;
  /** Payload bytes, or a count of bytes of a repeating pattern. */
  readonly payload?: Uint8Array | number;
  /** Options bytes instead of the ones above. */
  readonly rawOptions?: Uint8Array;
  readonly badChecksum?: boolean;
}

/** The tester's view of one connection (the remote end of the TCP under test). */
export interface Peer {
  /** The connection on the control side, once known. */
  id: ConnectionId | undefined;
  readonly testerPort: number;
  readonly targetPort: number;
  /** The tester's initial sequence number. */
  readonly irs: number;
  /** The TCP under test's initial sequence number. */
  iss: number;
  /** The tester's next sequence number. */
  sndNxt: number;
  /** Next sequence number expected from the TCP under test (what the tester acknowledges). */
  rcvNxt: number;
  /** Window the tester advertises (unscaled field). */
  window: number;
  /** Timestamps in use: the tester's next TSval and the last TSval it saw. */
  timestamps: boolean;
  tsVal: number;
  tsRecent: number;
  /** The TCP under test's options in its SYN or SYN-ACK. */
  readonly handshake: ObservedSegment | undefined;
}

/** Options of a handshake the tester plays. */
export interface OpenOptions {
  /** MSS option of the tester's SYN or SYN-ACK; default 1460; null sends none. */
  readonly mss?: number | null;
  readonly windowScale?: number;
  readonly sackPermitted?: boolean;
  readonly timestamps?: boolean;
  readonly window?: number;
  /** Tester's ISN; default 1_000_000. */
  readonly irs?: number;
}

/** Default of how long a case waits for an answer that the RFC says comes at once, ms. */
export const PROMPT_MS = 1000;
/** How long a case watches for a segment that must not come, ms. */
export const QUIET_MS = 300;
/** Longest an ACK may be delayed (RFC 1122 4.2.3.2), ms. */
export const ACK_DELAY_LIMIT_MS = 500;

/** The pattern byte at stream offset `i` of bytes the tester sends. */
export function patternByte(i: number): number {
  return (i * 7 + 13) & 0xff;
}

/** `length` bytes of the tester's pattern from stream offset `from`. */
export function pattern(length: number, from = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = patternByte(from + i);
  return bytes;
}

/** What a case runs with. */
export interface CaseContext {
  readonly tester: Tester;
  readonly control: TcpControl;
  readonly timeline: Timeline;
  readonly testerAddress: Ipv4Address;
  readonly targetAddress: Ipv4Address;
  /** A tester port of this case's own. */
  readonly testerPort: number;
  /** A target port of this case's own. */
  readonly targetPort: number;
  /** Free-form observations kept in the report. */
  note(text: string): void;
  /** Stops the case as skipped. */
  skip(reason: string): never;
  /** Stops the case as differing from the model. */
  differ(expected: string, actual: string): never;
  /** A peer record for a connection on this case's ports (for cases that handshake by hand). */
  peer(init: { irs: number; iss: number; window?: number; timestamps?: boolean; handshake?: ObservedSegment }): Peer;
  /** Sends `spec` on the peer's connection. */
  send(peer: Peer, spec: SegmentSpec): void;
  /** Sends `spec` from the tester's port to the target's port, outside any connection. */
  sendRaw(spec: SegmentSpec & { seq: number; ack?: number }): void;
  /** Waits for the next segment on the case's ports and checks it; returns it. */
  expect(peer: Peer | undefined, match: SegmentMatch, what: string, withinMs?: number): Promise<ObservedSegment>;
  /** Takes every segment on the case's ports until none came for `quietMs`, tracking the peer's RCV.NXT. */
  collect(peer: Peer, quietMs: number): Promise<ObservedSegment[]>;
  /** Waits for a segment on the case's ports; undefined when none came in `withinMs`. */
  next(withinMs: number): Promise<ObservedSegment | undefined>;
  /** Fails if any segment arrives on the case's ports within `ms`. */
  expectNothing(what: string, ms?: number): Promise<void>;
  /** Checks the control side's state of the case's connection (skipped, with a note, when not observable). */
  expectState(expected: TcpState, what: string): Promise<void>;
  /** Reads from the connection until `length` bytes came, the stream ended or `withinMs` passed. */
  readBytes(peer: Peer, length: number, withinMs?: number): Promise<ReadResult>;
  /** A passive open: the target listens, the tester sends SYN, gets SYN-ACK, ACKs, the target accepts. */
  passiveOpen(options?: OpenOptions): Promise<Peer>;
  /** An active open: the target connects, the tester answers the SYN with a SYN-ACK and gets the ACK. */
  activeOpen(options?: OpenOptions): Promise<Peer>;
}
