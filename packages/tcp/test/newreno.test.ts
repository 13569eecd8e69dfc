import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AckSample, CongestionControlFactory } from '../src/congestion/index.js';
import { createNewReno, initialWindow } from '../src/congestion/index.js';

const MSS = 1000;

function ack(ackedBytes: number, extra: Partial<AckSample> = {}): AckSample {
  return { now: 0, ackedBytes, sackedBytes: 0, rtt: undefined, inFlight: 0, appLimited: false, ...extra };
}

const mss = fc.integer({ min: 88, max: 9000 });

describe('NewReno', () => {
  it('is a CongestionControlFactory named newreno', () => {
    const factory: CongestionControlFactory = createNewReno;
    expect(factory({ mss: MSS, now: 0 }).name).toBe('newreno');
  });

  it('starts with IW = min(10·MSS, max(2·MSS, 14600)) (RFC 6928 §2)', () => {
    fc.assert(
      fc.property(mss, (m) => {
        const cc = createNewReno({ mss: m, now: 0 });
        expect(cc.cwnd).toBe(Math.min(10 * m, Math.max(2 * m, 14600)));
        expect(cc.cwnd).toBe(initialWindow(m));
      }),
      { numRuns: 100 },
    );
    expect(initialWindow(1460)).toBe(14600);
    expect(initialWindow(536)).toBe(5360);
    expect(initialWindow(9000)).toBe(18000);
  });

  it('grows by min(acked, 2·SMSS) per ACK in slow start (RFC 3465 §2.2, L = 2·SMSS)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 8 * MSS }), { minLength: 1, maxLength: 50 }), (acks) => {
        const cc = createNewReno({ mss: MSS, now: 0 });
        for (const bytes of acks) {
          const before = cc.cwnd;
          cc.onAck(ack(bytes));
          expect(cc.cwnd - before).toBe(Math.min(bytes, 2 * MSS));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('stops slow start at ssthresh', () => {
    const cc = createNewReno({ mss: MSS, now: 0, initialSsthresh: 12_500 });
    cc.onAck(ack(2 * MSS));
    cc.onAck(ack(2 * MSS));
    expect(cc.cwnd).toBe(12_500);
  });

  it('adds one SMSS per cwnd of acknowledged bytes in congestion avoidance (RFC 5681 §3.1, RFC 3465 §2.1)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3 * MSS }), { minLength: 1, maxLength: 300 }), (acks) => {
        const cc = createNewReno({ mss: MSS, now: 0, initialSsthresh: 2 * MSS, initialWindow: 4 * MSS });
        expect(cc.cwnd).toBeGreaterThanOrEqual(cc.ssthresh);
        // Reference byte counter.
        let cwnd = 4 * MSS;
        let counted = 0;
        for (const bytes of acks) {
          const before = cc.cwnd;
          cc.onAck(ack(bytes));
          counted += bytes;
          if (counted >= cwnd) {
            counted -= cwnd;
            cwnd += MSS;
          }
          expect(cc.cwnd).toBe(cwnd);
          expect(cc.cwnd).toBeGreaterThanOrEqual(before);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('does not grow cwnd while the application limits sending (RFC 7661)', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    const before = cc.cwnd;
    for (let i = 0; i < 20; i++) cc.onAck(ack(MSS, { appLimited: true }));
    expect(cc.cwnd).toBe(before);
  });

  it('ignores duplicate ACKs outside recovery', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    const before = cc.cwnd;
    cc.onAck(ack(0, { sackedBytes: MSS }));
    expect(cc.cwnd).toBe(before);
  });

  it('sets ssthresh = max(FlightSize/2, 2·SMSS) and inflates by 3·SMSS on fast retransmit (RFC 5681 §3.2, eq. 4)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (flight) => {
        const cc = createNewReno({ mss: MSS, now: 0 });
        cc.onEnterRecovery(0, flight);
        expect(cc.ssthresh).toBe(Math.max(Math.floor(flight / 2), 2 * MSS));
        expect(cc.cwnd).toBe(cc.ssthresh + 3 * MSS);
      }),
      { numRuns: 100 },
    );
  });

  it('holds cwnd at ssthresh through SACK recovery (RFC 6675 §5)', () => {
    const cc = createNewReno({ mss: MSS, now: 0, sack: true });
    cc.onEnterRecovery(0, 40 * MSS);
    expect(cc.cwnd).toBe(20 * MSS);
    cc.onRecoveryAck(ack(0, { sackedBytes: MSS }), true);
    cc.onRecoveryAck(ack(5 * MSS), true);
    expect(cc.cwnd).toBe(20 * MSS);
    cc.onExitRecovery(0, 3 * MSS);
    expect(cc.cwnd).toBe(20 * MSS);
  });

  it('inflates by SMSS per further duplicate ACK (RFC 5681 §3.2 step 5)', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    cc.onEnterRecovery(0, 40 * MSS);
    for (let i = 1; i <= 5; i++) {
      cc.onRecoveryAck(ack(0), true);
      expect(cc.cwnd).toBe(23 * MSS + i * MSS);
    }
  });

  it('deflates by the acknowledged bytes on a partial ACK and adds back SMSS (RFC 6582 §3.2 step 5)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 15 * MSS }), (acked) => {
        const cc = createNewReno({ mss: MSS, now: 0 });
        cc.onEnterRecovery(0, 40 * MSS);
        const before = cc.cwnd;
        cc.onRecoveryAck(ack(acked), true);
        expect(cc.cwnd).toBe(Math.max(MSS, before - acked + (acked >= MSS ? MSS : 0)));
      }),
      { numRuns: 100 },
    );
  });

  it('leaves recovery with cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) (RFC 6582 §3.2 step 3)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 * MSS }), (flight) => {
        const cc = createNewReno({ mss: MSS, now: 0 });
        cc.onEnterRecovery(0, 40 * MSS);
        cc.onRecoveryAck(ack(20 * MSS), false);
        cc.onExitRecovery(0, flight);
        expect(cc.cwnd).toBe(Math.max(2 * MSS, Math.min(20 * MSS, Math.max(flight, MSS) + MSS)));
        expect(cc.cwnd).toBeGreaterThanOrEqual(2 * MSS);
      }),
      { numRuns: 100 },
    );
  });

  it('reduces only once per loss episode', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    cc.onEnterRecovery(0, 40 * MSS);
    cc.onEnterRecovery(0, 30 * MSS);
    expect(cc.ssthresh).toBe(20 * MSS);
  });

  it('falls to the loss window and halves FlightSize on a timeout (RFC 5681 §3.1)', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    cc.onRetransmitTimeout(0, 30 * MSS);
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBe(15 * MSS);
  });

  it('keeps ssthresh when the retransmission times out again (RFC 5681 §3.1)', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    cc.onRetransmitTimeout(0, 30 * MSS);
    cc.onRetransmitTimeout(1000, MSS);
    expect(cc.ssthresh).toBe(15 * MSS);
    cc.onAck(ack(MSS));
    cc.onRetransmitTimeout(3000, 10 * MSS);
    expect(cc.ssthresh).toBe(5 * MSS);
  });

  it('does not halve twice when a timeout interrupts fast recovery', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    cc.onEnterRecovery(0, 40 * MSS);
    cc.onRetransmitTimeout(0, 40 * MSS);
    expect(cc.ssthresh).toBe(20 * MSS);
    expect(cc.cwnd).toBe(MSS);
    const sack = createNewReno({ mss: MSS, now: 0, sack: true });
    sack.onEnterRecovery(0, 40 * MSS);
    sack.onRetransmitTimeout(0, 10 * MSS);
    expect(sack.ssthresh).toBe(5 * MSS);
  });

  it('slow-starts by one SMSS per ACK after a timeout (RFC 3465 §2.3)', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    cc.onRetransmitTimeout(0, 30 * MSS);
    cc.onAck(ack(4 * MSS));
    expect(cc.cwnd).toBe(2 * MSS);
  });

  it('restarts from min(IW, cwnd) after idle and remembers 3/4 of cwnd in ssthresh (RFC 5681 §4.1)', () => {
    const cc = createNewReno({ mss: MSS, now: 0 });
    for (let i = 0; i < 20; i++) cc.onAck(ack(2 * MSS));
    expect(cc.cwnd).toBe(50 * MSS);
    cc.onEnterRecovery(0, 50 * MSS);
    cc.onExitRecovery(0, 30 * MSS);
    expect(cc.cwnd).toBe(25 * MSS);
    cc.onIdleRestart(10_000);
    expect(cc.cwnd).toBe(10 * MSS);
    expect(cc.ssthresh).toBe(25 * MSS);
    const small = createNewReno({ mss: MSS, now: 0 });
    small.onRetransmitTimeout(0, 4 * MSS);
    small.onIdleRestart(10_000);
    expect(small.cwnd).toBe(MSS);
  });

  it('recomputes the initial window when the MSS changes before any ACK', () => {
    const cc = createNewReno({ mss: 536, now: 0 });
    cc.setMss(1460);
    expect(cc.cwnd).toBe(14_600);
    cc.onAck(ack(1460));
    cc.setMss(9000);
    expect(cc.cwnd).toBe(14_600 + 1460);
    expect(cc.ssthresh).toBeGreaterThanOrEqual(18_000);
  });

  it('caps cwnd at maxWindow', () => {
    const cc = createNewReno({ mss: MSS, now: 0, maxWindow: 12 * MSS });
    for (let i = 0; i < 10; i++) cc.onAck(ack(2 * MSS));
    expect(cc.cwnd).toBe(12 * MSS);
  });

  it('rejects a non-positive MSS', () => {
    expect(() => createNewReno({ mss: 0, now: 0 })).toThrow(RangeError);
    expect(() => createNewReno({ mss: MSS, now: 0 }).setMss(-1)).toThrow(RangeError);
  });
});
