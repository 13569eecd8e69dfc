/** Sending behaviour the peer cannot negotiate: initial window, fast retransmit, Nagle (RFC 5681, RFC 1122). */
import { PROMPT_MS, pattern } from '../case.js';
import type { ConformanceCase, Peer } from '../case.js';
import type { ObservedSegment } from '../tester.js';

/** The tester's MSS in these cases: small enough that a burst is many segments. */
const MSS = 1000;
/** A fast retransmission comes at once; this is well below any RTO (200 ms at the least in use). */
const FAST_RETRANSMIT_MS = 100;
/** How long the Nagle case watches for the held segment: below any RTO or tail-loss probe with one segment in flight. */
const NAGLE_WATCH_MS = 150;

function id(peer: Peer): number {
  if (peer.id === undefined) throw new Error('no connection');
  return peer.id;
}

/**
 * RFC 5681 §3.1: IW = 2, 3 or 4 segments by SMSS (at most 4 * SMSS and 4380 bytes for an
 * SMSS of 1095 to 2190; 3 segments for 1000-byte SMSS is 3000, 4 below 1095).
 */
function initialWindowLimit(smss: number): number {
  if (smss > 2190) return 2 * smss;
  if (smss > 1095) return 3 * smss;
  return 4 * smss;
}

export const congestionCases: readonly ConformanceCase[] = [
  {
    id: 'congestion.initial-window',
    title: 'the first flight of a new connection is no larger than the RFC 5681 initial window',
    rfc: 'RFC 5681 §3.1 (RFC 6928 allows 10 segments, experimentally)',
    async run(t) {
      const peer = await t.activeOpen({ mss: MSS });
      await t.control.send(id(peer), pattern(40_000));
      let flight = 0;
      // Everything sent before any ACK and before the first retransmission timer.
      for (let segment = await t.next(150); segment !== undefined; segment = await t.next(50)) {
        if (segment.seq === peer.iss + 1 && flight > 0) break;
        flight += segment.payload.length;
      }
      const limit = initialWindowLimit(MSS);
      t.note(`first flight ${flight} bytes (${Math.ceil(flight / MSS)} segments of ${MSS})`);
      if (flight > limit) t.differ(`at most ${limit} bytes (${limit / MSS} segments) before the first ACK`, `${flight} bytes`);
      if (flight === 0) t.differ('some data', 'nothing');
    },
  },
  {
    id: 'congestion.fast-retransmit',
    title: 'three duplicate ACKs make the sender retransmit the missing segment without waiting for its timer',
    rfc: 'RFC 5681 §3.2',
    async run(t) {
      // A passive open: the handshake's ACK is the last ACK, so the next three are duplicates of it
      // in every sense of RFC 5681 §2 (same ACK, same window, same sequence number).
      const peer = await t.passiveOpen({ mss: MSS });
      await t.control.send(id(peer), pattern(4 * MSS));
      const sent: ObservedSegment[] = [];
      while (sent.length < 4) {
        const segment = await t.next(150);
        if (segment === undefined) break;
        if (segment.payload.length > 0) sent.push(segment);
      }
      if (sent.length < 4) return t.skip(`the initial window held ${sent.length} segments; fast retransmit needs 4`);
      // The first segment is "lost": the tester acknowledges the other three with duplicate ACKs.
      for (let i = 0; i < 3; i++) t.send(peer, { flags: '.', ack: peer.iss + 1 });
      const dupAt = t.timeline.clock.now();
      for (;;) {
        const segment = await t.next(FAST_RETRANSMIT_MS);
        if (segment === undefined) return t.differ(`the first segment retransmitted within ${FAST_RETRANSMIT_MS} ms of the third duplicate ACK`, 'nothing');
        if (segment.seq === peer.iss + 1 && segment.payload.length > 0) {
          t.note(`retransmitted ${Math.round(segment.at - dupAt)} ms after the duplicate ACKs`);
          return;
        }
      }
    },
  },
  {
    id: 'congestion.nagle',
    title: 'a small segment waits while an earlier small segment is unacknowledged (Nagle)',
    rfc: 'RFC 1122 4.2.3.4, RFC 9293 §3.7.4',
    async run(t) {
      const peer = await t.passiveOpen();
      await t.control.send(id(peer), pattern(10));
      await t.expect(peer, { length: 10 }, 'the first small segment');
      await t.control.send(id(peer), pattern(10, 10));
      const heldFrom = t.timeline.clock.now();
      // Retransmissions of the first segment may come; new data must not until it is acknowledged.
      for (let left = NAGLE_WATCH_MS; left > 0; left = NAGLE_WATCH_MS - (t.timeline.clock.now() - heldFrom)) {
        const segment = await t.next(left);
        if (segment === undefined) break;
        if (segment.seq === peer.iss + 11 && segment.payload.length > 0) {
          t.differ('the second small segment held until the first is acknowledged', `sent after ${Math.round(segment.at - heldFrom)} ms`);
        }
      }
      t.send(peer, { flags: '.' });
      for (;;) {
        const segment = await t.next(PROMPT_MS);
        if (segment === undefined) return t.differ('the second small segment once the first is acknowledged', 'nothing');
        if (segment.seq === peer.iss + 11 && segment.payload.length === 10) return;
      }
    },
  },
];
