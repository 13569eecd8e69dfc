/**
 * How a conformance run lets time pass. Against a simulated TCP the run moves a virtual
 * clock timer by timer (fast and deterministic); against a real one it waits in real time,
 * polling. Cases only ever say "wait until this holds, at most that long".
 */
import type { Clock } from '@morgana/core';
import type { VirtualClock } from '@morgana/testing';

/** Time as a conformance run sees it. */
export interface Timeline {
  readonly clock: Clock;
  /** True when time is simulated: the run may wait as long as a case needs. */
  readonly virtual: boolean;
  /** Lets time pass until `done()` holds or `ms` have passed; resolves with `done()`. */
  waitUntil(done: () => boolean, ms: number): Promise<boolean>;
  /** Lets `ms` pass. */
  sleep(ms: number): Promise<void>;
}

/** A timeline over a {@link VirtualClock}: waiting fires the timers due on the way, one by one. */
export function createVirtualTimeline(clock: VirtualClock): Timeline {
  const waitUntil = async (done: () => boolean, ms: number): Promise<boolean> => {
    const limit = clock.now() + ms;
    await clock.run(0);
    while (!done()) {
      const next = clock.nextDeadline();
      if (next === undefined || next > limit) {
        await clock.run(Math.max(0, limit - clock.now()));
        return done();
      }
      await clock.run(Math.max(0, next - clock.now()));
    }
    return true;
  };
  return { clock, virtual: true, waitUntil, sleep: async (ms) => void (await waitUntil(() => false, ms)) };
}

/** Default polling interval of {@link createRealTimeline}, ms: well below any TCP timer a case measures. */
export const DEFAULT_POLL_MS = 2;

/** A timeline in real time: waiting polls `done()` every `pollMs` on `clock`'s timers. */
export function createRealTimeline(clock: Clock, pollMs: number = DEFAULT_POLL_MS): Timeline {
  const waitUntil = (done: () => boolean, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const deadline = clock.now() + ms;
      const poll = (): void => {
        if (done()) resolve(true);
        else if (clock.now() >= deadline) resolve(false);
        else clock.setTimer(Math.min(pollMs, deadline - clock.now()), poll);
      };
      poll();
    });
  return { clock, virtual: false, waitUntil, sleep: async (ms) => void (await waitUntil(() => false, ms)) };
}
