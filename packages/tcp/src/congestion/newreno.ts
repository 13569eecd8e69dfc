/**
 * NewReno congestion control: RFC 5681 slow start and congestion avoidance with appropriate
 * byte counting (RFC 3465), RFC 6582 fast recovery (RFC 6675 when the sender uses SACK), the
 * RFC 6928 initial window, the RFC 5681 §3.1 loss window and the §4.1 restart window.
 */
import type { CongestionControl } from './types.js';
import { LossBasedWindow, type WindowOptions } from './window.js';

/** Options of {@link createNewReno}: the factory options plus the common window settings. */
export type NewRenoOptions = WindowOptions;

class NewReno extends LossBasedWindow {
  readonly name = 'newreno';
  /** RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2·SMSS). */
  protected readonly beta = 0.5;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 3465 §2.1). */
  private bytesAcked = 0;

  protected congestionAvoidance(_now: number, ackedBytes: number): void {
    // RFC 5681 §3.1 / RFC 3465 §2.1: one SMSS per cwnd of acknowledged bytes, which is the
    // per-ACK SMSS·SMSS/cwnd rule without its rounding and delayed-ACK bias.
    this.bytesAcked += ackedBytes;
    if (this.bytesAcked >= this.window) {
      this.bytesAcked -= this.window;
      this.window += this.mss;
    }
  }

  protected onCongestionEvent(): void {
    this.bytesAcked = 0;
  }
}

/** Creates a NewReno controller (RFC 5681, RFC 6582, RFC 3465, RFC 6928); usable as a `CongestionControlFactory`. */
export function createNewReno(options: NewRenoOptions): CongestionControl {
  return new NewReno(options);
}
