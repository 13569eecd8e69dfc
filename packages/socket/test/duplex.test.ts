// flowToDuplex and duplexToFlow: backpressure both ways, ends, errors and aborts.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { ClosedError, ConnectionReset, type Flow, parseIpv4 } from '@morgana/core';
import { createSocketStack, duplexToFlow, flowToDuplex } from '@morgana/socket';
import { describe, expect, it } from 'vitest';
import { bytes, readAll, readExactly, settlesWithin, sha256, sleep, text, within, writePattern } from './conformance/helpers.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A Flow whose every operation the test answers by hand, recording what was asked. */
class ScriptedFlow implements Flow {
  readonly reads: Deferred<Uint8Array | null>[] = [];
  readonly writes: { data: Uint8Array; done: Deferred<void> }[] = [];
  shutdowns = 0;
  closes = 0;
  aborts = 0;

  read(): Promise<Uint8Array | null> {
    const next = deferred<Uint8Array | null>();
    this.reads.push(next);
    return next.promise;
  }

  write(data: Uint8Array): Promise<void> {
    const done = deferred<void>();
    this.writes.push({ data: Uint8Array.from(data), done });
    return done.promise;
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    return this.write(Buffer.concat(chunks));
  }

  shutdown(): Promise<void> {
    this.shutdowns++;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closes++;
    return Promise.resolve();
  }

  abort(): void {
    this.aborts++;
  }
}

const loopback = parseIpv4('127.0.0.1');

describe('flowToDuplex', () => {
  it('calls the write callback only once flow.write resolves, so Node buffers and then says to wait', async () => {
    const flow = new ScriptedFlow();
    const duplex = flowToDuplex(flow);
    const callbacks: number[] = [];
    duplex.write(Buffer.alloc(10), () => callbacks.push(1));
    await sleep(5);
    expect(flow.writes).toHaveLength(1);
    expect(callbacks).toEqual([]);
    // Node holds the rest while the flow has not taken the first write.
    let accepted = true;
    for (let index = 0; index < 100 && accepted; index++) accepted = duplex.write(Buffer.alloc(1024));
    expect(accepted).toBe(false);
    expect(flow.writes).toHaveLength(1);
    flow.writes[0].done.resolve();
    await sleep(5);
    expect(callbacks).toEqual([1]);
    // The queued writes reach the flow together (writev) once the first is done.
    expect(flow.writes).toHaveLength(2);
    flow.writes[1].done.resolve();
    await new Promise((resolve) => duplex.once('drain', resolve));
  });

  it('pulls from the flow only while the consumer wants data', async () => {
    const flow = new ScriptedFlow();
    const duplex = flowToDuplex(flow);
    // Nobody reads yet: the flow is not asked.
    await sleep(5);
    expect(flow.reads).toHaveLength(0);
    let consumed = 0;
    duplex.on('data', () => {
      consumed++;
      // The consumer stops after two chunks.
      if (consumed === 2) duplex.pause();
    });
    let served = 0;
    for (let round = 0; round < 100; round++) {
      await sleep(1);
      // Only one read is ever outstanding.
      expect(flow.reads.length - served).toBeLessThanOrEqual(1);
      const pending = flow.reads[served];
      if (pending === undefined) break;
      pending.resolve(new Uint8Array(4096));
      served++;
    }
    // Two chunks consumed, then Node read ahead to its high-water mark (16 KiB) and stopped asking.
    expect(consumed).toBe(2);
    expect(served).toBeGreaterThanOrEqual(2 + 4);
    expect(served).toBeLessThanOrEqual(2 + 5);
    duplex.resume();
    await sleep(5);
    expect(flow.reads.length).toBeGreaterThan(served);
  });

  it('ends the readable side at the flow end, and end() shuts the flow down', async () => {
    const flow = new ScriptedFlow();
    const duplex = flowToDuplex(flow);
    const received: Buffer[] = [];
    duplex.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise((resolve) => duplex.once('end', resolve));
    await sleep(1);
    flow.reads[0].resolve(bytes('last'));
    await sleep(1);
    flow.reads[1].resolve(null);
    await ended;
    expect(Buffer.concat(received).toString()).toBe('last');
    const finished = new Promise((resolve) => duplex.once('finish', resolve));
    const closed = new Promise((resolve) => duplex.once('close', resolve));
    duplex.end();
    await finished;
    expect(flow.shutdowns).toBe(1);
    // Both sides done: the stream destroys itself, which closes the flow gracefully.
    await closed;
    expect(flow.closes).toBe(1);
    expect(flow.aborts).toBe(0);
  });

  it('turns a failed flow read into an error event with the named error, and destroy(error) aborts', async () => {
    const flow = new ScriptedFlow();
    const duplex = flowToDuplex(flow);
    const failed = new Promise<Error>((resolve) => duplex.once('error', resolve));
    duplex.resume();
    await sleep(1);
    flow.reads[0].reject(new ConnectionReset());
    expect(await failed).toBeInstanceOf(ConnectionReset);
    expect(flow.aborts).toBe(1);
  });

  it('destroy() without an error closes the flow gracefully', () => {
    const flow = new ScriptedFlow();
    flowToDuplex(flow).destroy();
    expect(flow.closes).toBe(1);
    expect(flow.aborts).toBe(0);
  });

  it('shows a TCP flow\'s endpoints like a net.Socket', async () => {
    const stack = createSocketStack();
    try {
      const listener = stack.tcp.listen(0);
      const flow = await stack.tcp.connect(loopback, listener.port);
      const duplex = flowToDuplex(flow) as Duplex & { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number };
      expect(duplex.remoteAddress).toBe('127.0.0.1');
      expect(duplex.remotePort).toBe(listener.port);
      expect(duplex.localAddress).toBe('127.0.0.1');
      expect(duplex.localPort).toBe(flow.localPort);
      expect((flowToDuplex(new ScriptedFlow()) as typeof duplex).remoteAddress).toBeUndefined();
    } finally {
      await stack.close();
    }
  });
});

