import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionRefused, LimitExceeded, TimeoutError, UnreachableError } from '@morgana/core';
import { REMOTE, acceptConnection, createScript } from './helpers/script.js';
import { SYN_COOKIE_MSS } from '../src/isn.js';

describe('listen backlog and SYN cookies', () => {
  it('answers SYNs past the backlog with SYN cookies and keeps no state for them', () => {
    const s = createScript();
    s.tcp.listen(80, { backlog: 2 });
    for (let port = 1; port <= 5; port++) s.inject({ flags: 'S', seq: 1000, sourcePort: port, mss: 1460 });
    expect(s.pending.filter((segment) => segment.flags === 0x12)).toHaveLength(5);
    expect(s.tcp.stats().connections).toBe(2);
    expect(s.tcp.stats()['syn-cookies-sent']).toBe(3);
  });

  it('completes a connection from a valid cookie, with the MSS, window scale and SACK it encoded', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80, { backlog: 1 });
    s.inject({ flags: 'S', seq: 1, sourcePort: 1 });
    s.skip();
    s.inject({ flags: 'S', seq: 1000, mss: 1400, windowScale: 5, sackPermitted: true, tsVal: 77 });
    const cookie = s.expect({ flags: 'S.', ack: 1001, sackPermitted: true, windowScale: 3, tsEcr: 77 });
    expect(s.tcp.stats().connections).toBe(1);
    s.inject({ flags: '.', seq: 1001, ack: cookie.seq + 1, tsVal: 78, tsEcr: cookie.tsVal, window: 100, payload: 10 });
    const flow = await listener.accept();
    expect(flow.info().state).toBe('ESTABLISHED');
    // 1400 is not in the cookie table: the largest entry below it is used.
    expect(flow.info().mss).toBe(SYN_COOKIE_MSS[1] - 12);
    expect(flow.info().sndWnd).toBe(100 << 5);
    expect(await flow.read()).toEqual(new Uint8Array(10).fill(0x61));
    expect(s.tcp.stats()['syn-cookies-accepted']).toBe(1);
  });

  it('completes a cookie connection without timestamps, without window scaling or SACK', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80, { backlog: 1 });
    s.inject({ flags: 'S', seq: 1, sourcePort: 1 });
    s.skip();
    s.inject({ flags: 'S', seq: 1000, mss: 1460, windowScale: 5, sackPermitted: true });
    const cookie = s.expect({ flags: 'S.', windowScale: null, sackPermitted: false, hasTimestamp: false });
    s.inject({ flags: '.', seq: 1001, ack: cookie.seq + 1, window: 1000 });
    const flow = await listener.accept();
    expect(flow.info().mss).toBe(1460);
    expect(flow.info().sndWnd).toBe(1000);
  });

  it('answers a forged cookie with a reset and counts it', () => {
    const s = createScript();
    s.tcp.listen(80, { backlog: 1 });
    s.inject({ flags: '.', seq: 1001, ack: 123_456 });
    s.expect({ flags: 'R', seq: 123_456 });
    expect(s.tcp.stats()['syn-cookie-invalid']).toBe(1);
    expect(s.tcp.stats().connections).toBe(0);
  });

  it('refuses a cookie older than its validity', async () => {
    const s = createScript();
    s.tcp.listen(80, { backlog: 1 });
    s.inject({ flags: 'S', seq: 1, sourcePort: 1 });
    s.skip();
    s.inject({ flags: 'S', seq: 1000 });
    const cookie = s.expect({ flags: 'S.' });
    await s.advance(4 * 64_000);
    s.skip();
    s.inject({ flags: '.', seq: 1001, ack: cookie.seq + 1 });
    s.expect({ flags: 'R' });
    expect(s.tcp.stats()['syn-cookie-invalid']).toBe(1);
  });

  it('drops SYNs past the backlog when cookies are off', () => {
    const s = createScript({ config: { synCookies: false } });
    s.tcp.listen(80, { backlog: 2 });
    for (let port = 1; port <= 5; port++) s.inject({ flags: 'S', seq: 1000, sourcePort: port });
    expect(s.pending).toHaveLength(2);
    expect(s.tcp.stats()['backlog-full']).toBe(3);
  });

  it('counts unaccepted connections against the backlog and resets them when the listener closes', async () => {
    const s = createScript({ config: { synCookies: false, timestamps: false } });
    const listener = s.tcp.listen(80, { backlog: 1 });
    s.inject({ flags: 'S', seq: 1000 });
    const synAck = s.expect({ flags: 'S.' });
    s.inject({ flags: '.', seq: 1001, ack: synAck.seq + 1 });
    s.inject({ flags: 'S', seq: 1000, sourcePort: 2 });
    expect(s.tcp.stats()['backlog-full']).toBe(1);
    listener.close();
    s.expect({ flags: 'R', seq: synAck.seq + 1 });
    await expect(listener.accept()).rejects.toThrow(/closed/);
    expect(s.tcp.stats().connections).toBe(0);
  });

  it('bounds the number of connections (maxConnections)', async () => {
    const s = createScript({ config: { maxConnections: 2 } });
    s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1, sourcePort: 1 });
    void s.tcp.connect(REMOTE, 9);
    s.inject({ flags: 'S', seq: 1, sourcePort: 3 });
    expect(s.tcp.stats()['connection-limit']).toBe(1);
    await expect(s.tcp.connect(REMOTE, 9)).rejects.toBeInstanceOf(LimitExceeded);
  });

  it('refuses a second listener on a port', () => {
    const s = createScript();
    s.tcp.listen(80);
    expect(() => s.tcp.listen(80)).toThrow(/already/);
  });
});

