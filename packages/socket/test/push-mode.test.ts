// The socket stack's opt-in push mode: receive() hands chunks to a receiver from the socket's
// event, writeNow() writes without a promise when the kernel takes the bytes at once.
import net from 'node:net';
import { ClosedError, ConnectionReset, type TcpFlow, parseIpv4 } from '@morgana/core';
import { type FlowReceiver, type PushModeFlow, createSocketStack } from '@morgana/socket';
import { afterAll, describe, expect, it } from 'vitest';
import { bytes, concat, sleep, text, waitUntil } from './conformance/helpers.js';

const loopback = parseIpv4('127.0.0.1');

async function nodeServer(onSocket: (socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A receiver that records what it got. */
function recorder(): FlowReceiver & { chunks: Uint8Array[]; ends: (Error | undefined)[] } {
  const chunks: Uint8Array[] = [];
  const ends: (Error | undefined)[] = [];
  return {
    chunks,
    ends,
    // A copy: the chunk is valid only during the call (Buffer's slice would be a view).
    data: (chunk) => { chunks.push(new Uint8Array(chunk)); },
    end: (error) => { ends.push(error); },
  };
}

const shared = createSocketStack();

async function pushFlow(port: number): Promise<TcpFlow & PushModeFlow> {
  return (await shared.tcp.connect(loopback, port)) as TcpFlow & PushModeFlow;
}

describe('push mode of the socket stack', () => {
  afterAll(() => shared.close());

  it('hands over chunks read ahead first, then each chunk as it comes, then ends once when the peer finishes', async () => {
    const server = await nodeServer((socket) => {
      socket.write('early;');
      socket.on('data', () => socket.end('late'));
    });
    try {
      const flow = await pushFlow(server.port);
      await sleep(50);
      const receiver = recorder();
      flow.receive(receiver);
      expect(text(concat(receiver.chunks))).toBe('early;');
      await flow.write(bytes('go'));
      await waitUntil(5_000, 'end', () => receiver.ends.length > 0);
      expect(text(concat(receiver.chunks))).toBe('early;late');
      expect(receiver.ends).toEqual([undefined]);
      // On this Node the socket reads into the stack's shared buffer, past the 'data' event.
      expect(shared.tcp.stats()['static-read-flows']).toBeGreaterThanOrEqual(1);
      await expect(flow.read()).rejects.toThrow('receiver');
      expect(() => flow.receive(recorder())).toThrow('already');
      await flow.close();
      expect(receiver.ends).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('delivers every byte in order to several receivers reading at once through the shared read buffer', async () => {
    const total = 1024 * 1024;
    const patterns = [1, 2, 3].map((seed) => {
      const bytes = Buffer.allocUnsafe(total);
      for (let index = 0; index < total; index += 1) bytes[index] = (index * 31 + seed) % 251;
      return bytes;
    });
    let accepted = 0;
    const server = await nodeServer((socket) => {
      socket.end(patterns[accepted++ % 3]);
    });
    try {
      const flows = await Promise.all([pushFlow(server.port), pushFlow(server.port), pushFlow(server.port)]);
      const receivers = flows.map((flow) => {
        const receiver = recorder();
        flow.receive(receiver);
        return receiver;
      });
      await waitUntil(10_000, 'all bytes', () => receivers.every((receiver) => receiver.ends.length > 0));
      const got = receivers.map((receiver) => Buffer.from(concat(receiver.chunks)));
      // Each connection got one of the patterns, whole and in order.
      expect(got.map((bytes) => bytes.length)).toEqual([total, total, total]);
      for (const bytes of got) expect(patterns.some((candidate) => bytes.equals(candidate))).toBe(true);
      for (const flow of flows) await flow.close();
    } finally {
      await server.close();
    }
  });

  it('ends the receiver with ConnectionReset when the peer resets, and without an error on a local close', async () => {
    const sockets: net.Socket[] = [];
    const server = await nodeServer((socket) => {
      sockets.push(socket);
    });
    try {
      const reset = await pushFlow(server.port);
      const first = recorder();
      reset.receive(first);
      await waitUntil(5_000, 'accept', () => sockets.length === 1);
      sockets[0]?.resetAndDestroy();
      await waitUntil(5_000, 'reset', () => first.ends.length > 0);
      expect(first.ends[0]).toBeInstanceOf(ConnectionReset);

      const closed = await pushFlow(server.port);
      const second = recorder();
      closed.receive(second);
      await waitUntil(5_000, 'accept', () => sockets.length === 2);
      void closed.close().catch(() => undefined);
      expect(second.ends).toEqual([undefined]);
      sockets[1]?.end();
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close();
    }
  });

  it('writeNow returns no promise when the kernel takes the bytes, keeps order with write, and waits once the peer stops reading', async () => {
    const received: Buffer[] = [];
    const sockets: net.Socket[] = [];
    const server = await nodeServer((socket) => {
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => received.push(chunk));
    });
    try {
      const flow = await pushFlow(server.port);
      expect(flow.writeNow(bytes('a'))).toBeUndefined();
      const queued = flow.write(bytes('b'));
      expect(flow.writeNow(bytes('c'))).toBeUndefined();
      await queued;
      await waitUntil(5_000, 'bytes', () => Buffer.concat(received).length === 3);
      expect(Buffer.concat(received).toString()).toBe('abc');

      // A peer that stops reading fills both socket buffers: then Node keeps the bytes.
      sockets[0]?.pause();
      const block = new Uint8Array(256 * 1024);
      let kept: Promise<void> | undefined;
      for (let sent = 0; kept === undefined && sent < 64 * 1024 * 1024; sent += block.length) kept = flow.writeNow(block);
      expect(kept).toBeInstanceOf(Promise);
      let settled = false;
      void kept?.then(() => { settled = true; });
      await sleep(50);
      expect(settled).toBe(false);
      sockets[0]?.resume();
      await waitUntil(10_000, 'kept write', () => settled);
      flow.abort();
      await expect(flow.writeNow(bytes('x')) ?? Promise.resolve()).rejects.toBeInstanceOf(ConnectionReset);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close();
    }
  });

  it('rejects a kept writeNow with ClosedError when the connection closes under it', async () => {
    const sockets: net.Socket[] = [];
    const stack = createSocketStack();
    const server = await nodeServer((socket) => {
      sockets.push(socket);
      socket.pause();
    });
    try {
      const flow = (await stack.tcp.connect(loopback, server.port)) as TcpFlow & PushModeFlow;
      const block = new Uint8Array(256 * 1024);
      let kept: Promise<void> | undefined;
      for (let sent = 0; kept === undefined && sent < 64 * 1024 * 1024; sent += block.length) kept = flow.writeNow(block);
      const outcome = (kept as Promise<void>).then(() => 'resolved', (error: unknown) => error);
      await stack.close();
      expect(await outcome).toBeInstanceOf(ClosedError);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close();
    }
  });
});
