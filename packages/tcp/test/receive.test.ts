import { describe, expect, it } from 'vitest';
import { acceptConnection, createScript } from './helpers/script.js';

async function setup(config = {}, options = {}) {
  const s = createScript({ config: { timestamps: false, ...config } });
  const listener = s.tcp.listen(80);
  const handshake = await acceptConnection(s, listener, options);
  return { s, ...handshake };
}

describe('acknowledgments (RFC 1122 4.2.3.2, RFC 5681 §4.2)', () => {
  it('delays the ACK of a lone segment by the delayed-ACK timeout', async () => {
    const { s, irs, iss } = await setup();
    s.inject({ flags: 'P.', seq: irs + 1, ack: iss + 1, payload: 100 });
    s.expectNone();
    await s.advance(39);
    s.expectNone();
    await s.advance(1);
    s.expect({ flags: '.', ack: irs + 101 });
  });

  it('acks every second full-sized segment at once', async () => {
    const { s, irs, iss } = await setup();
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 1460 });
    s.expectNone();
    s.inject({ flags: '.', seq: irs + 1461, ack: iss + 1, payload: 1460 });
    s.expect({ flags: '.', ack: irs + 2921 });
  });

  it('acks an out-of-order segment at once with a SACK block, and the filled hole at once (RFC 2018 §4)', async () => {
    const { s, irs, iss } = await setup({}, { sackPermitted: true });
    s.inject({ flags: '.', seq: irs + 1461, ack: iss + 1, payload: 1460 });
    s.expect({ flags: '.', ack: irs + 1, sackBlocks: [{ left: irs + 1461, right: irs + 2921 }] });
    s.inject({ flags: '.', seq: irs + 2921, ack: iss + 1, payload: 1460 });
    s.expect({ flags: '.', ack: irs + 1, sackBlocks: [{ left: irs + 1461, right: irs + 4381 }] });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 1460 });
    s.expect({ flags: '.', ack: irs + 4381, sackBlocks: [] });
  });

  it('reports the block with the most recent segment first (RFC 2018 §4)', async () => {
    const { s, irs, iss } = await setup({}, { sackPermitted: true });
    s.inject({ flags: '.', seq: irs + 3001, ack: iss + 1, payload: 100 });
    s.skip();
    s.inject({ flags: '.', seq: irs + 6001, ack: iss + 1, payload: 100 });
    s.expect({ sackBlocks: [{ left: irs + 6001, right: irs + 6101 }, { left: irs + 3001, right: irs + 3101 }] });
    s.inject({ flags: '.', seq: irs + 3101, ack: iss + 1, payload: 100 });
    s.expect({ sackBlocks: [{ left: irs + 3001, right: irs + 3201 }, { left: irs + 6001, right: irs + 6101 }] });
  });

  it('sends no SACK blocks when SACK was not negotiated', async () => {
    const { s, irs, iss } = await setup();
    s.inject({ flags: '.', seq: irs + 1461, ack: iss + 1, payload: 1460 });
    s.expect({ flags: '.', ack: irs + 1, sackBlocks: [] });
  });

  it('delivers data in order after reassembly', async () => {
    const { s, irs, iss, flow } = await setup();
    const bytes = new Uint8Array(300).map((_, i) => i);
    s.inject({ flags: '.', seq: irs + 201, ack: iss + 1, payload: bytes.subarray(200) });
    s.inject({ flags: '.', seq: irs + 101, ack: iss + 1, payload: bytes.subarray(100, 200) });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: bytes.subarray(0, 150) });
    const chunks: number[] = [];
    while (chunks.length < bytes.length) chunks.push(...((await flow.read()) as Uint8Array));
    expect(chunks).toEqual(Array.from(bytes));
  });

  it('hands every byte to reads in order across receive blocks, whenever the application reads', async () => {
    const { s, irs, iss, flow } = await setup({ receiveBufferSize: 300_000 });
    const total = 250_000;
    const source = new Uint8Array(total).map((_, i) => (i * 31) >>> 3);
    const got: Uint8Array[] = [];
    let at = 0;
    let segment = 0;
    while (at < total) {
      const length = Math.min(1460, total - at);
      s.inject({ flags: '.', seq: irs + 1 + at, ack: iss + 1, payload: source.subarray(at, at + length) });
      at += length;
      // Read at irregular moments, so blocks fill past their end between reads.
      if (++segment % (1 + (segment % 53)) === 0) got.push((await flow.read()) as Uint8Array);
    }
    let have = got.reduce((n, chunk) => n + chunk.length, 0);
    while (have < total) {
      const chunk = (await flow.read()) as Uint8Array;
      expect(chunk.length).toBeGreaterThan(0);
      got.push(chunk);
      have += chunk.length;
    }
    const joined = new Uint8Array(total);
    let offset = 0;
    for (const chunk of got) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    expect(joined).toEqual(source);
  });

  it('counts and drops out-of-order data past its limit', async () => {
    const { s, irs, iss } = await setup({ outOfOrderLimit: 1000, outOfOrderSegments: 2 });
    s.inject({ flags: '.', seq: irs + 2001, ack: iss + 1, payload: 600 });
    s.inject({ flags: '.', seq: irs + 3001, ack: iss + 1, payload: 600 });
    expect(s.tcp.stats()['out-of-order-full']).toBe(1);
    s.inject({ flags: '.', seq: irs + 5001, ack: iss + 1, payload: 10 });
    s.inject({ flags: '.', seq: irs + 6001, ack: iss + 1, payload: 10 });
    expect(s.tcp.stats()['out-of-order-full']).toBe(2);
  });
});

