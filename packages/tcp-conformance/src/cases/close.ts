/** Closing: FIN handling in each state and TIME-WAIT (RFC 9293 §3.6, §3.10.4, §3.10.7.4 eighth). */
import type { TcpState } from '@morgana/core';
import { ACK_DELAY_LIMIT_MS, PROMPT_MS, pattern } from '../case.js';
import type { CaseContext, ConformanceCase, Peer } from '../case.js';
import { MSL_MS, modelState } from '../model.js';

function id(peer: Peer): number {
  if (peer.id === undefined) throw new Error('no connection');
  return peer.id;
}

/** Active close up to TIME-WAIT: the target's FIN, our ACK, our FIN, its ACK. */
async function intoTimeWait(t: CaseContext): Promise<Peer> {
  const peer = await t.passiveOpen();
  await t.control.shutdown(id(peer));
  await t.expect(peer, { flags: 'F.', seq: peer.iss + 1 }, 'a FIN');
  t.send(peer, { flags: '.' });
  t.send(peer, { flags: 'F.' });
  await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of our FIN', ACK_DELAY_LIMIT_MS);
  await t.expectState(modelState('ESTABLISHED', 'close', 'rcv-ack-of-fin', 'rcv-fin'), 'both FINs were acknowledged');
  return peer;
}

const TIME_WAIT: TcpState = modelState('FIN-WAIT-2', 'rcv-fin');

