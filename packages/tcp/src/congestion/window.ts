/**
 * What NewReno and CUBIC share: the initial window (RFC 6928), slow start with appropriate
 * byte counting (RFC 5681 §3.1, RFC 3465) and optionally HyStart++ (RFC 9406), fast recovery (RFC 5681 §3.2 with RFC 6582, or
 * RFC 6675 for SACK senders), the loss window after a timeout (RFC 5681 §3.1) and the restart
 * window after idle (RFC 5681 §4.1). A subclass supplies the multiplicative decrease factor
 * and the congestion avoidance increase.
 */
import { HyStartPlusPlus } from './hystart.js';
import type { AckSample, CongestionControl, CongestionControlOptions } from './types.js';

/** Settings common to every loss-based controller; all optional. */
export interface WindowOptions extends CongestionControlOptions {
  /** Initial window, bytes. Default min(10·MSS, max(2·MSS, 14600)) (RFC 6928 §2). */
  readonly initialWindow?: number;
  /** Initial ssthresh, bytes. Default 2^30, "arbitrarily high" (RFC 5681 §3.1): the largest RFC 7323 window. */
  readonly initialSsthresh?: number;
  /** Most bytes slow start adds per ACK, in SMSS. Default 2: RFC 3465's limit L = 2·SMSS. */
  readonly abcLimit?: number;
  /** Upper bound on cwnd, bytes. Default 2^30, the largest window a peer can offer (RFC 7323 §2.3). */
  readonly maxWindow?: number;
  /**
   * Leave the initial slow start early with HyStart++ (RFC 9406) when the RTT grows. Default:
   * true for CUBIC (as Linux's CUBIC uses HyStart), false for NewReno.
   */
  readonly hystart?: boolean;
}

/** RFC 7323 §2.3: a scaled window never exceeds 2^30 bytes, so neither need cwnd. */
const LARGEST_WINDOW = 2 ** 30;

/** RFC 6928 §2: IW = min(10·MSS, max(2·MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** The window arithmetic of a loss-based controller; subclasses add the increase rule. */
export abstract class LossBasedWindow implements CongestionControl {
  abstract readonly name: string;

  /** SMSS, bytes. */
  protected mss: number;
  /** cwnd, bytes; fractional so that sub-byte increases accumulate. */
  protected window: number;
  /** ssthresh, bytes. */
  protected threshold: number;
  protected readonly sack: boolean;
  protected inRecovery = false;
  protected readonly maxWindow: number;

  private readonly configuredInitialWindow: number | undefined;
  private readonly abcLimit: number;
  /** A timeout happened and no ACK has advanced snd.una since: RFC 5681 §3.1 keeps ssthresh on a repeat. */
  private timedOutWithoutProgress = false;
  /** Slow start after a timeout: RFC 3465 §2.3 uses L = 1·SMSS there. */
  private slowStartAfterTimeout = false;
  /** No ACK or congestion event yet: an MSS change may still resize the initial window. */
  private pristine = true;
  /** HyStart++ while the initial slow start lasts; later slow starts (after a loss) use the standard algorithm (RFC 9406 §4.2). */
  private hystart: HyStartPlusPlus | undefined;

  /** Multiplicative decrease factor: ssthresh = max(FlightSize · beta, 2·SMSS). */
  protected abstract readonly beta: number;

  constructor(options: WindowOptions) {
    if (!(options.mss > 0)) throw new RangeError(`mss must be positive, got ${options.mss}`);
    this.mss = options.mss;
    this.sack = options.sack ?? false;
    this.configuredInitialWindow = options.initialWindow;
    this.abcLimit = options.abcLimit ?? 2;
    this.maxWindow = options.maxWindow ?? LARGEST_WINDOW;
    if (!(this.abcLimit >= 1)) throw new RangeError(`abcLimit must be at least 1 SMSS, got ${this.abcLimit}`);
    if (!(this.maxWindow >= 2 * this.mss)) throw new RangeError(`maxWindow must be at least 2·MSS, got ${this.maxWindow}`);
    this.window = this.startWindow();
    this.threshold = Math.max(options.initialSsthresh ?? LARGEST_WINDOW, 2 * this.mss);
    if (options.hystart === true) this.hystart = new HyStartPlusPlus();
  }

