/**
 * A connection's byte buffers: the send ring (unacknowledged and unsent bytes) and the
 * out-of-order reassembly queue. Both start empty and allocate on first use, so an idle
 * connection costs almost nothing; both are bounded by the limits the connection gives them.
 */
import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from './seq.js';
import type { SackBlock } from './wire.js';

/** First allocation of a send ring, bytes. Doubles as data arrives, up to the limit. */
const SEND_RING_INITIAL = 16 * 1024;

/**
 * Bytes from SND.UNA onward, in a ring that grows by doubling up to `limit`. Offsets are
 * relative to the oldest byte (SND.UNA for data).
 */
export class SendRing {
  private ring: Uint8Array | undefined;
  private head = 0;
  /** Bytes held. */
  length = 0;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes that can still be appended. */
  get free(): number {
    return this.limit - this.length;
  }

  /** Appends up to `free` bytes of `data` from `offset`; returns how many were taken. */
  append(data: Uint8Array, offset: number): number {
    const count = Math.min(data.length - offset, this.limit - this.length);
    if (count <= 0) return 0;
    this.reserve(this.length + count);
    const ring = this.ring as Uint8Array;
    const capacity = ring.length;
    let tail = this.head + this.length;
    if (tail >= capacity) tail -= capacity;
    const first = Math.min(count, capacity - tail);
    ring.set(data.subarray(offset, offset + first), tail);
    if (first < count) ring.set(data.subarray(offset + first, offset + count), 0);
    this.length += count;
    return count;
  }

  /** Drops `count` bytes from the front (they were acknowledged). */
  consume(count: number): void {
    if (count <= 0) return;
    const ring = this.ring;
    if (ring === undefined) return;
    this.length -= count;
    this.head += count;
    if (this.head >= ring.length) this.head -= ring.length;
    if (this.length === 0) this.head = 0;
  }

  /** Copies `count` bytes starting `offset` bytes from the front into `target` at `at` (one copy). */
  copyOut(offset: number, count: number, target: Uint8Array, at: number): void {
    const ring = this.ring;
    if (ring === undefined || count <= 0) return;
    const capacity = ring.length;
    let start = this.head + offset;
    if (start >= capacity) start -= capacity;
    const first = Math.min(count, capacity - start);
    target.set(ring.subarray(start, start + first), at);
    if (first < count) target.set(ring.subarray(0, count - first), at + first);
  }

  /** Frees the memory (the connection is gone). */
  release(): void {
    this.ring = undefined;
    this.head = 0;
    this.length = 0;
  }

  private reserve(needed: number): void {
    const ring = this.ring;
    if (ring !== undefined && ring.length >= needed) return;
    let capacity = ring === undefined ? Math.min(this.limit, SEND_RING_INITIAL) : ring.length;
    while (capacity < needed) capacity = Math.min(this.limit, capacity * 2);
    const grown = new Uint8Array(capacity);
    if (ring !== undefined && this.length > 0) {
      const first = Math.min(this.length, ring.length - this.head);
      grown.set(ring.subarray(this.head, this.head + first), 0);
      if (first < this.length) grown.set(ring.subarray(0, this.length - first), first);
    }
    this.ring = grown;
    this.head = 0;
  }
}

/** One held out-of-order piece: bytes [seq, seq + data.length). */
interface Piece {
  seq: number;
  data: Uint8Array;
}

/**
 * Out-of-order data (RFC 9293 §3.10.7.4 step 7 lets a receiver keep in-window segments),
 * kept as non-overlapping pieces sorted by sequence number, and the SACK blocks that describe
 * them (RFC 2018 §4: the block holding the latest segment first, then the most recently
 * reported others).
 */
export class Reassembly {
  private readonly pieces: Piece[] = [];
  /** Bytes held. */
  bytes = 0;
  /** Sequence number of the peer's FIN when it arrived ahead of a hole. */
  finSeq: number | undefined;
  /** Left edges of blocks, most recently changed first (RFC 2018 §4). */
  private readonly recent: number[] = [];
  private readonly byteLimit: number;
  private readonly pieceLimit: number;

  constructor(byteLimit: number, pieceLimit: number) {
    this.byteLimit = byteLimit;
    this.pieceLimit = pieceLimit;
  }

