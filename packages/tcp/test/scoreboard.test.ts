import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type NextSegRule, SackBlockGenerator, SackScoreboard } from '../src/scoreboard.js';

const MSS = 10;
const WINDOW = 160;
/** Start the connection close to 2^32 so that every run crosses the wrap. */
const ISS = 2 ** 32 - 150;

const seq = (offset: number): number => (ISS + offset) >>> 0;

/**
 * RFC 6675 done the slow, obvious way: one boolean per byte (offsets from ISS, no wraparound
 * to get wrong), the rules of §4 and §5 applied byte by byte.
 */
class NaiveScoreboard {
  una = 0;
  nxt = 0;
  sacked: boolean[] = [];
  recovering = false;
  recoveryPoint = 0;
  highRxt = 0;
  rescueRxt = Number.NaN;

  isSacked(q: number): boolean {
    return q >= this.una && q < this.nxt && this.sacked[q] === true;
  }

  sackedBytes(): number {
    let n = 0;
    for (let q = this.una; q < this.nxt; q++) if (this.isSacked(q)) n += 1;
    return n;
  }

  runs(): [number, number][] {
    const out: [number, number][] = [];
    for (let q = this.una; q < this.nxt; q++) {
      if (!this.isSacked(q)) continue;
      if (out.length > 0 && out[out.length - 1][1] === q) out[out.length - 1][1] = q + 1;
      else out.push([q, q + 1]);
    }
    return out;
  }

  isLost(q: number): boolean {
    if (q < this.una) return false;
    const runsAbove = this.runs().filter(([s]) => s > q).length;
    let bytes = 0;
    for (let p = q + 1; p < this.nxt; p++) if (this.isSacked(p)) bytes += 1;
    return runsAbove >= 3 || bytes > 2 * MSS;
  }

  pipe(): number {
    let pipe = 0;
    for (let q = this.una; q < this.nxt; q++) {
      if (this.isSacked(q)) continue;
      if (!this.isLost(q)) pipe += 1;
      if (q < this.highRxt) pipe += 1;
    }
    return pipe;
  }

  highestSacked(): number {
    const runs = this.runs();
    return runs.length === 0 ? this.una : runs[runs.length - 1][1];
  }

  segmentFrom(s: number): [number, number] {
    let e = s;
    while (e < s + MSS && e < this.nxt && !this.isSacked(e)) e += 1;
    return [s, e];
  }

  nextSeg(canSendNew: boolean): { rule: NextSegRule; range?: [number, number] } {
    const from = Math.max(this.una, this.highRxt);
    const top = this.highestSacked();
    for (let s = from; s < top; s++) {
      if (!this.isSacked(s) && this.isLost(s)) return { rule: 'lost', range: this.segmentFrom(s) };
    }
    if (canSendNew) return { rule: 'new-data', range: [this.nxt, this.nxt + MSS] };
    for (let s = from; s < top; s++) {
      if (!this.isSacked(s)) return { rule: 'unsacked', range: this.segmentFrom(s) };
    }
    if (this.recovering && (Number.isNaN(this.rescueRxt) || this.una > this.rescueRxt)) {
      for (let q = this.nxt - 1; q >= this.una; q--) {
        if (this.isSacked(q)) continue;
        let s = q;
        while (s > this.una && s > q + 1 - MSS && !this.isSacked(s - 1)) s -= 1;
        return { rule: 'rescue', range: [s, q + 1] };
      }
    }
    return { rule: 'none' };
  }
}

type Op =
  | { kind: 'send'; bytes: number }
  | { kind: 'sack'; from: number; length: number }  // from: a fraction of the outstanding bytes
  | { kind: 'ack'; fraction: number }
  | { kind: 'retransmit'; canSendNew: boolean; dupAcks: number }
  | { kind: 'timeout' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('send' as const), bytes: fc.integer({ min: 1, max: 60 }) }), weight: 3 },
  // Mostly blocks shorter than SMSS, so that both IsLost rules (ranges and bytes) decide.
  {
    arbitrary: fc.record({
      kind: fc.constant('sack' as const),
      from: fc.integer({ min: -100, max: 1020 }).map((n) => n / 1000),
      length: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.integer({ min: 1, max: 40 })),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), fraction: fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('retransmit' as const), canSendNew: fc.boolean(), dupAcks: fc.integer({ min: 0, max: 3 }) }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'timeout' as const }), weight: 1 },
);

