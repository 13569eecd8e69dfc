/**
 * A {@link TcpFlow} over a connected `net.Socket`: the kernel does TCP, this file gives it the
 * Flow contract (owned chunks from `read`, bounded buffering behind `write`, half-close,
 * graceful close, RST on abort, named errors).
 */
import type net from 'node:net';
import {
  ClosedError,
  ConnectionReset,
  type CounterSet,
  type Ipv4Address,
  type MorganaError,
  type TcpFlow,
  type TcpInfo,
  type TcpState,
  type Timer,
} from '@morgana/core';
import type { SocketStackConfig } from './config.js';
import { toMorganaError } from './errors.js';
import { resetSocket } from './reset.js';

/** A settled-later operation. */
interface Settler<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
}

/** A `write()` waiting for room in Node's buffer. */
interface PendingWrite extends Settler<void> {
  readonly data: Uint8Array;
  /** True when the bytes are ours (a writev concatenation), so Node may keep them without a copy. */
  readonly owned: boolean;
  /** Set when Node kept the caller's own bytes: the write resolves when Node is done with them. */
  waitsForCallback: boolean;
}

/**
 * Push-mode receiving, an opt-in extension of the Flow contract (see
 * {@link SocketTcpFlow.receive}): each chunk goes straight to `data` from the socket's event,
 * without a promise or a read-ahead queue.
 */
export interface FlowReceiver {
  /** Received bytes, valid only during the call (the flow may reuse them afterwards); must not throw. */
  data(chunk: Uint8Array): void;
  /**
   * Called once when receiving is over: without an error when the peer finished sending or the
   * flow was closed locally, with one (`ConnectionReset`, `ClosedError`) when the connection failed.
   */
  end(error?: Error): void;
}

/**
 * What the socket stack's flows offer beyond `TcpFlow`, for callers that detect it (an
 * application on any other stack keeps to `read` and `write`).
 */
export interface PushModeFlow {
  receive(receiver: FlowReceiver): void;
  writeNow(data: Uint8Array): Promise<void> | undefined;
}

/** Where the endpoints of a flow are. */
export interface FlowEndpoints {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
}

/**
 * Node's own fields for `net.Socket`'s `onread` option (a static read buffer and its callback).
 * Node offers that option only to sockets it creates for `connect`, not to accepted ones, so
 * push mode sets them on a socket after the fact when it finds them; where it does not (another
 * Node version), it keeps to the 'data' event.
 */
interface StaticReadHooks {
  readonly buffer: symbol;
  readonly callback: symbol;
}

function staticReadHooks(socket: net.Socket): StaticReadHooks | undefined {
  const symbols = Object.getOwnPropertySymbols(socket);
  const buffer = symbols.find((symbol) => symbol.description === 'kBuffer');
  const callback = symbols.find((symbol) => symbol.description === 'kBufferCb');
  const generator = symbols.find((symbol) => symbol.description === 'kBufferGen');
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: unknown } })._handle;
  if (buffer === undefined || callback === undefined || generator === undefined || typeof handle?.useUserBuffer !== 'function') return undefined;
  const fields = socket as unknown as Record<symbol, unknown>;
  // Only a socket that reads into Node's fresh buffers: none of the three is set yet.
  if (fields[buffer] != null || fields[callback] != null || fields[generator] != null) return undefined;
  return { buffer, callback };
}

/**
 * The read buffer every push-mode socket reads into: a receiver sees its bytes only during its
 * call, and calls never overlap (one thread), so one buffer serves them all. A plain Uint8Array,
 * not a Buffer: its chunks' `slice` copies, as a receiver keeping bytes expects.
 */
let sharedReadBuffer: Uint8Array | undefined;
const SHARED_READ_BUFFER_BYTES = 64 * 1024;

function copyOf(data: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(data.length);
  copy.set(data);
  return copy;
}

/** A connection of the socket stack. */
export class SocketTcpFlow implements TcpFlow, PushModeFlow {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;

  // Receive side: chunks read ahead of read(), up to receiveBufferLimit bytes.
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private paused = false;
  private peerFinished = false;
  private readonly readers: Settler<Uint8Array | null>[] = [];
  /** Set by receive(): chunks go to it instead of read(). */
  private receiver: FlowReceiver | undefined;
  private receiverEnded = false;

  // Send side.
  private readonly writes: PendingWrite[] = [];
  private shutdownRequested = false;
  private endCalled = false;
  private finSentFirst = false;
  private finished = false;
  private readonly shutdownWaiters: Settler<void>[] = [];

