import { describe, expect, it } from 'vitest';
import { TimeoutError } from '@morgana/core';
import { acceptConnection, createScript } from './helpers/script.js';
import type { CongestionControl } from '../src/index.js';
import type { TcpConfig } from '../src/index.js';

async function setup(config: TcpConfig = {}, options = {}) {
  const s = createScript({ config: { timestamps: false, ...config } });
  const listener = s.tcp.listen(80);
  const handshake = await acceptConnection(s, listener, options);
  return { s, ...handshake };
}

describe('sending', () => {
  it('sends an MSS-sized segment at most, within the initial window (RFC 6928)', async () => {
    const { s, flow, iss } = await setup({ congestionControl: 'newreno' });
    await flow.write(new Uint8Array(20_000));
    for (let i = 0; i < 10; i++) s.expect({ flags: i === 9 ? '.' : '.', seq: iss + 1 + i * 1460, length: 1460 });
    s.expectNone();
    expect(flow.info().cwnd).toBe(14_600);
  });

  it('honours the peer window scaled by its shift (RFC 7323 §2.3)', async () => {
    const { s, flow, iss } = await setup({}, { windowScale: 4, window: 200 });
    // The SYN's window is unscaled; the ACK of the handshake set 200 << 4 = 3200.
    await flow.write(new Uint8Array(10_000));
    s.expect({ seq: iss + 1, length: 1460 });
    s.expect({ seq: iss + 1461, length: 1460 });
    // The 280 bytes left in the window are less than half the largest window: SWS avoidance holds them.
    s.expectNone();
    expect(flow.info().sndWnd).toBe(3200);
  });

  it('holds a small segment while one is unacknowledged (Nagle, RFC 1122 4.2.3.4)', async () => {
    const { s, flow, iss, irs } = await setup();
    await flow.write(new Uint8Array(10));
    s.expect({ seq: iss + 1, length: 10, flags: 'P.' });
    await flow.write(new Uint8Array(10));
    await flow.write(new Uint8Array(10));
    s.expectNone();
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 11 });
    s.expect({ seq: iss + 11, length: 20 });
  });

  it('sends small segments at once with no-delay', async () => {
    const { s, flow, iss } = await setup();
    flow.setNoDelay(true);
    await flow.write(new Uint8Array(10));
    await flow.write(new Uint8Array(10));
    s.expect({ seq: iss + 1, length: 10 });
    s.expect({ seq: iss + 11, length: 10 });
  });

  it('sends no small segment into a small window while more data waits (sender SWS avoidance)', async () => {
    const { s, flow, iss, irs } = await setup({}, { window: 4000 });
    await flow.write(new Uint8Array(5000));
    s.expect({ seq: iss + 1, length: 1460 });
    s.expect({ seq: iss + 1461, length: 1460 });
    // 1080 bytes would fit the window but are less than an MSS and less than half of 4000.
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1461, window: 1460 + 400 });
    s.expectNone();
    // Once the window admits an MSS, it goes.
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 2921, window: 2920 });
    s.expect({ seq: iss + 2921, length: 1460 });
  });

  it('probes a zero window with backoff and resumes when it opens (RFC 9293 §3.8.6.1)', async () => {
    // The handshake's zero round trip makes the RTO the floor: RFC 6298 §2.4's 1 s here.
    const { s, flow, iss, irs } = await setup({ minRto: 1000 }, { window: 0 });
    await flow.write(new Uint8Array(100));
    s.expectNone();
    await s.advance(1000);
    s.expect({ flags: '.', seq: iss, length: 0 });
    await s.advance(1999);
    s.expectNone();
    await s.advance(1);
    s.expect({ flags: '.', seq: iss, length: 0 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, window: 1000 });
    s.expect({ seq: iss + 1, length: 100 });
    expect(s.tcp.stats()['window-probes']).toBe(2);
  });

  it('keeps probing a zero window for as long as the peer answers', async () => {
    const { s, flow, iss, irs } = await setup({ maxRetransmits: 2 }, { window: 0 });
    await flow.write(new Uint8Array(100));
    for (let i = 0; i < 6; i++) {
      await s.advance(60_000);
      s.expect({ flags: '.', seq: iss, length: 0 });
      s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, window: 0 });
    }
    expect(flow.info().state).toBe('ESTABLISHED');
  });

  it('makes write wait until the data fits the send buffer (backpressure)', async () => {
    const { s, flow, iss, irs } = await setup({ sendBufferSize: 3000 });
    let done = false;
    void flow.write(new Uint8Array(5000)).then(() => {
      done = true;
    });
    await s.settle();
    expect(done).toBe(false);
    s.expect({ seq: iss + 1, length: 1460 });
    s.expect({ seq: iss + 1461, length: 1460 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 2921 });
    await s.settle();
    expect(done).toBe(true);
  });
});

