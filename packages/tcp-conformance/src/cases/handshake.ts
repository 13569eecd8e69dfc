/** Opening connections: RFC 9293 §3.5, §3.10.7.1-3, and the SYN timers of RFC 6298. */
import { PROMPT_MS, flagsOf } from '../case.js';
import type { ConformanceCase } from '../case.js';
import { INITIAL_RTO_MS, modelState, resetFor } from '../model.js';

const IRS = 1_000_000;

export const handshakeCases: readonly ConformanceCase[] = [
  {
    id: 'handshake.passive-open',
    title: 'a SYN to a listening port gets a SYN-ACK, and the ACK of it establishes the connection',
    rfc: 'RFC 9293 §3.5, §3.10.7.2',
    async run(t) {
      await t.control.listen(t.targetPort);
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460 });
      const synAck = await t.expect(undefined, { flags: 'S.', ack: IRS + 1, length: 0 }, 'a SYN-ACK');
      await t.expectState(modelState('LISTEN', 'rcv-syn'), 'the SYN');
      const peer = t.peer({ irs: IRS, iss: synAck.seq, handshake: synAck });
      t.send(peer, { flags: '.' });
      await t.expectNothing('after the ACK of the SYN-ACK');
      await t.expectState(modelState('LISTEN', 'rcv-syn', 'rcv-ack-of-syn'), 'the ACK');
      if ((await t.control.accept(t.targetPort, PROMPT_MS)) === undefined) t.differ('accept() to return the connection', 'nothing accepted');
    },
  },
  {
    id: 'handshake.active-open',
    title: 'connect sends a SYN; the SYN-ACK is acknowledged and the connection is established',
    rfc: 'RFC 9293 §3.5, §3.10.7.3',
    async run(t) {
      const id = await t.control.connect(t.testerAddress, t.testerPort, t.targetPort);
      const syn = await t.expect(undefined, { flags: 'S', ack: 0, length: 0 }, 'a SYN');
      await t.expectState(modelState('CLOSED', 'active-open'), 'connect');
      t.sendRaw({ flags: 'S.', seq: IRS, ack: syn.seq + 1, mss: 1460 });
      await t.expect(undefined, { flags: '.', seq: syn.seq + 1, ack: IRS + 1, length: 0 }, 'the ACK of the SYN-ACK');
      await t.expectState(modelState('CLOSED', 'active-open', 'rcv-syn-ack'), 'the SYN-ACK');
      const read = await t.control.read(id, 50);
      if (read.error !== undefined) t.differ('an open connection', `connection error ${read.error}`);
    },
  },
  {
    id: 'handshake.simultaneous-open',
    title: 'a SYN crossing our SYN moves SYN-SENT to SYN-RECEIVED and a SYN-ACK then establishes (Figure 8)',
    rfc: 'RFC 9293 §3.5 Figure 8',
    async run(t) {
      await t.control.connect(t.testerAddress, t.testerPort, t.targetPort);
      const syn = await t.expect(undefined, { flags: 'S' }, 'a SYN');
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460 });
      await t.expect(undefined, { flags: 'S.', seq: syn.seq, ack: IRS + 1 }, 'a SYN-ACK repeating our SYN');
      await t.expectState(modelState('SYN-SENT', 'rcv-syn'), 'the crossing SYN');
      t.sendRaw({ flags: 'S.', seq: IRS, ack: syn.seq + 1, mss: 1460 });
      await t.expect(undefined, { flags: '.', seq: syn.seq + 1, ack: IRS + 1, length: 0 }, 'an ACK');
      await t.expectState(modelState('SYN-SENT', 'rcv-syn', 'rcv-ack-of-syn'), 'the SYN-ACK');
    },
  },
  {
    id: 'handshake.syn-to-closed-port',
    title: 'a SYN to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>',
    rfc: 'RFC 9293 §3.10.7.1',
    async run(t) {
      const reset = resetFor(flagsOf('S'), IRS, 0, 0);
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460 });
      await t.expect(undefined, { flags: 'R.', seq: reset?.seq, ack: reset?.ack }, 'a reset');
    },
  },
  {
    id: 'handshake.ack-to-closed-port',
    title: 'an ACK to a closed port gets <SEQ=SEG.ACK><CTL=RST>',
    rfc: 'RFC 9293 §3.10.7.1',
    async run(t) {
      const reset = resetFor(flagsOf('.'), IRS, 777_777, 0);
      t.sendRaw({ flags: '.', seq: IRS, ack: 777_777 });
      await t.expect(undefined, { flags: 'R', seq: reset?.seq }, 'a reset');
    },
  },
  {
    id: 'handshake.rst-to-closed-port',
    title: 'a RST to a closed port is dropped without an answer',
    rfc: 'RFC 9293 §3.10.7.1',
    async run(t) {
      t.sendRaw({ flags: 'R', seq: IRS });
      t.sendRaw({ flags: 'R.', seq: IRS, ack: 5 });
      await t.expectNothing('after a RST to a closed port');
    },
  },
  {
    id: 'handshake.ack-to-listening-port',
    title: 'an ACK to a listening port gets <SEQ=SEG.ACK><CTL=RST>',
    rfc: 'RFC 9293 §3.10.7.2',
    async run(t) {
      await t.control.listen(t.targetPort);
      t.sendRaw({ flags: '.', seq: IRS, ack: 424_242 });
      await t.expect(undefined, { flags: 'R', seq: 424_242 }, 'a reset');
    },
  },
  {
    id: 'handshake.syn-ack-to-listening-port',
    title: 'a SYN-ACK to a listening port gets <SEQ=SEG.ACK><CTL=RST> (any ACK is bad in LISTEN)',
    rfc: 'RFC 9293 §3.10.7.2',
    async run(t) {
      await t.control.listen(t.targetPort);
      const reset = resetFor(flagsOf('S.'), IRS, 313_131, 0);
      t.sendRaw({ flags: 'S.', seq: IRS, ack: 313_131, mss: 1460 });
      await t.expect(undefined, { flags: 'R', seq: reset?.seq }, 'a reset');
    },
  },
  {
    id: 'handshake.rst-to-listening-port',
    title: 'a RST to a listening port is ignored and the port still answers SYNs',
    rfc: 'RFC 9293 §3.10.7.2',
    async run(t) {
      await t.control.listen(t.targetPort);
      t.sendRaw({ flags: 'R', seq: IRS });
      await t.expectNothing('after a RST to a listening port');
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460 });
      await t.expect(undefined, { flags: 'S.', ack: IRS + 1 }, 'a SYN-ACK');
    },
  },
  {
    id: 'handshake.bad-checksum-dropped',
    title: 'a SYN with a bad checksum is dropped silently',
    rfc: 'RFC 9293 §3.1 (MUST-2), §3.10.7',
    async run(t) {
      await t.control.listen(t.targetPort);
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460, badChecksum: true });
      await t.expectNothing('after a SYN with a bad checksum');
    },
  },
  {
    id: 'handshake.syn-with-data',
    title: 'data in a SYN is queued and delivered once the connection is established',
    rfc: 'RFC 9293 §3.10.7.2',
    async run(t) {
      await t.control.listen(t.targetPort);
      const data = new Uint8Array([0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x53, 0x59, 0x4e]);
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460, payload: data });
      const synAck = await t.expect(undefined, { flags: 'S.' }, 'a SYN-ACK');
      if (synAck.ack !== IRS + 1 && synAck.ack !== IRS + 1 + data.length) t.differ(`a SYN-ACK acknowledging ${IRS + 1} or ${IRS + 1 + data.length}`, `ack ${synAck.ack}`);
      t.note(synAck.ack === IRS + 1 ? 'the SYN-ACK acknowledged the SYN only' : 'the SYN-ACK acknowledged the data too');
      const peer = t.peer({ irs: IRS, iss: synAck.seq, handshake: synAck });
      peer.sndNxt = IRS + 1 + data.length;
      t.send(peer, { flags: '.' });
      peer.id = await t.control.accept(t.targetPort, PROMPT_MS);
      if (peer.id === undefined) t.differ('the connection to be accepted', 'no connection');
      const read = await t.readBytes(peer, data.length);
      if (read.data.length !== data.length) t.differ(`the ${data.length} bytes of the SYN delivered without a retransmission`, `${read.data.length} bytes delivered`);
    },
  },
  {
    id: 'handshake.syn-sent-bad-ack',
    title: 'in SYN-SENT a SYN-ACK acknowledging something never sent gets <SEQ=SEG.ACK><CTL=RST> and the connection stays',
    rfc: 'RFC 9293 §3.10.7.3',
    async run(t) {
      await t.control.connect(t.testerAddress, t.testerPort, t.targetPort);
      const syn = await t.expect(undefined, { flags: 'S' }, 'a SYN');
      t.sendRaw({ flags: 'S.', seq: IRS, ack: syn.seq + 1000, mss: 1460 });
      await t.expect(undefined, { flags: 'R', seq: syn.seq + 1000 }, 'a reset');
      await t.expectState('SYN-SENT', 'an unacceptable SYN-ACK');
    },
  },
  {
    id: 'handshake.syn-sent-rst-without-ack',
    title: 'in SYN-SENT a RST without an acceptable ACK is ignored and the handshake can still complete',
    rfc: 'RFC 9293 §3.10.7.3',
    async run(t) {
      await t.control.connect(t.testerAddress, t.testerPort, t.targetPort);
      const syn = await t.expect(undefined, { flags: 'S' }, 'a SYN');
      t.sendRaw({ flags: 'R', seq: IRS });
      await t.expectNothing('after a RST without ACK');
      t.sendRaw({ flags: 'S.', seq: IRS, ack: syn.seq + 1, mss: 1460 });
      await t.expect(undefined, { flags: '.', ack: IRS + 1 }, 'the ACK of the SYN-ACK');
      await t.expectState('ESTABLISHED', 'the SYN-ACK');
    },
  },
  {
    id: 'handshake.syn-sent-rst-refuses',
    title: 'in SYN-SENT a RST acknowledging the SYN refuses the connection',
    rfc: 'RFC 9293 §3.10.7.3',
    async run(t) {
      const id = await t.control.connect(t.testerAddress, t.testerPort, t.targetPort);
      const syn = await t.expect(undefined, { flags: 'S' }, 'a SYN');
      t.sendRaw({ flags: 'R.', seq: 0, ack: syn.seq + 1 });
      const read = await t.control.read(id, PROMPT_MS);
      if (read.error !== 'refused') t.differ('connect to fail with "connection refused"', read.error === undefined ? 'no error' : read.error);
      await t.expectState(modelState('SYN-SENT', 'rcv-rst'), 'the RST');
      await t.expectNothing('after the RST');
    },
  },
  {
    id: 'handshake.syn-received-rst',
    title: 'a RST in SYN-RECEIVED (passive open) ends that connection and the port still listens',
    rfc: 'RFC 9293 §3.10.7.4 (first, SYN-RECEIVED), RFC 5961 §3.2',
    async run(t) {
      await t.control.listen(t.targetPort);
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460 });
      await t.expect(undefined, { flags: 'S.', ack: IRS + 1 }, 'a SYN-ACK');
      t.sendRaw({ flags: 'R', seq: IRS + 1 });
      await t.expectNothing('after the RST');
      await t.expectState('CLOSED', 'the RST');
      t.sendRaw({ flags: 'S', seq: IRS + 5000, mss: 1460 });
      await t.expect(undefined, { flags: 'S.', ack: IRS + 5001 }, 'a SYN-ACK to a new SYN');
    },
  },
  {
    id: 'handshake.syn-received-bad-ack',
    title: 'in SYN-RECEIVED an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>',
    rfc: 'RFC 9293 §3.10.7.4 (fifth, SYN-RECEIVED)',
    async run(t) {
      await t.control.listen(t.targetPort);
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460 });
      const synAck = await t.expect(undefined, { flags: 'S.', ack: IRS + 1 }, 'a SYN-ACK');
      t.sendRaw({ flags: '.', seq: IRS + 1, ack: synAck.seq + 1000 });
      await t.expect(undefined, { flags: 'R', seq: synAck.seq + 1000 }, 'a reset');
    },
  },
  {
    id: 'handshake.syn-retransmission',
    title: 'an unanswered SYN is retransmitted after the initial RTO of 1 s, then with the timeout doubled',
    rfc: 'RFC 6298 §2.1, §5.5; RFC 9293 §3.8.1',
    needs: { waitMs: 3 * INITIAL_RTO_MS + 1000 },
    async run(t) {
      await t.control.connect(t.testerAddress, t.testerPort, t.targetPort);
      const first = await t.expect(undefined, { flags: 'S' }, 'a SYN');
      const second = await t.expect(undefined, { flags: 'S', seq: first.seq }, 'a retransmitted SYN', 2 * INITIAL_RTO_MS + 500);
      const third = await t.expect(undefined, { flags: 'S', seq: first.seq }, 'a second retransmission', 4 * INITIAL_RTO_MS + 500);
      const gap1 = second.at - first.at;
      const gap2 = third.at - second.at;
      t.note(`retransmitted after ${Math.round(gap1)} ms and ${Math.round(gap2)} ms`);
      if (gap1 < INITIAL_RTO_MS * 0.9 || gap1 > INITIAL_RTO_MS * 1.5) t.differ(`the first retransmission after ${INITIAL_RTO_MS} ms`, `${Math.round(gap1)} ms`);
      if (gap2 < gap1 * 1.8) t.differ(`the second after at least twice the first (${Math.round(2 * gap1)} ms)`, `${Math.round(gap2)} ms`);
    },
  },
  {
    id: 'handshake.syn-ack-retransmission',
    title: 'an unacknowledged SYN-ACK is retransmitted after the initial RTO of 1 s',
    rfc: 'RFC 6298 §2.1; RFC 9293 §3.8.1',
    needs: { waitMs: 2 * INITIAL_RTO_MS },
    async run(t) {
      await t.control.listen(t.targetPort);
      t.sendRaw({ flags: 'S', seq: IRS, mss: 1460 });
      const first = await t.expect(undefined, { flags: 'S.', ack: IRS + 1 }, 'a SYN-ACK');
      const again = await t.expect(undefined, { flags: 'S.', seq: first.seq, ack: IRS + 1 }, 'a retransmitted SYN-ACK', 2 * INITIAL_RTO_MS);
      const gap = again.at - first.at;
      t.note(`retransmitted after ${Math.round(gap)} ms`);
      if (gap < INITIAL_RTO_MS * 0.9 || gap > INITIAL_RTO_MS * 1.5) t.differ(`a retransmission after ${INITIAL_RTO_MS} ms`, `${Math.round(gap)} ms`);
    },
  },
];