/** Everything observable about a scoreboard, as plain data (one `toEqual` per step keeps the property fast). */
function observe(board: SackScoreboard, nxt: number, from: number, to: number): unknown {
  const ranges: number[] = [];
  for (let i = 0; i < board.rangeCount; i++) ranges.push(board.rangeStart(i), board.rangeEnd(i));
  const lost: boolean[] = [];
  const sacked: boolean[] = [];
  for (let q = from; q <= to; q++) {
    lost.push(board.isLost(seq(q)));
    sacked.push(board.isSacked(seq(q)));
  }
  const next: (string | number)[] = [];
  for (const canSendNew of [false, true]) {
    const rule = board.nextSeg(seq(nxt), canSendNew);
    next.push(rule);
    if (rule !== 'none') next.push(board.segmentStart, board.segmentEnd);
  }
  return { una: board.sndUna, sackedBytes: board.sackedBytes, ranges, highest: board.highestSacked, lost, sacked, pipe: board.pipe(seq(nxt)), recovering: board.inRecovery, next };
}

function expected(model: NaiveScoreboard, from: number, to: number): unknown {
  const ranges: number[] = [];
  for (const [s, e] of model.runs()) ranges.push(seq(s), seq(e));
  const lost: boolean[] = [];
  const sacked: boolean[] = [];
  for (let q = from; q <= to; q++) {
    lost.push(model.isLost(q));
    sacked.push(model.isSacked(q));
  }
  const next: (string | number)[] = [];
  for (const canSendNew of [false, true]) {
    const choice = model.nextSeg(canSendNew);
    next.push(choice.rule);
    if (choice.range !== undefined) next.push(seq(choice.range[0]), seq(choice.range[1]));
  }
  return { una: seq(model.una), sackedBytes: model.sackedBytes(), ranges, highest: seq(model.highestSacked()), lost, sacked, pipe: model.pipe(), recovering: model.recovering, next };
}

function compare(board: SackScoreboard, model: NaiveScoreboard): void {
  const from = model.una - 3;
  const to = model.nxt + 3;
  expect(observe(board, model.nxt, from, to)).toEqual(expected(model, from, to));
}

