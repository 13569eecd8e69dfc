/**
 * Time is injected: no protocol package reads the system clock or sets a system timer itself.
 * Production passes {@link createSystemClock}; tests pass a virtual clock that only moves
 * when the test advances it.
 */

/** A pending timer. */
export interface Timer {
  /** Stops the timer; a no-op when it already fired or was cancelled. */
  cancel(): void;
}

/** Monotonic time, wall time and one-shot timers. */
export interface Clock {
  /** Monotonic milliseconds from an arbitrary origin (fractions allowed). Never goes back. */
  now(): number;
  /** Milliseconds since the Unix epoch (for HTTP dates, pcap timestamps, DNS serials). */
  wallTime(): number;
  /** Calls `callback` once, `delayMs` milliseconds from now (0 or less: as soon as possible). */
  setTimer(delayMs: number, callback: () => void): Timer;
}

interface HostTimerHandle {
  unref?: () => void;
}

/**
 * The real clock: `performance.now()`, `Date.now()` and `setTimeout`. Timers are unref'd where
 * the runtime allows it, so a pending retransmission never keeps a finished program alive: the
 * backend's open device or socket is what keeps an appliance running.
 */
export function createSystemClock(): Clock {
  return {
    now: () => performance.now(),
    wallTime: () => Date.now(),
    setTimer(delayMs, callback) {
      const handle = setTimeout(callback, Math.max(0, delayMs)) as unknown as HostTimerHandle;
      if (typeof handle.unref === 'function') handle.unref();
      return { cancel: () => clearTimeout(handle as unknown as ReturnType<typeof setTimeout>) };
    },
  };
}
