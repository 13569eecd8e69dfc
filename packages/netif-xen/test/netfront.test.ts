import { bytesEqual, parseIpv4 } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import { afterEach, describe, expect, it } from 'vitest';
import { XenbusState } from '../src/xenbus-state.js';
import { GUEST_MAC, type XenHost, createXenHost } from './harness.js';

let host: XenHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

const PEER = parseIpv4('10.0.0.1');

describe('netfront over rings to a simulated netback bridged to the simulator', () => {
  it('negotiates over xenbus: features, ring refs, event channel, MAC from xenstore, both ends Connected', async () => {
    host = await createXenHost();
    const front = await host.openNetfront();
    expect(front.xenbus.state).toBe(XenbusState.Connected);
    expect(front.xenbus.history).toEqual([XenbusState.Initialising, XenbusState.Initialised, XenbusState.Connected]);
    expect(host.netback.state()).toBe(XenbusState.Connected);
    expect(front.mac).toBe(Number.parseInt(GUEST_MAC.replaceAll(':', ''), 16));
    expect(front.features).toEqual({ sg: true, rxNotify: true, csumOffload: true });
    const path = front.path;
    expect(host.store.peek(`${path}/request-rx-copy`)).toBe('1');
    expect(host.store.peek(`${path}/feature-sg`)).toBe('1');
    expect(host.store.peek(`${path}/feature-rx-notify`)).toBe('1');
    expect(Number(host.store.peek(`${path}/tx-ring-ref`))).toBeGreaterThanOrEqual(8);
    expect(Number(host.store.peek(`${path}/event-channel`))).toBeGreaterThan(0);
  });

  it('carries ping, UDP and TCP for createDirectStack({ netif: netfront })', async () => {
    host = await createXenHost();
    const front = await host.openNetfront();
    const guest = createDirectStack({ netif: front, ipv4: { address: '10.0.0.2/24' } });
    try {
      const pong = await guest.icmp.ping(PEER, { size: 1200 });
      expect(pong.size).toBe(1200);

      const server = host.peer.udp.bind({ port: 7 });
      server.onMessage((d) => server.send(d.data, d.address, d.port));
      const client = guest.udp.bind();
      const payload = new Uint8Array(3000).map((_, i) => i & 0xff);
      client.send(payload, PEER, 7);
      const echoed = await client.receive();
      expect(bytesEqual(echoed.data, payload)).toBe(true);

      const listener = host.peer.tcp.listen(80);
      const accepted = listener.accept();
      const flow = await guest.tcp.connect(PEER, 80);
      const serverFlow = await accepted;
      const data = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
      const reading = (async () => {
        const chunks: Uint8Array[] = [];
        let n = 0;
        for (;;) {
          const chunk = await serverFlow.read();
          if (chunk === null) break;
          chunks.push(chunk);
          n += chunk.length;
        }
        const all = new Uint8Array(n);
        let at = 0;
        for (const c of chunks) {
          all.set(c, at);
          at += c.length;
        }
        return all;
      })();
      await flow.write(data);
      await flow.shutdown();
      const received = await reading;
      expect(bytesEqual(received, data)).toBe(true);
      await Promise.all([flow.close(), serverFlow.close()]);
      listener.close();
      expect(front.stats().txFrames).toBeGreaterThan(100);
      expect(front.stats().rxFrames).toBeGreaterThan(10);
      expect(host.netback.counters()['tx-frames']).toBe(front.stats().txFrames);
    } finally {
      await guest.close();
    }
  });

  it('sends frames longer than a slot as NETTXF_more_data chains (feature-sg)', async () => {
    host = await createXenHost();
    const front = await host.openNetfront({ txSlotBytes: 256 });
    const guest = createDirectStack({ netif: front, ipv4: { address: '10.0.0.2/24' } });
    try {
      const pong = await guest.icmp.ping(PEER, { size: 1400 });
      expect(pong.size).toBe(1400);
      expect(host.netback.counters()['tx-frames']).toBeGreaterThan(0);
      expect(front.counters()['tx-error-response']).toBeUndefined();
    } finally {
      await guest.close();
    }
  });

  it('receives frames split over several rx slots (NETRXF_more_data)', async () => {
    host = await createXenHost({ netback: { rxSlotBytes: 300 } });
    const front = await host.openNetfront();
    const guest = createDirectStack({ netif: front, ipv4: { address: '10.0.0.2/24' } });
    try {
      const pong = await guest.icmp.ping(PEER, { size: 1400 });
      expect(pong.size).toBe(1400);
    } finally {
      await guest.close();
    }
  });

  it('refuses multi-slot frames when the back end lacks feature-sg, and counts the drop', async () => {
    host = await createXenHost({ netback: { sg: false } });
    const front = await host.openNetfront({ txSlotBytes: 256 });
    expect(front.features.sg).toBe(false);
    expect(front.write(600, (b) => b.length)).toBe(false);
    expect(front.counters()['tx-needs-sg']).toBe(1);
    expect(front.stats().txDropped).toBe(1);
  });

  it('drops received frames when no buffer is posted (rxBuffers limit)', async () => {
    host = await createXenHost();
    const front = await host.openNetfront({ rxBuffers: 2 });
    front.listen(() => undefined);
    // Let the peer's start-up ARP announcements pass first.
    await new Promise((r) => setTimeout(r, 50));
    const base = front.stats().rxFrames;
    const frame = new Uint8Array(60);
    expect(host.netback.input(frame)).toBe(true);
    expect(host.netback.input(frame)).toBe(true);
    expect(host.netback.input(frame)).toBe(false);
    expect(host.netback.counters()['rx-no-buffer']).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(front.stats().rxFrames).toBe(base + 2);
    // The buffers were reposted: the back end can deliver again.
    expect(host.netback.input(frame)).toBe(true);
  });

  it('tears down cleanly when the back end disappears mid-transfer', async () => {
    host = await createXenHost();
    const front = await host.openNetfront();
    const guest = createDirectStack({ netif: front, ipv4: { address: '10.0.0.2/24' } });
    await guest.icmp.ping(PEER);
    for (let i = 0; i < 10; i++) front.write(100, (b) => b.length);
    await host.netback.close();
    for (let i = 0; i < 200 && front.xenbus.state !== XenbusState.Closed; i++) await new Promise((r) => setTimeout(r, 5));
    expect(front.xenbus.state).toBe(XenbusState.Closed);
    expect(front.write(100, (b) => b.length)).toBe(false);
    expect(front.counters()['tx-not-connected']).toBe(1);
    expect(host.store.peek(`${front.path}/state`)).toBe(String(XenbusState.Closed));
    await guest.close();
  });

  it('close() runs Closing then Closed and the back end follows', async () => {
    host = await createXenHost();
    const front = await host.openNetfront();
    await front.close();
    expect(front.xenbus.history.slice(-2)).toEqual([XenbusState.Closing, XenbusState.Closed]);
    for (let i = 0; i < 100 && host.netback.state() !== XenbusState.Closed; i++) await new Promise((r) => setTimeout(r, 5));
    expect(host.netback.state()).toBe(XenbusState.Closed);
  });

  it('drops frames at a full tx ring (256 slots) and counts tx-ring-full', async () => {
    host = await createXenHost();
    const front = await host.openNetfront();
    let sent = 0;
    // Synchronously: the back end cannot run until we yield, so the ring fills up.
    for (let i = 0; i < 300; i++) if (front.write(60, (b) => b.length)) sent++;
    expect(sent).toBe(256);
    expect(front.counters()['tx-ring-full']).toBe(44);
    expect(front.stats().txDropped).toBe(44);
    await new Promise((r) => setTimeout(r, 20));
    // Responses free the slots again.
    expect(front.write(60, (b) => b.length)).toBe(true);
  });

  it('drops reassembled frames above maxRxFrameBytes', async () => {
    host = await createXenHost({ netback: { rxSlotBytes: 100 } });
    const front = await host.openNetfront({ maxRxFrameBytes: 250 });
    const got: number[] = [];
    front.listen((frame) => got.push(frame.length));
    await new Promise((r) => setTimeout(r, 50));
    got.length = 0;
    expect(host.netback.input(new Uint8Array(250))).toBe(true);
    expect(host.netback.input(new Uint8Array(251))).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([250]);
    expect(front.counters()['rx-frame-too-large']).toBe(1);
  });

  it('the back end answers a packet of more than maxTxSlots slots with errors', async () => {
    host = await createXenHost({ netback: { maxTxSlots: 3 } });
    const front = await host.openNetfront({ txSlotBytes: 100 });
    expect(front.write(300, (b) => b.length)).toBe(true);
    expect(front.write(301, (b) => b.length)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(host.netback.counters()['tx-frames']).toBe(1);
    expect(host.netback.counters()['tx-too-many-slots']).toBe(1);
    front.write(60, (b) => b.length);
    expect(front.counters()['tx-error-response']).toBe(4);
  });

  it('offloads transmit checksums (NETTXF_csum_blank) and the back end completes them; rx data_validated reaches the stack', async () => {
    host = await createXenHost();
    const front = await host.openNetfront();
    expect(front.offload.txChecksum).toBe(true);
    const guest = createDirectStack({ netif: front, ipv4: { address: '10.0.0.2/24' } });
    try {
      const listener = host.peer.tcp.listen(9);
      const accepted = listener.accept();
      const flow = await guest.tcp.connect(PEER, 9);
      const serverFlow = await accepted;
      await flow.write(new Uint8Array([9, 8, 7]));
      // The peer verifies TCP checksums in software (its device has no offload): segments that
      // arrive intact prove netback filled in correct checksums for the guest.
      expect(await serverFlow.read()).toEqual(new Uint8Array([9, 8, 7]));
      flow.abort();
      serverFlow.abort();
      listener.close();
      const verified: boolean[] = [];
      front.listen((_frame, offload) => verified.push(offload?.checksumVerified ?? false));
      host.netback.input(new Uint8Array(60));
      await new Promise((r) => setTimeout(r, 20));
      expect(verified.length).toBeGreaterThanOrEqual(1);
      expect(verified.every((v) => v)).toBe(true);
    } finally {
      await guest.close();
    }
  });

  it('sends complete checksums itself when the back end sets feature-no-csum-offload', async () => {
    host = await createXenHost();
    await host.dom0.write('/local/domain/0/backend/vif/1/0/feature-no-csum-offload', '1');
    const front = await host.openNetfront();
    expect(front.offload.txChecksum).toBe(false);
    expect(host.store.peek(`${front.path}/feature-no-csum-offload`)).toBe('1');
    const guest = createDirectStack({ netif: front, ipv4: { address: '10.0.0.2/24' } });
    try {
      const pong = await guest.icmp.ping(PEER);
      expect(pong.ttl).toBe(64);
    } finally {
      await guest.close();
    }
  });
});
