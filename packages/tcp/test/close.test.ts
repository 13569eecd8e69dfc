import { describe, expect, it } from 'vitest';
import { ClosedError, TimeoutError } from '@morgana/core';
import { acceptConnection, createScript } from './helpers/script.js';
import type { TcpConfig } from '../src/index.js';

async function setup(config: TcpConfig = {}, options = {}) {
  const s = createScript({ config: { timestamps: false, ...config } });
  const listener = s.tcp.listen(80);
  const handshake = await acceptConnection(s, listener, options);
  return { s, ...handshake };
}

describe('closing (RFC 9293 §3.6)', () => {
  it('half-closes: after the peer FIN, reads end with null and writes go on (CLOSE-WAIT)', async () => {
    const { s, flow, iss, irs } = await setup();
    s.inject({ flags: 'PF.', seq: irs + 1, ack: iss + 1, payload: 5 });
    s.expect({ flags: '.', ack: irs + 7 });
    expect((await flow.read())?.length).toBe(5);
    expect(await flow.read()).toBeNull();
    expect(flow.info().state).toBe('CLOSE-WAIT');
    await flow.write(new Uint8Array(3));
    s.expect({ seq: iss + 1, length: 3 });
  });

  it('closes from CLOSE-WAIT through LAST-ACK to CLOSED', async () => {
    const { s, flow, iss, irs } = await setup();
    s.inject({ flags: 'F.', seq: irs + 1, ack: iss + 1 });
    s.expect({ flags: '.', ack: irs + 2 });
    const closing = flow.close();
    s.expect({ flags: 'F.', seq: iss + 1, ack: irs + 2 });
    expect(flow.info().state).toBe('LAST-ACK');
    s.inject({ flags: '.', seq: irs + 2, ack: iss + 2 });
    await closing;
    expect(flow.info().state).toBe('CLOSED');
    expect(s.tcp.stats().connections).toBe(0);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('closes actively through FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT for 2·MSL', async () => {
    const { s, flow, iss, irs } = await setup({ msl: 1000 });
    const shutdown = flow.shutdown();
    s.expect({ flags: 'F.', seq: iss + 1 });
    expect(flow.info().state).toBe('FIN-WAIT-1');
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 2 });
    await shutdown;
    expect(flow.info().state).toBe('FIN-WAIT-2');
    s.inject({ flags: 'F.', seq: irs + 1, ack: iss + 2 });
    s.expect({ flags: '.', ack: irs + 2 });
    expect(flow.info().state).toBe('TIME-WAIT');
    // A retransmitted FIN is acknowledged again and restarts the 2·MSL timer.
    await s.advance(1500);
    s.inject({ flags: 'F.', seq: irs + 1, ack: iss + 2 });
    s.expect({ flags: '.', ack: irs + 2 });
    await s.advance(1999);
    expect(flow.info().state).toBe('TIME-WAIT');
    await s.advance(1);
    expect(flow.info().state).toBe('CLOSED');
    expect(s.tcp.stats().connections).toBe(0);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('goes through CLOSING on a simultaneous close', async () => {
    const { s, flow, iss, irs } = await setup({ msl: 1000 });
    void flow.shutdown();
    s.expect({ flags: 'F.', seq: iss + 1, ack: irs + 1 });
    s.inject({ flags: 'F.', seq: irs + 1, ack: iss + 1 });
    s.expect({ flags: '.', ack: irs + 2 });
    expect(flow.info().state).toBe('CLOSING');
    s.inject({ flags: '.', seq: irs + 2, ack: iss + 2 });
    expect(flow.info().state).toBe('TIME-WAIT');
    await s.advance(2000);
    expect(flow.info().state).toBe('CLOSED');
  });

  it('goes from FIN-WAIT-1 to TIME-WAIT on a FIN that acknowledges our FIN', async () => {
    const { s, flow, iss, irs } = await setup();
    void flow.shutdown();
    s.expect({ flags: 'F.' });
    s.inject({ flags: 'F.', seq: irs + 1, ack: iss + 2 });
    s.expect({ flags: '.', ack: irs + 2 });
    expect(flow.info().state).toBe('TIME-WAIT');
  });

  it('sends the FIN after all queued data, and retransmits it', async () => {
    const { s, flow, iss } = await setup();
    await flow.write(new Uint8Array(100));
    s.expect({ flags: 'P.', seq: iss + 1, length: 100 });
    void flow.shutdown();
    s.expect({ flags: 'F.', seq: iss + 101, length: 0 });
    await s.advance(1000);
    s.expect({ flags: 'FP.', seq: iss + 1, length: 100 });
  });

  it('rejects writes after shutdown', async () => {
    const { flow } = await setup();
    void flow.shutdown();
    await expect(flow.write(new Uint8Array(1))).rejects.toBeInstanceOf(ClosedError);
  });

  it('gives up on a peer that never sends its FIN after close (FIN-WAIT-2 timeout)', async () => {
    const { s, flow, iss, irs } = await setup({ finWait2Timeout: 5000 });
    const closing = flow.close();
    s.expect({ flags: 'F.' });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 2 });
    expect(flow.info().state).toBe('FIN-WAIT-2');
    await s.advance(5000);
    await closing;
    expect(flow.info().state).toBe('CLOSED');
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('discards data arriving after close() but still acknowledges it', async () => {
    const { s, flow, iss, irs } = await setup();
    void flow.close();
    s.expect({ flags: 'F.' });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 2, payload: 1460 });
    s.inject({ flags: '.', seq: irs + 1461, ack: iss + 2, payload: 1460 });
    s.expect({ flags: '.', ack: irs + 2921 });
    expect(await flow.read()).toBeNull();
  });
});

