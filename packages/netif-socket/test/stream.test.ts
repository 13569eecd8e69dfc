import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStreamNetif, writeStreamHeader } from '../src/index.js';
import type { StreamNetif } from '../src/index.js';

function framed(frames: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const frame of frames) {
    const header = Buffer.alloc(4);
    writeStreamHeader(header, 0, frame.length);
    parts.push(header, Buffer.from(frame));
  }
  return Buffer.concat(parts);
}

function frame(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

/** Collects a peer's incoming bytes and decodes them (test-side reference decoder). */
function collectFrames(socket: Socket): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const length = pending.readUInt32BE(0);
      frames.push(new Uint8Array(pending.subarray(4, 4 + length)));
      pending = pending.subarray(4 + length);
    }
  });
  return frames;
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function peerServer(): Promise<{ server: Server; port: number; accepted: Promise<Socket> }> {
  let onAccept: (socket: Socket) => void = () => {};
  const accepted = new Promise<Socket>((resolve) => (onAccept = resolve));
  const server = createServer((socket) => onAccept(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0, accepted };
}

function track(netif: StreamNetif): StreamNetif {
  cleanup.push(() => netif.close());
  return netif;
}

function receiver(netif: StreamNetif): { frames: Uint8Array[]; batches: number } {
  const log = { frames: [] as Uint8Array[], batches: 0 };
  netif.listen(
    (f) => log.frames.push(new Uint8Array(f)),
    () => log.batches++,
  );
  return log;
}

describe('stream transport (4-byte length + frame, QEMU -netdev stream)', () => {
  it('client mode: frames both ways over TCP, several writes in a tick leaving in one write', async () => {
    const peer = await peerServer();
    const netif = track(await openStreamNetif({ connect: { port: peer.port } }));
    const socket = await peer.accepted;
    cleanup.push(() => socket.destroy());
    const fromUs = collectFrames(socket);
    const log = receiver(netif);
    expect(netif.connected).toBe(true);
    for (let i = 0; i < 5; i++) expect(netif.write(100, (buffer) => (buffer.set(frame(60 + i, i)), 60 + i))).toBe(true);
    await vi.waitUntil(() => fromUs.length === 5);
    expect(fromUs.map((f) => [f.length, f[0]])).toEqual([[60, 0], [61, 1], [62, 2], [63, 3], [64, 4]]);
    socket.write(framed([frame(60, 9), frame(1514, 8)]));
    await vi.waitUntil(() => log.frames.length === 2);
    expect(log.frames).toEqual([frame(60, 9), frame(1514, 8)]);
    expect(log.batches).toBeGreaterThanOrEqual(1);
    expect(netif.stats()).toMatchObject({ rxFrames: 2, txFrames: 5, txBytes: 310 });
  });

  it('reassembles frames sent one byte per write', async () => {
    const peer = await peerServer();
    const netif = track(await openStreamNetif({ connect: { port: peer.port } }));
    const socket = await peer.accepted;
    socket.setNoDelay(true);
    cleanup.push(() => socket.destroy());
    const log = receiver(netif);
    const bytes = framed([frame(60, 1), frame(70, 2)]);
    for (const byte of bytes) {
      socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await vi.waitUntil(() => log.frames.length === 2);
    expect(log.frames).toEqual([frame(60, 1), frame(70, 2)]);
  });

  it('skips frames above the MTU and drops the connection on a length above maxLengthField (bad-length)', async () => {
    const peer = await peerServer();
    const netif = track(await openStreamNetif({ connect: { port: peer.port }, mtu: 1000, maxLengthField: 5000 }));
    const socket = await peer.accepted;
    const log = receiver(netif);
    socket.write(framed([frame(60, 1), frame(2000, 2), frame(61, 3)]));
    await vi.waitUntil(() => log.frames.length === 2);
    expect(netif.counters()['too-large']).toBe(1);
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(5001, 0);
    socket.write(bad);
    await vi.waitUntil(() => !netif.connected);
    expect(netif.counters()).toMatchObject({ 'bad-length': 1, disconnected: 1 });
    expect(netif.write(60, () => 60)).toBe(false);
    expect(netif.counters()['not-connected']).toBe(1);
  });

  it('server mode: one peer at a time; a second is rejected; after the first leaves the next is accepted', async () => {
    const netif = track(await openStreamNetif({ listen: { port: 0 } }));
    const log = receiver(netif);
    const address = netif.address();
    const port = 'port' in address ? address.port : 0;
    expect(netif.write(60, () => 60)).toBe(false);
    expect(netif.counters()['not-connected']).toBe(1);
    const first = createConnection({ port, host: '127.0.0.1' });
    cleanup.push(() => first.destroy());
    await netif.waitForPeer();
    const second = createConnection({ port, host: '127.0.0.1' });
    cleanup.push(() => second.destroy());
    await new Promise((resolve) => second.on('close', resolve));
    expect(netif.counters()['connection-rejected']).toBe(1);
    first.write(framed([frame(60, 1)]));
    await vi.waitUntil(() => log.frames.length === 1);
    first.destroy();
    await vi.waitUntil(() => !netif.connected);
    const third = createConnection({ port, host: '127.0.0.1' });
    cleanup.push(() => third.destroy());
    await netif.waitForPeer();
    const fromUs = collectFrames(third);
    expect(netif.write(60, (buffer) => (buffer.set(frame(60, 5)), 60))).toBe(true);
    await vi.waitUntil(() => fromUs.length === 1);
    expect(fromUs[0]).toEqual(frame(60, 5));
  });

  it('works over a Unix socket in both modes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'morgana-stream-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'sock');
    const server = track(await openStreamNetif({ listen: { path } }));
    const client = track(await openStreamNetif({ connect: { path } }));
    await server.waitForPeer();
    const log = receiver(server);
    const back = receiver(client);
    expect(client.write(60, (buffer) => (buffer.set(frame(60, 7)), 60))).toBe(true);
    await vi.waitUntil(() => log.frames.length === 1);
    expect(server.write(1514, (buffer) => (buffer.set(frame(1514, 6)), 1514))).toBe(true);
    await vi.waitUntil(() => back.frames.length === 1);
    expect(log.frames[0]).toEqual(frame(60, 7));
    expect(back.frames[0]).toEqual(frame(1514, 6));
  });

  it('client mode reconnects after reconnectDelayMs when the peer drops the connection', async () => {
    const peer = await peerServer();
    const sockets: Socket[] = [];
    peer.server.removeAllListeners('connection');
    peer.server.on('connection', (socket: Socket) => sockets.push(socket));
    const netif = track(await openStreamNetif({ connect: { port: peer.port }, reconnectDelayMs: 20 }));
    await vi.waitUntil(() => sockets.length === 1);
    sockets[0].destroy();
    await vi.waitUntil(() => sockets.length === 2 && netif.connected);
    expect(netif.counters()).toMatchObject({ connected: 2, disconnected: 1 });
    for (const socket of sockets) socket.destroy();
  });

  it('drops writes beyond maxWriteQueueBytes while the socket cannot keep up (queue-full)', async () => {
    const peer = await peerServer();
    const netif = track(await openStreamNetif({ connect: { port: peer.port }, maxWriteQueueBytes: 16_384 }));
    const socket = await peer.accepted;
    cleanup.push(() => socket.destroy());
    let accepted = 0;
    // All in one tick: the socket is corked, so every frame waits in its queue.
    for (let i = 0; i < 100; i++) if (netif.write(1514, () => 1514)) accepted++;
    expect(accepted).toBe(Math.floor(16_384 / 1518));
    expect(netif.counters()['queue-full']).toBe(100 - accepted);
  });

  it('rejects an unreachable peer, an unusable listen address and a mode that is not exactly one of connect/listen', async () => {
    const peer = await peerServer();
    await new Promise((resolve) => peer.server.close(resolve));
    await expect(openStreamNetif({ connect: { port: peer.port } })).rejects.toThrow(/cannot connect to 127.0.0.1/);
    const taken = await peerServer();
    await expect(openStreamNetif({ listen: { port: taken.port } })).rejects.toThrow(/cannot listen/);
    await expect(openStreamNetif({})).rejects.toThrow(/exactly one/);
  });
});
