/**
 * A virtual clock: time moves only when the test says so, and timers fire in deadline order
 * (ties in the order they were set), so a run is the same every time.
 */
import type { Clock, Timer } from '@morgana/core';

interface PendingTimer {
  readonly deadline: number;
  readonly sequence: number;
  callback: (() => void) | undefined;
}

/** Resolves after the host has run every queued microtask and I/O callback. */
export function flushMicrotasks(): Promise<void> {
  // setImmediate (Node, Bun) runs after every pending microtask and I/O callback; elsewhere a macrotask does.
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => void }).setImmediate;
  return new Promise((resolve) => {
    if (immediate !== undefined) immediate(() => resolve());
    else setTimeout(resolve, 0);
  });
}

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Monotonic time at start, ms; default 0. */
  readonly start?: number;
  /** Wall time at monotonic 0, ms since the epoch; default 2026-01-01T00:00:00Z. */
  readonly epoch?: number;
}

/** A {@link Clock} driven by the test. */
export class VirtualClock implements Clock {
  private current: number;
  private readonly epoch: number;
  private sequence = 0;
  /** Binary min-heap on (deadline, sequence). */
  private readonly heap: PendingTimer[] = [];
  private live = 0;

  /** A clock at `options.start` (default 0) with no timers. */
  constructor(options: VirtualClockOptions = {}) {
    this.current = options.start ?? 0;
    this.epoch = options.epoch ?? Date.UTC(2026, 0, 1);
  }

  /** Simulated monotonic time, ms. */
  now(): number {
    return this.current;
  }

  /** `epoch` plus {@link now}: what pcap records and HTTP dates show. */
  wallTime(): number {
    return this.epoch + this.current;
  }

  /** Schedules `callback` at now + `delayMs` (at now for 0 or less); it fires only when the test moves the clock. */
  setTimer(delayMs: number, callback: () => void): Timer {
    const timer: PendingTimer = {
      deadline: this.current + Math.max(0, delayMs),
      sequence: this.sequence++,
      callback,
    };
    this.push(timer);
    this.live++;
    return {
      cancel: () => {
        if (timer.callback !== undefined) {
          timer.callback = undefined;
          this.live--;
        }
      },
    };
  }

  /** Timers set and neither fired nor cancelled: a finished connection must leave none behind. */
  pendingTimers(): number {
    return this.live;
  }

  /** Deadline of the next live timer, or undefined when none is pending. */
  nextDeadline(): number | undefined {
    this.dropCancelled();
    return this.heap.length > 0 ? this.heap[0].deadline : undefined;
  }

  /**
   * Moves time forward by `ms`, synchronously firing every timer due on the way, including
   * timers those timers set. Promise callbacks do not run in between: use {@link run} for
   * code that awaits.
   */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDeadline();
      if (next === undefined || next > target) break;
      this.fireNext();
    }
    this.current = target;
  }

  /** Fires every timer due now (zero-delay deliveries) without moving time. */
  tick(): void {
    this.advance(0);
  }

  /**
   * Like {@link advance}, but lets promise callbacks and awaiting code run after each timer,
   * so async APIs (`await flow.read()`) make progress as simulated time passes.
   */
  async run(ms: number): Promise<void> {
    const target = this.current + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.nextDeadline();
      if (next === undefined || next > target) break;
      this.fireNext();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }

  /**
   * Runs timers (and promise callbacks) until `done()` holds; throws when it does not hold
   * within `limitMs` of simulated time, or when nothing is left to run.
   */
  async runUntil(done: () => boolean, limitMs = 600_000): Promise<void> {
    const limit = this.current + limitMs;
    await flushMicrotasks();
    while (!done()) {
      const next = this.nextDeadline();
      if (next === undefined) throw new Error(`runUntil: no timers left at t=${this.current}ms and the condition is false`);
      if (next > limit) throw new Error(`runUntil: condition still false after ${limitMs}ms of simulated time`);
      this.fireNext();
      await flushMicrotasks();
    }
  }

  private fireNext(): void {
    const timer = this.pop();
    if (timer === undefined) return;
    const callback = timer.callback;
    if (callback === undefined) return;
    timer.callback = undefined;
    this.live--;
    if (timer.deadline > this.current) this.current = timer.deadline;
    callback();
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0].callback === undefined) this.pop();
  }

  private static before(a: PendingTimer, b: PendingTimer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.sequence < b.sequence);
  }

  private push(timer: PendingTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!VirtualClock.before(heap[index], heap[parent])) break;
      [heap[index], heap[parent]] = [heap[parent], heap[index]];
      index = parent;
    }
  }

  private pop(): PendingTimer | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop() as PendingTimer;
    if (heap.length > 0) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && VirtualClock.before(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && VirtualClock.before(heap[right], heap[smallest])) smallest = right;
        if (smallest === index) break;
        [heap[index], heap[smallest]] = [heap[smallest], heap[index]];
        index = smallest;
      }
    }
    return top;
  }
}
