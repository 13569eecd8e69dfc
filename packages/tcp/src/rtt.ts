/**
 * The retransmission timeout estimator of RFC 6298, with Karn's algorithm (RFC 6298 §3),
 * timestamp samples (RFC 7323 §4) and the optional per-ACK weighting of RFC 7323 Appendix G.
 *
 * The estimator only does arithmetic: the sender measures round trips (from its send time or
 * from the echoed TSval), tells the estimator where each sample came from, and arms its timer
 * with {@link RttEstimator.rto}. All times are milliseconds from the injected clock.
 */

/**
 * Where a round-trip sample came from, which decides whether it may be used.
 * - `'new-data'`: an ACK for a segment sent once (RFC 6298 §3: always valid).
 * - `'retransmitted'`: an ACK for a segment that was retransmitted and timed without
 *   timestamps. Karn's algorithm (RFC 6298 §3) discards it: the ACK may answer either copy.
 * - `'timestamp'`: taken from the echoed TSecr of an RFC 7323 timestamp option. Always valid,
 *   retransmission or not, because the echo names the transmission it answers (RFC 7323 §4).
 */
export type RttSampleSource = 'new-data' | 'retransmitted' | 'timestamp';

/** Configuration of an {@link RttEstimator}; every field has an RFC-backed default. */
export interface RttEstimatorConfig {
  /** RTO before any sample, ms. Default 1000 (RFC 6298 §2.1). */
  readonly initialRto?: number;
  /**
   * Lower bound on a computed RTO, ms. Default 200, as Linux does: RFC 6298 §2.4 says a
   * computed RTO below 1 s SHOULD be rounded up to 1 s, and its note acknowledges that a
   * lower minimum is used in practice; 200 ms still exceeds the 200 ms delayed-ACK bound of
   * RFC 1122 4.2.3.2 plus a small RTT, which keeps spurious timeouts rare. Set 1000 for the
   * conservative RFC value.
   */
  readonly minRto?: number;
  /** Upper bound on the RTO, backed off or not, ms. Default 60 000; must be at least 60 s (RFC 6298 §2.5). */
  readonly maxRto?: number;
  /** Clock granularity G, ms. Default 1 (the clock has millisecond or finer resolution). */
  readonly clockGranularity?: number;
  /** SRTT gain alpha. Default 1/8 (RFC 6298 §2.3). */
  readonly alpha?: number;
  /** RTTVAR gain beta. Default 1/4 (RFC 6298 §2.3). */
  readonly beta?: number;
  /** RTTVAR multiplier K. Default 4 (RFC 6298 §2). */
  readonly k?: number;
  /** RTO used once data transfer starts after the SYN or SYN-ACK was retransmitted without a sample, ms. Default 3000 (RFC 6298 §5.7). */
  readonly synRetransmitRto?: number;
}

/** RFC 6298 §2.5: "a maximum value MAY be placed on RTO provided it is at least 60 seconds". */
const RFC_MIN_MAX_RTO = 60_000;

/**
 * One connection's smoothed RTT, RTT variance and retransmission timeout (RFC 6298).
 *
 * Per-ACK use: `estimator.sample(rtt, source)` for each valid measurement, read
 * `estimator.rto` when (re)arming the retransmission timer, call `estimator.backoff()` when
 * the timer expires. Nothing here allocates.
 */
export class RttEstimator {
  /** Smoothed round-trip time, ms; NaN until the first valid sample. */
  srtt = Number.NaN;
  /** Round-trip time variation, ms; NaN until the first valid sample. */
  rttvar = Number.NaN;
  /** Smallest valid sample seen, ms; Infinity until the first. */
  minRtt = Number.POSITIVE_INFINITY;
  /** The most recent valid sample, ms; NaN until the first. */
  latestRtt = Number.NaN;
  /** Consecutive timeouts since the last valid sample (the exponent of the back-off). */
  backoffCount = 0;

  private readonly initialRto: number;
  private readonly minRto: number;
  private readonly maxRto: number;
  private readonly granularity: number;
  private readonly alpha: number;
  private readonly beta: number;
  private readonly k: number;
  private readonly synRetransmitRto: number;
  /** The RTO from the formula (or the initial value), before back-off. */
  private baseRto: number;
  private currentRto: number;

