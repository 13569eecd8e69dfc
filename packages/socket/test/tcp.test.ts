// What is particular to TCP on the socket stack: its limits and timeouts, Node's errors, kernel peers.
import net from 'node:net';
import {
  AddressError,
  AddressInUse,
  ClosedError,
  ConnectionRefused,
  ConnectionReset,
  LimitExceeded,
  MorganaError,
  TimeoutError,
  UnreachableError,
  UnsupportedError,
  parseIpv4,
} from '@morgana/core';
import { SOCKET_STACK_DEFAULTS, createSocketStack, toMorganaError } from '@morgana/socket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, readAll, readExactly, settlesWithin, sleep, text, waitUntil, within } from './conformance/helpers.js';
import { type SilentListener, startSilentListener } from './helpers/silent-listener.js';

const loopback = parseIpv4('127.0.0.1');

/** A plain node:net server on loopback, for a peer that is only the kernel. */
async function nodeServer(onSocket: (socket: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('error mapping', () => {
  const systemError = (code: string): Error => Object.assign(new Error(`${code} (test)`), { code });

  it.each([
    ['ECONNREFUSED', ConnectionRefused],
    ['ECONNRESET', ConnectionReset],
    ['EPIPE', ConnectionReset],
    ['ERR_STREAM_DESTROYED', ConnectionReset],
    ['ETIMEDOUT', TimeoutError],
    ['EADDRINUSE', AddressInUse],
    ['EHOSTUNREACH', UnreachableError],
    ['ENETUNREACH', UnreachableError],
    ['EADDRNOTAVAIL', UnreachableError],
    ['EMSGSIZE', LimitExceeded],
    ['EACCES', UnsupportedError],
    ['ERR_SOCKET_CLOSED', ClosedError],
  ] as const)('maps %s to the named error', (code, type) => {
    const mapped = toMorganaError(systemError(code));
    expect(mapped).toBeInstanceOf(type);
    expect(mapped.message).toContain(code);
  });

  it('keeps a morgana error as it is and names anything else by its code', () => {
    const original = new ClosedError('mine');
    expect(toMorganaError(original)).toBe(original);
    const other = toMorganaError(systemError('EWEIRD'));
    expect(other).toBeInstanceOf(MorganaError);
    expect(other.code).toBe('EWEIRD');
    expect(toMorganaError('text').code).toBe('IO');
  });
});

describe('TCP on the socket stack', () => {
  let silent: SilentListener;
  beforeAll(async () => {
    silent = await startSilentListener();
  });
  afterAll(() => silent.stop());

  it('talks to a plain node:net peer: the kernel does TCP', async () => {
    const server = await nodeServer((socket) => {
      socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
      socket.on('end', () => socket.end());
    });
    const stack = createSocketStack();
    try {
      const flow = await stack.tcp.connect(loopback, server.port);
      await flow.write(bytes('kernel'));
      await flow.shutdown();
      expect(text(await within(5_000, 'answer', readAll(flow)))).toBe('KERNEL');
      expect(flow.info().congestionControl).toBe('kernel');
      await flow.close();
    } finally {
      await stack.close();
      await server.close();
    }
  });

  it('uses the stack-wide connectTimeout when connect gives none', async () => {
    const stack = createSocketStack({ connectTimeout: 150 });
    try {
      const started = Date.now();
      expect(await within(5_000, 'connect', rejection(stack.tcp.connect(loopback, silent.port)))).toBeInstanceOf(TimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(stack.tcp.stats()['connect-timeouts']).toBe(1);
    } finally {
      await stack.close();
    }
  });

  it('resets connections past the backlog that nobody accepts, and counts them', async () => {
    const server = createSocketStack();
    const client = createSocketStack();
    try {
      const listener = server.tcp.listen(0, { backlog: 2 });
      const flows = await Promise.all([1, 2, 3].map(() => client.tcp.connect(loopback, listener.port)));
      await waitUntil(5_000, 'third connection refused', () => server.tcp.stats()['accept-queue-full'] === 1);
      // The two queued ones are intact; the third was reset as it arrived.
      const outcomes = await Promise.all(
        flows.map((flow) => Promise.race([flow.read().then(() => 'data', (error: unknown) => error), sleep(300).then(() => 'open')])),
      );
      expect(outcomes.filter((outcome) => outcome === 'open')).toHaveLength(2);
      expect(outcomes.filter((outcome) => outcome instanceof ConnectionReset)).toHaveLength(1);
      const first = await listener.accept();
      const second = await listener.accept();
      expect([first.remotePort, second.remotePort].sort()).toHaveLength(2);
      expect(await settlesWithin(50, listener.accept())).toBe(false);
    } finally {
      await Promise.all([server.close(), client.close()]);
    }
  });

  it('listens on one address when asked: the port is known a tick later, and a taken port rejects accept()', async () => {
    const stack = createSocketStack();
    try {
      const listener = stack.tcp.listen(0, { address: loopback });
      await sleep(0);
      expect(listener.port).toBeGreaterThan(0);
      const accepted = listener.accept();
      const flow = await stack.tcp.connect(loopback, listener.port);
      expect((await accepted).localAddress).toBe(loopback);
      const clash = stack.tcp.listen(listener.port, { address: loopback });
      expect(await within(5_000, 'clash', rejection(clash.accept()))).toBeInstanceOf(AddressInUse);
      expect(stack.tcp.stats()['listen-errors']).toBe(1);
      flow.abort();
    } finally {
      await stack.close();
    }
  });

  it('resets IPv6 peers of the dual-stack listener, which an IPv4 stack cannot represent', async () => {
    const stack = createSocketStack();
    try {
      const listener = stack.tcp.listen(0);
      const socket = net.connect({ port: listener.port, host: '::1' });
      const outcome = await within(
        5_000,
        'IPv6 connection',
        new Promise<string>((resolve) => {
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
          socket.on('close', () => resolve('closed'));
        }),
      );
      expect(['ECONNRESET', 'closed']).toContain(outcome);
      expect(stack.tcp.stats()['not-ipv4']).toBe(1);
      expect(await settlesWithin(20, listener.accept())).toBe(false);
    } finally {
      await stack.close();
    }
  });

  it('connects from a chosen local port, and says AddressInUse when that port is taken', async () => {
    const stack = createSocketStack();
    try {
      const listener = stack.tcp.listen(0);
      const blocker = stack.tcp.listen(0);
      const spare = stack.tcp.listen(0);
      const localPort = spare.port;
      spare.close();
      const flow = await stack.tcp.connect(loopback, listener.port, { localPort });
      expect(flow.localPort).toBe(localPort);
      expect(flow.remotePort).toBe(listener.port);
      flow.abort();
      expect(await rejection(stack.tcp.connect(loopback, listener.port, { localPort: blocker.port }))).toBeInstanceOf(AddressInUse);
      expect(await rejection(stack.tcp.connect(loopback, 0))).toBeInstanceOf(AddressError);
    } finally {
      await stack.close();
    }
  });

  it('gives up waiting for the peer after closeTimeout, destroys the socket and counts it', async () => {
    // A peer that never finishes its direction.
    const held: net.Socket[] = [];
    const server = await nodeServer((socket) => {
      held.push(socket);
      socket.resume();
    });
    const stack = createSocketStack({ closeTimeout: 100 });
    try {
      const flow = await stack.tcp.connect(loopback, server.port);
      const started = Date.now();
      await within(5_000, 'close', flow.close());
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      expect(stack.tcp.stats()['close-timeouts']).toBe(1);
      expect(flow.info().state).toBe('CLOSED');
    } finally {
      for (const socket of held) socket.destroy();
      await stack.close();
      await server.close();
    }
  });

  it('rejects close with ConnectionReset when the peer resets while we close', async () => {
    const server = await nodeServer((socket) => {
      socket.once('end', () => socket.resetAndDestroy());
    });
    const stack = createSocketStack();
    try {
      const flow = await stack.tcp.connect(loopback, server.port);
      expect(await within(5_000, 'close', rejection(flow.close()))).toBeInstanceOf(ConnectionReset);
    } finally {
      await stack.close();
      await server.close();
    }
  });

  it('reads ahead at most receiveBufferLimit (plus what Node holds) while the application does not read', async () => {
    const total = 8 * 1024 * 1024;
    const server = await nodeServer((socket) => {
      socket.end(Buffer.alloc(total, 7));
    });
    const stack = createSocketStack({ receiveBufferLimit: 4096 });
    try {
      const flow = await stack.tcp.connect(loopback, server.port);
      await sleep(200);
      // Node's own readable buffer (16 KiB) and one read (64 KiB) may come on top of the limit.
      expect(flow.info().bytesReceived).toBeLessThanOrEqual(4096 + 16 * 1024 + 2 * 64 * 1024);
      const all = await within(10_000, 'read all', readExactly(flow, total));
      expect(all.every((byte) => byte === 7)).toBe(true);
      expect(await flow.read()).toBeNull();
      await flow.close();
    } finally {
      await stack.close();
      await server.close();
    }
  });

  it('holds at most sendBufferLimit (plus one write) in Node beyond what the kernel took', async () => {
    const limit = 32 * 1024;
    const paused: net.Socket[] = [];
    const server = await nodeServer((socket) => {
      socket.pause();
      paused.push(socket);
    });
    const stack = createSocketStack({ sendBufferLimit: limit });
    try {
      const flow = await stack.tcp.connect(loopback, server.port);
      const block = new Uint8Array(16 * 1024);
      let resolved = 0;
      for (;;) {
        const write = flow.write(block);
        if (!(await settlesWithin(100, write))) break;
        resolved += block.length;
        expect(resolved - flow.info().bytesSent).toBeLessThanOrEqual(limit + block.length);
      }
      expect(resolved).toBeGreaterThan(0);
      flow.abort();
    } finally {
      for (const socket of paused) socket.destroy();
      await stack.close();
      await server.close();
    }
  });

  it('after stack.close, listen throws and connect rejects with ClosedError, and the port is free again', async () => {
    const stack = createSocketStack();
    const listener = stack.tcp.listen(0);
    const port = listener.port;
    await stack.close();
    expect(() => stack.tcp.listen(0)).toThrow(ClosedError);
    expect(await rejection(stack.tcp.connect(loopback, port))).toBeInstanceOf(ClosedError);
    const other = createSocketStack();
    try {
      other.tcp.listen(port).close();
    } finally {
      await other.close();
    }
  });

  it('fails a connect in progress with ClosedError when the stack closes', async () => {
    const stack = createSocketStack();
    const connecting = rejection(stack.tcp.connect(loopback, silent.port, { timeout: 10_000 }));
    await sleep(20);
    await stack.close();
    expect(await within(1_000, 'connect', connecting)).toBeInstanceOf(ClosedError);
  });

  it('documents its defaults', () => {
    expect(SOCKET_STACK_DEFAULTS).toEqual({
      connectTimeout: 30_000,
      closeTimeout: 60_000,
      backlog: 128,
      sendBufferLimit: 64 * 1024,
      receiveBufferLimit: 64 * 1024,
      receiveQueueLimit: 1024,
      receiveQueueBytes: 4 * 1024 * 1024,
    });
    expect(() => createSocketStack({ backlog: 0 })).toThrow(RangeError);
    expect(() => createSocketStack({ connectTimeout: -1 })).toThrow(RangeError);
  });
});
