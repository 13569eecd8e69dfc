/** Option negotiation: MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323), SACK (RFC 2018). */
import { PROMPT_MS, pattern } from '../case.js';
import type { CaseContext, ConformanceCase, Peer } from '../case.js';
import type { ObservedSegment } from '../tester.js';
import { DEFAULT_SEND_MSS, MAX_WINDOW_SHIFT } from '../model.js';

const IRS = 2_000_000;

/** The target's data segments until `total` bytes came or the wire went quiet; acks nothing. */
async function collectData(t: CaseContext, total: number, withinMs = PROMPT_MS): Promise<ObservedSegment[]> {
  const segments: ObservedSegment[] = [];
  let bytes = 0;
  while (bytes < total) {
    const segment = await t.next(withinMs);
    if (segment === undefined) break;
    if (segment.payload.length === 0) continue;
    segments.push(segment);
    bytes += segment.payload.length;
  }
  return segments;
}

async function synAckTo(t: CaseContext, syn: Parameters<CaseContext['sendRaw']>[0]): Promise<ObservedSegment> {
  await t.control.listen(t.targetPort);
  t.sendRaw(syn);
  return t.expect(undefined, { flags: 'S.', ack: syn.seq + 1 }, 'a SYN-ACK');
}

async function sendFromTarget(t: CaseContext, peer: Peer, length: number): Promise<void> {
  if (peer.id === undefined) throw new Error('no connection');
  await t.control.send(peer.id, pattern(length));
}

