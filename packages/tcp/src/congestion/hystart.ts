/**
 * HyStart++ (RFC 9406): leaves the initial slow start when the round-trip time starts to grow,
 * before the exponential growth overflows the bottleneck's buffer, through a few rounds of
 * Conservative Slow Start (CSS) that grow four times slower and go back to slow start if the
 * delay increase was a false alarm.
 *
 * Rounds (RFC 9406 §4.2): the RFC ends a round when the ACK for the highest sequence number sent
 * at its start arrives. A controller sees bytes, not sequence numbers, so a round here ends
 * once the bytes that were in flight when it started have been acknowledged, which is the same
 * point when the flight is acknowledged in order.
 */

/** RFC 9406 §4.3 constants (times in ms). */
const MIN_RTT_THRESH = 4;
const MAX_RTT_THRESH = 16;
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;

/** HyStart++ state of one connection's initial slow start. */
export class HyStartPlusPlus {
  /** In Conservative Slow Start: the caller divides its slow-start increase by {@link growthDivisor}. */
  inCss = false;
  private roundRemaining = 0;
  private lastRoundMinRtt = Number.POSITIVE_INFINITY;
  private currentRoundMinRtt = Number.POSITIVE_INFINITY;
  private rttSampleCount = 0;
  private cssBaselineMinRtt = Number.POSITIVE_INFINITY;
  private cssRounds = 0;

  /** What the slow-start increase is divided by now: CSS_GROWTH_DIVISOR in CSS, else 1. */
  get growthDivisor(): number {
    return this.inCss ? CSS_GROWTH_DIVISOR : 1;
  }

  /**
   * One ACK during slow start: `ackedBytes` newly acknowledged, `inFlight` bytes outstanding
   * before it, `rtt` its sample if any. Returns true when CSS has lasted CSS_ROUNDS rounds and
   * slow start must end (the caller sets ssthresh = cwnd, RFC 9406 §4.2).
   */
  onAck(ackedBytes: number, inFlight: number, rtt: number | undefined): boolean {
    if (this.roundRemaining <= 0) {
      // A new round: remember the last round's minimum RTT and start a fresh one.
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Number.POSITIVE_INFINITY;
      this.rttSampleCount = 0;
      this.roundRemaining = inFlight;
      if (this.inCss) this.cssRounds += 1;
    }
    this.roundRemaining -= ackedBytes;
    if (rtt !== undefined) {
      if (rtt < this.currentRoundMinRtt) this.currentRoundMinRtt = rtt;
      this.rttSampleCount += 1;
    }
    // Both checks only in rounds with N_RTT_SAMPLE samples (RFC 9406 §4.2); the current
    // round's minimum is then finite.
    if (this.rttSampleCount >= N_RTT_SAMPLE) {
      if (!this.inCss) {
        if (this.lastRoundMinRtt !== Number.POSITIVE_INFINITY) {
          const scaled = this.lastRoundMinRtt / MIN_RTT_DIVISOR;
          const threshold = Math.max(MIN_RTT_THRESH, Math.min(scaled, MAX_RTT_THRESH));
          if (this.currentRoundMinRtt >= this.lastRoundMinRtt + threshold) {
            this.inCss = true;
            this.cssBaselineMinRtt = this.currentRoundMinRtt;
            this.cssRounds = 0;
          }
        }
      } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
        // The delay increase was spurious: back to standard slow start.
        this.inCss = false;
        this.cssBaselineMinRtt = Number.POSITIVE_INFINITY;
      }
    }
    return this.inCss && this.cssRounds >= CSS_ROUNDS;
  }
}
