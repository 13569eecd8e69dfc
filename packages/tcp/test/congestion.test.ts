import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AckSample, CongestionControl, CongestionControlFactory, WindowOptions } from '../src/congestion/index.js';
import { createCubic, createNewReno } from '../src/congestion/index.js';
import { RttEstimator } from '../src/rtt.js';

const MSS = 1000;

/** Both controllers, with their common options and their multiplicative decrease factor. */
const controllers: readonly (readonly [string, (options: WindowOptions) => CongestionControl, number])[] = [
  ['newreno', createNewReno, 0.5],
  ['cubic', createCubic, 0.7],
];

type Event =
  | { kind: 'ack'; bytes: number; gap: number; rtt: number; appLimited: boolean }
  | { kind: 'loss'; flight: number }
  | { kind: 'recovery-ack'; bytes: number }
  | { kind: 'exit'; flight: number }
  | { kind: 'timeout'; flight: number }
  | { kind: 'idle' }
  | { kind: 'mss'; mss: number };

const event: fc.Arbitrary<Event> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), bytes: fc.integer({ min: 0, max: 4 * MSS }), gap: fc.integer({ min: 0, max: 100 }), rtt: fc.integer({ min: 1, max: 300 }), appLimited: fc.boolean() }), weight: 10 },
  { arbitrary: fc.record({ kind: fc.constant('loss' as const), flight: fc.integer({ min: 0, max: 200 * MSS }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('recovery-ack' as const), bytes: fc.integer({ min: 0, max: 20 * MSS }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('exit' as const), flight: fc.integer({ min: 0, max: 200 * MSS }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('timeout' as const), flight: fc.integer({ min: 0, max: 200 * MSS }) }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'idle' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('mss' as const), mss: fc.integer({ min: 500, max: 1500 }) }), weight: 1 },
);

function sample(now: number, ackedBytes: number, extra: Partial<AckSample> = {}): AckSample {
  return { now, ackedBytes, sackedBytes: 0, rtt: undefined, inFlight: 0, appLimited: false, ...extra };
}

describe.each(controllers)('%s invariants', (_name, factory, beta) => {
  it('keeps cwnd >= 1 SMSS (2 after recovery) and ssthresh >= 2 SMSS under any event sequence (RFC 5681 §3)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(event, { maxLength: 120, size: 'max' }), (sack, events) => {
        const cc = factory({ mss: MSS, now: 0, sack });
        let mss = MSS;
        let now = 0;
        let recovering = false;
        for (const e of events) {
          switch (e.kind) {
            case 'ack':
              now += e.gap;
              if (recovering) cc.onRecoveryAck(sample(now, e.bytes, { rtt: e.rtt }), true);
              else cc.onAck(sample(now, e.bytes, { rtt: e.rtt, appLimited: e.appLimited }));
              break;
            case 'loss':
              if (!recovering) cc.onEnterRecovery(now, e.flight);
              recovering = true;
              break;
            case 'recovery-ack':
              cc.onRecoveryAck(sample(now, e.bytes), true);
              break;
            case 'exit':
              if (recovering) {
                cc.onExitRecovery(now, e.flight);
                expect(cc.cwnd).toBeGreaterThanOrEqual(2 * mss);
              }
              recovering = false;
              break;
            case 'timeout':
              cc.onRetransmitTimeout(now, e.flight);
              expect(cc.cwnd).toBe(mss);
              recovering = false;
              break;
            case 'idle':
              now += 10_000;
              cc.onIdleRestart(now);
              break;
            case 'mss':
              mss = e.mss;
              cc.setMss(mss);
              break;
          }
          expect(cc.cwnd).toBeGreaterThanOrEqual(mss);
          expect(cc.ssthresh).toBeGreaterThanOrEqual(2 * mss);
          expect(cc.cwnd).toBeLessThanOrEqual(2 ** 30);
          expect(Number.isFinite(cc.cwnd)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it(`cuts ssthresh to ${beta} of the flight on loss (multiplicative decrease)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 10_000 }), (segments) => {
        const cc = factory({ mss: MSS, now: 0 });
        cc.onEnterRecovery(0, segments * MSS);
        expect(cc.ssthresh).toBe(Math.max(Math.floor(segments * MSS * beta), 2 * MSS));
      }),
      { numRuns: 100 },
    );
  });

  it('grows monotonically in congestion avoidance without loss', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 3 * MSS }), fc.integer({ min: 0, max: 50 })), { maxLength: 300, size: 'max' }), (acks) => {
        const cc = factory({ mss: MSS, now: 0, initialSsthresh: 4 * MSS });
        let now = 0;
        let last = cc.cwnd;
        for (const [bytes, gap] of acks) {
          now += gap;
          cc.onAck(sample(now, bytes, { rtt: 20 }));
          expect(cc.cwnd).toBeGreaterThanOrEqual(last);
          last = cc.cwnd;
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('HyStart++ (RFC 9406)', () => {
  /** One round: the window's worth of SMSS-sized ACKs, each with this RTT sample. Returns the cwnd growth. */
  function round(cc: CongestionControl, rtt: number): number {
    const before = cc.cwnd;
    const flight = cc.cwnd;
    for (let sent = 0; sent < flight; sent += MSS) cc.onAck(sample(0, MSS, { rtt, inFlight: flight - sent }));
    return cc.cwnd - before;
  }

  it('keeps doubling per round while the RTT is flat', () => {
    const cc = createNewReno({ mss: MSS, now: 0, hystart: true, abcLimit: 1 });
    for (let r = 0; r < 6; r++) expect(round(cc, 50)).toBe(10 * MSS * 2 ** r);
    expect(cc.ssthresh).toBe(2 ** 30);
  });

  it('enters Conservative Slow Start, growing a quarter as fast, once the round minimum RTT rises by RttThresh (§4.2)', () => {
    const cc = createNewReno({ mss: MSS, now: 0, hystart: true, abcLimit: 1 });
    round(cc, 40);
    round(cc, 40);
    // lastRoundMinRTT 40 ms: RttThresh = max(4, min(40/8, 16)) = 5 ms. 44 ms is not enough.
    expect(round(cc, 44)).toBe(40 * MSS);
    // The CSS round: the first 8 ACKs grow at full speed until the check, the rest at 1/4.
    const cwnd = cc.cwnd;
    const growth = round(cc, 50);
    expect(growth).toBeLessThan(cwnd / 2);
    expect(growth).toBeGreaterThan(cwnd / 4);
    expect(round(cc, 50)).toBeCloseTo(cc.cwnd / 5, -3);
  });

  it('ends slow start with ssthresh = cwnd after CSS_ROUNDS rounds of CSS (§4.2)', () => {
    const cc = createNewReno({ mss: MSS, now: 0, hystart: true, abcLimit: 1 });
    round(cc, 40);
    round(cc, 40);
    round(cc, 60);
    for (let r = 0; r < 5; r++) round(cc, 60);
    expect(cc.ssthresh).toBeLessThan(2 ** 30);
    expect(cc.ssthresh).toBeLessThanOrEqual(cc.cwnd);
    // Congestion avoidance from here: about one SMSS per round.
    expect(round(cc, 60)).toBeLessThanOrEqual(2 * MSS);
  });

  it('returns to slow start when the RTT falls below the CSS baseline (§4.2)', () => {
    const cc = createNewReno({ mss: MSS, now: 0, hystart: true, abcLimit: 1 });
    round(cc, 40);
    round(cc, 40);
    round(cc, 60);
    const cwnd = cc.cwnd;
    // Seven ACKs of the round still grow at CSS speed; from the eighth sample on, full speed.
    const growth = round(cc, 50);
    expect(growth).toBeGreaterThan(cwnd - 6 * MSS);
    expect(growth).toBeLessThan(cwnd);
    expect(round(cc, 50)).toBe(cc.cwnd / 2);
    expect(cc.ssthresh).toBe(2 ** 30);
  });

  it('ignores rounds with fewer than N_RTT_SAMPLE samples', () => {
    const cc = createNewReno({ mss: MSS, now: 0, hystart: true, abcLimit: 1 });
    const flight = cc.cwnd;
    for (let sent = 0; sent < flight; sent += MSS) cc.onAck(sample(0, MSS, { rtt: 40, inFlight: flight - sent }));
    // 20 ACKs with only 7 RTT samples in the next round, at a far higher RTT.
    for (let i = 0; i < 20; i++) cc.onAck(sample(0, MSS, { rtt: i < 7 ? 200 : undefined, inFlight: 20 * MSS - i * MSS }));
    expect(cc.cwnd).toBe(2 * flight + 20 * MSS);
  });

  it('applies only to the initial slow start', () => {
    const cc = createNewReno({ mss: MSS, now: 0, hystart: true, abcLimit: 1 });
    cc.onRetransmitTimeout(0, 100 * MSS);
    round(cc, 40);
    round(cc, 40);
    expect(round(cc, 200)).toBe(4 * MSS);
  });
});

/** A path: bottleneck rate, base round-trip time and drop-tail buffer. */
interface Path {
  readonly mbps: number;
  readonly rttMs: number;
  readonly bufferPackets: number;
  readonly seconds: number;
}

interface FlowResult {
  /** Goodput / capacity in each whole second after the first `warmup` seconds. */
  readonly perSecond: number[];
  /** Goodput / capacity over the measured interval. */
  readonly utilisation: number;
  readonly drops: number;
  /** Drops up to the end of the first loss recovery: the slow-start overshoot, if any. */
  readonly firstEpisodeDrops: number;
  readonly recoveries: number;
  readonly timeouts: number;
  readonly meanCwndPackets: number;
}

/**
 * One bulk SACK flow over a FIFO bottleneck with a drop-tail buffer, in pure arithmetic: each
 * transmission's departure time is max(arrival, previous departure) + service time, its ACK
 * returns one base RTT later, and a transmission is dropped when `bufferPackets` packets are
 * already queued or in service. The receiver ACKs every segment with a cumulative ACK plus
 * the segment's SACK; the sender declares a transmission lost once three later ones are
 * acknowledged (DupThresh without reordering), sends while pipe + SMSS <= cwnd (RFC 6675),
 * and runs the RFC 6298 timer.
 */
function simulate(factory: CongestionControlFactory, path: Path, warmup: number): FlowResult {
  const serviceMs = (MSS * 8) / (path.mbps * 1000);
  const cc: CongestionControl = factory({ mss: MSS, now: 0, sack: true });
  const estimator = new RttEstimator();
  const txSeg: number[] = [];
  const txTime: number[] = [];
  const txRetransmit: boolean[] = [];
  const txCounted: boolean[] = [];
  const ackTime: number[] = [];
  const ackTx: number[] = [];
  let ackHead = 0;
  const departures: number[] = [];
  let departureHead = 0;
  let lastDeparture = 0;
  const fifo: number[] = [];
  let fifoHead = 0;
  const lost: number[] = [];
  let lostHead = 0;
  const receiverHas: boolean[] = [];
  const senderKnows: boolean[] = [];
  let rcvNxt = 0;
  let una = 0;
  let nxt = 0;
  let pipe = 0;
  let recovering = false;
  let recoveryPoint = 0;
  let rtoAt = Number.POSITIVE_INFINITY;
  let drops = 0;
  let firstEpisodeDrops = -1;
  let recoveries = 0;
  let timeouts = 0;
  let now = 0;
  let cwndSum = 0;
  let cwndSamples = 0;

  const transmit = (seg: number, retransmit: boolean): void => {
    const tx = txSeg.length;
    txSeg.push(seg);
    txTime.push(now);
    txRetransmit.push(retransmit);
    txCounted.push(true);
    fifo.push(tx);
    pipe += 1;
    if (rtoAt === Number.POSITIVE_INFINITY) rtoAt = now + estimator.rto;
    while (departureHead < departures.length && departures[departureHead] <= now) departureHead += 1;
    if (departures.length - departureHead >= path.bufferPackets) {
      drops += 1;
      return;
    }
    const departure = Math.max(now, lastDeparture) + serviceMs;
    lastDeparture = departure;
    departures.push(departure);
    ackTime.push(departure + path.rttMs);
    ackTx.push(tx);
  };

  const send = (): void => {
    while (pipe * MSS + MSS <= cc.cwnd) {
      while (lostHead < lost.length && (lost[lostHead] < una || senderKnows[lost[lostHead]])) lostHead += 1;
      if (lostHead < lost.length) transmit(lost[lostHead++], true);
      else transmit(nxt++, false);
    }
  };

  const onAck = (tx: number): void => {
    const seg = txSeg[tx];
    receiverHas[seg] = true;
    while (receiverHas[rcvNxt]) rcvNxt += 1;
    const flightBefore = pipe * MSS;
    const sacked = seg >= rcvNxt && !senderKnows[seg] ? MSS : 0;
    senderKnows[seg] = true;
    if (txCounted[tx]) {
      txCounted[tx] = false;
      pipe -= 1;
    }
    let lossDetected = false;
    while (fifoHead < fifo.length) {
      const front = fifo[fifoHead];
      if (!txCounted[front]) fifoHead += 1;
      else if (tx - front >= 3) {
        txCounted[front] = false;
        pipe -= 1;
        lost.push(txSeg[front]);
        lossDetected = true;
        fifoHead += 1;
      } else break;
    }
    const rtt = txRetransmit[tx] ? undefined : now - txTime[tx];
    if (rtt !== undefined) estimator.sample(rtt, 'new-data');
    const acked = (rcvNxt - una) * MSS;
    if (rcvNxt > una) {
      una = rcvNxt;
      rtoAt = una < nxt ? now + estimator.rto : Number.POSITIVE_INFINITY;
    }
    const s: AckSample = { now, ackedBytes: acked, sackedBytes: sacked, rtt, inFlight: flightBefore, appLimited: false };
    if (recovering) {
      if (una >= recoveryPoint) {
        recovering = false;
        if (firstEpisodeDrops < 0) firstEpisodeDrops = drops;
        cc.onRecoveryAck(s, false);
        cc.onExitRecovery(now, pipe * MSS);
      } else {
        cc.onRecoveryAck(s, true);
      }
    } else if (lossDetected && una >= recoveryPoint) {
      recovering = true;
      recoveries += 1;
      recoveryPoint = nxt;
      cc.onEnterRecovery(now, flightBefore);
    } else {
      cc.onAck(s);
    }
  };

  const onTimeout = (): void => {
    timeouts += 1;
    cc.onRetransmitTimeout(now, pipe * MSS);
    estimator.backoff();
    for (let i = fifoHead; i < fifo.length; i++) txCounted[fifo[i]] = false;
    fifoHead = fifo.length;
    pipe = 0;
    lost.length = 0;
    lostHead = 0;
    for (let seg = una; seg < nxt; seg++) if (!senderKnows[seg]) lost.push(seg);
    recovering = false;
    recoveryPoint = nxt;
    rtoAt = now + estimator.rto;
  };

  const endMs = path.seconds * 1000;
  const perSecond: number[] = [];
  let nextMark = 1000;
  let markedRcvNxt = 0;
  const segmentsPerSecond = 1000 / serviceMs;
  send();
  while (now < endMs) {
    const nextAck = ackHead < ackTime.length ? ackTime[ackHead] : Number.POSITIVE_INFINITY;
    const next = Math.min(nextAck, rtoAt, nextMark);
    now = next;
    if (next === nextMark) {
      if (nextMark > warmup * 1000) perSecond.push((rcvNxt - markedRcvNxt) / segmentsPerSecond);
      markedRcvNxt = rcvNxt;
      nextMark += 1000;
      cwndSum += cc.cwnd / MSS;
      cwndSamples += 1;
      continue;
    }
    if (next === rtoAt) onTimeout();
    else {
      onAck(ackTx[ackHead]);
      ackHead += 1;
    }
    send();
  }
  const utilisation = perSecond.reduce((a, b) => a + b, 0) / perSecond.length;
  if (firstEpisodeDrops < 0) firstEpisodeDrops = drops;
  return { perSecond, utilisation, drops, firstEpisodeDrops, recoveries, timeouts, meanCwndPackets: cwndSum / cwndSamples };
}

function describeResult(name: string, path: Path, result: FlowResult): string {
  const bdp = (path.mbps * 1000 * path.rttMs) / (8 * MSS);
  return (
    `${name} ${path.mbps} Mbit/s, ${path.rttMs} ms, buffer ${path.bufferPackets} pkts (${(path.bufferPackets / bdp).toFixed(2)} BDP): ` +
    `utilisation ${(100 * result.utilisation).toFixed(1)}%, worst second ${(100 * Math.min(...result.perSecond)).toFixed(1)}%, ` +
    `${result.recoveries} recoveries, ${result.timeouts} timeouts, ${result.drops} drops (${result.firstEpisodeDrops} in the first episode), mean cwnd ${result.meanCwndPackets.toFixed(0)} pkts (BDP ${bdp.toFixed(0)})`
  );
}

describe('a single flow over a drop-tail bottleneck (pure arithmetic model)', () => {
  const small: Path = { mbps: 10, rttMs: 20, bufferPackets: 25, seconds: 40 };
  const longFat: Path = { mbps: 100, rttMs: 40, bufferPackets: 125, seconds: 60 };

  it.each(controllers)('%s fills a 10 Mbit/s, 20 ms path with a one-BDP buffer and holds it', (name, factory) => {
    const result = simulate(factory, small, 5);
    console.log(describeResult(name, small, result));
    expect(result.utilisation).toBeGreaterThan(0.97);
    expect(Math.min(...result.perSecond)).toBeGreaterThan(0.9);
    expect(result.timeouts).toBe(0);
    expect(result.recoveries).toBeGreaterThan(0);
  });

  it('cubic keeps a 100 Mbit/s, 40 ms path busy with a quarter-BDP buffer, better than newreno', () => {
    const cubic = simulate(createCubic, longFat, 10);
    const reno = simulate(createNewReno, longFat, 10);
    console.log(describeResult('cubic', longFat, cubic));
    console.log(describeResult('newreno', longFat, reno));
    expect(cubic.utilisation).toBeGreaterThan(0.9);
    expect(cubic.timeouts).toBe(0);
    expect(cubic.utilisation).toBeGreaterThan(reno.utilisation);
  });

  it('cubic with HyStart++ leaves the initial slow start before overflowing a deep buffer (RFC 9406)', () => {
    const deep: Path = { mbps: 100, rttMs: 40, bufferPackets: 1000, seconds: 6 };
    const withHystart = simulate(createCubic, deep, 1);
    const without = simulate((options) => createCubic({ ...options, hystart: false }), deep, 1);
    console.log(describeResult('cubic+hystart++', deep, withHystart));
    console.log(describeResult('cubic (no hystart)', deep, without));
    // CSS still grows 1.25x per round for five rounds, so a 2-BDP buffer overflows late and a
    // little; without HyStart++ slow start overshoots by a whole window.
    expect(withHystart.firstEpisodeDrops).toBeLessThan(without.firstEpisodeDrops / 5);
    expect(withHystart.utilisation).toBeGreaterThan(0.95);
  });
});