describe('duplexToFlow', () => {
  it('reads only when asked: a source behind an unread flow is not drained past the high-water mark', async () => {
    let produced = 0;
    const source = new Duplex({
      highWaterMark: 1024,
      read() {
        produced++;
        this.push(Buffer.alloc(256, produced));
      },
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    const flow = duplexToFlow(source);
    await sleep(10);
    const before = produced;
    expect(before).toBeLessThanOrEqual(5);
    await sleep(10);
    expect(produced).toBe(before);
    const chunk = await flow.read();
    expect(chunk).not.toBeNull();
    await sleep(5);
    expect(produced).toBeGreaterThan(before);
    expect(produced).toBeLessThanOrEqual(before + 10);
    source.destroy();
  });

  it('resolves write when the stream has room, and waits for drain when it has none', async () => {
    const pendingWrites: (() => void)[] = [];
    const sink = new Duplex({
      highWaterMark: 1000,
      read() {},
      write(_chunk, _encoding, callback) {
        pendingWrites.push(() => callback());
      },
    });
    const flow = duplexToFlow(sink);
    await within(1_000, 'small write', flow.write(new Uint8Array(10)));
    const big = flow.write(new Uint8Array(5000));
    expect(await settlesWithin(20, big)).toBe(false);
    while (pendingWrites.length > 0) pendingWrites.shift()?.();
    await within(1_000, 'big write', big);
  });

  it('copies bytes the stream keeps, so the caller may reuse its buffer once write resolves', async () => {
    // A sink that holds every chunk (the first in _write, the rest in its buffer) until released.
    const stored: Buffer[] = [];
    const release: (() => void)[] = [];
    const sink = new Duplex({
      highWaterMark: 1 << 20,
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        stored.push(chunk);
        release.push(() => callback());
      },
    });
    const flow = duplexToFlow(sink);
    const buffer = new Uint8Array(100);
    for (let round = 0; round < 5; round++) {
      buffer.fill(round);
      await within(1_000, 'write', flow.write(buffer));
    }
    while (stored.length < 5) {
      release.shift()?.();
      await sleep(1);
    }
    expect(stored.map((chunk) => chunk[0])).toEqual([0, 1, 2, 3, 4]);
    sink.destroy();
  });

  it('echoes, half-closes and ends over a real net.Socket', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      const flow = duplexToFlow(socket);
      void (async () => {
        const request = await readAll(flow);
        await flow.write(bytes(`${request.length}`));
        await flow.close();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((resolve) => socket.once('connect', resolve));
    const flow = duplexToFlow(socket);
    const hash = await writePattern(flow, 7, 3 * 1024 * 1024);
    expect(hash).toHaveLength(64);
    await flow.shutdown();
    expect(await rejectionOf(flow.write(bytes('late')))).toBeInstanceOf(ClosedError);
    expect(text(await within(10_000, 'answer', readAll(flow)))).toBe(`${3 * 1024 * 1024}`);
    await within(5_000, 'close', flow.close());
    await flow.close();
    expect(await flow.read()).toBeNull();
    await new Promise((resolve) => server.close(resolve));
  });

  it('abort resets a net.Socket: the peer sees ConnectionReset, and our pending and later operations reject with ConnectionReset', async () => {
    const peerFailed = deferred<unknown>();
    const server = net.createServer((socket) => {
      const flow = duplexToFlow(socket);
      flow.read().then(
        () => peerFailed.reject(new Error('read succeeded')),
        (error: unknown) => peerFailed.resolve(error),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    const flow = duplexToFlow(socket);
    const pending = flow.read();
    await sleep(20);
    flow.abort();
    expect(await rejectionOf(pending)).toBeInstanceOf(ConnectionReset);
    expect(await rejectionOf(flow.read())).toBeInstanceOf(ConnectionReset);
    expect(await rejectionOf(flow.write(bytes('x')))).toBeInstanceOf(ConnectionReset);
    expect(await rejectionOf(flow.close())).toBeInstanceOf(ConnectionReset);
    expect(await within(5_000, 'peer reset', peerFailed.promise)).toBeInstanceOf(ConnectionReset);
    await new Promise((resolve) => server.close(resolve));
  });

  it('round-trips flow → duplex → flow with the bytes intact', async () => {
    const stack = createSocketStack();
    try {
      const listener = stack.tcp.listen(0, {
        onConnection: (flow) => {
          const twice = duplexToFlow(flowToDuplex(flow));
          void (async () => {
            const chunks: Uint8Array[] = [];
            for (let chunk = await twice.read(); chunk !== null; chunk = await twice.read()) chunks.push(chunk);
            await twice.write(bytes(sha256(chunks)));
            await twice.close();
          })();
        },
      });
      const flow = duplexToFlow(flowToDuplex(await stack.tcp.connect(loopback, listener.port)));
      const sent = await writePattern(flow, 3, 2 * 1024 * 1024);
      await flow.shutdown();
      expect(text(await within(10_000, 'digest', readExactly(flow, 64)))).toBe(sent);
      await flow.close();
    } finally {
      await stack.close();
    }
  });
});

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
