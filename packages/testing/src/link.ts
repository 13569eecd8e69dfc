/**
 * One direction of a simulated cable: loss, duplication, reordering, propagation delay with
 * jitter, a serialising bottleneck with a bounded tail-drop queue, and cut/restore.
 *
 * Every frame reaches the far end through a clock timer (a zero-delay frame is a timer at
 * `now`), never synchronously inside `send`, so a stack's `write` never re-enters the stack.
 */
import { CounterSet, type Clock, type Counters, type Random } from '@morgana/core';

/** How a link treats the frames it carries. Every field is optional; the defaults give a perfect wire. */
export interface LinkConditions {
  /** Probability in [0, 1] that a frame is lost on the wire; default 0. */
  readonly loss?: number;
  /** Probability in [0, 1] that a frame arrives twice; default 0. */
  readonly duplicate?: number;
  /** Probability in [0, 1] that a frame is held back by `reorderDelay`, letting later frames overtake it; default 0. */
  readonly reorder?: number;
  /** Extra delay of a frame picked for reordering, ms; default {@link DEFAULT_REORDER_DELAY_MS}. */
  readonly reorderDelay?: number;
  /** One-way propagation delay, ms; default 0. */
  readonly delay?: number;
  /** Each frame gets an extra delay drawn uniformly from [0, jitter) ms (which may reorder frames); default 0. */
  readonly jitter?: number;
  /** Bits per second of the wire; each frame takes `8 * length / bandwidth` s to serialise. 0 (default): unlimited. */
  readonly bandwidth?: number;
  /** Frames that may wait for (or be on) a bandwidth-limited wire; more are tail-dropped. Default {@link DEFAULT_QUEUE_LIMIT}. */
  readonly queueLimit?: number;
}

/** Default extra delay of a reordered frame, ms: long enough for a burst to overtake it. */
export const DEFAULT_REORDER_DELAY_MS = 10;
/** Default transmit queue of a bandwidth-limited link, frames (a common NIC/qdisc default order of magnitude). */
export const DEFAULT_QUEUE_LIMIT = 100;

/** The conditions with every default filled in. */
export type ResolvedLinkConditions = Required<LinkConditions>;

/** Fills in defaults and checks ranges; throws RangeError for a value no wire can have. */
export function resolveLinkConditions(conditions: LinkConditions = {}): ResolvedLinkConditions {
  const resolved: ResolvedLinkConditions = {
    loss: conditions.loss ?? 0,
    duplicate: conditions.duplicate ?? 0,
    reorder: conditions.reorder ?? 0,
    reorderDelay: conditions.reorderDelay ?? DEFAULT_REORDER_DELAY_MS,
    delay: conditions.delay ?? 0,
    jitter: conditions.jitter ?? 0,
    bandwidth: conditions.bandwidth ?? 0,
    queueLimit: conditions.queueLimit ?? DEFAULT_QUEUE_LIMIT,
  };
  for (const name of ['loss', 'duplicate', 'reorder'] as const) {
    const value = resolved[name];
    if (!(value >= 0 && value <= 1)) throw new RangeError(`link ${name} must be a probability in [0, 1], got ${value}`);
  }
  for (const name of ['reorderDelay', 'delay', 'jitter', 'bandwidth'] as const) {
    const value = resolved[name];
    if (!(value >= 0 && Number.isFinite(value))) throw new RangeError(`link ${name} must be a finite number >= 0, got ${value}`);
  }
  if (!(Number.isInteger(resolved.queueLimit) && resolved.queueLimit >= 1)) {
    throw new RangeError(`link queueLimit must be an integer >= 1, got ${resolved.queueLimit}`);
  }
  return resolved;
}

const TWO_32 = 0x1_0000_0000;

/**
 * One direction of a cable. Counters (kebab-case): `frames` sent into it, `delivered`,
 * `lost`, `duplicated`, `reordered`, `queue-full` (tail drops), `cut` (sent while cut or in
 * flight when cut).
 */