describe('ICMP errors (RFC 1122 4.2.3.9, RFC 5927)', () => {
  function quote(sourcePort: number, destinationPort: number, seq: number): Uint8Array {
    const header = new Uint8Array(8);
    new DataView(header.buffer).setUint16(0, sourcePort);
    new DataView(header.buffer).setUint16(2, destinationPort);
    new DataView(header.buffer).setUint32(4, seq);
    return header;
  }

  it('fails connect with ConnectionRefused on port unreachable in SYN-SENT', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000);
    const syn = s.expect({ flags: 'S' });
    s.icmp({ type: 3, code: 3, transportHeader: quote(syn.sourcePort, 40_000, syn.seq), nextHopMtu: 0, error: new ConnectionRefused() });
    await expect(connecting).rejects.toBeInstanceOf(ConnectionRefused);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('keeps a soft error and reports it if the connection then times out', async () => {
    const s = createScript({ config: { synRetries: 1 } });
    const connecting = s.tcp.connect(REMOTE, 40_000);
    let failure: unknown;
    connecting.catch((error: unknown) => {
      failure = error;
    });
    const syn = s.expect({ flags: 'S' });
    s.icmp({ type: 3, code: 1, transportHeader: quote(syn.sourcePort, 40_000, syn.seq), nextHopMtu: 0, error: new UnreachableError('host unreachable') });
    await s.settle();
    expect(failure).toBeUndefined();
    await s.advance(10_000);
    expect(failure).toBeInstanceOf(UnreachableError);
  });

  it('ignores an ICMP error quoting a sequence number outside the send window', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000);
    const syn = s.expect({ flags: 'S' });
    s.icmp({ type: 3, code: 3, transportHeader: quote(syn.sourcePort, 40_000, syn.seq + 100_000), nextHopMtu: 0, error: new ConnectionRefused() });
    expect(s.tcp.stats()['icmp-out-of-window']).toBe(1);
    void connecting;
  });

  it('lowers the MSS on fragmentation needed and resends in smaller segments (RFC 1191)', async () => {
    const s = createScript({ config: { timestamps: false } });
    const listener = s.tcp.listen(80);
    const { flow, iss } = await acceptConnection(s, listener);
    await flow.write(new Uint8Array(2000));
    s.expect({ seq: iss + 1, length: 1460 });
    s.skip();
    s.icmp({ type: 3, code: 4, transportHeader: quote(80, s.remotePort, iss + 1), nextHopMtu: 1000, error: new UnreachableError('fragmentation needed') });
    expect(flow.info().mss).toBe(960);
    s.expect({ seq: iss + 1, length: 960 });
  });

  it('counts ICMP errors for no connection', () => {
    const s = createScript();
    s.icmp({ type: 3, code: 3, transportHeader: quote(1, 2, 3), nextHopMtu: 0, error: new ConnectionRefused() });
    expect(s.tcp.stats()['icmp-no-connection']).toBe(1);
  });
});

