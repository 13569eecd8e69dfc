/**
 * Runs cases against a target: one fresh pair of ports per case, the tester's queue cleared
 * and the control side reset between cases, and every outcome recorded (a difference from the
 * model is a finding, a broken harness an `error`).
 */
import type { TcpState } from '@morgana/core';
import { segmentLength as sequenceLength } from '@morgana/tcp';
import type { TcpRepr } from '@morgana/tcp';
import { Difference, PROMPT_MS, QUIET_MS, Skip, describeMatch, describeSegment, flagsOf, mismatch, pattern } from './case.js';
import type { CaseContext, ConformanceCase, OpenOptions, Peer, SegmentSpec } from './case.js';
import type { ReadResult } from './control.js';
import type { CaseResult, ConformanceReport } from './report.js';
import { summarize } from './report.js';
import type { ConformanceTarget } from './target.js';
import type { Timeline } from './timeline.js';
import { Tester } from './tester.js';
import type { ObservedSegment } from './tester.js';

/** Options of {@link runConformance}. */
export interface RunOptions {
  /** Cases to run: the {@link catalogue}, or a selection of it, or cases of your own. */
  readonly cases: readonly ConformanceCase[];
  /** First target port; case `i` uses `targetPortBase + i`. Default {@link DEFAULT_TARGET_PORT_BASE}. */
  readonly targetPortBase?: number;
  /** First tester port; case `i` uses `testerPortBase + i`. Default {@link DEFAULT_TESTER_PORT_BASE}. */
  readonly testerPortBase?: number;
  /** Longest a case may run on the target's clock, beyond the wait it declares, before it is an error, ms. Default {@link DEFAULT_CASE_TIMEOUT_MS}. */
  readonly caseTimeoutMs?: number;
  /** Called after each case (progress output). */
  readonly onResult?: (result: CaseResult) => void;
}

/** Default of {@link RunOptions.targetPortBase}. */
export const DEFAULT_TARGET_PORT_BASE = 20_000;
/** Default of {@link RunOptions.testerPortBase}. */
export const DEFAULT_TESTER_PORT_BASE = 40_000;
/** Default of {@link RunOptions.caseTimeoutMs}: far above what any case spends besides its declared wait. */
export const DEFAULT_CASE_TIMEOUT_MS = 60_000;

/** Runs `options.cases` against `target` and returns the report. The target stays open. */
export async function runConformance(target: ConformanceTarget, options: RunOptions): Promise<ConformanceReport> {
  const tester = new Tester({ netif: target.netif, timeline: target.timeline, testerAddress: target.testerAddress, targetAddress: target.targetAddress });
  await tester.resolve();
  const results: CaseResult[] = [];
  const targetBase = options.targetPortBase ?? DEFAULT_TARGET_PORT_BASE;
  const testerBase = options.testerPortBase ?? DEFAULT_TESTER_PORT_BASE;
  for (const [index, conformanceCase] of options.cases.entries()) {
    const result = await runCase(target, tester, conformanceCase, targetBase + index, testerBase + index, options.caseTimeoutMs ?? DEFAULT_CASE_TIMEOUT_MS);
    results.push(result);
    options.onResult?.(result);
  }
  return { target: target.name, results, summary: summarize(results) };
}

