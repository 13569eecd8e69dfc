/**
 * The RFC 9293 connection state machine as a pure transition function, and the pure rules of
 * segment acceptance and reset generation (RFC 9293 §3.10.7, RFC 5961). Nothing here touches
 * buffers, timers or I/O: the connection classifies what happened into an {@link TcpEvent},
 * asks {@link transition} for the next state, and does the side effects itself.
 */
import type { TcpState } from '@morgana/core';
import { seqAdd, seqGe, seqGt, seqLe, seqLt } from './seq.js';
import { TcpFlag } from './wire.js';

/**
 * What can happen to a connection (RFC 9293 §3.3.2, Figure 5).
 * - `passive-open`, `active-open`: the user's OPEN call.
 * - `close`: the user's CLOSE (we send FIN once queued data is out).
 * - `abort`: the user's ABORT (we send RST).
 * - `rcv-syn`: a SYN without ACK (LISTEN, or SYN-SENT for a simultaneous open).
 * - `rcv-syn-ack`: a SYN with an acceptable ACK in SYN-SENT.
 * - `rcv-ack-of-syn`: an acceptable ACK in SYN-RECEIVED.
 * - `rcv-fin`: the peer's FIN, in sequence.
 * - `rcv-ack-of-fin`: an ACK covering our FIN.
 * - `rcv-rst`: an acceptable RST.
 * - `timeout`: TIME-WAIT's 2·MSL ran out, or the user timeout / retransmission limit was hit.
 */
export type TcpEvent =
  | 'passive-open'
  | 'active-open'
  | 'close'
  | 'abort'
  | 'rcv-syn'
  | 'rcv-syn-ack'
  | 'rcv-ack-of-syn'
  | 'rcv-fin'
  | 'rcv-ack-of-fin'
  | 'rcv-rst'
  | 'timeout';

/**
 * The next state after `event` in `state`, or undefined when the event cannot happen there
 * (the caller never produces it: a programming error, or an event the RFC says to ignore).
 */
export function transition(state: TcpState, event: TcpEvent): TcpState | undefined {
  // Resets, aborts and timeouts end every connection that has begun (RFC 9293 §3.10.7.4,
  // §3.10.5, §3.8.3). A LISTEN "connection" ignores RST (§3.10.7.2); CLOSED has nothing to end.
  if (event === 'abort' || event === 'timeout') return state === 'CLOSED' ? undefined : 'CLOSED';
  if (event === 'rcv-rst') return state === 'CLOSED' || state === 'LISTEN' ? undefined : 'CLOSED';
  switch (state) {
    case 'CLOSED':
      if (event === 'passive-open') return 'LISTEN';
      if (event === 'active-open') return 'SYN-SENT';
      return undefined;
    case 'LISTEN':
      if (event === 'rcv-syn') return 'SYN-RECEIVED';
      // A SEND on a listening connection turns it active (RFC 9293 §3.10.2).
      if (event === 'active-open') return 'SYN-SENT';
      if (event === 'close') return 'CLOSED';
      return undefined;
    case 'SYN-SENT':
      if (event === 'rcv-syn-ack') return 'ESTABLISHED';
      // Simultaneous open (RFC 9293 §3.5, Figure 8).
      if (event === 'rcv-syn') return 'SYN-RECEIVED';
      if (event === 'close') return 'CLOSED';
      return undefined;
    case 'SYN-RECEIVED':
      if (event === 'rcv-ack-of-syn') return 'ESTABLISHED';
      // "If no SENDs have been issued and there is no pending data to send, then form a FIN
      // segment and send it, and enter FIN-WAIT-1 state" (RFC 9293 §3.10.4).
      if (event === 'close') return 'FIN-WAIT-1';
      if (event === 'rcv-fin') return 'CLOSE-WAIT';
      return undefined;
    case 'ESTABLISHED':
      if (event === 'close') return 'FIN-WAIT-1';
      if (event === 'rcv-fin') return 'CLOSE-WAIT';
      return undefined;
    case 'FIN-WAIT-1':
      if (event === 'rcv-ack-of-fin') return 'FIN-WAIT-2';
      // Simultaneous close (RFC 9293 §3.6, Figure 13).
      if (event === 'rcv-fin') return 'CLOSING';
      return undefined;
    case 'FIN-WAIT-2':
      if (event === 'rcv-fin') return 'TIME-WAIT';
      return undefined;
    case 'CLOSE-WAIT':
      if (event === 'close') return 'LAST-ACK';
      return undefined;
    case 'CLOSING':
      if (event === 'rcv-ack-of-fin') return 'TIME-WAIT';
      return undefined;
    case 'LAST-ACK':
      if (event === 'rcv-ack-of-fin') return 'CLOSED';
      return undefined;
    case 'TIME-WAIT':
      return undefined;
  }
}