  constructor(config: RttEstimatorConfig = {}) {
    this.initialRto = config.initialRto ?? 1000;
    this.minRto = config.minRto ?? 200;
    this.maxRto = config.maxRto ?? RFC_MIN_MAX_RTO;
    this.granularity = config.clockGranularity ?? 1;
    this.alpha = config.alpha ?? 1 / 8;
    this.beta = config.beta ?? 1 / 4;
    this.k = config.k ?? 4;
    this.synRetransmitRto = config.synRetransmitRto ?? 3000;
    if (!(this.maxRto >= RFC_MIN_MAX_RTO)) {
      throw new RangeError(`maxRto must be at least ${RFC_MIN_MAX_RTO} ms (RFC 6298 §2.5), got ${this.maxRto}`);
    }
    if (!(this.minRto > 0 && this.minRto <= this.maxRto)) {
      throw new RangeError(`minRto must be in (0, maxRto], got ${this.minRto}`);
    }
    if (!(this.initialRto > 0)) throw new RangeError(`initialRto must be positive, got ${this.initialRto}`);
    if (!(this.granularity >= 0)) throw new RangeError(`clockGranularity must be >= 0, got ${this.granularity}`);
    if (!(this.alpha > 0 && this.alpha <= 1 && this.beta > 0 && this.beta <= 1)) {
      throw new RangeError('alpha and beta must be in (0, 1]');
    }
    if (!(this.k > 0)) throw new RangeError(`k must be positive, got ${this.k}`);
    this.baseRto = this.clamp(this.initialRto);
    this.currentRto = this.baseRto;
  }

  /** The retransmission timeout to arm now, ms: the computed RTO with any back-off applied. */
  get rto(): number {
    return this.currentRto;
  }

  /** True once a valid sample has been taken. */
  get hasSample(): boolean {
    return this.srtt === this.srtt;
  }

  /**
   * Feeds one round-trip measurement. Returns false when the sample was discarded: Karn's
   * algorithm for `'retransmitted'` samples, or a negative or non-finite value.
   *
   * `expectedSamples` applies RFC 7323 Appendix G: a sender taking a timestamp sample on every
   * ACK gets many per round trip, so it divides alpha and beta by the number of samples
   * expected per RTT to keep the estimator's memory about one RTT long. Pass
   * {@link RttEstimator.expectedSamples}(flightSize, smss); leave it 1 for one sample per RTT.
   *
   * A valid sample recomputes the RTO from SRTT and RTTVAR, which "collapses" any back-off
   * (RFC 6298 §5, the note after rule 5.7): Karn's backed-off RTO is kept only until a valid
   * sample arrives.
   */
  sample(rtt: number, source: RttSampleSource, expectedSamples = 1): boolean {
    if (source === 'retransmitted') return false;
    if (!(rtt >= 0) || rtt === Number.POSITIVE_INFINITY) return false;
    this.latestRtt = rtt;
    if (rtt < this.minRtt) this.minRtt = rtt;
    if (this.srtt !== this.srtt) {
      // RFC 6298 §2.2: the first measurement.
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      const divisor = expectedSamples > 1 ? expectedSamples : 1;
      const alpha = this.alpha / divisor;
      const beta = this.beta / divisor;
      // RFC 6298 §2.3: RTTVAR first, from the old SRTT.
      this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - rtt);
      this.srtt = (1 - alpha) * this.srtt + alpha * rtt;
    }
    this.baseRto = this.clamp(this.srtt + Math.max(this.granularity, this.k * this.rttvar));
    this.currentRto = this.baseRto;
    this.backoffCount = 0;
    return true;
  }

  /** The retransmission timer expired: RFC 6298 §5.5, RTO = RTO * 2, capped at the maximum. */
  backoff(): void {
    this.backoffCount += 1;
    this.currentRto = Math.min(this.currentRto * 2, this.maxRto);
  }

  /**
   * RFC 6298 §5.7: when the SYN or SYN-ACK was retransmitted and the handshake yielded no
   * RTT sample, the RTO is set back to 3 s once data transmission begins (the 1 s initial
   * RTO is only for the handshake). No-op once a sample exists.
   */
  startDataAfterSynRetransmit(): void {
    if (this.hasSample) return;
    this.baseRto = this.clamp(this.synRetransmitRto);
    this.currentRto = this.baseRto;
    this.backoffCount = 0;
  }

  /** Forgets every sample and back-off: the state of a new connection. */
  reset(): void {
    this.srtt = Number.NaN;
    this.rttvar = Number.NaN;
    this.minRtt = Number.POSITIVE_INFINITY;
    this.latestRtt = Number.NaN;
    this.backoffCount = 0;
    this.baseRto = this.clamp(this.initialRto);
    this.currentRto = this.baseRto;
  }

  /** RFC 7323 Appendix G: ExpectedSamples = ceil(FlightSize / (SMSS * 2)), at least 1. */
  static expectedSamples(flightSize: number, smss: number): number {
    const samples = Math.ceil(flightSize / (smss * 2));
    return samples > 1 ? samples : 1;
  }

  private clamp(rto: number): number {
    if (rto < this.minRto) return this.minRto;
    if (rto > this.maxRto) return this.maxRto;
    return rto;
  }
}