describe('receive window (RFC 9293 §3.8.6.2.2)', () => {
  it('closes the window when the buffer fills and reopens it when the application reads', async () => {
    const { s, irs, iss, flow } = await setup({ receiveBufferSize: 4096 }, { sackPermitted: false });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 1460 });
    s.inject({ flags: '.', seq: irs + 1461, ack: iss + 1, payload: 1460 });
    s.expect({ ack: irs + 2921, window: 4096 - 2920 });
    s.inject({ flags: '.', seq: irs + 2921, ack: iss + 1, payload: 1176 });
    await s.advance(40);
    s.expect({ ack: irs + 4097, window: 0 });
    // Beyond a zero window, data is not accepted.
    s.inject({ flags: '.', seq: irs + 4097, ack: iss + 1, payload: 100 });
    s.expect({ ack: irs + 4097, window: 0 });
    const chunk = await flow.read();
    expect(chunk?.length).toBe(4096);
    s.expect({ flags: '.', ack: irs + 4097, window: 4096 });
  });

  it('does not move the right edge for a small increase (receiver SWS avoidance)', async () => {
    const { s, irs, iss, flow } = await setup({ receiveBufferSize: 10_000 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 500 });
    await s.advance(40);
    s.expect({ ack: irs + 501, window: 9500 });
    await flow.read();
    s.expectNone();
    s.inject({ flags: '.', seq: irs + 501, ack: iss + 1, payload: 100 });
    await s.advance(40);
    // 500 bytes freed is below min(RCV.BUFF / 2, MSS): the edge stays where it was.
    s.expect({ ack: irs + 601, window: 9400 });
  });

  it('trims data beyond the window and keeps what fits', async () => {
    const { s, irs, iss, flow } = await setup({ receiveBufferSize: 2000 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 3000 });
    await s.advance(40);
    s.expect({ ack: irs + 2001 });
    expect((await flow.read())?.length).toBe(2000);
    expect(s.tcp.stats()['trimmed-to-window']).toBe(1);
  });

  it('scales the window it advertises by its shift (RFC 7323 §2.3)', async () => {
    const { s, irs, iss } = await setup({ receiveBufferSize: 1 << 20 }, { windowScale: 0 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 100 });
    await s.advance(40);
    s.expect({ ack: irs + 101, window: Math.ceil(((1 << 20) - 100) / 32) });
  });
});

describe('timestamps (RFC 7323)', () => {
  it('echoes the timestamp of the segment at the left window edge', async () => {
    const { s, irs, iss } = await setup({ timestamps: true }, { tsVal: 100 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 1460, tsVal: 200 });
    s.inject({ flags: '.', seq: irs + 1461, ack: iss + 1, payload: 1460, tsVal: 201 });
    s.expect({ ack: irs + 2921, tsEcr: 200 });
  });

  it('drops a segment with an older timestamp and acknowledges (PAWS, RFC 7323 §5.3)', async () => {
    const { s, irs, iss, flow } = await setup({ timestamps: true }, { tsVal: 100 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 10, tsVal: 50 });
    s.expect({ flags: '.', ack: irs + 1 });
    expect(s.tcp.stats()['paws-rejected']).toBe(1);
    expect(flow.info().bytesReceived).toBe(0);
  });

  it('drops a non-RST segment without timestamps once they are on (RFC 7323 §3.2)', async () => {
    const { s, irs, iss } = await setup({ timestamps: true }, { tsVal: 100 });
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 1, payload: 10 });
    s.expectNone();
    expect(s.tcp.stats()['missing-timestamp']).toBe(1);
  });

  it('measures the RTT from echoed timestamps', async () => {
    const { s, irs, iss, flow } = await setup({ timestamps: true }, { tsVal: 100 });
    await flow.write(new Uint8Array(100));
    const sent = s.expect({ length: 100 });
    await s.advance(30);
    s.inject({ flags: '.', seq: irs + 1, ack: iss + 101, tsVal: 300, tsEcr: sent.tsVal });
    // The handshake gave a first sample of 0 ms; this one is 30 ms: SRTT = 7/8·0 + 1/8·30 (RFC 6298 §2.3).
    expect(flow.info().srtt).toBe(3.75);
    expect(flow.info().rttvar).toBeGreaterThan(0);
  });
});
