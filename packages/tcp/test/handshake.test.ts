import { describe, expect, it } from 'vitest';
import { ConnectionRefused, TimeoutError } from '@morgana/core';
import { REMOTE, acceptConnection, createScript } from './helpers/script.js';

describe('opening (RFC 9293 §3.5)', () => {
  it('answers a SYN with a SYN-ACK carrying MSS, window scale, SACK-permitted and timestamps', async () => {
    const s = createScript();
    s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1000, mss: 1460, windowScale: 7, sackPermitted: true, tsVal: 555 });
    const synAck = s.expect({ flags: 'S.', ack: 1001, mss: 1460, windowScale: 3, sackPermitted: true, tsEcr: 555, hasTimestamp: true });
    // The window in a SYN is never scaled (RFC 7323 §2.2).
    expect(synAck.window).toBe(65_535);
  });

  it('offers only the options the peer offered in its SYN (RFC 7323 §2.2, RFC 2018 §2)', () => {
    const s = createScript();
    s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1000, mss: 1460 });
    s.expect({ flags: 'S.', windowScale: null, sackPermitted: false, hasTimestamp: false });
  });

  it('clamps the advertised MSS to the route MTU less 40 bytes', () => {
    const s = createScript({ mtu: 1280 });
    s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1, mss: 9000 });
    s.expect({ flags: 'S.', mss: 1240 });
  });

  it('completes a passive open and hands the flow to accept()', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { flow } = await acceptConnection(s, listener, { tsVal: 10, sackPermitted: true, windowScale: 2 });
    expect(flow.info().state).toBe('ESTABLISHED');
    s.expectNone();
  });

  it('hands connections to onConnection when given', async () => {
    const s = createScript();
    const flows: unknown[] = [];
    s.tcp.listen(80, { onConnection: (flow) => flows.push(flow) });
    s.inject({ flags: 'S', seq: 1000 });
    const synAck = s.expect({ flags: 'S.' });
    s.inject({ flags: '.', seq: 1001, ack: synAck.seq + 1 });
    expect(flows).toHaveLength(1);
  });

  it('sends a SYN with options and completes an active open', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000);
    const syn = s.expect({ flags: 'S', mss: 1460, windowScale: 3, sackPermitted: true, tsEcr: 0, hasTimestamp: true });
    expect(syn.sourcePort).toBeGreaterThanOrEqual(49_152);
    s.localPort = syn.sourcePort;
    s.inject({ flags: 'S.', seq: 7000, ack: syn.seq + 1, mss: 1400, windowScale: 1, sackPermitted: true, tsVal: 99, tsEcr: syn.tsVal });
    s.expect({ flags: '.', seq: syn.seq + 1, ack: 7001, tsEcr: 99 });
    const flow = await connecting;
    expect(flow.info().mss).toBe(1400 - 12);
    expect(flow.info().state).toBe('ESTABLISHED');
  });

  it('uses 536 as the send MSS when the peer sends no MSS option (RFC 9293 §3.7.1)', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000);
    const syn = s.expect({ flags: 'S' });
    s.localPort = syn.sourcePort;
    s.inject({ flags: 'S.', seq: 7000, ack: syn.seq + 1 });
    const flow = await connecting;
    expect(flow.info().mss).toBe(536);
  });

  it('completes a simultaneous open through SYN-RECEIVED (RFC 9293 Figure 8)', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000, { localPort: 50_000 });
    const syn = s.expect({ flags: 'S' });
    s.localPort = 50_000;
    s.inject({ flags: 'S', seq: 300, mss: 1460 });
    s.expect({ flags: 'S.', seq: syn.seq, ack: 301 });
    s.inject({ flags: 'S.', seq: 300, ack: syn.seq + 1 });
    s.expect({ flags: '.', seq: syn.seq + 1, ack: 301 });
    const flow = await connecting;
    expect(flow.info().state).toBe('ESTABLISHED');
    expect(s.tcp.stats()['simultaneous-open']).toBe(1);
  });

  it('fails connect with ConnectionRefused on a RST that acknowledges the SYN', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000);
    const syn = s.expect({ flags: 'S' });
    s.localPort = syn.sourcePort;
    s.inject({ flags: 'R.', seq: 0, ack: syn.seq + 1 });
    await expect(connecting).rejects.toBeInstanceOf(ConnectionRefused);
    expect(s.tcp.stats().connections).toBe(0);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('ignores a RST without an acceptable ACK in SYN-SENT (RFC 9293 §3.10.7.3)', async () => {
    const s = createScript();
    void s.tcp.connect(REMOTE, 40_000);
    const syn = s.expect({ flags: 'S' });
    s.localPort = syn.sourcePort;
    s.inject({ flags: 'R', seq: 0 });
    s.inject({ flags: 'R.', seq: 0, ack: syn.seq + 5 });
    s.expectNone();
    expect(s.tcp.stats().connections).toBe(1);
  });

  it('answers a bad ACK in SYN-SENT with a reset <SEQ=SEG.ACK><CTL=RST>', () => {
    const s = createScript();
    void s.tcp.connect(REMOTE, 40_000);
    const syn = s.expect({ flags: 'S' });
    s.localPort = syn.sourcePort;
    s.inject({ flags: 'S.', seq: 1, ack: syn.seq + 77 });
    s.expect({ flags: 'R', seq: syn.seq + 77 });
  });

  it('retransmits the SYN with exponential backoff and times out (RFC 6298 §5.5)', async () => {
    const s = createScript({ config: { synRetries: 3 } });
    const connecting = s.tcp.connect(REMOTE, 40_000, { timeout: 1_000_000 });
    let failure: unknown;
    connecting.catch((error: unknown) => {
      failure = error;
    });
    const times: number[] = [s.expect({ flags: 'S' }).at];
    for (let i = 0; i < 3; i++) {
      await s.advance(20_000);
      times.push(s.expect({ flags: 'S' }).at);
    }
    expect(times).toEqual([0, 1000, 3000, 7000]);
    await s.advance(20_000);
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('fails connect after its timeout', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000, { timeout: 2500 });
    let failure: unknown;
    connecting.catch((error: unknown) => {
      failure = error;
    });
    await s.advance(2400);
    expect(failure).toBeUndefined();
    await s.advance(200);
    expect(failure).toBeInstanceOf(TimeoutError);
  });

  it('retransmits the SYN-ACK when the peer repeats its SYN, and drops the half-open connection after the SYN retries', async () => {
    const s = createScript({ config: { synRetries: 2 } });
    s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1000 });
    const synAck = s.expect({ flags: 'S.' });
    s.inject({ flags: 'S', seq: 1000 });
    s.expect({ flags: 'S.', seq: synAck.seq, ack: 1001 });
    await s.advance(1000);
    s.expect({ flags: 'S.', seq: synAck.seq });
    await s.advance(2000);
    s.expect({ flags: 'S.', seq: synAck.seq });
    await s.advance(10_000);
    s.expectNone();
    expect(s.tcp.stats().connections).toBe(0);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('answers an unacceptable ACK in SYN-RECEIVED with a reset', () => {
    const s = createScript();
    s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1000 });
    const synAck = s.expect({ flags: 'S.' });
    s.inject({ flags: '.', seq: 1001, ack: synAck.seq + 10 });
    s.expect({ flags: 'R', seq: synAck.seq + 10 });
  });

  it('connect picks distinct ephemeral ports and refuses a 4-tuple in use', async () => {
    const s = createScript();
    void s.tcp.connect(REMOTE, 40_000, { localPort: 50_001 });
    await expect(s.tcp.connect(REMOTE, 40_000, { localPort: 50_001 })).rejects.toThrow(/in use/);
    void s.tcp.connect(REMOTE, 40_000);
    void s.tcp.connect(REMOTE, 40_000);
    const ports = s.pending.map((segment) => segment.sourcePort);
    expect(new Set(ports).size).toBe(3);
  });

  it('fails connect with AddressInUse once the ephemeral range is used up (RFC 6056)', async () => {
    const s = createScript({ config: { ephemeralPortMin: 50_000, ephemeralPortMax: 50_001 } });
    void s.tcp.connect(REMOTE, 40_000);
    void s.tcp.connect(REMOTE, 40_000);
    await expect(s.tcp.connect(REMOTE, 40_000)).rejects.toThrow(/no free ephemeral port/);
    // Another destination port is another 4-tuple: the same local ports serve it.
    void s.tcp.connect(REMOTE, 40_001);
    const ports = s.pending.map((segment) => segment.sourcePort);
    expect(ports).toHaveLength(3);
    expect(new Set(ports.slice(0, 2))).toEqual(new Set([50_000, 50_001]));
    expect([50_000, 50_001]).toContain(ports[2]);
  });
});
