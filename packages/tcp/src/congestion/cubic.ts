/**
 * CUBIC congestion control (RFC 9438). Slow start, fast recovery, the loss and restart windows
 * are those of RFC 5681 (shared with NewReno); CUBIC changes the multiplicative decrease
 * (beta_cubic = 0.7, §4.6), remembers W_max with fast convergence (§4.7), and grows cwnd in
 * congestion avoidance along W_cubic(t) = C·(t − K)³ + W_max (§4.2), never slower than a Reno
 * flow would (the Reno-friendly region, §4.3).
 *
 * Units: the RFC counts windows in segments and time in seconds. Here windows are kept in
 * bytes and converted at the formula: W_cubic in bytes is SMSS · C · (t − K)³ + W_max, with
 * t and K in seconds and the clock's milliseconds divided by 1000.
 */
import type { CongestionControl } from './types.js';
import { LossBasedWindow, type WindowOptions } from './window.js';

/** Options of {@link createCubic}: the factory options, the common window settings and CUBIC's constants. */
export interface CubicOptions extends WindowOptions {
  /** C, segments/s³. Default 0.4 (RFC 9438 §4.2, discussed in §5). */
  readonly c?: number;
  /** beta_cubic, the multiplicative decrease factor. Default 0.7 (RFC 9438 §4.6). */
  readonly betaCubic?: number;
  /** Release bandwidth faster to new flows by lowering W_max after a loss below it. Default true (RFC 9438 §4.7). */
  readonly fastConvergence?: boolean;
  /** Never grow slower than Reno would on the same path (RFC 9438 §4.3, a SHOULD). Default true. */
  readonly renoFriendly?: boolean;
}

/** The state of one congestion avoidance epoch, readable for tests and diagnostics. */
export interface CubicEpoch {
  /** W_max, bytes (NaN before the first congestion event). */
  readonly wMax: number;
  /** K, seconds. */
  readonly k: number;
  /** Start of the current congestion avoidance stage (t = 0), ms; NaN outside one. */
  readonly epochStart: number;
  /** cwnd when the stage started, bytes. */
  readonly cwndEpoch: number;
  /** W_est, the Reno-equivalent window, bytes. */
  readonly wEst: number;
  /** cwnd just before the last reduction, bytes. */
  readonly cwndPrior: number;
  /** Smoothed RTT from the ACK samples, ms (NaN before the first). */
  readonly srtt: number;
}

/** A CUBIC controller: the {@link CongestionControl} interface plus its epoch state. */
export interface CubicControl extends CongestionControl {
  /** The current epoch's parameters. */
  readonly epoch: CubicEpoch;
}

class Cubic extends LossBasedWindow implements CubicControl {
  readonly name = 'cubic';
  protected readonly beta: number;
  private readonly c: number;
  private readonly fastConvergence: boolean;
  private readonly renoFriendly: boolean;
  /** RFC 9438 §4.3: alpha_cubic = 3(1 − beta)/(1 + beta), Reno's average rate at CUBIC's beta. */
  private readonly alphaCubic: number;

  private wMax = Number.NaN;
  private cwndPrior = 0;
  private epochStart = Number.NaN;
  private cwndEpoch = 0;
  private k = 0;
  private wEst = 0;
  private srtt = Number.NaN;
  private lastAckTime = 0;
  /** The next epoch follows a timeout: K = 0 and W_max = cwnd_epoch (RFC 9438 §4.8). */
  private afterTimeout = false;

  constructor(options: CubicOptions) {
    super({ ...options, hystart: options.hystart ?? true });
    this.c = options.c ?? 0.4;
    this.beta = options.betaCubic ?? 0.7;
    this.fastConvergence = options.fastConvergence ?? true;
    this.renoFriendly = options.renoFriendly ?? true;
    if (!(this.c > 0)) throw new RangeError(`c must be positive, got ${this.c}`);
    if (!(this.beta > 0 && this.beta < 1)) throw new RangeError(`betaCubic must be in (0, 1), got ${this.beta}`);
    this.alphaCubic = (3 * (1 - this.beta)) / (1 + this.beta);
  }