describe('malformed input is counted and dropped, never thrown', () => {
  it('counts a bad checksum', () => {
    const s = createScript();
    s.tcp.listen(80);
    s.inject({ flags: 'S', seq: 1 }, { badChecksum: true });
    s.expectNone();
    expect(s.tcp.stats()['bad-checksum']).toBe(1);
  });

  it('skips checksum verification when the device verified it', () => {
    const s = createScript();
    s.tcp.listen(80);
    const bytes = s.build({ flags: 'S', seq: 1 }, true);
    s.injectBytes(bytes, false, true);
    s.expect({ flags: 'S.' });
  });

  it('counts truncated segments, a bad data offset and bad option lengths', () => {
    const s = createScript();
    s.injectBytes(new Uint8Array(10), false, true);
    const bytes = s.build({ flags: 'S', seq: 1 });
    bytes[12] = 0x30;
    s.injectBytes(bytes, false, true);
    const options = s.build({ flags: 'S', seq: 1, mss: 1460 });
    options[21] = 9;
    s.injectBytes(options, false, true);
    expect(s.tcp.stats()).toMatchObject({ truncated: 1, 'bad-data-offset': 1, 'bad-option-length': 1 });
    s.expectNone();
  });

  it('never throws from the receive path, whatever the bytes and state', async () => {
    const s = createScript();
    const listener = s.tcp.listen(80);
    const { iss } = await acceptConnection(s, listener, { tsVal: 1, sackPermitted: true, windowScale: 2 });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.boolean(), (bytes, aimed) => {
        if (aimed && bytes.length >= 20) {
          // Aim at the connection: right ports, plausible numbers.
          new DataView(bytes.buffer, bytes.byteOffset).setUint16(0, 40_000);
          new DataView(bytes.buffer, bytes.byteOffset).setUint16(2, 80);
          new DataView(bytes.buffer, bytes.byteOffset).setUint32(8, iss + 1);
        }
        expect(() => s.injectBytes(bytes, false, true)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});

describe('sequence numbers (RFC 6528)', () => {
  it('gives each 4-tuple its own ISN, advancing with the 4 µs clock', async () => {
    const s = createScript();
    void s.tcp.connect(REMOTE, 1, { localPort: 50_000 });
    void s.tcp.connect(REMOTE, 2, { localPort: 50_000 });
    const [first, second] = s.pending;
    expect(first.seq).not.toBe(second.seq);
    const again = createScript();
    await again.advance(1000);
    void again.tcp.connect(REMOTE, 1, { localPort: 50_000 });
    // Same secret (seed), same 4-tuple, 1 s later: 250 000 ticks further.
    expect((again.pending[0].seq - first.seq) >>> 0).toBe(250_000);
  });

  it('times out a connect that is never answered', async () => {
    const s = createScript();
    const connecting = s.tcp.connect(REMOTE, 40_000, { timeout: 100 });
    const outcome = connecting.then(
      () => 'connected',
      (error: unknown) => error,
    );
    await s.advance(100);
    expect(await outcome).toBeInstanceOf(TimeoutError);
  });
});
