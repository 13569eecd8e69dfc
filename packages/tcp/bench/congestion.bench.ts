// Per-ACK cost of the sender's congestion machinery: the RTO estimator, NewReno and CUBIC in
// congestion avoidance, and the SACK scoreboard (Update, SetPipe, NextSeg) with a realistic
// number of holes. Run with `node tools/bench.mjs congestion`.
import Benchmark from 'benchmark';
import { createCubic } from '../src/congestion/cubic.js';
import { createNewReno } from '../src/congestion/newreno.js';
import type { AckSample } from '../src/congestion/types.js';
import { RttEstimator } from '../src/rtt.js';
import { SackScoreboard } from '../src/scoreboard.js';

const MSS = 1448;

/** One mutable sample reused for every ACK, as a sender would. */
const ack: { -readonly [K in keyof AckSample]: AckSample[K] } = {
  now: 0,
  ackedBytes: 2 * MSS,
  sackedBytes: 0,
  rtt: 20,
  inFlight: 100 * MSS,
  appLimited: false,
};

const estimator = new RttEstimator();
let rttTick = 0;

const newReno = createNewReno({ mss: MSS, now: 0, initialSsthresh: 10 * MSS });
const cubic = createCubic({ mss: MSS, now: 0, sack: true, initialWindow: 1000 * MSS });
cubic.onEnterRecovery(0, 1000 * MSS);
cubic.onExitRecovery(0, 700 * MSS);

// A scoreboard in steady recovery-like state: every ACK SACKs the newest segment, every 50th
// segment is lost (a hole), and the cumulative ACK repairs the oldest hole whenever more than
// 16 are open, so each ACK works on 16-17 SACKed ranges.
const board = new SackScoreboard({ mss: MSS }, 0);
let nxt = 0;
let sent = 0;

const suite = new Benchmark.Suite('congestion');
suite
  .add('RttEstimator.sample', () => {
    rttTick = (rttTick + 1) & 15;
    estimator.sample(20 + rttTick, 'timestamp', 8);
  })
  .add('NewReno.onAck (congestion avoidance)', () => {
    ack.now += 0.01;
    newReno.onAck(ack);
  })
  .add('CUBIC.onAck (congestion avoidance)', () => {
    ack.now += 0.01;
    cubic.onAck(ack);
  })
  .add('SackScoreboard ACK: 1 block + cumulative + pipe + nextSeg (16 holes)', () => {
    nxt = (nxt + MSS) >>> 0;
    sent += 1;
    if (sent % 50 !== 0) board.addSackBlock((nxt - MSS) >>> 0, nxt, nxt);
    if (board.rangeCount > 16) board.onCumulativeAck(board.rangeEnd(0));
    board.pipe(nxt);
    board.nextSeg(nxt, false);
  })
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target;
    const hz = bench.hz ?? 0;
    const rme = bench.stats?.rme ?? 0;
    // At one ACK per two full-sized segments, this many ACKs/s carries this much data.
    const gbps = (hz * 2 * MSS * 8) / 1e9;
    console.log(`${String(bench.name).padEnd(72)} ${Math.round(hz).toLocaleString('en-US').padStart(14)} ACKs/s ±${rme.toFixed(1)}%  (= ${gbps.toFixed(1)} Gbit/s at 2 segments per ACK)`);
  })
  .run();
