/** Data transfer: acceptability, acknowledgement, reassembly, windows and probes (RFC 9293 §3.8, §3.10.7.4). */
import { ACK_DELAY_LIMIT_MS, PROMPT_MS, QUIET_MS, pattern } from '../case.js';
import type { ConformanceCase } from '../case.js';
import { segmentAcceptable } from '../model.js';

/**
 * Earliest a first zero-window probe may come, ms: RFC 1122 4.2.2.17 sends it after the
 * retransmission timeout, and no stack in use has an RTO below 200 ms.
 */
const ZERO_WINDOW_PROBE_MIN_MS = 200;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export const dataCases: readonly ConformanceCase[] = [
  {
    id: 'data.in-order-delivered-and-acked',
    title: 'in-order data is delivered to the user and acknowledged within 500 ms',
    rfc: 'RFC 9293 §3.10.7.4 (seventh), RFC 1122 4.2.3.2',
    async run(t) {
      const peer = await t.passiveOpen();
      const sentAt = t.timeline.clock.now();
      t.send(peer, { flags: 'P.', payload: 100 });
      const ack = await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of the data', ACK_DELAY_LIMIT_MS);
      t.note(`acknowledged after ${Math.round(ack.at - sentAt)} ms`);
      const read = await t.readBytes(peer, 100);
      if (!sameBytes(read.data, pattern(100))) t.differ('the 100 bytes sent, in order', `${read.data.length} bytes${read.data.length === 100 ? ', different' : ''}`);
    },
  },
  {
    id: 'data.out-of-order-reassembled',
    title: 'data past a hole gets an immediate duplicate ACK, and filling the hole delivers both in order',
    rfc: 'RFC 9293 §3.10.7.4 (seventh), RFC 5681 §4.2',
    async run(t) {
      const peer = await t.passiveOpen();
      const start = peer.sndNxt;
      t.send(peer, { flags: 'P.', seq: start + 100, payload: pattern(100, 100) });
      await t.expect(peer, { flags: '.', ack: start }, 'an immediate duplicate ACK', 200);
      t.send(peer, { flags: 'P.', payload: pattern(100, 0) });
      await t.expect(peer, { flags: '.', ack: start + 200 }, 'an immediate ACK covering both segments', 200);
      const read = await t.readBytes(peer, 200);
      if (!sameBytes(read.data, pattern(200))) t.differ('200 bytes in order', `${read.data.length} bytes`);
    },
  },
  {
    id: 'data.every-second-full-segment-acked',
    title: 'two full-sized segments are acknowledged at once, without waiting for the delayed-ACK timer',
    rfc: 'RFC 1122 4.2.3.2, RFC 5681 §4.2',
    async run(t) {
      const peer = await t.passiveOpen({ mss: 1460 });
      const mss = Math.min(1460, peer.handshake?.mss ?? 536);
      t.send(peer, { flags: '.', payload: mss });
      t.send(peer, { flags: 'P.', payload: mss });
      const sentAt = t.timeline.clock.now();
      const target = peer.sndNxt;
      for (;;) {
        const ack = await t.next(ACK_DELAY_LIMIT_MS);
        if (ack === undefined) return t.differ(`an ACK of ${2 * mss} bytes`, 'none within 500 ms');
        if (ack.ack === target) {
          const delay = ack.at - sentAt;
          t.note(`acknowledged after ${Math.round(delay)} ms`);
          if (delay > 20) t.differ('an ACK at once (within 20 ms)', `after ${Math.round(delay)} ms`);
          return;
        }
      }
    },
  },
  {
    id: 'data.out-of-window-segment-acked',
    title: 'a segment entirely outside the receive window is dropped and answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>',
    rfc: 'RFC 9293 §3.10.7.4 (first)',
    async run(t) {
      const peer = await t.passiveOpen();
      const start = peer.sndNxt;
      const seq = (start + 0x4000_0000) >>> 0;
      if (segmentAcceptable(seq, 10, start, 0x3fff_ffff)) throw new Error('model: the segment must be outside any window');
      t.send(peer, { flags: 'P.', seq, payload: 10 });
      await t.expect(peer, { flags: '.', seq: peer.iss + 1, ack: start, length: 0 }, 'an ACK', PROMPT_MS);
      const read = await t.readBytes(peer, 1, 100);
      if (read.data.length > 0) t.differ('nothing delivered', `${read.data.length} bytes`);
    },
  },
  {
    id: 'data.old-duplicate-acked',
    title: 'a retransmitted segment already received is acknowledged again and not delivered twice',
    rfc: 'RFC 9293 §3.10.7.4 (first), RFC 5681 §4.2',
    async run(t) {
      const peer = await t.passiveOpen();
      const start = peer.sndNxt;
      t.send(peer, { flags: 'P.', payload: 100 });
      await t.expect(peer, { flags: '.', ack: start + 100 }, 'an ACK of the data', ACK_DELAY_LIMIT_MS);
      t.send(peer, { flags: 'P.', seq: start, payload: 100 });
      await t.expect(peer, { flags: '.', ack: start + 100 }, 'an ACK of the duplicate', ACK_DELAY_LIMIT_MS);
      const read = await t.readBytes(peer, 200, 200);
      if (read.data.length !== 100) t.differ('100 bytes delivered once', `${read.data.length} bytes`);
    },
  },
  {
    id: 'data.keepalive-probe-acked',
    title: 'a keepalive probe (one old octet at RCV.NXT-1) is answered with an ACK of RCV.NXT',
    rfc: 'RFC 1122 4.2.3.6, RFC 9293 §3.10.7.4 (first)',
    async run(t) {
      const peer = await t.passiveOpen();
      const start = peer.sndNxt;
      t.send(peer, { flags: '.', seq: start - 1, payload: 1 });
      await t.expect(peer, { flags: '.', seq: peer.iss + 1, ack: start, length: 0 }, 'an ACK of RCV.NXT', PROMPT_MS);
      const read = await t.readBytes(peer, 1, 100);
      if (read.data.length > 0) t.differ('the old octet not delivered', `${read.data.length} bytes delivered`);
    },
  },
  {
    id: 'data.ack-of-unsent-data',
    title: 'a segment acknowledging data never sent is dropped and answered with an ACK',
    rfc: 'RFC 9293 §3.10.7.4 (fifth, ESTABLISHED)',
    async run(t) {
      const peer = await t.passiveOpen();
      const start = peer.sndNxt;
      t.send(peer, { flags: 'P.', ack: peer.iss + 1 + 5000, payload: 10 });
      await t.expect(peer, { flags: '.', seq: peer.iss + 1, ack: start }, 'an ACK that does not cover the data', PROMPT_MS);
      const read = await t.readBytes(peer, 1, 100);
      if (read.data.length > 0) t.differ('the segment dropped', `${read.data.length} bytes delivered`);
    },
  },
  {
    id: 'data.too-old-ack-challenged',
    title: "a segment whose ACK is older than SND.UNA less the peer's largest window is dropped with a challenge ACK",
    rfc: 'RFC 5961 §5.2',
    async run(t) {
      const peer = await t.passiveOpen();
      const start = peer.sndNxt;
      t.send(peer, { flags: 'P.', ack: peer.iss - 200_000, payload: 10 });
      await t.expect(peer, { flags: '.', ack: start }, 'a challenge ACK', PROMPT_MS);
      const read = await t.readBytes(peer, 1, 100);
      if (read.data.length > 0) t.differ('the segment dropped', `${read.data.length} bytes delivered`);
    },
  },
  {
    id: 'data.send-window-respected',
    title: "nothing is sent beyond the peer's window",
    rfc: 'RFC 9293 §3.8.6',
    async run(t) {
      const peer = await t.passiveOpen({ window: 100 });
      if (peer.id === undefined) throw new Error('no connection');
      await t.control.send(peer.id, pattern(1000));
      let highest = peer.iss + 1;
      for (;;) {
        const segment = await t.next(QUIET_MS);
        if (segment === undefined) break;
        highest = Math.max(highest, segment.seq + segment.payload.length);
      }
      const sent = highest - (peer.iss + 1);
      if (sent > 100) t.differ('at most 100 bytes (the window) sent', `${sent} bytes`);
      if (sent === 0) t.differ('the 100 bytes the window allows', 'nothing');
    },
  },
  {
    id: 'data.zero-window-probed',
    title: 'with data waiting and a zero window, the sender waits for its timer and then probes with one octet of new data',
    rfc: 'RFC 9293 §3.8.6.1 (MUST-36), RFC 1122 4.2.2.17',
    needs: { waitMs: 3000 },
    async run(t) {
      const peer = await t.passiveOpen();
      if (peer.id === undefined) throw new Error('no connection');
      t.send(peer, { flags: '.', window: 0 });
      // Let the zero window arrive before the data is queued.
      await t.timeline.sleep(50);
      await t.control.send(peer.id, pattern(100));
      const queuedAt = t.timeline.clock.now();
      const probe = await t.next(3000);
      if (probe === undefined) return t.differ('a window probe within 3 s', 'nothing');
      const offset = (probe.seq - (peer.iss + 1)) | 0;
      const delay = Math.round(probe.at - queuedAt);
      const where = `SND.UNA${offset >= 0 ? '+' : ''}${offset}`;
      t.note(`first probe ${delay} ms after the data was queued: seq ${where}, ${probe.payload.length} bytes`);
      if (delay < ZERO_WINDOW_PROBE_MIN_MS) t.differ(`nothing sent into the zero window before the probe timer (${ZERO_WINDOW_PROBE_MIN_MS} ms at least)`, `${probe.payload.length} bytes at ${where} after ${delay} ms`);
      if (offset !== 0 || probe.payload.length < 1) t.differ('a probe at SND.UNA carrying at least one octet of the waiting data', `a probe at ${where} with ${probe.payload.length} bytes`);
    },
  },
  {
    id: 'data.urgent-data-inline',
    title: 'data marked urgent is delivered in the stream like any other data',
    rfc: 'RFC 9293 §3.8.5, RFC 6093 §3, §6',
    async run(t) {
      const peer = await t.passiveOpen();
      t.send(peer, { flags: 'PU.', payload: 10, urgent: 10 });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of the data', ACK_DELAY_LIMIT_MS);
      const read = await t.readBytes(peer, 10, 300);
      if (!sameBytes(read.data, pattern(10))) t.differ('the 10 bytes, urgent byte included, in the stream', `${read.data.length} bytes read`);
    },
  },
];
