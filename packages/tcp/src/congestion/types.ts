/**
 * The pluggable congestion controller interface (RFC 5681 §3, RFC 9438). A controller only
 * does window arithmetic: the sender decides what is lost and what to retransmit
 * (RFC 6675 scoreboard, RFC 6582 recovery point) and tells the controller what happened.
 *
 * All sizes are bytes, all times milliseconds from the injected clock.
 *
 * How the sender drives a controller (both `createNewReno` and `createCubic` follow this):
 * - every ACK outside recovery that advances snd.una or SACKs new data: `onAck`. Duplicate
 *   ACKs before recovery starts may be reported too (with `ackedBytes` 0); they change nothing.
 * - the loss signal (DupThresh duplicate ACKs, or RFC 6675 IsLost(HighACK + 1)):
 *   `onEnterRecovery(now, inFlight)` once per loss episode, with the bytes in flight when loss
 *   was detected (FlightSize of RFC 5681 eq. 4).
 * - every ACK while in recovery, duplicates included: `onRecoveryAck(sample, partial)`, with
 *   `partial` true while the ACK does not cover the recovery point. The ACK that covers it may be
 *   reported with `partial` false (it changes nothing) and is followed by `onExitRecovery`.
 * - `onRetransmitTimeout(now, inFlight)` when the retransmission timer fires, with the bytes
 *   that were outstanding (snd.nxt - snd.una before the sender goes back to snd.una). It ends
 *   any recovery; repeated timeouts without an ACK in between do not lower ssthresh again.
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

/** What a factory needs to create a controller for one connection. */
export interface CongestionControlOptions {
  /** Sender MSS (SMSS), bytes. */
  readonly mss: number;
  /** Current time. */
  readonly now: number;
  /**
   * The connection negotiated SACK and the sender runs RFC 6675 pipe-based loss recovery:
   * on entering recovery cwnd becomes ssthresh and is neither inflated by duplicate ACKs nor
   * deflated by partial ACKs (RFC 6675 §5). False or absent: RFC 6582 NewReno fast recovery
   * with window inflation (RFC 5681 §3.2 steps 4-6), for senders that compare
   * snd.nxt - snd.una with cwnd.
   */
  readonly sack?: boolean;
}

/** Creates a controller for a connection with this sender MSS. */
export type CongestionControlFactory = (options: CongestionControlOptions) => CongestionControl;
