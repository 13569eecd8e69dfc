/**
 * Counters. Every layer counts what it does and, separately, every reason it drops
 * something, under short kebab-case names (`'bad-checksum'`, `'queue-full'`): a user reads
 * them to see what went wrong without a debugger.
 */

/** Named counters, a snapshot. */
export type Counters = Readonly<Record<string, number>>;

/** A mutable set of counters with a cheap increment. */
export class CounterSet {
  private readonly values: Record<string, number> = Object.create(null) as Record<string, number>;

  /** Adds `by` (default 1) to `name`. */
  add(name: string, by = 1): void {
    this.values[name] = (this.values[name] ?? 0) + by;
  }

  /** Current value of `name` (0 when never counted). */
  get(name: string): number {
    return this.values[name] ?? 0;
  }

  /** A copy of every counter. */
  snapshot(): Counters {
    return { ...this.values };
  }
}