describe('SackScoreboard (RFC 6675)', () => {
  it('agrees with a byte-by-byte model over random SACK, ACK and retransmission sequences across 2^32', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
        const board = new SackScoreboard({ mss: MSS, maxRanges: 1000 }, seq(0));
        const model = new NaiveScoreboard();
        for (const o of ops) {
          switch (o.kind) {
            case 'send':
              model.nxt = Math.min(model.una + WINDOW, model.nxt + o.bytes);
              break;
            case 'sack': {
              const left = model.una + Math.floor(o.from * (model.nxt - model.una));
              const right = left + o.length;
              board.addSackBlock(seq(left), seq(right), seq(model.nxt));
              if (o.length > 0 && right <= model.nxt) {
                for (let q = Math.max(left, model.una); q < right; q++) model.sacked[q] = true;
              }
              break;
            }
            case 'ack': {
              const ack = model.una + Math.floor(o.fraction * (model.nxt - model.una));
              const acked = board.onCumulativeAck(seq(ack));
              expect(acked).toBe(ack - model.una);
              if (ack === model.una) break;
              model.una = ack;
              if (model.highRxt < model.una) model.highRxt = model.una;
              if (model.recovering && model.una >= model.recoveryPoint) model.recovering = false;
              break;
            }
            case 'retransmit': {
              const enter = board.shouldEnterRecovery(o.dupAcks);
              expect(enter).toBe(!model.recovering && model.una >= model.recoveryPoint && (o.dupAcks >= 3 || model.isLost(model.una)));
              if (enter) {
                board.enterRecovery(seq(model.nxt));
                model.recovering = true;
                model.recoveryPoint = model.nxt;
                model.highRxt = model.una;
              }
              const rule = board.nextSeg(seq(model.nxt), o.canSendNew);
              if (rule === 'lost' || rule === 'unsacked') {
                board.markRetransmitted(board.segmentEnd);
                model.highRxt = model.una + ((board.segmentEnd - seq(model.una)) >>> 0);
              } else if (rule === 'rescue') {
                board.markRescueRetransmitted();
                model.rescueRxt = model.recoveryPoint;
              } else if (rule === 'new-data') {
                model.nxt = Math.min(model.una + WINDOW, model.nxt + MSS);
              }
              break;
            }
            case 'timeout':
              board.onRetransmitTimeout(seq(model.nxt));
              model.sacked = [];
              model.recovering = false;
              model.recoveryPoint = model.nxt;
              model.highRxt = model.una;
              model.rescueRxt = Number.NaN;
              break;
          }
          compare(board, model);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('declares a hole lost after DupThresh SACKed segments above it, or more than 2·SMSS SACKed bytes (RFC 6675 §4 IsLost)', () => {
    const board = new SackScoreboard({ mss: 100 }, 1000);
    board.addSackBlock(1100, 1200, 2000);
    board.addSackBlock(1300, 1400, 2000);
    expect(board.isLost(1000)).toBe(false);
    board.addSackBlock(1500, 1600, 2000);
    expect(board.isLost(1000)).toBe(true);
    expect(board.isLost(1250)).toBe(false);
    // One contiguous range of more than 2·SMSS also counts.
    const bytes = new SackScoreboard({ mss: 100 }, 0);
    bytes.addSackBlock(100, 300, 1000);
    expect(bytes.isLost(0)).toBe(false);
    bytes.addSackBlock(300, 301, 1000);
    expect(bytes.isLost(0)).toBe(true);
  });

  it('enters recovery on DupThresh duplicate ACKs even without enough SACKed data (RFC 6675 §5 step 1)', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    board.addSackBlock(100, 120, 1000);
    expect(board.shouldEnterRecovery(2)).toBe(false);
    expect(board.shouldEnterRecovery(3)).toBe(true);
  });

  it('ends recovery when RecoveryPoint is cumulatively acknowledged (RFC 6675 §5)', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    for (const s of [100, 300, 500]) board.addSackBlock(s, s + 100, 1000);
    board.enterRecovery(1000);
    expect(board.inRecovery).toBe(true);
    expect(board.shouldEnterRecovery(10)).toBe(false);
    board.onCumulativeAck(999);
    expect(board.inRecovery).toBe(true);
    board.onCumulativeAck(1000);
    expect(board.inRecovery).toBe(false);
  });

  it('keeps counting retransmissions above RecoveryPoint in pipe after recovery ends (RFC 6675 SetPipe)', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    for (const s of [100, 300, 500]) board.addSackBlock(s, s + 100, 1000);
    board.enterRecovery(1000);
    // New data sent during recovery, then lost above the recovery point.
    for (const s of [1100, 1300, 1500]) board.addSackBlock(s, s + 100, 2000);
    board.onCumulativeAck(700);
    expect(board.nextSeg(2000, false)).toBe('lost');
    expect([board.segmentStart, board.segmentEnd]).toEqual([700, 800]);
    board.markRetransmitted(1000);
    expect(board.nextSeg(2000, false)).toBe('lost');
    expect([board.segmentStart, board.segmentEnd]).toEqual([1000, 1100]);
    board.markRetransmitted(1100);
    board.onCumulativeAck(1000);
    expect(board.inRecovery).toBe(false);
    expect(board.highRetransmitted).toBe(1100);
    // [1000, 1100) is lost but its retransmission is in flight; [1200, 1300), [1400, 1500)
    // and [1600, 2000) are in flight once.
    expect(board.pipe(2000)).toBe(700);
  });

  it('allows no new recovery after a timeout until the old RecoveryPoint is acknowledged (RFC 6675 §5.1)', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    board.onRetransmitTimeout(2000);
    for (const s of [100, 300, 500]) board.addSackBlock(s, s + 100, 2000);
    expect(board.shouldEnterRecovery(5)).toBe(false);
    board.onCumulativeAck(2000);
    for (const s of [2100, 2300, 2500]) board.addSackBlock(s, s + 100, 3000);
    expect(board.shouldEnterRecovery(0)).toBe(true);
  });

  it('forgets all SACK state on a timeout (RFC 2018 §8)', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    board.addSackBlock(100, 200, 1000);
    board.onRetransmitTimeout(1000);
    expect(board.rangeCount).toBe(0);
    expect(board.sackedBytes).toBe(0);
    expect(board.counters.get('sack-cleared-on-timeout')).toBe(1);
  });

  it('gives one rescue retransmission per recovery, ending at the highest un-SACKed byte (RFC 6675 §4 rule 4)', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    board.addSackBlock(100, 200, 1000);
    board.enterRecovery(1000);
    expect(board.nextSeg(1000, false)).toBe('unsacked');
    board.markRetransmitted(board.segmentEnd);
    expect(board.nextSeg(1000, false)).toBe('rescue');
    expect([board.segmentStart, board.segmentEnd]).toEqual([900, 1000]);
    board.markRescueRetransmitted();
    expect(board.highRetransmitted).toBe(100);
    expect(board.nextSeg(1000, false)).toBe('none');
  });

  it('bounds the remembered ranges, forgetting the least recently updated (maxRanges)', () => {
    const board = new SackScoreboard({ mss: 10, maxRanges: 4 }, 0);
    for (let i = 0; i < 6; i++) board.addSackBlock(100 * (i + 1), 100 * (i + 1) + 10, 10_000);
    expect(board.rangeCount).toBe(4);
    expect(board.counters.get('sack-range-dropped')).toBe(2);
    expect(board.rangeStart(0)).toBe(300);
    expect(board.sackedBytes).toBe(40);
    // Touching a range makes it recent: the next drop takes another.
    board.addSackBlock(305, 320, 10_000);
    board.addSackBlock(900, 910, 10_000);
    expect(board.isSacked(300)).toBe(true);
    expect(board.isSacked(400)).toBe(false);
    expect(board.sackedBytes).toBe(50);
  });

  it('keeps memory bounded under any block stream', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(100_000), fc.integer({ min: 1, max: 500 })), { maxLength: 200 }), (blocks) => {
        const board = new SackScoreboard({ mss: 100, maxRanges: 8 }, 0);
        let dropped = 0;
        for (const [left, length] of blocks) {
          board.addSackBlock(left, left + length, 200_000);
          expect(board.rangeCount).toBeLessThanOrEqual(8);
          dropped = board.counters.get('sack-range-dropped');
          let total = 0;
          for (let i = 0; i < board.rangeCount; i++) total += board.rangeEnd(i) - board.rangeStart(i);
          expect(board.sackedBytes).toBe(total);
        }
        expect(dropped).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 100 },
    );
  });

  it('counts D-SACK blocks and ignores invalid ones', () => {
    const board = new SackScoreboard({ mss: 100 }, 1000);
    expect(board.addSackBlock(500, 900, 2000)).toBe(0);
    expect(board.counters.get('dsack-block')).toBe(1);
    expect(board.addSackBlock(1500, 2100, 2000)).toBe(0);
    expect(board.addSackBlock(1500, 1500, 2000)).toBe(0);
    expect(board.addSackBlock(1600, 1500, 2000)).toBe(0);
    expect(board.counters.get('sack-block-invalid')).toBe(3);
    expect(board.rangeCount).toBe(0);
  });

  it('suspects reneging when the cumulative ACK stops at a SACKed range (RFC 2018 §8)', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    board.addSackBlock(200, 400, 1000);
    board.onCumulativeAck(100);
    expect(board.renegingSuspected).toBe(false);
    board.onCumulativeAck(200);
    expect(board.renegingSuspected).toBe(true);
    expect(board.counters.get('sack-reneging')).toBe(1);
  });

  it('returns newly SACKed bytes only once', () => {
    const board = new SackScoreboard({ mss: 100 }, 0);
    expect(board.addSackBlock(100, 200, 1000)).toBe(100);
    expect(board.addSackBlock(150, 250, 1000)).toBe(50);
    expect(board.addSackBlock(100, 250, 1000)).toBe(0);
    expect(board.addSackBlock(50, 300, 1000)).toBe(100);
    expect(board.rangeCount).toBe(1);
  });

  it('rejects bad configuration', () => {
    expect(() => new SackScoreboard({ mss: 0 }, 0)).toThrow(RangeError);
    expect(() => new SackScoreboard({ mss: 10, maxRanges: 0 }, 0)).toThrow(RangeError);
    expect(() => new SackScoreboard({ mss: 10, dupThresh: 0 }, 0)).toThrow(RangeError);
  });
});

