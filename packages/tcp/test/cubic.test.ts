import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AckSample, CongestionControlFactory, CubicControl } from '../src/congestion/index.js';
import { createCubic } from '../src/congestion/index.js';

const MSS = 1000;
const C = 0.4;
const BETA = 0.7;

function ack(now: number, ackedBytes: number, extra: Partial<AckSample> = {}): AckSample {
  return { now, ackedBytes, sackedBytes: 0, rtt: undefined, inFlight: 0, appLimited: false, ...extra };
}

/** A SACK-mode CUBIC that lost at cwnd = `w` segments, recovered, and sits at the start of congestion avoidance at `now`. */
function afterLoss(w: number, now: number, options: { renoFriendly?: boolean; fastConvergence?: boolean } = {}): CubicControl {
  const cc = createCubic({ mss: MSS, now: 0, sack: true, initialWindow: w * MSS, ...options });
  cc.onEnterRecovery(now, w * MSS);
  cc.onExitRecovery(now, w * MSS * BETA);
  return cc;
}

/**
 * Drives `cc` with an ACK clock: every RTT, one cwnd of bytes is acknowledged in SMSS-sized
 * ACKs spread evenly over the round trip. Calls `probe(t, cwnd)` at each RTT boundary.
 */
function ackClock(cc: CubicControl, start: number, rtt: number, rounds: number, probe: (now: number, cwnd: number) => void): number {
  let now = start;
  for (let round = 0; round < rounds; round++) {
    const segments = Math.max(1, Math.floor(cc.cwnd / MSS));
    for (let i = 0; i < segments; i++) {
      cc.onAck(ack(now + (rtt * (i + 1)) / segments, MSS, { rtt }));
    }
    now += rtt;
    probe(now, cc.cwnd);
  }
  return now;
}