describe('TIME-WAIT reuse (RFC 6191)', () => {
  async function inTimeWait(timestamps: boolean) {
    const s = createScript({ config: { timestamps } });
    const listener = s.tcp.listen(80);
    const { flow, iss, irs } = await acceptConnection(s, listener, timestamps ? { tsVal: 1000 } : {});
    const ts = (value: number) => (timestamps ? { tsVal: value } : {});
    void flow.shutdown();
    s.expect({ flags: 'F.' });
    s.inject({ flags: 'F.', seq: irs + 1, ack: iss + 2, ...ts(1002) });
    s.expect({ flags: '.' });
    expect(flow.info().state).toBe('TIME-WAIT');
    return { s, flow, iss, irs, ts };
  }

  it('accepts a new SYN with a higher sequence number in TIME-WAIT when timestamps are off', async () => {
    const { s, irs, iss } = await inTimeWait(false);
    s.inject({ flags: 'S', seq: irs + 100_000 });
    const synAck = s.expect({ flags: 'S.', ack: irs + 100_001 });
    expect(synAck.seq - (iss + 2)).toBeGreaterThan(0);
    expect(s.tcp.stats()['time-wait-reused']).toBe(1);
  });

  it('answers an old SYN in TIME-WAIT with an ACK instead', async () => {
    const { s, irs } = await inTimeWait(false);
    s.inject({ flags: 'S', seq: irs - 100 });
    s.expect({ flags: '.', ack: irs + 2 });
    expect(s.tcp.stats()['time-wait-reused'] ?? 0).toBe(0);
  });

  it('accepts a new SYN with a newer timestamp even with a lower sequence number', async () => {
    const { s, irs, ts } = await inTimeWait(true);
    s.inject({ flags: 'S', seq: irs - 5000, ...ts(2000) });
    s.expect({ flags: 'S.', ack: (irs - 4999) >>> 0 });
  });

  it('refuses a new SYN with an older timestamp', async () => {
    const { s, irs, ts } = await inTimeWait(true);
    s.inject({ flags: 'S', seq: irs + 100_000, ...ts(500) });
    expect(s.pending.every((segment) => segment.flags !== 0x12)).toBe(true);
  });
});

describe('keepalive (RFC 1122 4.2.3.6)', () => {
  it('probes after the idle time with SEG.SEQ = SND.NXT - 1, and an answer keeps the connection', async () => {
    const { s, flow, iss, irs } = await setup({ keepAliveInterval: 1000, keepAliveProbes: 2 });
    flow.setKeepAlive(true, 10_000);
    await s.advance(9999);
    s.expectNone();
    await s.advance(1);
    s.expect({ flags: '.', seq: iss, length: 0 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1 });
    await s.advance(10_000);
    s.expect({ flags: '.', seq: iss });
    expect(flow.info().state).toBe('ESTABLISHED');
  });

  it('drops the connection after the probes go unanswered', async () => {
    const { s, flow } = await setup({ keepAliveInterval: 1000, keepAliveProbes: 2 });
    let failure: unknown;
    flow.read().catch((error: unknown) => {
      failure = error;
    });
    flow.setKeepAlive(true, 10_000);
    await s.advance(12_000);
    expect(s.pending).toHaveLength(2);
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(s.tcp.stats()['keepalive-timeouts']).toBe(1);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('sends nothing while keepalive is off', async () => {
    const { s } = await setup();
    await s.advance(10 * 3600_000);
    s.expectNone();
    expect(s.clock.pendingTimers()).toBe(0);
  });
});