async function runCase(
  target: ConformanceTarget,
  tester: Tester,
  conformanceCase: ConformanceCase,
  targetPort: number,
  testerPort: number,
  timeoutMs: number,
): Promise<CaseResult> {
  const { id, title, rfc } = conformanceCase;
  const started = target.timeline.clock.now();
  const notes: string[] = [];
  const done = (fields: Omit<CaseResult, 'id' | 'title' | 'rfc' | 'notes' | 'durationMs'>): CaseResult => ({
    id,
    title,
    rfc,
    notes,
    durationMs: Math.round(target.timeline.clock.now() - started),
    ...fields,
  });
  const wait = conformanceCase.needs?.waitMs ?? 0;
  if (target.caseBudgetMs !== undefined && wait > target.caseBudgetMs) {
    return done({ outcome: 'skip', reason: `waits up to ${wait} ms for a timer, over this target's ${target.caseBudgetMs} ms budget per case` });
  }
  tester.clear();
  const lifetime = { abandoned: false };
  const context = contextFor(target, tester, targetPort, testerPort, notes, lifetime);
  let result: CaseResult;
  try {
    await withTimeout(conformanceCase.run(context), target, timeoutMs + wait, lifetime);
    result = done({ outcome: 'pass' });
  } catch (error) {
    if (error instanceof Difference) result = done({ outcome: 'differs', expected: error.expected, actual: error.actual });
    else if (error instanceof Skip) result = done({ outcome: 'skip', reason: error.reason });
    else result = done({ outcome: 'error', reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
  try {
    await target.control.reset();
  } catch (error) {
    if (result.outcome !== 'error') result = { ...result, outcome: 'error', reason: `reset after the case failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  return result;
}

/**
 * Fails when `work` has not finished `ms` after it started on the target's clock. A timer, not
 * a wait: the case drives time itself, and a second driver would race it through the timers.
 */
function withTimeout(work: Promise<void>, target: ConformanceTarget, ms: number, lifetime: Lifetime): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = target.timeline.clock.setTimer(ms, () => {
      lifetime.abandoned = true;
      reject(new Error(`the case did not finish within ${ms} ms`));
    });
    work.then(
      () => {
        timer.cancel();
        resolve();
      },
      (error: unknown) => {
        timer.cancel();
        reject(error);
      },
    );
  });
}

const DEFAULT_WINDOW = 65_535;
const DEFAULT_IRS = 1_000_000;
const TS_START = 1000;

/** Set once a case timed out: its waits then end at once, so it stops moving a shared virtual clock. */
interface Lifetime {
  abandoned: boolean;
}

/** A timeline whose waits end at once (and fail) after the case was abandoned. */
function caseTimeline(base: Timeline, lifetime: Lifetime): Timeline {
  const waitUntil = async (done: () => boolean, ms: number): Promise<boolean> => {
    if (lifetime.abandoned) throw new Error('the case was abandoned after its timeout');
    const held = await base.waitUntil(() => lifetime.abandoned || done(), ms);
    if (lifetime.abandoned) throw new Error('the case was abandoned after its timeout');
    return held;
  };
  return { clock: base.clock, virtual: base.virtual, waitUntil, sleep: async (ms) => void (await waitUntil(() => false, ms)) };
}

/**
 * The context a case runs in, for scripts of your own outside {@link runConformance}: the
 * tester must be resolved, and `notes` collects the case's observations.
 */
export function createCaseContext(target: ConformanceTarget, tester: Tester, targetPort: number, testerPort: number, notes: string[] = []): CaseContext {
  return contextFor(target, tester, targetPort, testerPort, notes, { abandoned: false });
}

function contextFor(target: ConformanceTarget, tester: Tester, targetPort: number, testerPort: number, notes: string[], lifetime: Lifetime): CaseContext {
  const timeline = caseTimeline(target.timeline, lifetime);
  const nextOnPorts = async (ms: number): Promise<ObservedSegment | undefined> => {
    await timeline.waitUntil(() => tester.has(onPorts), ms);
    return tester.take(onPorts);
  };
  const onPorts = (segment: ObservedSegment): boolean => segment.sourcePort === targetPort && segment.destinationPort === testerPort;
  const control = target.control;

  const buildRepr = (spec: SegmentSpec, seq: number, ack: number, tsVal: number | undefined, tsEcr: number | undefined, window: number): TcpRepr => {
    const payload = typeof spec.payload === 'number' ? pattern(spec.payload) : (spec.payload ?? new Uint8Array(0));
    return {
      sourcePort: testerPort,
      destinationPort: targetPort,
      seq: seq >>> 0,
      ack: ack >>> 0,
      flags: flagsOf(spec.flags),
      window: spec.window ?? window,
      urgent: spec.urgent ?? 0,
      mss: spec.mss,
      windowScale: spec.windowScale,
      sackPermitted: spec.sackPermitted ?? false,
      sackBlocks: spec.sackBlocks ?? [],
      tsVal: spec.tsVal ?? tsVal,
      tsEcr: spec.tsVal !== undefined || tsVal !== undefined ? (spec.tsEcr ?? tsEcr ?? 0) : undefined,
      payload,
    };
  };

  /** Tracks what the tester has seen of the target's sequence space. */
  const observe = (peer: Peer | undefined, segment: ObservedSegment): void => {
    if (peer === undefined) return;
    const length = sequenceLength(segment.flags, segment.payload.length);
    const end = (segment.seq + length) >>> 0;
    // Only in-order progress moves RCV.NXT: the tester holds no reassembly queue.
    if (length > 0 && ((segment.seq - peer.rcvNxt) | 0) <= 0 && ((end - peer.rcvNxt) | 0) > 0) peer.rcvNxt = end;
    if (segment.tsVal !== undefined) peer.tsRecent = segment.tsVal;
  };

  const context: CaseContext = {
    tester,
    control,
    timeline,
    testerAddress: target.testerAddress,
    targetAddress: target.targetAddress,
    testerPort,
    targetPort,
    note: (text) => void notes.push(text),
    skip(reason) {
      throw new Skip(reason);
    },
    differ(expected, actual) {
      throw new Difference(expected, actual);
    },
    peer(init) {
      return {
        id: undefined,
        testerPort,
        targetPort,
        irs: init.irs >>> 0,
        iss: init.iss >>> 0,
        sndNxt: (init.irs + 1) >>> 0,
        rcvNxt: (init.iss + 1) >>> 0,
        window: init.window ?? DEFAULT_WINDOW,
        timestamps: init.timestamps ?? false,
        tsVal: TS_START + 1,
        tsRecent: init.handshake?.tsVal ?? 0,
        handshake: init.handshake,
      };
    },
    send(peer, spec) {
      const inSequence = spec.seq === undefined;
      const seq = spec.seq ?? peer.sndNxt;
      const tsVal = peer.timestamps ? peer.tsVal++ : undefined;
      const repr = buildRepr(spec, seq, spec.ack ?? peer.rcvNxt, tsVal, peer.timestamps ? peer.tsRecent : undefined, peer.window);
      tester.send({ repr, rawOptions: spec.rawOptions, badChecksum: spec.badChecksum });
      if (inSequence) {
        const length = sequenceLength(repr.flags, repr.payload.length);
        peer.sndNxt = (peer.sndNxt + length) >>> 0;
      }
    },
    sendRaw(spec) {
      tester.send({ repr: buildRepr(spec, spec.seq, spec.ack ?? 0, undefined, undefined, DEFAULT_WINDOW), rawOptions: spec.rawOptions, badChecksum: spec.badChecksum });
    },
    async expect(peer, match, what, withinMs = PROMPT_MS) {
      const segment = await nextOnPorts(withinMs);
      if (segment === undefined) throw new Difference(`${what} (${describeMatch(match)}) within ${withinMs} ms`, 'nothing');
      const problem = mismatch(segment, match);
      if (problem !== undefined) throw new Difference(`${what} (${describeMatch(match)})`, `${describeSegment(segment)}: ${problem}`);
      observe(peer, segment);
      return segment;
    },
    async collect(peer, quietMs) {
      const segments: ObservedSegment[] = [];
      for (let segment = await nextOnPorts(quietMs); segment !== undefined; segment = await nextOnPorts(quietMs)) {
        observe(peer, segment);
        segments.push(segment);
      }
      return segments;
    },
    next: nextOnPorts,
    async expectNothing(what, ms = QUIET_MS) {
      const segment = await nextOnPorts(ms);
      if (segment !== undefined) throw new Difference(`${what}: no segment for ${ms} ms`, describeSegment(segment));
    },
    async expectState(expected: TcpState, what) {
      const state = await control.state(targetPort, testerPort);
      if (state === undefined) {
        notes.push(`state after ${what} not observable (model: ${expected})`);
        return;
      }
      if (state !== expected) throw new Difference(`${expected} after ${what}`, state);
    },
    async readBytes(peer, length, withinMs = PROMPT_MS) {
      if (peer.id === undefined) throw new Error('the connection has no control-side id');
      const id = peer.id;
      const parts: Uint8Array[] = [];
      let total = 0;
      let eof = false;
      let error: ReadResult['error'];
      const deadline = target.timeline.clock.now() + withinMs;
      while (total < length && !eof && error === undefined) {
        const left = deadline - target.timeline.clock.now();
        if (left <= 0) break;
        const result = await control.read(id, left);
        parts.push(result.data);
        total += result.data.length;
        eof = result.eof;
        error = result.error;
      }
      const data = new Uint8Array(total);
      let at = 0;
      for (const part of parts) {
        data.set(part, at);
        at += part.length;
      }
      return { data, eof, error };
    },
    async passiveOpen(options: OpenOptions = {}) {
      await control.listen(targetPort);
      const irs = options.irs ?? DEFAULT_IRS;
      const timestamps = options.timestamps ?? false;
      context.sendRaw({
        flags: 'S',
        seq: irs,
        window: options.window ?? DEFAULT_WINDOW,
        mss: options.mss === null ? undefined : (options.mss ?? 1460),
        windowScale: options.windowScale,
        sackPermitted: options.sackPermitted,
        tsVal: timestamps ? TS_START : undefined,
      });
      const synAck = await context.expect(undefined, { flags: 'S.', ack: irs + 1 }, 'a SYN-ACK to a SYN on a listening port');
      const peer = context.peer({ irs, iss: synAck.seq, window: options.window, timestamps: timestamps && synAck.tsVal !== undefined, handshake: synAck });
      context.send(peer, { flags: '.' });
      peer.id = await control.accept(targetPort, PROMPT_MS);
      if (peer.id === undefined) throw new Difference('the connection to be accepted after the handshake', 'no connection');
      return peer;
    },
    async activeOpen(options: OpenOptions = {}) {
      const id = await control.connect(target.testerAddress, testerPort, targetPort);
      const syn = await context.expect(undefined, { flags: 'S' }, 'a SYN for connect()');
      const irs = options.irs ?? DEFAULT_IRS;
      const timestamps = (options.timestamps ?? false) && syn.tsVal !== undefined;
      const peer = context.peer({ irs, iss: syn.seq, window: options.window, timestamps, handshake: syn });
      peer.id = id;
      tester.send({
        repr: buildRepr(
          { flags: 'S.', mss: options.mss === null ? undefined : (options.mss ?? 1460), windowScale: options.windowScale, sackPermitted: options.sackPermitted },
          irs,
          syn.seq + 1,
          timestamps ? TS_START : undefined,
          timestamps ? syn.tsVal : undefined,
          options.window ?? DEFAULT_WINDOW,
        ),
      });
      await context.expect(peer, { flags: '.', seq: syn.seq + 1, ack: irs + 1, length: 0 }, 'the ACK completing the handshake');
      return peer;
    },
  };
  return context;
}
