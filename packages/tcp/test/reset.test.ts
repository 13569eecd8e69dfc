import { describe, expect, it } from 'vitest';
import { ConnectionReset } from '@morgana/core';
import { acceptConnection, createScript } from './helpers/script.js';

describe('reset generation for segments without a connection (RFC 9293 §3.10.7.1)', () => {
  it('answers a SYN to a closed port with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>', () => {
    const s = createScript();
    s.inject({ flags: 'S', seq: 1000 });
    s.expect({ flags: 'R.', seq: 0, ack: 1001 });
    expect(s.tcp.stats()['no-listener']).toBe(1);
  });

  it('answers data without ACK to a closed port counting SYN, FIN and payload in SEG.LEN', () => {
    const s = createScript();
    s.inject({ flags: 'F', seq: 500, payload: 10 });
    s.expect({ flags: 'R.', seq: 0, ack: 511 });
  });

  it('answers an ACK to a closed port with <SEQ=SEG.ACK><CTL=RST>', () => {
    const s = createScript();
    s.inject({ flags: '.', seq: 1000, ack: 77_777 });
    s.expect({ flags: 'R', seq: 77_777 });
  });

  it('never answers a RST with a RST', () => {
    const s = createScript();
    s.inject({ flags: 'R', seq: 1000 });
    s.inject({ flags: 'R.', seq: 1000, ack: 5 });
    s.expectNone();
  });

  it('answers an ACK to a listening port with a reset (RFC 9293 §3.10.7.2)', () => {
    const s = createScript({ config: { synCookies: false } });
    s.tcp.listen(80);
    s.inject({ flags: '.', seq: 1000, ack: 4242 });
    s.expect({ flags: 'R', seq: 4242 });
  });

  it('ignores a RST and a segment without SYN on a listening port', () => {
    const s = createScript();
    s.tcp.listen(80);
    s.inject({ flags: 'R', seq: 1000 });
    s.inject({ flags: 'P', seq: 1000, payload: 5 });
    s.expectNone();
  });

  it('never answers a segment sent to a broadcast address (RFC 1122 4.2.3.10)', () => {
    const s = createScript();
    s.inject({ flags: 'S', seq: 1000 }, { broadcast: true });
    s.expectNone();
    expect(s.tcp.stats().broadcast).toBe(1);
  });
});

describe('reset acceptance (RFC 5961 §3)', () => {
  it('resets the connection on a RST at exactly RCV.NXT', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { flow, irs } = await acceptConnection(s, listener);
    const reading = flow.read();
    s.inject({ flags: 'R', seq: irs + 1 });
    await expect(reading).rejects.toBeInstanceOf(ConnectionReset);
    await expect(flow.write(new Uint8Array(1))).rejects.toBeInstanceOf(ConnectionReset);
    expect(s.tcp.stats().connections).toBe(0);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('answers an in-window RST that is not exact with a challenge ACK and keeps the connection', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { flow, irs, iss } = await acceptConnection(s, listener);
    s.inject({ flags: 'R', seq: irs + 100 });
    s.expect({ flags: '.', seq: iss + 1, ack: irs + 1 });
    expect(flow.info().state).toBe('ESTABLISHED');
    expect(s.tcp.stats()['challenge-acks']).toBe(1);
  });

  it('drops a RST outside the window silently', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { flow, irs } = await acceptConnection(s, listener);
    s.inject({ flags: 'R', seq: irs + 10_000_000 });
    s.inject({ flags: 'R', seq: irs - 5 });
    s.expectNone();
    expect(flow.info().state).toBe('ESTABLISHED');
  });

  it('answers a SYN on an established connection with a challenge ACK (RFC 5961 §4)', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { flow, irs, iss } = await acceptConnection(s, listener);
    s.inject({ flags: 'S', seq: irs + 50 });
    s.expect({ flags: '.', seq: iss + 1, ack: irs + 1 });
    s.inject({ flags: 'S', seq: irs - 50_000 });
    s.expect({ flags: '.', seq: iss + 1, ack: irs + 1 });
    expect(flow.info().state).toBe('ESTABLISHED');
  });

  it('limits challenge ACKs per second (RFC 5961 §7)', async () => {
    const s = createScript({ config: { challengeAckLimit: 2 } });
    const listener = s.tcp.listen(80);
    const { irs } = await acceptConnection(s, listener);
    for (let i = 0; i < 5; i++) s.inject({ flags: 'R', seq: irs + 10 + i });
    expect(s.pending).toHaveLength(2);
    expect(s.tcp.stats()['challenge-ack-limited']).toBe(3);
    s.skip();
    await s.advance(1000);
    s.inject({ flags: 'R', seq: irs + 10 });
    expect(s.pending).toHaveLength(1);
  });

  it('drops data whose ACK is older than the largest window the peer has seen, with a challenge ACK (RFC 5961 §5.2)', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { flow, irs, iss } = await acceptConnection(s, listener);
    s.inject({ flags: 'P.', seq: irs + 1, ack: iss - 200_000, payload: 10 });
    s.expect({ flags: '.', ack: irs + 1 });
    expect(s.tcp.stats()['ack-too-old']).toBe(1);
    let got = false;
    void flow.read().then(() => {
      got = true;
    });
    await s.settle();
    expect(got).toBe(false);
  });

  it('answers an ACK for data never sent with an ACK and drops the segment', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { irs, iss } = await acceptConnection(s, listener);
    s.inject({ flags: 'P.', seq: irs + 1, ack: iss + 5000, payload: 10 });
    s.expect({ flags: '.', seq: iss + 1, ack: irs + 1 });
    expect(s.tcp.stats()['ack-future']).toBe(1);
  });

  it('abort() sends <SEQ=SND.NXT><CTL=RST> and rejects pending reads', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { flow, iss } = await acceptConnection(s, listener);
    const reading = flow.read();
    flow.abort();
    s.expect({ flags: 'R', seq: iss + 1 });
    await expect(reading).rejects.toBeInstanceOf(ConnectionReset);
    expect(s.clock.pendingTimers()).toBe(0);
  });
});
