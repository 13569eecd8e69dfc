/**
 * SACK bookkeeping, both ends:
 * - {@link SackScoreboard}: the data sender's scoreboard of RFC 6675 (Update, IsLost, SetPipe,
 *   NextSeg, the recovery variables HighRxt, RescueRxt and RecoveryPoint), RFC 2018 §8's reset
 *   on timeout and a reneging check.
 * - {@link SackBlockGenerator}: the data receiver's choice of SACK blocks for an outgoing ACK
 *   (RFC 2018 §4 ordering, RFC 2883 D-SACK first).
 *
 * Both are pure data structures over 32-bit sequence numbers (no I/O, no timers). Ranges are
 * half-open `[left, right)`, exactly as SACK blocks carry them (RFC 2018 §3: the right edge is
 * the sequence number after the block). Sequence numbers wrap modulo 2^32; each structure keeps
 * its ranges as offsets from a moving base (snd.una, rcv.nxt), valid while every range lies less
 * than 2^31 bytes ahead of the base, which the window limits guarantee (RFC 9293 §3.4).
 */
import { CounterSet } from '@morgana/core';

/** Signed distance `a - b` in sequence space. */
function seqDistance(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * Sorted, disjoint, non-adjacent sequence ranges ahead of a base, bounded in number. Each range
 * carries a stamp of the last time a block touched it, so the oldest can be dropped when full.
 */
class SeqRangeSet {
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly stamps: Float64Array;
  count = 0;
  /** Bytes covered by all ranges. */
  covered = 0;
  /** Ranges forgotten because the set was full. */
  dropped = 0;
  /** Index of the range the last `add` created or extended (-1 when it added nothing). */
  lastIndex = -1;
  base: number;
  private clock = 0;

  constructor(capacity: number, base: number) {
    this.starts = new Uint32Array(capacity);
    this.ends = new Uint32Array(capacity);
    this.stamps = new Float64Array(capacity);
    this.base = base >>> 0;
  }

  /** Offset of `seq` from the base (0 when `seq` is at or before it). */
  offset(seq: number): number {
    const d = seqDistance(seq, this.base);
    return d > 0 ? d : 0;
  }

  startOffset(i: number): number {
    return (this.starts[i] - this.base) >>> 0;
  }

  endOffset(i: number): number {
    return (this.ends[i] - this.base) >>> 0;
  }

  /** Adds `[lo, hi)` given as offsets (0 <= lo < hi < 2^31); returns the bytes it newly covered. */
  add(lo: number, hi: number): number {
    // Ranges i..j-1 touch [lo, hi) (overlap or adjacency). Searching from the top is O(1) for
    // the usual block, which extends or follows the highest range.
    let j = this.count;
    while (j > 0 && this.startOffset(j - 1) > hi) j -= 1;
    let i = j;
    while (i > 0 && this.endOffset(i - 1) >= lo) i -= 1;
    let overlap = 0;
    let mergedLo = lo;
    let mergedHi = hi;
    for (let k = i; k < j; k++) {
      const s = this.startOffset(k);
      const e = this.endOffset(k);
      const from = s > lo ? s : lo;
      const to = e < hi ? e : hi;
      if (to > from) overlap += to - from;
      if (s < mergedLo) mergedLo = s;
      if (e > mergedHi) mergedHi = e;
    }
    const fresh = hi - lo - overlap;
    this.clock += 1;
    if (j === i) {
      if (this.count === this.starts.length) {
        const victim = this.oldest();
        this.removeAt(victim);
        this.dropped += 1;
        if (victim < i) i -= 1;
      }
      this.starts.copyWithin(i + 1, i, this.count);
      this.ends.copyWithin(i + 1, i, this.count);
      this.stamps.copyWithin(i + 1, i, this.count);
      this.count += 1;
    } else if (j - i > 1) {
      const gone = j - i - 1;
      this.starts.copyWithin(i + 1, j, this.count);
      this.ends.copyWithin(i + 1, j, this.count);
      this.stamps.copyWithin(i + 1, j, this.count);
      this.count -= gone;
    }
    this.starts[i] = (this.base + mergedLo) >>> 0;
    this.ends[i] = (this.base + mergedHi) >>> 0;
    this.stamps[i] = this.clock;
    this.covered += fresh;
    this.lastIndex = i;
    return fresh;
  }

  /** Moves the base forward to `seq`, forgetting everything below it; returns the covered bytes forgotten. */
  advance(seq: number): number {
    const by = seqDistance(seq, this.base);
    if (by <= 0) return 0;
    let removed = 0;
    let keep = 0;
    while (keep < this.count && this.endOffset(keep) <= by) {
      removed += this.endOffset(keep) - this.startOffset(keep);
      keep += 1;
    }
    if (keep > 0) {
      this.starts.copyWithin(0, keep, this.count);
      this.ends.copyWithin(0, keep, this.count);
      this.stamps.copyWithin(0, keep, this.count);
      this.count -= keep;
    }
    if (this.count > 0 && this.startOffset(0) < by) {
      removed += by - this.startOffset(0);
      this.starts[0] = seq >>> 0;
    }
    this.base = seq >>> 0;
    this.covered -= removed;
    return removed;
  }

  clear(): void {
    this.count = 0;
    this.covered = 0;
    this.lastIndex = -1;
  }

  private oldest(): number {
    let victim = 0;
    for (let k = 1; k < this.count; k++) if (this.stamps[k] < this.stamps[victim]) victim = k;
    return victim;
  }

  private removeAt(k: number): void {
    this.covered -= this.endOffset(k) - this.startOffset(k);
    this.starts.copyWithin(k, k + 1, this.count);
    this.ends.copyWithin(k, k + 1, this.count);
    this.stamps.copyWithin(k, k + 1, this.count);
    this.count -= 1;
  }
}

/** Configuration of a {@link SackScoreboard}. */
export interface SackScoreboardConfig {
  /** Sender MSS (SMSS), bytes; IsLost's byte rule and NextSeg's segment size use it. */
  readonly mss: number;
  /**
   * Most SACKed ranges remembered. Default 64. When a block would need one more, the range
   * touched least recently is forgotten (counted as `'sack-range-dropped'`): its data then
   * looks un-SACKed, which costs at most a needless retransmission, never a stall.
   */
  readonly maxRanges?: number;
  /** DupThresh. Default 3 (RFC 6675 §2, RFC 5681 §3.2). */
  readonly dupThresh?: number;
}

/**
 * Which NextSeg() rule of RFC 6675 §4 chose the segment:
 * - `'lost'`: rule 1, retransmit the first lost segment above HighRxt;
 * - `'new-data'`: rule 2, send new data from snd.nxt;
 * - `'unsacked'`: rule 3, retransmit the first un-SACKed segment above HighRxt;
 * - `'rescue'`: rule 4, the one rescue retransmission of a recovery phase;
 * - `'none'`: nothing may be sent.
 */
export type NextSegRule = 'lost' | 'new-data' | 'unsacked' | 'rescue' | 'none';

/**
 * The data sender's SACK scoreboard (RFC 6675). A sketch of its use in the sender:
 *
 * ```ts
 * // every ACK: cumulative part, then its SACK blocks
 * const acked = board.onCumulativeAck(seg.ack);            // also ends recovery at RecoveryPoint
 * let sacked = 0;
 * for (const [left, right] of blocks) sacked += board.addSackBlock(left, right, sndNxt);
 * if (!board.inRecovery && board.shouldEnterRecovery(dupAcks)) {
 *   cc.onEnterRecovery(now, sndNxt - sndUna); board.enterRecovery(sndNxt);
 * }
 * // while in recovery: send while cwnd - board.pipe(sndNxt) >= SMSS
 * const rule = board.nextSeg(sndNxt, haveNewDataAndWindow);
 * // 'lost' | 'unsacked': retransmit [board.segmentStart, board.segmentEnd), then board.markRetransmitted(board.segmentEnd)
 * // 'rescue': retransmit it, then board.markRescueRetransmitted()
 * // timer expiry: board.onRetransmitTimeout(sndNxt)
 * ```
 */
export class SackScoreboard {
  /** `'sack-range-dropped'`, `'sack-block-invalid'`, `'dsack-block'`, `'sack-reneging'`, `'sack-cleared-on-timeout'`. */
  readonly counters: CounterSet = new CounterSet();
  /** Start of the segment chosen by the last {@link nextSeg}. */
  segmentStart = 0;
  /** End (exclusive) of the segment chosen by the last {@link nextSeg}. */
  segmentEnd = 0;

  private readonly ranges: SeqRangeSet;
  private readonly dupThresh: number;
  private mss: number;
  private recovering = false;
  /** RFC 6675 RecoveryPoint, exclusive: recovery ends when snd.una reaches it. */
  private recoveryPoint: number;
  /** RFC 6675 HighRxt, exclusive: the end of the highest retransmission of this recovery. */
  private highRxt: number;
  /** RFC 6675 RescueRxt, exclusive; NaN while undefined. */
  private rescueRxt = Number.NaN;
  private lastDropped = 0;

  /** `sndUna`: the connection's snd.una (ISS + 1 once the SYN is acknowledged). */
  constructor(config: SackScoreboardConfig, sndUna: number) {
    const maxRanges = config.maxRanges ?? 64;
    if (!(Number.isInteger(maxRanges) && maxRanges >= 1)) throw new RangeError(`maxRanges must be a positive integer, got ${maxRanges}`);
    if (!(config.mss > 0)) throw new RangeError(`mss must be positive, got ${config.mss}`);
    this.dupThresh = config.dupThresh ?? 3;
    if (!(Number.isInteger(this.dupThresh) && this.dupThresh >= 1)) throw new RangeError(`dupThresh must be a positive integer, got ${this.dupThresh}`);
    this.mss = config.mss;
    this.ranges = new SeqRangeSet(maxRanges, sndUna);
    this.recoveryPoint = sndUna >>> 0;
    this.highRxt = sndUna >>> 0;
  }

  /** snd.una as the scoreboard knows it (RFC 6675 HighACK + 1). */
  get sndUna(): number {
    return this.ranges.base;
  }

  /** Bytes above snd.una currently marked SACKed. */
  get sackedBytes(): number {
    return this.ranges.covered;
  }

  /** Number of disjoint SACKed ranges remembered. */
  get rangeCount(): number {
    return this.ranges.count;
  }

  /** Left edge of SACKed range `i` (0 = lowest). */
  rangeStart(i: number): number {
    return this.ranges.starts[i];
  }

  /** Right edge (exclusive) of SACKed range `i`. */
  rangeEnd(i: number): number {
    return this.ranges.ends[i];
  }

  /** End (exclusive) of the highest SACKed byte, or snd.una when nothing is SACKed. */
  get highestSacked(): number {
    const r = this.ranges;
    return r.count === 0 ? r.base : r.ends[r.count - 1];
  }

  /** Between {@link enterRecovery} and the cumulative ACK of RecoveryPoint (or a timeout). */
  get inRecovery(): boolean {
    return this.recovering;
  }

  /** RFC 6675 RecoveryPoint (exclusive). */
  get recoveryEnd(): number {
    return this.recoveryPoint;
  }

  /** RFC 6675 HighRxt (exclusive). */
  get highRetransmitted(): number {
    return this.highRxt;
  }

  /** The sender MSS changed (PMTU, options). */
  setMss(mss: number): void {
    if (!(mss > 0)) throw new RangeError(`mss must be positive, got ${mss}`);
    this.mss = mss;
  }

  /**
   * A cumulative acknowledgment (RFC 6675 Update(), cumulative part). Advances snd.una, drops
   * the SACK state below it, and ends recovery once RecoveryPoint is acknowledged (RFC 6675
   * §5: "an incoming cumulative ACK for a sequence number greater than RecoveryPoint signals
   * the end of loss recovery"). Returns the bytes newly acknowledged (0 for an old or
   * duplicate ACK); the caller has checked `ack <= snd.nxt`.
   */
  onCumulativeAck(ack: number): number {
    const r = this.ranges;
    const advance = seqDistance(ack, r.base);
    if (advance <= 0) return 0;
    r.advance(ack);
    if (seqDistance(this.highRxt, r.base) < 0) this.highRxt = r.base;
    // HighRxt survives the end of recovery: retransmissions of data sent during recovery (above
    // RecoveryPoint) are still in flight and SetPipe keeps counting them.
    if (this.recovering && seqDistance(r.base, this.recoveryPoint) >= 0) this.recovering = false;
    if (this.renegingSuspected) this.counters.add('sack-reneging');
    return advance;
  }

  /**
   * True when the cumulative ACK stops exactly at a range this scoreboard holds as SACKed: the
   * receiver has discarded data it SACKed (reneged, RFC 2018 §8). The sender must not rely on
   * the SACK state then; treating it like a timeout ({@link onRetransmitTimeout}) is safe.
   */
  get renegingSuspected(): boolean {
    const r = this.ranges;
    return r.count > 0 && r.starts[0] === r.base;
  }

  /**
   * One SACK block of an incoming ACK (RFC 6675 Update(), SACK part). Returns the bytes it newly
   * marked SACKed. A block at or below snd.una is a D-SACK (RFC 2883), counted as
   * `'dsack-block'`; a block that is empty (or "negative") or reaches beyond `sndNxt` is ignored and counted as `'sack-block-invalid'` (a forged or broken peer must not corrupt
   * the scoreboard, RFC 2018 §3 edges are sequence numbers the sender sent).
   */
  addSackBlock(left: number, right: number, sndNxt: number): number {
    const r = this.ranges;
    const base = r.base;
    const size = seqDistance(right, left);
    const hi = seqDistance(right, base);
    if (size <= 0 || seqDistance(sndNxt, right) < 0) {
      this.counters.add('sack-block-invalid');
      return 0;
    }
    if (hi <= 0) {
      this.counters.add('dsack-block');
      return 0;
    }
    const loRaw = seqDistance(left, base);
    const lo = loRaw > 0 ? loRaw : 0;
    const fresh = r.add(lo, hi);
    if (r.dropped !== this.lastDropped) {
      this.counters.add('sack-range-dropped', r.dropped - this.lastDropped);
      this.lastDropped = r.dropped;
    }
    return fresh;
  }

  /** True when `seq` lies in a SACKed range. */
  isSacked(seq: number): boolean {
    const r = this.ranges;
    const q = seqDistance(seq, r.base);
    if (q < 0) return false;
    for (let i = 0; i < r.count; i++) {
      if (q < r.startOffset(i)) return false;
      if (q < r.endOffset(i)) return true;
    }
    return false;
  }

  /**
   * RFC 6675 IsLost(SeqNum): DupThresh discontiguous SACKed ranges lie above `seq`, or more than
   * (DupThresh − 1)·SMSS SACKed bytes do. A byte at or below snd.una is never lost.
   */
  isLost(seq: number): boolean {
    const r = this.ranges;
    const q = seqDistance(seq, r.base);
    if (q < 0) return false;
    const byteLimit = (this.dupThresh - 1) * this.mss;
    let ranges = 0;
    let bytes = 0;
    for (let i = r.count - 1; i >= 0; i--) {
      const e = r.endOffset(i);
      if (e <= q + 1) break;
      const s = r.startOffset(i);
      if (s > q) ranges += 1;
      bytes += e - (s > q + 1 ? s : q + 1);
      if (ranges >= this.dupThresh || bytes > byteLimit) return true;
    }
    return false;
  }

  /**
   * RFC 6675 §5 entry condition: DupThresh duplicate ACKs or IsLost(HighACK + 1), and no
   * earlier recovery still unfinished (snd.una has reached the last RecoveryPoint; after a
   * timeout, RFC 6675 §5.1 forbids a new recovery before then).
   */
  shouldEnterRecovery(dupAcks: number): boolean {
    if (this.recovering) return false;
    if (seqDistance(this.ranges.base, this.recoveryPoint) < 0) return false;
    return dupAcks >= this.dupThresh || this.isLost(this.ranges.base);
  }

  /** RFC 6675 §5 step 4.1: RecoveryPoint = HighData; HighRxt starts at HighACK. */
  enterRecovery(sndNxt: number): void {
    this.recovering = true;
    this.recoveryPoint = sndNxt >>> 0;
    this.highRxt = this.ranges.base;
  }

  /**
   * RFC 6675 SetPipe(): the bytes in [snd.una, snd.nxt) counted as in flight: every un-SACKed
   * byte not considered lost, plus every un-SACKed byte below HighRxt again for its
   * retransmission. Lost-ness is the same for all bytes of one hole (they have the same SACKed
   * data above them), so the sum runs per hole, highest first.
   */
  pipe(sndNxt: number): number {
    const r = this.ranges;
    const nxt = seqDistance(sndNxt, r.base);
    if (nxt <= 0) return 0;
    const rxt = r.offset(this.highRxt);
    const byteLimit = (this.dupThresh - 1) * this.mss;
    let pipe = 0;
    let holeEnd = nxt;
    let rangesAbove = 0;
    let bytesAbove = 0;
    for (let i = r.count; i >= 0; i--) {
      const holeStart = i === 0 ? 0 : r.endOffset(i - 1);
      const end = holeEnd < nxt ? holeEnd : nxt;
      if (end > holeStart) {
        const lost = rangesAbove >= this.dupThresh || bytesAbove > byteLimit;
        if (!lost) pipe += end - holeStart;
        const rxtEnd = rxt < end ? rxt : end;
        if (rxtEnd > holeStart) pipe += rxtEnd - holeStart;
      }
      if (i > 0) {
        const s = r.startOffset(i - 1);
        rangesAbove += 1;
        bytesAbove += holeStart - s;
        holeEnd = s;
      }
    }
    return pipe;
  }

  /**
   * RFC 6675 NextSeg(): chooses what to send next and, unless the answer is `'none'` or
   * `'new-data'`, leaves the range in {@link segmentStart}/{@link segmentEnd} (at most one SMSS,
   * never covering SACKed bytes). `canSendNew`: unsent data exists and the peer's window admits
   * it (rule 2). For `'new-data'` the segment is [sndNxt, sndNxt + SMSS).
   */
  nextSeg(sndNxt: number, canSendNew: boolean): NextSegRule {
    const r = this.ranges;
    const nxt = seqDistance(sndNxt, r.base);
    const rxt = r.offset(this.highRxt);
    const byteLimit = (this.dupThresh - 1) * this.mss;
    // Rules 1 and 3 look at the first hole, below the highest SACKed byte, that extends above HighRxt.
    let holeStart = 0;
    for (let i = 0; i < r.count; i++) {
      const holeEnd = r.startOffset(i);
      if (holeEnd > rxt && holeEnd > holeStart) {
        const from = rxt > holeStart ? rxt : holeStart;
        this.setSegment(from, holeEnd);
        // Rule 1.c: IsLost, which is the same for every byte of the hole.
        let bytesAbove = 0;
        for (let k = i; k < r.count; k++) bytesAbove += r.endOffset(k) - r.startOffset(k);
        if (r.count - i >= this.dupThresh || bytesAbove > byteLimit) return 'lost';
        if (canSendNew) break;
        return 'unsacked';
      }
      holeStart = r.endOffset(i);
    }
    if (canSendNew) {
      this.segmentStart = sndNxt >>> 0;
      this.segmentEnd = (sndNxt + this.mss) >>> 0;
      return 'new-data';
    }
    return this.rescue(nxt);
  }

  /** A retransmission of data ending at `end` (exclusive) was sent: RFC 6675 §5 (C.3), HighRxt. */
  markRetransmitted(end: number): void {
    if (seqDistance(end, this.highRxt) > 0) this.highRxt = end >>> 0;
  }

  /** The rule 4 rescue retransmission was sent: RescueRxt = RecoveryPoint; HighRxt stays (RFC 6675 §4 rule 4). */
  markRescueRetransmitted(): void {
    this.rescueRxt = this.recoveryPoint;
  }

  /**
   * The retransmission timer expired. RFC 6675 §5.1: recovery ends, RecoveryPoint = HighData,
   * and no new recovery starts until it is acknowledged. RFC 2018 §8: the SACK state is
   * discarded, because a timeout may mean the receiver reneged.
   */
  onRetransmitTimeout(sndNxt: number): void {
    this.recovering = false;
    this.recoveryPoint = sndNxt >>> 0;
    this.highRxt = this.ranges.base;
    this.rescueRxt = Number.NaN;
    if (this.ranges.count > 0) this.counters.add('sack-cleared-on-timeout');
    this.ranges.clear();
  }

  /** Rule 4: one segment ending at the highest outstanding un-SACKed byte, once per recovery. */
  private rescue(nxt: number): NextSegRule {
    const r = this.ranges;
    if (!this.recovering || nxt <= 0) return 'none';
    if (this.rescueRxt === this.rescueRxt && seqDistance(r.base, this.rescueRxt) <= 0) return 'none';
    let top = nxt;
    let floor = r.count > 0 ? r.endOffset(r.count - 1) : 0;
    if (floor >= top) {
      // The highest SACKed range reaches snd.nxt: the highest un-SACKed byte is below it.
      if (r.count === 0) return 'none';
      top = r.startOffset(r.count - 1);
      floor = r.count > 1 ? r.endOffset(r.count - 2) : 0;
      if (floor >= top) return 'none';
    }
    this.setSegment(top - this.mss > floor ? top - this.mss : floor, top);
    return 'rescue';
  }

  /** Sets the chosen segment to [from, min(from + SMSS, limit)) in offsets. */
  private setSegment(from: number, limit: number): void {
    const end = from + this.mss < limit ? from + this.mss : limit;
    this.segmentStart = (this.ranges.base + from) >>> 0;
    this.segmentEnd = (this.ranges.base + end) >>> 0;
  }
}

/** Configuration of a {@link SackBlockGenerator}. */
export interface SackBlockGeneratorConfig {
  /**
   * Most out-of-order ranges tracked. Default 32. When a segment would need one more, the range
   * reported least recently is no longer tracked (counted as `'sack-range-dropped'`); it is
   * simply not SACKed again, which RFC 2018 allows (SACK is advisory).
   */
  readonly maxRanges?: number;
}

/**
 * The data receiver's SACK blocks (RFC 2018 §4, RFC 2883). The receiver's TCP keeps the data
 * of out-of-order segments in its reassembly queue; this helper tracks only their sequence
 * ranges and picks the blocks for each outgoing ACK:
 * 1. a D-SACK block first when a duplicate arrived (RFC 2883 §4), followed by the SACKed range
 *    containing it if any;
 * 2. then the range holding the segment that triggered this ACK (RFC 2018 §4 "MUST");
 * 3. then the other ranges, most recently reported first (RFC 2018 §4 "SHOULD").
 *
 * How many blocks fit is the caller's: 4 in 40 bytes of options, 3 next to an RFC 7323
 * timestamp option (2 + 8·n bytes, RFC 2018 §3).
 */
export class SackBlockGenerator {
  /** `'sack-range-dropped'`. */
  readonly counters: CounterSet = new CounterSet();
  private readonly ranges: SeqRangeSet;
  private lastDropped = 0;
  private dsackLeft = 0;
  private dsackRight = 0;
  private dsackPending = false;

  /** `rcvNxt`: the connection's rcv.nxt (IRS + 1). */
  constructor(config: SackBlockGeneratorConfig, rcvNxt: number) {
    const maxRanges = config.maxRanges ?? 32;
    if (!(Number.isInteger(maxRanges) && maxRanges >= 1)) throw new RangeError(`maxRanges must be a positive integer, got ${maxRanges}`);
    this.ranges = new SeqRangeSet(maxRanges, rcvNxt);
  }

  /** rcv.nxt as last reported. */
  get rcvNxt(): number {
    return this.ranges.base;
  }

  /** Number of out-of-order ranges tracked. */
  get rangeCount(): number {
    return this.ranges.count;
  }

  /**
   * An out-of-order segment `[left, right)` was queued above rcv.nxt. Parts at or below rcv.nxt
   * are ignored, and so is an empty segment.
   */
  onSegment(left: number, right: number): void {
    const r = this.ranges;
    const hi = seqDistance(right, r.base);
    if (hi <= 0 || seqDistance(right, left) <= 0) return;
    const lo = seqDistance(left, r.base);
    r.add(lo > 0 ? lo : 0, hi);
    if (r.dropped !== this.lastDropped) {
      this.counters.add('sack-range-dropped', r.dropped - this.lastDropped);
      this.lastDropped = r.dropped;
    }
  }

  /** A segment duplicated data already received: report `[left, right)` once as a D-SACK (RFC 2883). */
  onDuplicate(left: number, right: number): void {
    if (seqDistance(right, left) <= 0) return;
    this.dsackLeft = left >>> 0;
    this.dsackRight = right >>> 0;
    this.dsackPending = true;
  }

  /** rcv.nxt advanced (in-order data arrived): ranges below it are no longer reported. */
  onRcvNxt(rcvNxt: number): void {
    this.ranges.advance(rcvNxt);
  }

  /**
   * Writes up to `maxBlocks` blocks as `[left0, right0, left1, right1, ...]` into `out` (which
   * needs room for 2·maxBlocks numbers) and returns how many were written. A pending D-SACK is
   * consumed by this call.
   */
  fill(out: Uint32Array, maxBlocks: number): number {
    const r = this.ranges;
    let n = 0;
    let skip = -1;
    if (this.dsackPending && maxBlocks > 0) {
      this.dsackPending = false;
      out[0] = this.dsackLeft;
      out[1] = this.dsackRight;
      n = 1;
      // RFC 2883 §4 (2): a duplicate inside a SACKed range is followed by that range.
      const lo = seqDistance(this.dsackLeft, r.base);
      for (let i = 0; i < r.count && lo >= 0; i++) {
        if (lo >= r.startOffset(i) && lo < r.endOffset(i)) {
          if (n < maxBlocks) {
            out[2] = r.starts[i];
            out[3] = r.ends[i];
            n = 2;
            skip = i;
          }
          break;
        }
      }
    }
    // The most recently touched ranges first; stamps are unique, so walk them downwards.
    let below = Number.POSITIVE_INFINITY;
    while (n < maxBlocks) {
      let best = -1;
      for (let i = 0; i < r.count; i++) {
        const stamp = r.stamps[i];
        if (stamp < below && i !== skip && (best < 0 || stamp > r.stamps[best])) best = i;
      }
      if (best < 0) break;
      below = r.stamps[best];
      out[2 * n] = r.starts[best];
      out[2 * n + 1] = r.ends[best];
      n += 1;
    }
    return n;
  }
}
