/**
 * The abstract RFC 9293 model the cases compare against: @morgana/tcp's pure transition
 * function and segment rules (no buffers, timers or I/O), plus the few numbers the RFCs fix.
 */
import type { TcpState } from '@morgana/core';
import { transition } from '@morgana/tcp';
import type { TcpEvent } from '@morgana/tcp';

export { classifyReset, resetFor, segmentAcceptable, transition } from '@morgana/tcp';
export type { TcpEvent } from '@morgana/tcp';

/** The state the model reaches from `state` through `events`; throws when an event cannot happen there. */
export function modelState(state: TcpState, ...events: TcpEvent[]): TcpState {
  let current = state;
  for (const event of events) {
    const next = transition(current, event);
    if (next === undefined) throw new Error(`the model has no ${event} edge out of ${current}`);
    current = next;
  }
  return current;
}

/** Initial retransmission timeout before any RTT sample, ms (RFC 6298 §2.1). */
export const INITIAL_RTO_MS = 1000;
/** Lower bound of the RTO, ms (RFC 6298 §2.4: "SHOULD be rounded up to 1 second"). */
export const MIN_RTO_MS = 1000;
/** Maximum segment lifetime, ms (RFC 9293 §3.4.2: "taken to be 2 minutes"). */
export const MSL_MS = 120_000;
/** Send MSS when the peer sent no MSS option (RFC 9293 §3.7.1, RFC 1122 4.2.2.6). */
export const DEFAULT_SEND_MSS = 536;
/** Largest window shift (RFC 7323 §2.3). */
export const MAX_WINDOW_SHIFT = 14;
/** Idle time before the first keepalive, if keepalives are on at all, ms (RFC 1122 4.2.3.6). */
export const KEEPALIVE_IDLE_MIN_MS = 7_200_000;