  get empty(): boolean {
    return this.pieces.length === 0 && this.finSeq === undefined;
  }

  /**
   * Holds the part of `data` (at `seq`) not already held. Returns false when a limit stopped
   * it (the caller counts the drop; the peer will retransmit).
   */
  insert(seq: number, data: Uint8Array): boolean {
    const pieces = this.pieces;
    let start = seq;
    const end = seqAdd(seq, data.length);
    let index = 0;
    while (index < pieces.length && seqLe(seqAdd(pieces[index].seq, pieces[index].data.length), start)) index++;
    let stored = false;
    let blocked = false;
    // Fill the gaps between existing pieces that [start, end) covers.
    while (seqLt(start, end)) {
      const next = index < pieces.length ? pieces[index] : undefined;
      if (next !== undefined && seqLe(next.seq, start)) {
        start = seqAdd(next.seq, next.data.length);
        index++;
        continue;
      }
      const gapEnd = next !== undefined && seqLt(next.seq, end) ? next.seq : end;
      const count = seqDiff(gapEnd, start);
      if (this.bytes + count > this.byteLimit || pieces.length >= this.pieceLimit) {
        blocked = true;
        break;
      }
      const offset = seqDiff(start, seq);
      pieces.splice(index, 0, { seq: start, data: data.slice(offset, offset + count) });
      this.bytes += count;
      stored = true;
      index++;
      start = gapEnd;
    }
    if (stored || !blocked) this.touch(seq);
    return !blocked;
  }

  /**
   * Removes and returns, in order, the pieces that start at `rcvNxt` (and those that follow
   * without a hole); drops pieces already below `rcvNxt`. Returns undefined when none.
   */
  takeInOrder(rcvNxt: number): Uint8Array[] | undefined {
    const pieces = this.pieces;
    let taken: Uint8Array[] | undefined;
    let next = rcvNxt;
    while (pieces.length > 0) {
      const first = pieces[0];
      const firstEnd = seqAdd(first.seq, first.data.length);
      if (seqGt(first.seq, next)) break;
      pieces.shift();
      this.bytes -= first.data.length;
      if (seqLe(firstEnd, next)) continue;
      const chunk = first.data.subarray(seqDiff(next, first.seq));
      (taken ??= []).push(chunk);
      next = firstEnd;
    }
    return taken;
  }

  /**
   * Up to `max` SACK blocks for the held data, the block holding the most recent arrival
   * first (RFC 2018 §4), into `out`; returns the count.
   */
  sackBlocks(out: { left: number; right: number }[], max: number): number {
    let count = 0;
    const recent = this.recent;
    for (let r = 0; r < recent.length && count < max; r++) {
      const block = this.blockAround(recent[r]);
      if (block === undefined) continue;
      let duplicate = false;
      for (let i = 0; i < count; i++) if (out[i].left === block.left) duplicate = true;
      if (duplicate) continue;
      out[count].left = block.left;
      out[count].right = block.right;
      count++;
    }
    return count;
  }

  /** Forgets everything (the connection is gone or was reset). */
  clear(): void {
    this.pieces.length = 0;
    this.recent.length = 0;
    this.bytes = 0;
    this.finSeq = undefined;
  }

  private touch(seq: number): void {
    const recent = this.recent;
    const existing = recent.indexOf(seq);
    if (existing >= 0) recent.splice(existing, 1);
    recent.unshift(seq);
    if (recent.length > 8) recent.length = 8;
  }

  /** The contiguous run of pieces containing `seq`, if any. */
  private blockAround(seq: number): SackBlock | undefined {
    const pieces = this.pieces;
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      const pieceEnd = seqAdd(piece.seq, piece.data.length);
      if (seqLe(piece.seq, seq) && seqLt(seq, pieceEnd)) {
        let left = i;
        while (left > 0 && seqAdd(pieces[left - 1].seq, pieces[left - 1].data.length) === pieces[left].seq) left--;
        let right = i;
        while (right + 1 < pieces.length && seqAdd(pieces[right].seq, pieces[right].data.length) === pieces[right + 1].seq) {
          right++;
        }
        return { left: pieces[left].seq, right: seqAdd(pieces[right].seq, pieces[right].data.length) };
      }
    }
    return undefined;
  }
}
