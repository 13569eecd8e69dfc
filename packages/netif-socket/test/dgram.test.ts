import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDgramNetif } from '../src/index.js';
import type { DgramNetif } from '../src/index.js';

function frame(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

async function peerSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

const open: { netif?: DgramNetif; peers: Socket[] } = { peers: [] };

afterEach(async () => {
  await open.netif?.close();
  for (const peer of open.peers) peer.close();
  open.peers = [];
});

async function setup(options: { mtu?: number; maxWriteQueueBytes?: number; receiveBufferBytes?: number } = {}): Promise<{ netif: DgramNetif; peer: Socket; received: Uint8Array[]; batches: number[] }> {
  const peer = await peerSocket();
  open.peers.push(peer);
  const netif = await openDgramNetif({ local: { address: '127.0.0.1', port: 0 }, remote: { address: '127.0.0.1', port: peer.address().port }, ...options });
  open.netif = netif;
  const received: Uint8Array[] = [];
  const batches: number[] = [];
  let inBatch = 0;
  netif.listen(
    (f) => {
      received.push(new Uint8Array(f));
      inBatch++;
    },
    () => {
      batches.push(inBatch);
      inBatch = 0;
    },
  );
  return { netif, peer, received, batches };
}

describe('datagram transport (one frame per UDP datagram, QEMU -netdev dgram)', () => {
  it('sends each frame as one datagram to the remote, bytes unchanged', async () => {
    const { netif, peer } = await setup();
    const got: Buffer[] = [];
    peer.on('message', (message) => got.push(message));
    expect(netif.write(100, (buffer) => (buffer.set(frame(60, 0xab)), 60))).toBe(true);
    await vi.waitUntil(() => got.length === 1);
    expect(new Uint8Array(got[0])).toEqual(frame(60, 0xab));
    expect(netif.stats()).toMatchObject({ txFrames: 1, txBytes: 60 });
  });

  it('delivers datagrams from the remote as frames and ends each burst with one onBatchEnd', async () => {
    const { netif, peer, received, batches } = await setup();
    for (let i = 0; i < 20; i++) peer.send(frame(64, i), netif.address().port, '127.0.0.1');
    await vi.waitUntil(() => received.length === 20);
    await new Promise((resolve) => setImmediate(resolve));
    expect(received.map((f) => f[0])).toEqual([...Array(20).keys()]);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(20);
    expect(batches.length).toBeLessThan(20);
  });

  it('drops datagrams from anyone but the remote (unexpected-sender)', async () => {
    const { netif, received } = await setup();
    const stranger = await peerSocket();
    open.peers.push(stranger);
    stranger.send(frame(64, 1), netif.address().port, '127.0.0.1');
    await vi.waitUntil(() => netif.counters()['unexpected-sender'] === 1);
    expect(received).toHaveLength(0);
    expect(netif.stats().rxDropped).toBe(1);
  });

  it('drops received datagrams larger than MTU + 18 or shorter than an Ethernet header', async () => {
    const { netif, peer, received } = await setup({ mtu: 1000 });
    peer.send(frame(1019, 1), netif.address().port, '127.0.0.1');
    peer.send(frame(13, 2), netif.address().port, '127.0.0.1');
    peer.send(frame(1018, 3), netif.address().port, '127.0.0.1');
    await vi.waitUntil(() => received.length === 1);
    expect(received[0].length).toBe(1018);
    await vi.waitUntil(() => netif.stats().rxDropped === 2);
    expect(netif.counters()).toMatchObject({ 'too-large': 1, 'too-short': 1 });
  });

  it('refuses frames above the MTU, offload requests, bad fill lengths and writes after close', async () => {
    const { netif } = await setup({ mtu: 1000 });
    expect(netif.write(1019, () => 1019)).toBe(false);
    expect(netif.write(60, () => 60, { checksumStart: 34, checksumOffset: 6, segmentSize: 0 })).toBe(false);
    expect(netif.write(60, () => 61)).toBe(false);
    expect(netif.write(60, () => 10)).toBe(false);
    await netif.close();
    expect(netif.write(60, () => 60)).toBe(false);
    expect(netif.counters()).toMatchObject({ 'too-large': 1, 'offload-unsupported': 1, 'bad-fill-length': 2, closed: 1 });
    expect(netif.stats().txDropped).toBe(5);
    expect(() => netif.listen(() => {})).toThrow(/closed/);
  });

  it('drops writes that would exceed maxWriteQueueBytes (queue-full)', async () => {
    const { netif } = await setup({ maxWriteQueueBytes: 100 });
    expect(netif.write(60, () => 60)).toBe(true);
    expect(netif.write(200, () => 200)).toBe(false);
    expect(netif.counters()['queue-full']).toBe(1);
  });

  it('bounds the kernel receive buffer by receiveBufferBytes: a burst beyond it is lost in the kernel', async () => {
    const { netif, peer, received } = await setup({ receiveBufferBytes: 4096 });
    for (let i = 0; i < 200; i++) peer.send(frame(1000, i), netif.address().port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(200);
    await expect(
      openDgramNetif({ local: { address: '127.0.0.1', port: 0 }, remote: { address: '127.0.0.1', port: 1 }, receiveBufferBytes: 0 }),
    ).rejects.toThrow(RangeError);
  });

  it('rejects a remote that is not an IP literal and a local port it cannot bind', async () => {
    await expect(openDgramNetif({ local: { address: '127.0.0.1', port: 0 }, remote: { address: 'localhost', port: 1 } })).rejects.toThrow(/IP address/);
    const taken = await peerSocket();
    open.peers.push(taken);
    await expect(
      openDgramNetif({ local: { address: '127.0.0.1', port: taken.address().port }, remote: { address: '127.0.0.1', port: 1 } }),
    ).rejects.toThrow(/cannot bind UDP/);
  });
});