/** States in which both sides' sequence numbers are known (RFC 9293 §3.10.7.4). */
export function isSynchronized(state: TcpState): boolean {
  return state !== 'CLOSED' && state !== 'LISTEN' && state !== 'SYN-SENT';
}

/** States in which we have sent, or must send, a FIN. */
export function finQueued(state: TcpState): boolean {
  return (
    state === 'FIN-WAIT-1' ||
    state === 'FIN-WAIT-2' ||
    state === 'CLOSING' ||
    state === 'LAST-ACK' ||
    state === 'TIME-WAIT'
  );
}

/** A reset to send, or undefined for none. */
export interface ResetSegment {
  readonly seq: number;
  readonly ack: number;
  /** {@link TcpFlag.rst}, plus {@link TcpFlag.ack} when `ack` is meaningful. */
  readonly flags: number;
}

/**
 * The reset answering a segment that belongs to no connection (RFC 9293 §3.10.7.1, and
 * §3.10.7.2 for a bad ACK in LISTEN): never for a RST; if the segment has an ACK,
 * `<SEQ=SEG.ACK><CTL=RST>`; otherwise `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
 */
export function resetFor(flags: number, seq: number, ack: number, payloadLength: number): ResetSegment | undefined {
  if ((flags & TcpFlag.rst) !== 0) return undefined;
  if ((flags & TcpFlag.ack) !== 0) return { seq: ack, ack: 0, flags: TcpFlag.rst };
  return { seq: 0, ack: seqAdd(seq, segmentLength(flags, payloadLength)), flags: TcpFlag.rst | TcpFlag.ack };
}

/** SEG.LEN: payload plus one for each of SYN and FIN (RFC 9293 §3.4). */
export function segmentLength(flags: number, payloadLength: number): number {
  return payloadLength + ((flags & TcpFlag.syn) !== 0 ? 1 : 0) + ((flags & TcpFlag.fin) !== 0 ? 1 : 0);
}

/**
 * RFC 9293 §3.10.7.4 "first check sequence number": is any part of the segment in the
 * receive window? The four cases of the table, by segment length and window size.
 */
export function segmentAcceptable(seq: number, length: number, rcvNxt: number, rcvWnd: number): boolean {
  if (length === 0) {
    if (rcvWnd === 0) return seq === rcvNxt;
    return seqLe(rcvNxt, seq) && seqLt(seq, seqAdd(rcvNxt, rcvWnd));
  }
  if (rcvWnd === 0) return false;
  const end = seqAdd(seq, length - 1);
  const windowEnd = seqAdd(rcvNxt, rcvWnd);
  return (seqLe(rcvNxt, seq) && seqLt(seq, windowEnd)) || (seqLe(rcvNxt, end) && seqLt(end, windowEnd));
}

/** What to do with a RST in a synchronized state (RFC 5961 §3.2). */
export type RstVerdict = 'accept' | 'challenge' | 'drop';

/**
 * RFC 5961 §3.2: a RST whose sequence number is exactly RCV.NXT resets the connection; one
 * elsewhere in the window gets a challenge ACK (a blind attacker must guess exactly);
 * outside the window it is dropped silently.
 */
export function classifyReset(seq: number, rcvNxt: number, rcvWnd: number): RstVerdict {
  if (seq === rcvNxt) return 'accept';
  if (seqLe(rcvNxt, seq) && seqLt(seq, seqAdd(rcvNxt, Math.max(rcvWnd, 1)))) return 'challenge';
  return 'drop';
}

/**
 * RFC 9293 §3.10.7.3: in SYN-SENT a RST is acceptable only if it acknowledges our SYN
 * (SND.UNA < SEG.ACK <= SND.NXT, the ACK bit on).
 */
export function synSentAckAcceptable(ack: number, iss: number, sndNxt: number): boolean {
  return seqGt(ack, iss) && seqLe(ack, sndNxt);
}

/** What to do with the ACK field of a segment in a synchronized state. */
export type AckVerdict = 'acceptable' | 'duplicate' | 'future' | 'too-old';

/**
 * RFC 9293 §3.10.7.4 fifth check with RFC 5961 §5.2: an ACK is acceptable in
 * [SND.UNA - MAX.SND.WND, SND.NXT]; new when above SND.UNA. An ACK for data never sent gets
 * an ACK back and the segment is dropped ('future'); one older than the largest window the
 * peer could have seen is an injection attempt and is dropped with a challenge ACK ('too-old').
 */
export function classifyAck(ack: number, sndUna: number, sndNxt: number, maxSndWnd: number): AckVerdict {
  if (seqGt(ack, sndNxt)) return 'future';
  if (seqGt(ack, sndUna)) return 'acceptable';
  if (seqGe(ack, (sndUna - maxSndWnd) >>> 0)) return 'duplicate';
  return 'too-old';
}
