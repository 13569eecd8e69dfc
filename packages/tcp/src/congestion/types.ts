/**
 * The pluggable congestion controller interface (RFC 5681 §3, RFC 9438). A controller only
 * does window arithmetic: the sender decides what is lost and what to retransmit
 * (RFC 6675 scoreboard, RFC 6582 recovery point) and tells the controller what happened.
 *
 * All sizes are bytes, all times milliseconds from the injected clock.
 */

/** What one acknowledgment did, as the sender saw it. */
export interface AckSample {
  /** Current time. */
  readonly now: number;
  /** Bytes newly acknowledged cumulatively (snd.una advance). */
  readonly ackedBytes: number;
  /** Bytes newly marked SACKed by this ACK's blocks. */
  readonly sackedBytes: number;
  /** An RTT sample taken from this ACK (Karn's rule applied), if any. */
  readonly rtt: number | undefined;
  /** Bytes in flight before this ACK was processed (RFC 6675 "pipe" when SACK is on). */
  readonly inFlight: number;
  /** The sender is limited by the application rather than cwnd (RFC 7661). */
  readonly appLimited: boolean;
}

/** A congestion controller for one connection. */
export interface CongestionControl {
  /** `'newreno'`, `'cubic'`, ... */
  readonly name: string;
  /** Congestion window, bytes. */
  readonly cwnd: number;
  /** Slow-start threshold, bytes. */
  readonly ssthresh: number;
  /** A new cumulative (or SACK) acknowledgment outside loss recovery. */
  onAck(sample: AckSample): void;
  /** Loss detected by duplicate ACKs or SACK (RFC 5681 §3.2, RFC 6675 §5): entering recovery. */
  onEnterRecovery(now: number, inFlight: number): void;
  /** An ACK during recovery: partial when it does not cover the recovery point (RFC 6582 §3.2). */
  onRecoveryAck(sample: AckSample, partial: boolean): void;
  /** Recovery ended: the recovery point was acknowledged. */
  onExitRecovery(now: number, inFlight: number): void;
  /** The retransmission timer expired (RFC 5681 §3.1 equation 4; RFC 9438 §4.8 for CUBIC). */
  onRetransmitTimeout(now: number, inFlight: number): void;
  /** Sending resumes after an idle period longer than the RTO (RFC 5681 §4.1 restart window). */
  onIdleRestart(now: number): void;
  /** The effective MSS changed (PMTU, options). */
  setMss(mss: number): void;
}

/** Creates a controller for a connection with this sender MSS. */
export type CongestionControlFactory = (options: { readonly mss: number; readonly now: number }) => CongestionControl;