export class Link {
  private conditions: ResolvedLinkConditions;
  private readonly counterSet = new CounterSet();
  /** Serialisation end times of queued frames, oldest first, from `queueHead` on. */
  private readonly queueEnds: number[] = [];
  private queueHead = 0;
  /** Bumped by cut(): frames in flight from an older generation are lost. */
  private generation = 0;
  private isCut = false;

  /** One direction of a cable with `conditions` (see {@link resolveLinkConditions}). */
  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly deliver: (frame: Uint8Array) => void,
    conditions: LinkConditions = {},
  ) {
    this.conditions = resolveLinkConditions(conditions);
  }

  /** Replaces the conditions; frames already in flight keep their arrival time. */
  setConditions(conditions: LinkConditions): void {
    this.conditions = resolveLinkConditions(conditions);
  }

  /** The current conditions, defaults filled in. */
  getConditions(): ResolvedLinkConditions {
    return this.conditions;
  }

  /** Cuts the wire: frames sent now and frames in flight are lost until {@link restore}. */
  cut(): void {
    if (this.isCut) return;
    this.isCut = true;
    this.generation++;
    this.queueEnds.length = 0;
    this.queueHead = 0;
  }

  /** Reconnects the wire; frames sent from now on travel again. */
  restore(): void {
    this.isCut = false;
  }

  /** True while cut. */
  get cutState(): boolean {
    return this.isCut;
  }

  /** Counters since the link was made. */
  counters(): Counters {
    return this.counterSet.snapshot();
  }

  /** Frames waiting for or on a bandwidth-limited wire now. */
  queueLength(): number {
    this.dropSerialised(this.clock.now());
    return this.queueEnds.length - this.queueHead;
  }

  /** Takes ownership of `frame` and schedules its arrival (or counts why it never arrives). */
  send(frame: Uint8Array): void {
    const counters = this.counterSet;
    const conditions = this.conditions;
    counters.add('frames');
    if (this.isCut) {
      counters.add('cut');
      return;
    }
    const now = this.clock.now();
    let departure = now;
    if (conditions.bandwidth > 0) {
      this.dropSerialised(now);
      if (this.queueEnds.length - this.queueHead >= conditions.queueLimit) {
        counters.add('queue-full');
        return;
      }
      const last = this.queueEnds.length > this.queueHead ? this.queueEnds[this.queueEnds.length - 1] : now;
      departure = Math.max(now, last) + (frame.length * 8 * 1000) / conditions.bandwidth;
      this.queueEnds.push(departure);
    }
    // The frame used the wire even when it is then lost, like a corrupted frame would.
    if (conditions.loss > 0 && this.float() < conditions.loss) {
      counters.add('lost');
      return;
    }
    this.schedule(frame, departure - now);
    if (conditions.duplicate > 0 && this.float() < conditions.duplicate) {
      counters.add('duplicated');
      this.schedule(frame, departure - now);
    }
  }

  private schedule(frame: Uint8Array, serialisation: number): void {
    const conditions = this.conditions;
    let delay = serialisation + conditions.delay;
    if (conditions.jitter > 0) delay += this.float() * conditions.jitter;
    if (conditions.reorder > 0 && this.float() < conditions.reorder) {
      this.counterSet.add('reordered');
      delay += conditions.reorderDelay;
    }
    const generation = this.generation;
    this.clock.setTimer(delay, () => {
      if (generation !== this.generation) {
        this.counterSet.add('cut');
        return;
      }
      this.counterSet.add('delivered');
      this.deliver(frame);
    });
  }

  private dropSerialised(now: number): void {
    const ends = this.queueEnds;
    while (this.queueHead < ends.length && ends[this.queueHead] <= now) this.queueHead++;
    if (this.queueHead === ends.length) {
      ends.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > ends.length / 2) {
      // Compact so a queue that never drains does not keep every past frame's slot.
      ends.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private float(): number {
    return this.random.uint32() / TWO_32;
  }
}