describe('SackBlockGenerator (RFC 2018 §4, RFC 2883)', () => {
  const IRS = 2 ** 32 - 100;
  const rseq = (offset: number): number => (IRS + offset) >>> 0;

  it('reports exactly the received out-of-order runs, most recent first, across 2^32', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.tuple(fc.constant('segment' as const), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 30 })), fc.tuple(fc.constant('advance' as const), fc.integer({ min: 0, max: 40 }), fc.constant(0))), { maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        (events, maxBlocks) => {
          const generator = new SackBlockGenerator({ maxRanges: 1000 }, rseq(0));
          const received: boolean[] = [];
          const lastTouched: number[] = [];
          let rcvNxt = 0;
          let time = 0;
          const out = new Uint32Array(8);
          for (const [kind, a, b] of events) {
            time += 1;
            if (kind === 'segment') {
              const left = rcvNxt + a;
              generator.onSegment(rseq(left), rseq(left + b));
              for (let q = left; q < left + b; q++) {
                received[q] = true;
                lastTouched[q] = time;
              }
            } else {
              rcvNxt += a;
              while (received[rcvNxt] === true) rcvNxt += 1;
              generator.onRcvNxt(rseq(rcvNxt));
            }
            // Model: maximal runs above rcvNxt, each stamped with its most recent byte.
            const runs: { left: number; right: number; stamp: number }[] = [];
            for (let q = rcvNxt; q < rcvNxt + 400; q++) {
              if (received[q] !== true) continue;
              const lastRun = runs[runs.length - 1];
              if (lastRun !== undefined && lastRun.right === q) {
                lastRun.right = q + 1;
                lastRun.stamp = Math.max(lastRun.stamp, lastTouched[q]);
              } else {
                runs.push({ left: q, right: q + 1, stamp: lastTouched[q] });
              }
            }
            runs.sort((x, y) => y.stamp - x.stamp);
            const n = generator.fill(out, maxBlocks);
            expect(generator.rangeCount).toBe(runs.length);
            expect(n).toBe(Math.min(maxBlocks, runs.length));
            for (let i = 0; i < n; i++) {
              expect([out[2 * i], out[2 * i + 1]]).toEqual([rseq(runs[i].left), rseq(runs[i].right)]);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('puts a D-SACK block first, then the SACKed range that contains it, once (RFC 2883 §4)', () => {
    const generator = new SackBlockGenerator({}, 1000);
    generator.onSegment(2000, 2100);
    generator.onSegment(3000, 3100);
    generator.onDuplicate(2000, 2050);
    const out = new Uint32Array(8);
    expect(generator.fill(out, 4)).toBe(3);
    expect(Array.from(out.subarray(0, 6))).toEqual([2000, 2050, 2000, 2100, 3000, 3100]);
    expect(generator.fill(out, 4)).toBe(2);
    expect(Array.from(out.subarray(0, 4))).toEqual([3000, 3100, 2000, 2100]);
    generator.onDuplicate(500, 600);
    expect(generator.fill(out, 1)).toBe(1);
    expect(Array.from(out.subarray(0, 2))).toEqual([500, 600]);
  });

  it('bounds the tracked ranges, forgetting the least recently reported (maxRanges)', () => {
    const generator = new SackBlockGenerator({ maxRanges: 3 }, 0);
    for (let i = 1; i <= 5; i++) generator.onSegment(i * 100, i * 100 + 10);
    expect(generator.rangeCount).toBe(3);
    expect(generator.counters.get('sack-range-dropped')).toBe(2);
    const out = new Uint32Array(8);
    expect(generator.fill(out, 4)).toBe(3);
    expect(Array.from(out.subarray(0, 6))).toEqual([500, 510, 400, 410, 300, 310]);
  });
});