  get epoch(): CubicEpoch {
    return {
      wMax: this.wMax,
      k: this.k,
      epochStart: this.epochStart,
      cwndEpoch: this.cwndEpoch,
      wEst: this.wEst,
      cwndPrior: this.cwndPrior,
      srtt: this.srtt,
    };
  }

  /** RFC 9438 eq. 1, in bytes: W_cubic(t) = SMSS · C · (t − K)³ + W_max, t in seconds. */
  private wCubic(t: number): number {
    const d = t - this.k;
    return this.mss * this.c * d * d * d + this.wMax;
  }

  protected congestionAvoidance(now: number, ackedBytes: number): void {
    if (this.epochStart !== this.epochStart) this.startEpoch(now);
    this.lastAckTime = now;
    const t = (now - this.epochStart) / 1000;
    if (this.renoFriendly) {
      // RFC 9438 §4.3: W_est grows as Reno with alpha_cubic until it reaches the window before
      // the last reduction, then as standard Reno (alpha = 1).
      const alpha = this.wEst >= this.cwndPrior ? 1 : this.alphaCubic;
      this.wEst += (alpha * ackedBytes * this.mss) / this.window;
      if (this.wCubic(t) < this.wEst) {
        // Reno-friendly region: follow W_est (never shrinking cwnd in congestion avoidance).
        if (this.wEst > this.window) this.window = this.wEst;
        return;
      }
    }
    // RFC 9438 §4.2: aim at where the curve will be one RTT from now, within [cwnd, 1.5·cwnd],
    // and close (target − cwnd)/cwnd of the gap per SMSS acknowledged (concave region below
    // W_max §4.4, convex above §4.5: the same rule on both sides of the plateau).
    const rtt = this.srtt === this.srtt ? this.srtt / 1000 : 0;
    let target = this.wCubic(t + rtt);
    if (target < this.window) target = this.window;
    else if (target > 1.5 * this.window) target = 1.5 * this.window;
    this.window += ((target - this.window) / this.window) * ackedBytes;
  }

  private startEpoch(now: number): void {
    this.epochStart = now;
    this.lastAckTime = now;
    this.cwndEpoch = this.window;
    this.wEst = this.window;
    if (this.afterTimeout || this.wMax !== this.wMax) {
      // RFC 9438 §4.8 after a timeout (and likewise before any congestion event): the curve
      // starts at the current window, already in its convex part.
      this.afterTimeout = false;
      this.wMax = this.window;
      this.k = 0;
    } else {
      // RFC 9438 eq. 2: K = cbrt((W_max − cwnd_epoch) / C), in segments; negative when the
      // epoch starts above W_max, which keeps W_cubic(0) = cwnd_epoch.
      this.k = Math.cbrt((this.wMax - this.cwndEpoch) / this.mss / this.c);
    }
  }

  protected onCongestionEvent(): void {
    // RFC 9438 §4.6 and §4.7: remember the window before the reduction and W_max, lowered
    // further when the loss came below the previous W_max (fast convergence).
    this.cwndPrior = this.window;
    if (this.fastConvergence && this.window < this.wMax) {
      this.wMax = (this.window * (1 + this.beta)) / 2;
    } else {
      this.wMax = this.window;
    }
    this.epochStart = Number.NaN;
  }

  protected override onTimeoutReduction(): void {
    this.afterTimeout = true;
    this.epochStart = Number.NaN;
  }

  protected override onRecoveryEnd(): void {
    this.epochStart = Number.NaN;
  }

  protected override onRestart(): void {
    this.epochStart = Number.NaN;
  }

  protected override onAppLimited(now: number): void {
    // t counts only time spent cwnd-limited: an application-limited spell must not make the
    // curve jump ahead when sending resumes (RFC 9438 §5.8).
    if (this.epochStart === this.epochStart) {
      this.epochStart += now - this.lastAckTime;
      this.lastAckTime = now;
    }
  }

  protected override onRttSample(rtt: number): void {
    // RFC 9438 §4.2 uses the smoothed RTT; the RFC 6298 gain of 1/8.
    this.srtt = this.srtt === this.srtt ? this.srtt + (rtt - this.srtt) / 8 : rtt;
  }
}

/** Creates a CUBIC controller (RFC 9438); usable as a `CongestionControlFactory`. */
export function createCubic(options: CubicOptions): CubicControl {
  return new Cubic(options);
}