  get cwnd(): number {
    return Math.floor(this.window);
  }

  get ssthresh(): number {
    return Math.floor(this.threshold);
  }

  onAck(sample: AckSample): void {
    if (sample.rtt !== undefined) this.onRttSample(sample.rtt);
    if (sample.ackedBytes > 0) {
      this.timedOutWithoutProgress = false;
      this.pristine = false;
    }
    // The contract reports recovery ACKs through onRecoveryAck; one that strays here must not
    // grow a window that fast recovery is holding.
    if (this.inRecovery || sample.ackedBytes <= 0) return;
    if (sample.appLimited) {
      // Growing cwnd while the application, not cwnd, limits sending would validate a window
      // the path never carried (RFC 7661 §1, RFC 2861).
      this.onAppLimited(sample.now);
      return;
    }
    if (this.window < this.threshold) {
      this.slowStart(sample);
    } else {
      this.congestionAvoidance(sample.now, sample.ackedBytes);
    }
    if (this.window > this.maxWindow) this.window = this.maxWindow;
  }

  onEnterRecovery(now: number, inFlight: number): void {
    if (this.inRecovery) return;
    this.pristine = false;
    this.hystart = undefined;
    this.onCongestionEvent(now);
    this.threshold = this.lossThreshold(inFlight);
    this.inRecovery = true;
    // RFC 5681 §3.2 step 4: cwnd = ssthresh + 3·SMSS inflates for the three segments the
    // duplicate ACKs say have left the network. RFC 6675 §5 counts them in pipe instead.
    this.window = this.sack ? this.threshold : this.threshold + 3 * this.mss;
  }

  onRecoveryAck(sample: AckSample, partial: boolean): void {
    if (sample.rtt !== undefined) this.onRttSample(sample.rtt);
    if (sample.ackedBytes > 0) this.timedOutWithoutProgress = false;
    if (!this.inRecovery || !partial || this.sack) return;
    if (sample.ackedBytes <= 0) {
      // RFC 5681 §3.2 step 5: each further duplicate ACK means one more segment has left.
      this.window += this.mss;
    } else {
      // RFC 6582 §3.2 step 5: deflate by the newly acknowledged bytes, and add one SMSS back
      // when at least that much was acknowledged, so about ssthresh stays in flight.
      this.window -= sample.ackedBytes;
      if (sample.ackedBytes >= this.mss) this.window += this.mss;
    }
    if (this.window < this.mss) this.window = this.mss;
    if (this.window > this.maxWindow) this.window = this.maxWindow;
  }

  onExitRecovery(now: number, inFlight: number): void {
    if (!this.inRecovery) return;
    this.inRecovery = false;
    if (this.sack) {
      this.window = this.threshold;
    } else {
      // RFC 6582 §3.2 step 3, option 1: min(ssthresh, max(FlightSize, SMSS) + SMSS) avoids the
      // burst that a plain cwnd = ssthresh would allow when little is left in flight.
      this.window = Math.min(this.threshold, Math.max(inFlight, this.mss) + this.mss);
    }
    if (this.window < 2 * this.mss) this.window = 2 * this.mss;
    this.onRecoveryEnd(now);
  }