  // Closing and failure.
  /** close() was called: reading is over (reads return null) and so is writing. */
  private closing = false;
  private readonly closeWaiters: Settler<void>[] = [];
  private closeTimer: Timer | undefined;
  /** Node closed the socket ('close' event). */
  private destroyed = false;
  /**
   * The connection failed (reset by the peer, aborted, its stack closed): every pending and
   * later operation rejects with this, as on the direct stack.
   */
  private failure: MorganaError | undefined;
  private readonly closedPromise: Promise<void>;

  private readonly onWritten = (error?: Error | null): void => {
    if (error == null) this.pump();
  };

  // writeNow(): direct writes handed to Node and their callbacks so far (Node calls them in
  // order), and the one direct write whose bytes Node kept, settled when its callback comes.
  private directWrites = 0;
  private directWritesDone = 0;
  private keptWrite: (Settler<void> & { readonly sequence: number }) | undefined;
  /** One callback for every direct write, so that Node batches their completions in one tick. */
  private readonly onDirectWritten = (error?: Error | null): void => {
    this.directWritesDone += 1;
    const kept = this.keptWrite;
    if (kept !== undefined && kept.sequence === this.directWritesDone) {
      this.keptWrite = undefined;
      if (error == null) kept.resolve();
      else kept.reject(this.failure ?? toMorganaError(error));
    }
    this.onWritten(error);
  };

  constructor(
    private readonly socket: net.Socket,
    endpoints: FlowEndpoints,
    private readonly config: SocketStackConfig,
    private readonly counters: CounterSet,
    onClosed: (flow: SocketTcpFlow) => void,
  ) {
    this.localAddress = endpoints.localAddress;
    this.localPort = endpoints.localPort;
    this.remoteAddress = endpoints.remoteAddress;
    this.remotePort = endpoints.remotePort;
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.onClose();
        onClosed(this);
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('finish', () => this.onFinish());
    socket.on('error', (error) => this.onError(error));
  }

