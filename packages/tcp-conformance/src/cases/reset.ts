/** Reset validation and blind-attack defences: RFC 9293 §3.10.7.4 with RFC 5961. */
import { TcpFlag } from '@morgana/tcp';
import { PROMPT_MS, flagsText } from '../case.js';
import type { ConformanceCase } from '../case.js';
import { classifyReset, modelState } from '../model.js';

/** A receive window the tester assumes the target offers at least (every stack offers more than 1 KiB). */
const SMALL_WINDOW = 1024;

export const resetCases: readonly ConformanceCase[] = [
  {
    id: 'reset.exact-rst-closes',
    title: 'a RST whose sequence number is exactly RCV.NXT resets the connection',
    rfc: 'RFC 5961 §3.2, RFC 9293 §3.10.7.4 (fourth)',
    async run(t) {
      const peer = await t.passiveOpen();
      if (classifyReset(peer.sndNxt, peer.sndNxt, SMALL_WINDOW) !== 'accept') throw new Error('model: an exact RST must be accepted');
      t.send(peer, { flags: 'R', seq: peer.sndNxt });
      await t.expectNothing('after an acceptable RST');
      await t.expectState(modelState('ESTABLISHED', 'rcv-rst'), 'the RST');
      const read = await t.readBytes(peer, 1, PROMPT_MS);
      if (read.error !== 'reset') t.differ('reads to fail with "connection reset"', read.error ?? (read.eof ? 'end of stream' : 'no error'));
    },
  },
  {
    id: 'reset.in-window-rst-challenged',
    title: 'a RST inside the window but not at RCV.NXT gets a challenge ACK and the connection stays',
    rfc: 'RFC 5961 §3.2',
    async run(t) {
      const peer = await t.passiveOpen();
      const seq = peer.sndNxt + 100;
      if (classifyReset(seq, peer.sndNxt, SMALL_WINDOW) !== 'challenge') throw new Error('model: an in-window RST must be challenged');
      t.send(peer, { flags: 'R', seq });
      await t.expect(peer, { flags: '.', seq: peer.iss + 1, ack: peer.sndNxt, length: 0 }, 'a challenge ACK');
      await t.expectState('ESTABLISHED', 'an in-window RST');
    },
  },
  {
    id: 'reset.out-of-window-rst-dropped',
    title: 'a RST outside the window is dropped silently',
    rfc: 'RFC 5961 §3.2, RFC 9293 §3.10.7.4 (first)',
    async run(t) {
      const peer = await t.passiveOpen();
      const seq = peer.sndNxt + 0x4000_0000;
      if (classifyReset(seq >>> 0, peer.sndNxt, 0x3fff_ffff) !== 'drop') throw new Error('model: an out-of-window RST must be dropped');
      t.send(peer, { flags: 'R', seq });
      t.send(peer, { flags: 'R', seq: peer.sndNxt - 10 });
      await t.expectNothing('after RSTs outside the window');
      await t.expectState('ESTABLISHED', 'RSTs outside the window');
    },
  },
  {
    id: 'reset.syn-in-synchronized-state-challenged',
    title: 'a SYN on an established connection gets a challenge ACK and the connection stays',
    rfc: 'RFC 5961 §4.2, RFC 9293 §3.10.7.4 (fourth)',
    async run(t) {
      const peer = await t.passiveOpen();
      t.send(peer, { flags: 'S', seq: peer.sndNxt + 50, ack: 0 });
      await t.expect(peer, { flags: '.', seq: peer.iss + 1, ack: peer.sndNxt, length: 0 }, 'a challenge ACK');
      await t.expectState('ESTABLISHED', 'a SYN in ESTABLISHED');
    },
  },
  {
    id: 'reset.abort-sends-rst',
    title: 'the user ABORT sends <SEQ=SND.NXT><CTL=RST> and closes the connection',
    rfc: 'RFC 9293 §3.10.5',
    async run(t) {
      const peer = await t.passiveOpen();
      if (peer.id === undefined) throw new Error('no connection');
      await t.control.abort(peer.id);
      const rst = await t.expect(peer, { seq: peer.iss + 1 }, 'a RST');
      if ((rst.flags & TcpFlag.rst) === 0) t.differ('a RST', `flags ${flagsText(rst.flags)}`);
      if ((rst.flags & TcpFlag.ack) !== 0) t.note('the RST carries an ACK as well (allowed: the RFC shows <CTL=RST> only)');
      await t.expectState(modelState('ESTABLISHED', 'abort'), 'ABORT');
    },
  },
];