  onRetransmitTimeout(now: number, inFlight: number): void {
    this.pristine = false;
    this.hystart = undefined;
    if (!this.timedOutWithoutProgress && !this.inRecovery) {
      // RFC 5681 §3.1 eq. 4, only when the segment has not already been resent by the timer.
      this.onCongestionEvent(now);
      this.threshold = this.lossThreshold(inFlight);
      this.onTimeoutReduction(now);
    } else if (this.inRecovery) {
      // Fast recovery already reduced ssthresh for this loss episode; the timeout may lower it
      // further but not apply the decrease twice (RFC 5681 §3.1: "no more than" eq. 4).
      this.threshold = Math.min(this.threshold, this.lossThreshold(inFlight));
      this.onTimeoutReduction(now);
    }
    this.timedOutWithoutProgress = true;
    this.slowStartAfterTimeout = true;
    this.inRecovery = false;
    // RFC 5681 §3.1: the loss window, LW = 1 full-sized segment.
    this.window = this.mss;
  }

  onIdleRestart(now: number): void {
    // RFC 2861 §3 (as Linux does): remember 3/4 of the window in ssthresh, so slow start climbs
    // back quickly to where the connection was.
    const kept = (3 * this.window) / 4;
    if (kept > this.threshold) this.threshold = kept;
    // RFC 5681 §4.1: RW = min(IW, cwnd).
    const restart = Math.min(this.startWindow(), this.window);
    this.window = restart;
    this.onRestart(now);
  }

  setMss(mss: number): void {
    if (!(mss > 0)) throw new RangeError(`mss must be positive, got ${mss}`);
    this.mss = mss;
    if (this.pristine) this.window = this.startWindow();
    if (this.window < mss) this.window = mss;
    if (this.threshold < 2 * mss) this.threshold = 2 * mss;
    if (this.window > this.maxWindow) this.window = this.maxWindow;
  }

  /** RFC 5681 eq. 4 generalised: ssthresh = max(FlightSize · beta, 2·SMSS). */
  protected lossThreshold(inFlight: number): number {
    return Math.max(Math.floor(inFlight * this.beta), 2 * this.mss);
  }

  /** The congestion avoidance increase for `ackedBytes` newly acknowledged at `now`. */
  protected abstract congestionAvoidance(now: number, ackedBytes: number): void;

  /** A loss (recovery or timeout) is about to reduce the window; `this.window` is still the old one. */
  protected abstract onCongestionEvent(now: number): void;

  /** A timeout reduced ssthresh (after `onCongestionEvent` when it was a new event). */
  protected onTimeoutReduction(_now: number): void {}

  /** Fast recovery ended; congestion avoidance starts from `this.window`. */
  protected onRecoveryEnd(_now: number): void {}

  /** Sending restarted after idle with the restart window. */
  protected onRestart(_now: number): void {}

  /** An ACK arrived while the sender was application-limited. */
  protected onAppLimited(_now: number): void {}

  /** A valid RTT sample arrived with an ACK. */
  protected onRttSample(_rtt: number): void {}

  /** RFC 3465 §2.2 slow start: cwnd += min(N, L) for N bytes acknowledged (a quarter of it in HyStart++'s CSS). */
  private slowStart(sample: AckSample): void {
    const ackedBytes = sample.ackedBytes;
    const limit = (this.slowStartAfterTimeout ? 1 : this.abcLimit) * this.mss;
    let increase = ackedBytes < limit ? ackedBytes : limit;
    if (this.hystart !== undefined) {
      const done = this.hystart.onAck(ackedBytes, sample.inFlight, sample.rtt);
      increase /= this.hystart.growthDivisor;
      if (done) {
        // RFC 9406 §4.2: CSS_ROUNDS rounds of CSS without relief end slow start, ssthresh = cwnd.
        this.window += increase;
        this.threshold = this.window < 2 * this.mss ? 2 * this.mss : this.window;
        this.hystart = undefined;
        return;
      }
    }
    this.window += increase;
    if (this.window >= this.threshold) {
      // Slow start ends at ssthresh; congestion avoidance takes over from the next ACK.
      this.window = this.threshold;
      this.slowStartAfterTimeout = false;
      this.hystart = undefined;
    }
  }

  private startWindow(): number {
    return this.configuredInitialWindow ?? initialWindow(this.mss);
  }
}