describe('retransmission (RFC 6298, RFC 5681, RFC 6582, RFC 6675)', () => {
  it('takes the passive open\'s first RTT sample from the SYN-ACK round trip (RFC 6298 §2.2)', async () => {
    const s = createScript({ config: { timestamps: false } });
    const listener = s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1000, window: 65_535, mss: 1460 });
    const synAck = s.expect({ flags: 'S.', ack: 1001 });
    const accepting = listener.accept();
    await s.advance(300);
    s.inject({ flags: '.', seq: 1001, ack: synAck.seq + 1, window: 65_535 });
    await s.settle();
    const flow = await accepting;
    // SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR = 900 ms instead of the initial 1 s.
    expect(flow.info().srtt).toBe(300);
    expect(flow.info().rto).toBe(900);
  });

  it('retransmits on timeout with exponential backoff, then gives up', async () => {
    const { s, flow, iss } = await setup({ maxRetransmits: 3, minRto: 1000 });
    let failure: unknown;
    flow.read().catch((error: unknown) => {
      failure = error;
    });
    await flow.write(new Uint8Array(100));
    s.expect({ seq: iss + 1, length: 100 });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      await s.advance(10_000);
      times.push(s.expect({ seq: iss + 1, length: 100 }).at);
    }
    expect(times).toEqual([1000, 3000, 7000]);
    await s.advance(10_000);
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(flow.info().retransmits).toBe(3);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('goes back to SND.UNA after a timeout and slow-starts from one segment (RFC 5681 §3.1)', async () => {
    const { s, flow, iss, irs } = await setup({ congestionControl: 'newreno', minRto: 1000 });
    await flow.write(new Uint8Array(5 * 1460));
    s.skip();
    await s.advance(1000);
    s.expect({ seq: iss + 1, length: 1460 });
    s.expectNone();
    expect(flow.info().cwnd).toBe(1460);
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1461 });
    s.expect({ seq: iss + 1461, length: 1460 });
    s.expect({ seq: iss + 2921, length: 1460 });
  });

  it('fast-retransmits after three duplicate ACKs and retransmits on a partial ACK (NewReno)', async () => {
    const { s, flow, iss, irs } = await setup({ congestionControl: 'newreno' });
    await flow.write(new Uint8Array(10 * 1460));
    s.skip();
    for (let i = 0; i < 2; i++) s.inject({ flags: '.', seq: irs + 1, ack: iss + 1 });
    s.expectNone();
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1 });
    s.expect({ seq: iss + 1, length: 1460 });
    expect(s.tcp.stats()['fast-retransmits']).toBe(1);
    // A partial ACK: segment 4 was lost too.
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1 + 3 * 1460 });
    s.expect({ seq: iss + 1 + 3 * 1460, length: 1460 });
    s.skip();
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1 + 10 * 1460 });
    expect(flow.info().cwnd).toBeLessThan(14_600);
  });

  it('retransmits the holes the SACK blocks reveal (RFC 6675)', async () => {
    const { s, flow, iss, irs } = await setup({ congestionControl: 'newreno' }, { sackPermitted: true });
    await flow.write(new Uint8Array(10 * 1460));
    s.skip();
    const at = (n: number) => iss + 1 + n * 1460;
    // Segments 0 and 2 lost; 1 and 3..9 arrived.
    s.inject({ flags: '.', seq: irs + 1, ack: at(0), sackBlocks: [{ left: at(1), right: at(2) }] });
    s.inject({ flags: '.', seq: irs + 1, ack: at(0), sackBlocks: [{ left: at(3), right: at(5) }, { left: at(1), right: at(2) }] });
    s.inject({ flags: '.', seq: irs + 1, ack: at(0), sackBlocks: [{ left: at(3), right: at(7) }, { left: at(1), right: at(2) }] });
    const first = s.expect({ seq: at(0), length: 1460 });
    expect(first).toBeDefined();
    const retransmitted = s.pending.map((segment) => segment.seq);
    expect(retransmitted).toContain(at(2));
    expect(retransmitted).not.toContain(at(1));
    expect(retransmitted).not.toContain(at(3));
  });

  it('uses SACK information to resend nothing the peer holds after recovery ends', async () => {
    const { s, flow, iss, irs } = await setup({ congestionControl: 'cubic' }, { sackPermitted: true });
    await flow.write(new Uint8Array(4 * 1460));
    s.skip();
    const at = (n: number) => iss + 1 + n * 1460;
    s.inject({ flags: '.', seq: irs + 1, ack: at(0), sackBlocks: [{ left: at(1), right: at(4) }] });
    s.expect({ seq: at(0), length: 1460 });
    // Whatever else recovery sends (RFC 6675 rule 4 may add a rescue retransmission), it is never SACKed data.
    expect(s.pending.every((segment) => segment.seq === at(0))).toBe(true);
    s.skip();
    s.inject({ flags: '.', seq: irs + 1, ack: at(4) });
    s.expectNone();
    expect(flow.info().state).toBe('ESTABLISHED');
  });

  it('uses a congestion controller factory given in the config', async () => {
    const calls: { mss: number; sack: boolean | undefined }[] = [];
    const { s, flow, iss } = await setup(
      {
        congestionControl: (options): CongestionControl => {
          calls.push({ mss: options.mss, sack: options.sack });
          // A controller that always allows two segments.
          return {
            name: 'fixed-two',
            cwnd: 2 * options.mss,
            ssthresh: 2 * options.mss,
            onAck: () => undefined,
            onEnterRecovery: () => undefined,
            onRecoveryAck: () => undefined,
            onExitRecovery: () => undefined,
            onRetransmitTimeout: () => undefined,
            onIdleRestart: () => undefined,
            setMss: () => undefined,
          };
        },
      },
      { sackPermitted: true },
    );
    expect(calls).toEqual([{ mss: 1460, sack: true }]);
    expect(flow.info().congestionControl).toBe('fixed-two');
    await flow.write(new Uint8Array(10 * 1460));
    s.expect({ seq: iss + 1, length: 1460 });
    s.expect({ seq: iss + 1461, length: 1460 });
    s.expectNone();
  });
});