export const optionCases: readonly ConformanceCase[] = [
  {
    id: 'options.mss-in-syn-ack',
    title: 'the SYN-ACK carries an MSS option no larger than the link MTU less 40',
    rfc: 'RFC 9293 §3.7.1 (MUST-14 to send, SHOULD derive from MTU), RFC 6691',
    async run(t) {
      const synAck = await synAckTo(t, { flags: 'S', seq: IRS, mss: 1460 });
      if (synAck.mss === undefined) return t.differ('an MSS option', 'none');
      if (synAck.mss > 1460) t.differ('MSS at most 1460 on a 1500-byte link', `MSS ${synAck.mss}`);
    },
  },
  {
    id: 'options.mss-default-536',
    title: 'without an MSS option from the peer, segments carry at most 536 bytes',
    rfc: 'RFC 9293 §3.7.1 (MUST-15), RFC 1122 4.2.2.6',
    async run(t) {
      const peer = await t.passiveOpen({ mss: null });
      await sendFromTarget(t, peer, 2000);
      const segments = await collectData(t, 2000);
      if (segments.length === 0) t.differ('data segments', 'none');
      const largest = Math.max(...segments.map((s) => s.payload.length));
      if (largest > DEFAULT_SEND_MSS) t.differ(`segments of at most ${DEFAULT_SEND_MSS} bytes`, `a segment of ${largest} bytes`);
    },
  },
  {
    id: 'options.mss-respected',
    title: "segments never exceed the peer's MSS",
    rfc: 'RFC 9293 §3.7.1 (MUST-16)',
    async run(t) {
      const peer = await t.passiveOpen({ mss: 700 });
      await sendFromTarget(t, peer, 3000);
      const segments = await collectData(t, 3000);
      if (segments.length === 0) t.differ('data segments', 'none');
      const largest = Math.max(...segments.map((s) => s.payload.length));
      if (largest > 700) t.differ('segments of at most 700 bytes', `a segment of ${largest} bytes`);
    },
  },
  {
    id: 'options.window-scale-only-if-offered',
    title: 'the SYN-ACK has no window scale option when the SYN had none',
    rfc: 'RFC 7323 §2.2',
    async run(t) {
      await synAckTo(t, { flags: 'S', seq: IRS, mss: 1460 }).then((synAck) => {
        if (synAck.windowScale !== undefined) t.differ('no window scale option', `window scale ${synAck.windowScale}`);
      });
    },
  },
  {
    id: 'options.window-scale-negotiated',
    title: 'a SYN with a window scale option gets one back, with a shift of at most 14',
    rfc: 'RFC 7323 §2.2, §2.3',
    async run(t) {
      const synAck = await synAckTo(t, { flags: 'S', seq: IRS, mss: 1460, windowScale: 7 });
      if (synAck.windowScale === undefined) return t.differ('a window scale option', 'none');
      if (synAck.windowScale > MAX_WINDOW_SHIFT) t.differ(`a shift of at most ${MAX_WINDOW_SHIFT}`, `shift ${synAck.windowScale}`);
      t.note(`shift ${synAck.windowScale}`);
    },
  },
  {
    id: 'options.window-scale-applied',
    title: "the peer's window field is scaled by its shift once both sides sent the option",
    rfc: 'RFC 7323 §2.2, §2.3',
    async run(t) {
      // A 256-byte field with shift 4 is 4096 bytes: 3000 bytes fit only if the shift is applied.
      const peer = await t.passiveOpen({ mss: 1000, windowScale: 4, window: 256 });
      if (peer.handshake?.windowScale === undefined) t.skip('the target offered no window scaling');
      await sendFromTarget(t, peer, 3000);
      const segments = await collectData(t, 3000);
      const sent = segments.reduce((sum, s) => sum + s.payload.length, 0);
      if (sent < 3000) t.differ('3000 bytes sent into a 4096-byte window (256 << 4) before any ACK', `${sent} bytes`);
    },
  },
  {
    id: 'options.sack-permitted-only-if-offered',
    title: 'the SYN-ACK has no SACK-permitted option when the SYN had none',
    rfc: 'RFC 2018 §2',
    async run(t) {
      const synAck = await synAckTo(t, { flags: 'S', seq: IRS, mss: 1460 });
      if (synAck.sackPermitted) t.differ('no SACK-permitted option', 'SACK-permitted');
    },
  },
  {
    id: 'options.sack-permitted-negotiated',
    title: 'a SYN with SACK-permitted gets SACK-permitted back',
    rfc: 'RFC 2018 §2',
    async run(t) {
      const synAck = await synAckTo(t, { flags: 'S', seq: IRS, mss: 1460, sackPermitted: true });
      if (!synAck.sackPermitted) t.differ('a SACK-permitted option', 'none');
    },
  },
  {
    id: 'options.sack-blocks-for-out-of-order-data',
    title: 'out-of-order data is acknowledged at once with a SACK block covering it',
    rfc: 'RFC 2018 §4, RFC 5681 §4.2',
    async run(t) {
      const peer = await t.passiveOpen({ sackPermitted: true });
      if (!(peer.handshake?.sackPermitted ?? false)) t.skip('the target did not agree to SACK');
      const start = peer.sndNxt;
      t.send(peer, { flags: 'P.', seq: start + 100, payload: 100 });
      await t.expect(peer, { flags: '.', ack: start, sackBlocks: [{ left: start + 100, right: start + 200 }] }, 'a duplicate ACK with a SACK block');
    },
  },
  {
    id: 'options.timestamps-negotiated',
    title: 'a SYN with timestamps gets a SYN-ACK with timestamps echoing its TSval',
    rfc: 'RFC 7323 §3.2',
    async run(t) {
      await synAckTo(t, { flags: 'S', seq: IRS, mss: 1460, tsVal: 4242 }).then((synAck) => {
        if (synAck.tsVal === undefined) t.differ('a timestamp option', 'none');
        if (synAck.tsEcr !== 4242) t.differ('TSecr 4242', `TSecr ${synAck.tsEcr}`);
      });
    },
  },
  {
    id: 'options.timestamps-only-if-offered',
    title: 'the SYN-ACK has no timestamp option when the SYN had none',
    rfc: 'RFC 7323 §3.2',
    async run(t) {
      const synAck = await synAckTo(t, { flags: 'S', seq: IRS, mss: 1460 });
      if (synAck.tsVal !== undefined) t.differ('no timestamp option', `TS val ${synAck.tsVal}`);
    },
  },
  {
    id: 'options.timestamps-echoed',
    title: "an ACK of data echoes the data segment's TSval in TSecr",
    rfc: 'RFC 7323 §4.3',
    async run(t) {
      const peer = await t.passiveOpen({ timestamps: true });
      if (!peer.timestamps) t.skip('the target did not agree to timestamps');
      const tsVal = peer.tsVal;
      t.send(peer, { flags: 'P.', payload: 100 });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt, tsEcr: tsVal }, 'an ACK echoing the TSval', 600);
    },
  },
  {
    id: 'options.unknown-option-ignored',
    title: 'a SYN with an option of unknown kind is answered as if the option were absent',
    rfc: 'RFC 9293 §3.1 (MUST-6), §3.2',
    async run(t) {
      await t.control.listen(t.targetPort);
      // MSS 1460, then kind 253 (RFC 4727 experimental) of length 4.
      t.sendRaw({ flags: 'S', seq: IRS, rawOptions: new Uint8Array([2, 4, 0x05, 0xb4, 253, 4, 0x12, 0x34]) });
      await t.expect(undefined, { flags: 'S.', ack: IRS + 1 }, 'a SYN-ACK');
    },
  },
  {
    id: 'options.paws-old-timestamp-dropped',
    title: 'a segment whose TSval is older than TS.Recent is dropped and acknowledged',
    rfc: 'RFC 7323 §5.3 (R1)',
    async run(t) {
      const peer = await t.passiveOpen({ timestamps: true });
      if (!peer.timestamps) t.skip('the target did not agree to timestamps');
      t.send(peer, { flags: 'P.', payload: 10 });
      await t.expect(peer, { flags: '.', ack: peer.sndNxt }, 'an ACK of the first data', 600);
      const before = peer.sndNxt;
      t.send(peer, { flags: 'P.', payload: 10, tsVal: 1 });
      await t.expect(peer, { flags: '.', ack: before }, 'an ACK that does not cover the stale segment', 600);
      const read = await t.readBytes(peer, 20, 200);
      if (read.data.length !== 10) t.differ('only the first 10 bytes delivered', `${read.data.length} bytes`);
    },
  },
];