export const closeCases: readonly ConformanceCase[] = [
  {
    id: 'close.peer-fin-acknowledged',
    title: 'a FIN in ESTABLISHED is acknowledged, the user reads the end of the stream, and the state is CLOSE-WAIT',
    rfc: 'RFC 9293 §3.10.7.4 (eighth)',
    async run(t) {
      const peer = await t.passiveOpen();
      t.send(peer, { flags: 'F.' });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt, length: 0 }, 'an ACK of the FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState(modelState('ESTABLISHED', 'rcv-fin'), 'the FIN');
      const read = await t.readBytes(peer, 1);
      if (!read.eof) t.differ('the end of the stream', read.error ?? `${read.data.length} bytes and no end`);
    },
  },
  {
    id: 'close.data-and-fin-delivered',
    title: 'data carried with a FIN is delivered before the end of the stream',
    rfc: 'RFC 9293 §3.10.7.4 (seventh, eighth)',
    async run(t) {
      const peer = await t.passiveOpen();
      t.send(peer, { flags: 'PF.', payload: 20 });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of the data and the FIN', ACK_DELAY_LIMIT_MS);
      const read = await t.readBytes(peer, 21);
      if (read.data.length !== 20 || !read.eof) t.differ('20 bytes, then the end of the stream', `${read.data.length} bytes${read.eof ? ' and the end' : ''}`);
    },
  },
  {
    id: 'close.fin-completing-handshake',
    title: 'a FIN carrying the ACK of the SYN-ACK establishes the connection and closes its receive side (CLOSE-WAIT)',
    rfc: 'RFC 9293 §3.10.7.4 (fifth and eighth, SYN-RECEIVED)',
    async run(t) {
      await t.control.listen(t.targetPort);
      const irs = 3_000_000;
      t.sendRaw({ flags: 'S', seq: irs, mss: 1460 });
      const synAck = await t.expect(undefined, { flags: 'S.', ack: irs + 1 }, 'a SYN-ACK');
      const peer = t.peer({ irs, iss: synAck.seq, handshake: synAck });
      t.send(peer, { flags: 'F.' });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt, length: 0 }, 'an ACK of the FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState(modelState('SYN-RECEIVED', 'rcv-ack-of-syn', 'rcv-fin'), 'the FIN');
      peer.id = await t.control.accept(t.targetPort, PROMPT_MS);
      if (peer.id === undefined) return t.differ('the connection to be accepted', 'no connection');
      const read = await t.readBytes(peer, 1);
      if (!read.eof) t.differ('the end of the stream', read.error ?? `${read.data.length} bytes and no end`);
    },
  },
  {
    id: 'close.out-of-order-fin-waits',
    title: 'a FIN past a hole is not acted on until the hole is filled',
    rfc: 'RFC 9293 §3.10.7.4 (seventh, eighth)',
    async run(t) {
      const peer = await t.passiveOpen();
      const start = peer.sndNxt;
      t.send(peer, { flags: 'PF.', seq: start + 10, payload: pattern(10, 10) });
      await t.expect(peer, { flags: '.', ack: start, length: 0 }, 'a duplicate ACK that does not cover the FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState('ESTABLISHED', 'a FIN past a hole');
      t.send(peer, { flags: 'P.', payload: pattern(10) });
      await t.expect(peer, { flags: '.', ack: start + 21 }, 'an ACK of both segments and the FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState(modelState('ESTABLISHED', 'rcv-fin'), 'the hole was filled');
      const read = await t.readBytes(peer, 21);
      if (read.data.length !== 20 || !read.eof) t.differ('20 bytes in order, then the end of the stream', `${read.data.length} bytes${read.eof ? ' and the end' : ''}`);
    },
  },
  {
    id: 'close.active-close',
    title: 'CLOSE sends a FIN (FIN-WAIT-1); its ACK leads to FIN-WAIT-2; the peer FIN is acknowledged and leads to TIME-WAIT',
    rfc: 'RFC 9293 §3.6 Figure 12, §3.10.4, §3.10.7.4',
    async run(t) {
      const peer = await t.passiveOpen();
      await t.control.shutdown(id(peer));
      await t.expect(peer, { flags: 'F.', seq: peer.iss + 1, ack: peer.sndNxt }, 'a FIN');
      await t.expectState(modelState('ESTABLISHED', 'close'), 'CLOSE');
      t.send(peer, { flags: '.' });
      await t.expectNothing('after the ACK of the FIN');
      await t.expectState(modelState('ESTABLISHED', 'close', 'rcv-ack-of-fin'), 'the ACK of the FIN');
      t.send(peer, { flags: 'F.' });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt, seq: peer.iss + 2 }, 'an ACK of our FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState(modelState('ESTABLISHED', 'close', 'rcv-ack-of-fin', 'rcv-fin'), 'the peer FIN');
    },
  },
  {
    id: 'close.simultaneous-close',
    title: 'FINs that cross lead through CLOSING to TIME-WAIT',
    rfc: 'RFC 9293 §3.6 Figure 13',
    async run(t) {
      const peer = await t.passiveOpen();
      await t.control.shutdown(id(peer));
      await t.expect(peer, { flags: 'F.', seq: peer.iss + 1 }, 'a FIN');
      // Our FIN does not acknowledge theirs: it crossed it on the wire.
      t.send(peer, { flags: 'F.', ack: peer.iss + 1 });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of our FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState(modelState('ESTABLISHED', 'close', 'rcv-fin'), 'the crossing FIN');
      t.send(peer, { flags: '.' });
      await t.expectNothing('after the ACK of its FIN');
      await t.expectState(modelState('ESTABLISHED', 'close', 'rcv-fin', 'rcv-ack-of-fin'), 'the ACK of its FIN');
    },
  },
  {
    id: 'close.fin-acking-fin',
    title: 'in FIN-WAIT-1 a FIN that also acknowledges our FIN leads straight to TIME-WAIT',
    rfc: 'RFC 9293 §3.10.7.4 (eighth, FIN-WAIT-1)',
    async run(t) {
      const peer = await t.passiveOpen();
      await t.control.shutdown(id(peer));
      await t.expect(peer, { flags: 'F.', seq: peer.iss + 1 }, 'a FIN');
      t.send(peer, { flags: 'F.' });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of our FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState(TIME_WAIT, 'a FIN acknowledging its FIN');
    },
  },
  {
    id: 'close.passive-close',
    title: 'CLOSE in CLOSE-WAIT sends a FIN (LAST-ACK) and its ACK closes the connection',
    rfc: 'RFC 9293 §3.6 Figure 12, §3.10.4',
    async run(t) {
      const peer = await t.passiveOpen();
      t.send(peer, { flags: 'F.' });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of the FIN', ACK_DELAY_LIMIT_MS);
      await t.control.close(id(peer));
      await t.expect(peer, { flags: 'F.', seq: peer.iss + 1, ack: peer.sndNxt }, 'a FIN');
      await t.expectState(modelState('CLOSE-WAIT', 'close'), 'CLOSE');
      t.send(peer, { flags: '.' });
      await t.expectNothing('after the ACK of the FIN');
      await t.expectState(modelState('CLOSE-WAIT', 'close', 'rcv-ack-of-fin'), 'the ACK of the FIN');
    },
  },
  {
    id: 'close.data-after-shutdown-still-read',
    title: 'after our FIN (FIN-WAIT-2) the peer may still send data, which is delivered and acknowledged',
    rfc: 'RFC 9293 §3.10.7.4 (seventh, FIN-WAIT-1/2), §3.10.4',
    async run(t) {
      const peer = await t.passiveOpen();
      await t.control.shutdown(id(peer));
      await t.expect(peer, { flags: 'F.', seq: peer.iss + 1 }, 'a FIN');
      t.send(peer, { flags: '.' });
      t.send(peer, { flags: 'P.', payload: pattern(50) });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of the data', ACK_DELAY_LIMIT_MS);
      const read = await t.readBytes(peer, 50, PROMPT_MS);
      if (read.data.length !== 50) t.differ('the 50 bytes delivered', `${read.data.length} bytes`);
    },
  },
  {
    id: 'close.time-wait-acknowledges-fin',
    title: 'a retransmitted FIN in TIME-WAIT is acknowledged again',
    rfc: 'RFC 9293 §3.10.7.4 (eighth, TIME-WAIT)',
    async run(t) {
      const peer = await intoTimeWait(t);
      t.send(peer, { flags: 'F.', seq: peer.sndNxt - 1 });
      await t.expect(peer, { flags: '.', seq: peer.iss + 2, ack: peer.sndNxt }, 'an ACK of the retransmitted FIN', ACK_DELAY_LIMIT_MS);
      await t.expectState(TIME_WAIT, 'the retransmitted FIN');
    },
  },
  {
    id: 'close.fin-retransmitted',
    title: 'an unacknowledged FIN is retransmitted',
    rfc: 'RFC 9293 §3.8.1, §3.10.4; RFC 6298 §5',
    needs: { waitMs: 3 * 1000 },
    async run(t) {
      const peer = await t.passiveOpen();
      await t.control.shutdown(id(peer));
      const fin = await t.expect(peer, { flags: 'F.', seq: peer.iss + 1 }, 'a FIN');
      const again = await t.expect(peer, { flags: 'F.', seq: peer.iss + 1 }, 'the FIN again', 3000);
      t.note(`retransmitted after ${Math.round(again.at - fin.at)} ms`);
    },
  },
  {
    id: 'close.rst-in-time-wait',
    title: 'an acceptable RST in TIME-WAIT closes the connection',
    rfc: 'RFC 9293 §3.10.7.4 (fourth, TIME-WAIT); RFC 1337',
    async run(t) {
      const peer = await intoTimeWait(t);
      t.send(peer, { flags: 'R', seq: peer.sndNxt });
      await t.expectNothing('after the RST');
      const state = await t.control.state(t.targetPort, t.testerPort);
      if (state === undefined) return t.skip('the target does not expose TIME-WAIT');
      // RFC 1337 recommends ignoring it (no "TIME-WAIT assassination"); RFC 9293 still says CLOSED.
      if (state !== modelState(TIME_WAIT, 'rcv-rst')) t.differ('CLOSED (RFC 9293; RFC 1337 would keep TIME-WAIT)', state);
    },
  },
  {
    id: 'close.time-wait-lasts-2msl',
    title: 'TIME-WAIT lasts 2·MSL (MSL = 2 minutes) and then the connection is closed',
    rfc: 'RFC 9293 §3.4.2, §3.6, §3.10.8',
    needs: { waitMs: 2 * MSL_MS + 10_000 },
    async run(t) {
      await intoTimeWait(t);
      await t.timeline.sleep(2 * MSL_MS - 1000);
      const before = await t.control.state(t.targetPort, t.testerPort);
      await t.timeline.sleep(11_000);
      const after = await t.control.state(t.targetPort, t.testerPort);
      if (before === undefined || after === undefined) return t.skip('the target does not expose TIME-WAIT');
      if (before !== TIME_WAIT) t.differ(`TIME-WAIT ${(2 * MSL_MS - 1000) / 1000} s after entering it`, `${before}`);
      if (after !== modelState(TIME_WAIT, 'timeout')) t.differ(`CLOSED ${(2 * MSL_MS + 10_000) / 1000} s after entering TIME-WAIT`, after);
    },
  },
];
