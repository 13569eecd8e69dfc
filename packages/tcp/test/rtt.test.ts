import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RttEstimator } from '../src/rtt.js';

/** RFC 6298 §2 written out directly, one sample at a time, as the reference model. */
function referenceRto(samples: readonly number[], minRto: number, maxRto: number, g: number): { srtt: number; rttvar: number; rto: number } {
  let srtt = 0;
  let rttvar = 0;
  samples.forEach((r, i) => {
    if (i === 0) {
      srtt = r;
      rttvar = r / 2;
    } else {
      rttvar = 0.75 * rttvar + 0.25 * Math.abs(srtt - r);
      srtt = 0.875 * srtt + 0.125 * r;
    }
  });
  const rto = Math.min(maxRto, Math.max(minRto, srtt + Math.max(g, 4 * rttvar)));
  return { srtt, rttvar, rto };
}

const rttSample = fc.double({ min: 0, max: 5000, noNaN: true });

describe('RttEstimator (RFC 6298)', () => {
  it('starts with a 1 s RTO before any sample (RFC 6298 §2.1)', () => {
    const estimator = new RttEstimator();
    expect(estimator.rto).toBe(1000);
    expect(estimator.hasSample).toBe(false);
  });

  it('takes SRTT = R and RTTVAR = R/2 from the first sample (RFC 6298 §2.2)', () => {
    fc.assert(
      fc.property(rttSample, (r) => {
        const estimator = new RttEstimator({ minRto: 1 });
        expect(estimator.sample(r, 'new-data')).toBe(true);
        expect(estimator.srtt).toBe(r);
        expect(estimator.rttvar).toBe(r / 2);
        expect(estimator.rto).toBeCloseTo(Math.min(60_000, Math.max(1, r + Math.max(1, 2 * r))), 9);
      }),
      { numRuns: 200 },
    );
  });

  it('matches the RFC 6298 §2.3 formulas over any sequence of samples', () => {
    fc.assert(
      fc.property(
        fc.array(rttSample, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(1, 200, 1000),
        fc.constantFrom(0, 1, 10),
        (samples, minRto, g) => {
          const estimator = new RttEstimator({ minRto, clockGranularity: g });
          for (const r of samples) estimator.sample(r, 'new-data');
          const expected = referenceRto(samples, minRto, 60_000, g);
          expect(estimator.srtt).toBeCloseTo(expected.srtt, 6);
          expect(estimator.rttvar).toBeCloseTo(expected.rttvar, 6);
          expect(estimator.rto).toBeCloseTo(expected.rto, 6);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never computes an RTO below the minimum or above the maximum (RFC 6298 §2.4, §2.5)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 200_000, noNaN: true }), { minLength: 1, maxLength: 30 }), (samples) => {
        const estimator = new RttEstimator({ minRto: 200, maxRto: 90_000 });
        for (const r of samples) {
          estimator.sample(r, 'new-data');
          expect(estimator.rto).toBeGreaterThanOrEqual(200);
          expect(estimator.rto).toBeLessThanOrEqual(90_000);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('adds at least the clock granularity G to SRTT when RTTVAR is zero', () => {
    const estimator = new RttEstimator({ minRto: 1, clockGranularity: 5 });
    for (let i = 0; i < 200; i++) estimator.sample(100, 'new-data');
    expect(estimator.rttvar).toBeLessThan(1e-9);
    expect(estimator.rto).toBeCloseTo(105, 6);
  });

  it('doubles the RTO on each timeout up to the maximum (RFC 6298 §5.5)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.constantFrom(60_000, 120_000), (timeouts, maxRto) => {
        const estimator = new RttEstimator({ maxRto });
        let expected = 1000;
        for (let i = 0; i < timeouts; i++) {
          estimator.backoff();
          expected = Math.min(expected * 2, maxRto);
          expect(estimator.rto).toBe(expected);
        }
        expect(estimator.backoffCount).toBe(timeouts);
        expect(estimator.rto).toBeLessThanOrEqual(maxRto);
      }),
      { numRuns: 50 },
    );
  });

  it('keeps the backed-off RTO across an ambiguous sample (Karn, RFC 6298 §3)', () => {
    const estimator = new RttEstimator();
    estimator.sample(100, 'new-data');
    const before = { srtt: estimator.srtt, rttvar: estimator.rttvar };
    estimator.backoff();
    estimator.backoff();
    const backedOff = estimator.rto;
    expect(estimator.sample(30, 'retransmitted')).toBe(false);
    expect(estimator.rto).toBe(backedOff);
    expect(estimator.srtt).toBe(before.srtt);
    expect(estimator.rttvar).toBe(before.rttvar);
    expect(estimator.backoffCount).toBe(2);
  });

  it('collapses the back-off on the next valid sample (RFC 6298 §5, note after 5.7)', () => {
    const estimator = new RttEstimator({ minRto: 1 });
    estimator.sample(100, 'new-data');
    const rto = estimator.rto;
    for (let i = 0; i < 5; i++) estimator.backoff();
    expect(estimator.rto).toBe(Math.min(rto * 32, 60_000));
    estimator.sample(100, 'new-data');
    expect(estimator.backoffCount).toBe(0);
    expect(estimator.rto).toBeLessThan(rto);
  });

  it('accepts timestamp samples of retransmitted segments (RFC 7323 §4)', () => {
    const estimator = new RttEstimator();
    expect(estimator.sample(80, 'timestamp')).toBe(true);
    expect(estimator.srtt).toBe(80);
  });

  it('discards negative and non-finite samples', () => {
    const estimator = new RttEstimator();
    expect(estimator.sample(-1, 'new-data')).toBe(false);
    expect(estimator.sample(Number.NaN, 'new-data')).toBe(false);
    expect(estimator.sample(Number.POSITIVE_INFINITY, 'timestamp')).toBe(false);
    expect(estimator.hasSample).toBe(false);
  });

  it('tracks the minimum and latest sample', () => {
    const estimator = new RttEstimator();
    for (const r of [50, 20, 70]) estimator.sample(r, 'new-data');
    expect(estimator.minRtt).toBe(20);
    expect(estimator.latestRtt).toBe(70);
  });

  it('divides the gains by the expected samples per RTT (RFC 7323 Appendix G)', () => {
    fc.assert(
      fc.property(rttSample, rttSample, fc.integer({ min: 1, max: 64 }), (first, second, segments) => {
        const smss = 1000;
        const flight = segments * smss;
        const n = RttEstimator.expectedSamples(flight, smss);
        expect(n).toBe(Math.max(1, Math.ceil(flight / (2 * smss))));
        const estimator = new RttEstimator({ minRto: 1 });
        estimator.sample(first, 'timestamp');
        estimator.sample(second, 'timestamp', n);
        const beta = 0.25 / n;
        const alpha = 0.125 / n;
        const rttvar = (1 - beta) * (first / 2) + beta * Math.abs(first - second);
        expect(estimator.rttvar).toBeCloseTo(rttvar, 6);
        expect(estimator.srtt).toBeCloseTo((1 - alpha) * first + alpha * second, 6);
      }),
      { numRuns: 100 },
    );
  });

  it('uses 3 s once data starts after a retransmitted SYN without a sample (RFC 6298 §5.7)', () => {
    const estimator = new RttEstimator();
    estimator.backoff();
    estimator.startDataAfterSynRetransmit();
    expect(estimator.rto).toBe(3000);
    expect(estimator.backoffCount).toBe(0);
    const sampled = new RttEstimator({ minRto: 1 });
    sampled.sample(10, 'new-data');
    sampled.startDataAfterSynRetransmit();
    expect(sampled.rto).toBe(30);
  });

  it('rejects a maximum RTO under 60 s and inconsistent bounds (RFC 6298 §2.5)', () => {
    expect(() => new RttEstimator({ maxRto: 59_999 })).toThrow(RangeError);
    expect(() => new RttEstimator({ minRto: 0 })).toThrow(RangeError);
    expect(() => new RttEstimator({ minRto: 70_000 })).toThrow(RangeError);
    expect(() => new RttEstimator({ alpha: 0 })).toThrow(RangeError);
  });

  it('reset forgets samples and back-off', () => {
    const estimator = new RttEstimator();
    estimator.sample(10, 'new-data');
    estimator.backoff();
    estimator.reset();
    expect(estimator.hasSample).toBe(false);
    expect(estimator.rto).toBe(1000);
    expect(estimator.minRtt).toBe(Number.POSITIVE_INFINITY);
  });
});