  read(): Promise<Uint8Array | null> {
    if (this.receiver !== undefined) return Promise.reject(new Error('read() on a flow that pushes its chunks to a receiver'));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    // After close() nothing more is read: the stream has ended for the reader.
    if (this.closing) return Promise.resolve(null);
    const chunk = this.chunks.shift();
    if (chunk !== undefined) {
      this.buffered -= chunk.length;
      if (this.paused && this.buffered < this.config.receiveBufferLimit) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve(chunk);
    }
    if (this.peerFinished || this.destroyed) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  write(data: Uint8Array): Promise<void> {
    return this.enqueue(data, false);
  }

  /**
   * Opt-in extension (not part of `Flow`): switches this flow to push mode for the rest of its
   * life. Chunks read ahead go to `receiver` at once, then every chunk as the socket delivers
   * it; `read()` rejects from now on. Push mode has no read-ahead, so it needs no receive limit:
   * the receiver consumes each chunk before the next is read from the kernel.
   */
  receive(receiver: FlowReceiver): void {
    if (this.receiver !== undefined) throw new Error('the flow already has a receiver');
    if (this.readers.length > 0) throw new Error('receive() while a read() is pending');
    this.receiver = receiver;
    if (this.failure !== undefined) {
      this.endReceiver(this.failure);
      return;
    }
    const chunks = this.chunks.splice(0);
    this.buffered = 0;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    for (const chunk of chunks) {
      if (this.receiverEnded || this.failure !== undefined) break;
      receiver.data(chunk);
    }
    if (this.closing || this.peerFinished || this.destroyed) {
      this.endReceiver(this.failure);
      return;
    }
    this.readIntoSharedBuffer();
  }

  /**
   * Makes Node read this socket into the shared buffer and call us with the byte count, past
   * its stream machinery: no buffer allocated per read, no 'data' event.
   */
  private readIntoSharedBuffer(): void {
    const hooks = staticReadHooks(this.socket);
    if (hooks === undefined) return;
    sharedReadBuffer ??= new Uint8Array(SHARED_READ_BUFFER_BYTES);
    const fields = this.socket as unknown as Record<symbol, unknown>;
    fields[hooks.buffer] = sharedReadBuffer;
    fields[hooks.callback] = this.onStaticRead;
    (this.socket as unknown as { _handle: { useUserBuffer(buffer: Uint8Array): void } })._handle.useUserBuffer(sharedReadBuffer);
    this.counters.add('static-read-flows');
  }

  private readonly onStaticRead = (length: number, buffer: Uint8Array): boolean => {
    if (this.closing || this.failure !== undefined) {
      this.counters.add('discarded-bytes', length);
      return true;
    }
    (this.receiver as FlowReceiver).data(buffer.subarray(0, length));
    return true;
  };

  /**
   * Opt-in extension (not part of `Flow`): {@link write} without a promise in the common case.
   * When nothing is queued ahead and the kernel takes all of `data` at once, returns undefined
   * and the caller may reuse `data` straight away. Otherwise returns what `write(data)` would:
   * a promise after whose settling the caller may reuse `data`.
   */
  writeNow(data: Uint8Array): Promise<void> | undefined {
    const socket = this.socket;
    if (this.failure !== undefined || this.shutdownRequested || this.destroyed || this.writes.length > 0 || socket.writableLength > 0) {
      return this.enqueue(data, false);
    }
    this.directWrites += 1;
    socket.write(data, this.onDirectWritten);
    if (socket.writableLength === 0) return undefined;
    // Node holds the bytes until the kernel takes them: the caller gets them back then.
    const sequence = this.directWrites;
    return new Promise((resolve, reject) => {
      this.keptWrite = { resolve, reject, sequence };
    });
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    if (chunks.length === 1) return this.enqueue(chunks[0], false);
    // One buffer of our own: one system call, and nothing of the caller's is kept.
    return this.enqueue(Buffer.concat(chunks), true);
  }

  shutdown(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.finished || this.destroyed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.shutdownWaiters.push({ resolve, reject });
      this.shutdownRequested = true;
      this.pump();
    });
  }

  close(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.destroyed) return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => this.closeWaiters.push({ resolve, reject }));
    if (this.closing) return promise;
    this.closing = true;
    for (const reader of this.readers.splice(0)) reader.resolve(null);
    if (this.receiver !== undefined) this.endReceiver(undefined);
    // Nobody will read any more: drop what was read ahead and keep draining the kernel
    // until the peer's FIN, so that the connection closes gracefully instead of with a RST.
    this.discardReceived();
    this.shutdownRequested = true;
    this.closeTimer = this.config.clock.setTimer(this.config.closeTimeout, () => {
      this.closeTimer = undefined;
      this.counters.add('close-timeouts');
      this.socket.destroy();
    });
    this.pump();
    return promise;
  }

  abort(): void {
    if (this.destroyed || this.failure !== undefined) return;
    this.fail(new ConnectionReset('connection aborted locally'));
    this.counters.add('resets-sent');
    resetSocket(this.socket);
  }

  setNoDelay(noDelay: boolean): void {
    this.socket.setNoDelay(noDelay);
  }

  setKeepAlive(enable: boolean, idleMs?: number): void {
    this.socket.setKeepAlive(enable, idleMs);
  }

  info(): TcpInfo {
    const socket = this.socket;
    return {
      state: this.state(),
      // Node does not expose the kernel's TCP_INFO: the figures it keeps to itself read 0.
      srtt: 0,
      rttvar: 0,
      rto: 0,
      cwnd: 0,
      ssthresh: 0,
      mss: 0,
      retransmits: 0,
      // bytesWritten counts what is still queued in Node; the kernel has the rest.
      bytesSent: Math.max(0, socket.bytesWritten - socket.writableLength),
      bytesReceived: socket.bytesRead,
      sndWnd: 0,
      rcvWnd: 0,
      congestionControl: 'kernel',
    };
  }

  /** The stack is closing: fail everything pending with `ClosedError` and reset the connection. */
  destroyForStack(): Promise<void> {
    if (!this.destroyed) {
      this.fail(new ClosedError('the socket stack was closed'));
      resetSocket(this.socket);
    }
    return this.closedPromise;
  }


  /** The state as far as Node lets us see it: which FINs went each way, and whether the socket is gone. */
  private state(): TcpState {
    if (this.destroyed || this.failure !== undefined) return 'CLOSED';
    if (!this.endCalled) return this.peerFinished ? 'CLOSE-WAIT' : 'ESTABLISHED';
    if (!this.peerFinished) return this.finished ? 'FIN-WAIT-2' : 'FIN-WAIT-1';
    return this.finSentFirst ? 'TIME-WAIT' : 'LAST-ACK';
  }

  private enqueue(data: Uint8Array, owned: boolean): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.shutdownRequested || this.destroyed) return Promise.reject(new ClosedError('the flow is shut down for writing'));
    return new Promise((resolve, reject) => {
      this.writes.push({ data, owned, resolve, reject, waitsForCallback: false });
      this.pump();
    });
  }

  /**
   * Hands queued writes to Node while it holds less than sendBufferLimit bytes beyond what the
   * kernel took. A write Node can pass to the kernel at once goes uncopied; one that must wait
   * in Node's buffer is copied (the caller may reuse its bytes once `write` resolves), unless it
   * is the only one there, in which case `write` waits until the kernel has taken it.
   */
  private pump(): void {
    if (this.destroyed || this.failure !== undefined) return;
    const socket = this.socket;
    while (this.writes.length > 0) {
      const item = this.writes[0];
      const held = socket.writableLength;
      if (held > 0 && held + item.data.length > this.config.sendBufferLimit) return;
      this.writes.shift();
      if (held > 0) {
        socket.write(item.owned ? item.data : copyOf(item.data), this.onWritten);
        item.resolve();
        continue;
      }
      socket.write(item.data, (error?: Error | null) => {
        if (item.waitsForCallback) {
          if (error == null) item.resolve();
          else item.reject(this.failure ?? toMorganaError(error));
        }
        this.onWritten(error);
      });
      if (item.owned || socket.writableLength === 0) item.resolve();
      else item.waitsForCallback = true;
    }
    if (this.shutdownRequested && !this.endCalled) {
      this.endCalled = true;
      this.finSentFirst = !this.peerFinished;
      socket.end();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closing || this.failure !== undefined) {
      this.counters.add('discarded-bytes', chunk.length);
      return;
    }
    const receiver = this.receiver;
    if (receiver !== undefined) {
      receiver.data(chunk);
      return;
    }
    // Each chunk is a fresh buffer from Node, so it is handed out without a copy.
    const reader = this.readers.shift();
    if (reader !== undefined) {
      reader.resolve(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (!this.paused && this.buffered >= this.config.receiveBufferLimit) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private onEnd(): void {
    this.peerFinished = true;
    for (const reader of this.readers.splice(0)) reader.resolve(null);
    if (this.receiver !== undefined) this.endReceiver(undefined);
  }

  /** Tells the receiver, once, that receiving is over. */
  private endReceiver(error: Error | undefined): void {
    if (this.receiverEnded) return;
    this.receiverEnded = true;
    (this.receiver as FlowReceiver).end(error);
  }

  private onFinish(): void {
    this.finished = true;
    for (const waiter of this.shutdownWaiters.splice(0)) waiter.resolve();
  }

  private onError(error: Error): void {
    // Errors after a local abort or stack close are the echo of our own destroy.
    if (this.failure !== undefined) return;
    this.fail(toMorganaError(error));
  }

  private onClose(): void {
    this.destroyed = true;
    this.closeTimer?.cancel();
    this.closeTimer = undefined;
    // A failure has settled everything already; this is a close without one (both ends
    // finished, or the close timeout destroyed the socket).
    for (const reader of this.readers.splice(0)) reader.resolve(null);
    if (this.receiver !== undefined) this.endReceiver(undefined);
    const closed = new ClosedError('the connection closed');
    for (const write of this.writes.splice(0)) write.reject(closed);
    const kept = this.keptWrite;
    this.keptWrite = undefined;
    kept?.reject(closed);
    for (const waiter of this.shutdownWaiters.splice(0)) waiter.reject(closed);
    for (const waiter of this.closeWaiters.splice(0)) waiter.resolve();
  }

  /**
   * The connection is dead: pending and later operations reject with `error`. Received data
   * is flushed, as RFC 9293 §3.10.7.4 asks on a reset.
   */
  private fail(error: MorganaError): void {
    this.failure = error;
    this.closeTimer?.cancel();
    this.closeTimer = undefined;
    this.discardReceived();
    for (const reader of this.readers.splice(0)) reader.reject(error);
    if (this.receiver !== undefined) this.endReceiver(error);
    const kept = this.keptWrite;
    this.keptWrite = undefined;
    kept?.reject(error);
    for (const write of this.writes.splice(0)) write.reject(error);
    for (const waiter of this.shutdownWaiters.splice(0)) waiter.reject(error);
    for (const waiter of this.closeWaiters.splice(0)) waiter.reject(error);
  }

  private discardReceived(): void {
    if (this.buffered > 0) this.counters.add('discarded-bytes', this.buffered);
    this.chunks.length = 0;
    this.buffered = 0;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }
}
