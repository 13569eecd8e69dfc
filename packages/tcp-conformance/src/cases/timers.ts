/** Retransmission and keepalive timers (RFC 6298, RFC 1122 4.2.3.6). */
import { pattern } from '../case.js';
import type { CaseContext, ConformanceCase, Peer } from '../case.js';
import type { ObservedSegment } from '../tester.js';
import { KEEPALIVE_IDLE_MIN_MS, MIN_RTO_MS } from '../model.js';

/** Sends 100 bytes from the target and returns its first transmission and two retransmissions (never acknowledged). */
async function retransmissions(t: CaseContext, peer: Peer, withinMs: number): Promise<ObservedSegment[]> {
  if (peer.id === undefined) throw new Error('no connection');
  await t.control.send(peer.id, pattern(100));
  const seen: ObservedSegment[] = [];
  while (seen.length < 3) {
    const segment = await t.next(withinMs);
    if (segment === undefined) break;
    if (segment.payload.length > 0 && segment.seq === peer.iss + 1) seen.push(segment);
  }
  return seen;
}

export const timerCases: readonly ConformanceCase[] = [
  {
    id: 'timers.rto-at-least-one-second',
    title: 'unacknowledged data is retransmitted, no sooner than the 1 s minimum RTO',
    rfc: 'RFC 6298 §2.4, §5',
    needs: { waitMs: 4 * MIN_RTO_MS },
    async run(t) {
      // An active open: the SYN's round trip gives every stack an RTT sample before the data.
      const peer = await t.activeOpen();
      const seen = await retransmissions(t, peer, 4 * MIN_RTO_MS);
      if (seen.length < 2) t.differ('a retransmission of the unacknowledged data', 'none');
      const gap = seen[1].at - seen[0].at;
      t.note(`first retransmission after ${Math.round(gap)} ms`);
      if (gap < MIN_RTO_MS * 0.95) t.differ(`a retransmission no sooner than ${MIN_RTO_MS} ms`, `after ${Math.round(gap)} ms`);
    },
  },
  {
    id: 'timers.rto-backoff',
    title: 'each retransmission of the same data doubles the timeout',
    rfc: 'RFC 6298 §5.5',
    needs: { waitMs: 4 * MIN_RTO_MS + 4 * MIN_RTO_MS },
    async run(t) {
      const peer = await t.activeOpen();
      const seen = await retransmissions(t, peer, 4 * MIN_RTO_MS);
      if (seen.length < 3) t.differ('two retransmissions of the unacknowledged data', `${seen.length - 1}`);
      const first = seen[1].at - seen[0].at;
      const second = seen[2].at - seen[1].at;
      t.note(`retransmissions after ${Math.round(first)} ms and ${Math.round(second)} ms more`);
      if (second < first * 1.8) t.differ(`the second retransmission at least twice as late (${Math.round(2 * first)} ms)`, `${Math.round(second)} ms`);
    },
  },
  {
    id: 'timers.no-keepalive-by-default',
    title: 'an idle connection sends no keepalive for the first two hours',
    rfc: 'RFC 1122 4.2.3.6',
    needs: { waitMs: KEEPALIVE_IDLE_MIN_MS },
    async run(t) {
      await t.passiveOpen();
      await t.expectNothing('while the connection idles', KEEPALIVE_IDLE_MIN_MS - 1000);
    },
  },
];