describe('CUBIC (RFC 9438)', () => {
  it('is a CongestionControlFactory named cubic', () => {
    const factory: CongestionControlFactory = createCubic;
    expect(factory({ mss: MSS, now: 0 }).name).toBe('cubic');
  });

  it('sets ssthresh = max(FlightSize·0.7, 2·SMSS) and W_max = cwnd on loss (§4.6)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 2000 }), fc.integer({ min: 0, max: 2_000_000 }), (w, flight) => {
        const cc = createCubic({ mss: MSS, now: 0, sack: true, initialWindow: w * MSS });
        cc.onEnterRecovery(0, flight);
        expect(cc.ssthresh).toBe(Math.max(Math.floor(flight * BETA), 2 * MSS));
        expect(cc.cwnd).toBe(cc.ssthresh);
        expect(cc.epoch.wMax).toBe(w * MSS);
        expect(cc.epoch.cwndPrior).toBe(w * MSS);
      }),
      { numRuns: 100 },
    );
  });

  it('lowers W_max to cwnd·(1 + beta)/2 on a loss below the last W_max (fast convergence, §4.7)', () => {
    const cc = afterLoss(100, 0);
    expect(cc.epoch.wMax).toBe(100 * MSS);
    expect(cc.cwnd).toBe(70 * MSS);
    cc.onEnterRecovery(10, 70 * MSS);
    expect(cc.epoch.wMax).toBeCloseTo((70 * MSS * (1 + BETA)) / 2, 6);
    const plain = afterLoss(100, 0, { fastConvergence: false });
    plain.onEnterRecovery(10, 70 * MSS);
    expect(plain.epoch.wMax).toBe(70 * MSS);
  });

  it('starts an epoch with K = cbrt((W_max − cwnd_epoch)/C) (eq. 2)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 5000 }), (w) => {
        const cc = afterLoss(w, 0);
        cc.onAck(ack(1, MSS));
        const { k, cwndEpoch, wMax, epochStart } = cc.epoch;
        expect(epochStart).toBe(1);
        expect(cwndEpoch).toBe(Math.max(Math.floor(w * MSS * BETA), 2 * MSS));
        expect(k).toBeCloseTo(Math.cbrt((wMax - cwndEpoch) / MSS / C), 9);
      }),
      { numRuns: 100 },
    );
  });

  it('follows W_cubic(t) = C(t − K)³ + W_max at sample points, concave then convex (§4.2, §4.4, §4.5)', () => {
    const rtt = 100;
    const cc = afterLoss(1000, 0, { renoFriendly: false });
    cc.onAck(ack(0, MSS, { rtt }));
    const { k, wMax } = cc.epoch;
    expect(k).toBeCloseTo(Math.cbrt((1000 - 700) / C), 6);
    const errors: number[] = [];
    ackClock(cc, 0, rtt, Math.round((2.2 * k * 1000) / rtt), (now, cwnd) => {
      const t = now / 1000;
      const expected = (C * (t - k) ** 3 + wMax / MSS) * MSS;
      errors.push(Math.abs(cwnd - expected) / expected);
    });
    // The window tracks the curve within 2% at every round (it aims one RTT ahead and closes
    // the gap over that RTT).
    expect(Math.max(...errors)).toBeLessThan(0.02);
  });

  it('plateaus near W_max: per-RTT growth shrinks towards K, then grows again', () => {
    const rtt = 50;
    const cc = afterLoss(500, 0, { renoFriendly: false });
    cc.onAck(ack(0, MSS, { rtt }));
    const k = cc.epoch.k * 1000;
    const growth: { now: number; delta: number }[] = [];
    let last = cc.cwnd;
    ackClock(cc, 0, rtt, Math.round((2 * k) / rtt), (now, cwnd) => {
      growth.push({ now, delta: cwnd - last });
      last = cwnd;
    });
    const early = growth[1].delta;
    const plateau = growth.find((g) => Math.abs(g.now - k) <= rtt)?.delta ?? Number.NaN;
    const late = growth[growth.length - 1].delta;
    expect(plateau).toBeLessThan(early / 10);
    expect(late).toBeGreaterThan(plateau * 10);
    expect(growth.every((g) => g.delta >= 0)).toBe(true);
  });

  it('never grows cwnd by more than half per RTT (target ≤ 1.5·cwnd, §4.2)', () => {
    const cc = afterLoss(10, 0, { renoFriendly: false });
    cc.onAck(ack(0, MSS, { rtt: 1000 }));
    let last = cc.cwnd;
    ackClock(cc, 0, 1000, 20, (_now, cwnd) => {
      expect(cwnd).toBeLessThanOrEqual(last * 1.5 + MSS);
      last = cwnd;
    });
  });

  it('uses the Reno-friendly window W_est at small RTT (§4.3)', () => {
    // 1 ms RTT and a 20-segment W_max: the cubic curve moves by time, W_est by ACKs, so at
    // this RTT Reno's linear growth is faster and CUBIC must match it.
    const rtt = 1;
    const cc = afterLoss(20, 0);
    cc.onAck(ack(0, MSS, { rtt }));
    const alpha = (3 * (1 - BETA)) / (1 + BETA);
    const start = cc.cwnd;
    let rounds = 0;
    ackClock(cc, 0, rtt, 10, () => {
      rounds += 1;
    });
    // W_est grows by about alpha_cubic segments per RTT while below cwnd_prior.
    const grown = (cc.cwnd - start) / MSS;
    expect(grown).toBeGreaterThan(alpha * rounds * 0.8);
    expect(grown).toBeLessThan(alpha * rounds * 1.3);
    expect(cc.cwnd).toBeCloseTo(cc.epoch.wEst, -1);
    const { k, wMax } = cc.epoch;
    const cubicNow = (C * (10 * rtt / 1000 - k) ** 3 + wMax / MSS) * MSS;
    expect(cc.cwnd).toBeGreaterThan(cubicNow);
    // Without the Reno-friendly region the same flow grows far slower.
    const pure = afterLoss(20, 0, { renoFriendly: false });
    pure.onAck(ack(0, MSS, { rtt }));
    ackClock(pure, 0, rtt, 10, () => undefined);
    expect(pure.cwnd).toBeLessThan(cc.cwnd);
  });

  it('switches W_est to alpha = 1 once it reaches cwnd_prior (§4.3)', () => {
    const cc = afterLoss(20, 0);
    cc.onAck(ack(0, MSS, { rtt: 1 }));
    let previous = cc.epoch.wEst;
    const slopes: { wEst: number; slope: number }[] = [];
    ackClock(cc, 0, 1, 80, () => {
      const { wEst } = cc.epoch;
      slopes.push({ wEst, slope: (wEst - previous) / MSS });
      previous = wEst;
    });
    const below = slopes.filter((s) => s.wEst < 19 * MSS);
    const above = slopes.filter((s) => s.wEst > 21 * MSS);
    expect(below.length).toBeGreaterThan(0);
    expect(above.length).toBeGreaterThan(0);
    for (const s of below.slice(1)) expect(s.slope).toBeLessThan(0.7);
    for (const s of above.slice(1)) expect(s.slope).toBeGreaterThan(0.9);
  });

  it('grows monotonically in congestion avoidance without loss', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 3000 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 200 }), bytes: fc.integer({ min: 1, max: 4 * MSS }), rtt: fc.integer({ min: 1, max: 400 }) }), { maxLength: 200 }),
        (w, acks) => {
          const cc = afterLoss(w, 0);
          let now = 0;
          let last = cc.cwnd;
          for (const a of acks) {
            now += a.gap;
            cc.onAck(ack(now, a.bytes, { rtt: a.rtt }));
            expect(cc.cwnd).toBeGreaterThanOrEqual(last);
            last = cc.cwnd;
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('after a timeout: cwnd = 1 SMSS, ssthresh = 0.7·FlightSize, next epoch K = 0 and W_max = cwnd_epoch (§4.8)', () => {
    const cc = createCubic({ mss: MSS, now: 0, initialWindow: 100 * MSS });
    cc.onRetransmitTimeout(0, 100 * MSS);
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
    let now = 0;
    while (cc.cwnd < cc.ssthresh) cc.onAck(ack((now += 1), MSS));
    expect(cc.cwnd).toBe(70 * MSS);
    cc.onAck(ack((now += 1), MSS));
    expect(cc.epoch.k).toBe(0);
    expect(cc.epoch.wMax).toBe(70 * MSS);
    expect(cc.epoch.wEst).toBeGreaterThanOrEqual(70 * MSS);
  });

  it('does not advance the curve while application-limited (§5.8)', () => {
    const limited = afterLoss(200, 0, { renoFriendly: false });
    const busy = afterLoss(200, 0, { renoFriendly: false });
    limited.onAck(ack(0, MSS, { rtt: 10 }));
    busy.onAck(ack(0, MSS, { rtt: 10 }));
    for (let t = 10; t <= 5000; t += 10) limited.onAck(ack(t, MSS, { rtt: 10, appLimited: true }));
    expect(limited.cwnd).toBe(busy.cwnd);
    limited.onAck(ack(5010, MSS, { rtt: 10 }));
    busy.onAck(ack(10, MSS, { rtt: 10 }));
    expect(Math.abs(limited.cwnd - busy.cwnd)).toBeLessThanOrEqual(1);
  });

  it('restarts the epoch after idle', () => {
    const cc = createCubic({ mss: MSS, now: 0, sack: true });
    for (let i = 0; i < 45; i++) cc.onAck(ack(i, 2 * MSS));
    expect(cc.cwnd).toBe(100 * MSS);
    cc.onEnterRecovery(50, 100 * MSS);
    cc.onExitRecovery(60, 70 * MSS);
    cc.onAck(ack(65, MSS, { rtt: 10 }));
    expect(cc.epoch.epochStart).toBe(65);
    cc.onIdleRestart(10_000);
    expect(cc.epoch.epochStart).toBeNaN();
    expect(cc.cwnd).toBe(10 * MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
  });

  it('rejects out-of-range constants', () => {
    expect(() => createCubic({ mss: MSS, now: 0, c: 0 })).toThrow(RangeError);
    expect(() => createCubic({ mss: MSS, now: 0, betaCubic: 1 })).toThrow(RangeError);
  });
});
