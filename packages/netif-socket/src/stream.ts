/**
 * QEMU's stream transport (`-netdev stream`, and `-netdev socket,listen=|connect=`): frames over
 * TCP or a Unix socket, each after a 4-byte big-endian length. As a client we connect (and may
 * reconnect); as a server we take one peer at a time, as QEMU does.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { ClosedError, UnsupportedError } from '@morgana/core';
import type { Fill, TxOffload } from '@morgana/core';
import { ETHERNET_HEADER, SocketNetifBase, positiveInteger } from './base.js';
import type { SocketNetif, SocketNetifOptions } from './base.js';
import { QEMU_MAX_FRAME_LENGTH, STREAM_HEADER_LENGTH, StreamFrameDecoder, writeStreamHeader } from './framing.js';
import type { StreamDropReason } from './framing.js';

/** A TCP endpoint (`host` defaults to 127.0.0.1) or a Unix socket path. */
export type StreamEndpoint = { readonly host?: string; readonly port: number } | { readonly path: string };

/** Options of {@link openStreamNetif}: exactly one of `connect` and `listen`. */
export interface StreamNetifOptions extends SocketNetifOptions {
  /** Connect to a peer listening here (QEMU's `server=on`). */
  readonly connect?: StreamEndpoint;
  /** Listen here for one peer at a time (QEMU's `server=off`). */
  readonly listen?: StreamEndpoint;
  /** Client mode: reconnect this long after the connection drops. Default 0: stay disconnected. */
  readonly reconnectDelayMs?: number;
  /**
   * A length prefix above this drops the connection (`'bad-length'`): the stream is out of step.
   * Default {@link QEMU_MAX_FRAME_LENGTH}. Frames above the MTU but below this are skipped (`'too-large'`).
   */
  readonly maxLengthField?: number;
}

/** A device over a byte stream. */
export interface StreamNetif extends SocketNetif {
  /** True while a peer is connected. */
  readonly connected: boolean;
  /** Server mode: where we listen (the real port when it was 0). Client mode: the peer's endpoint. */
  address(): StreamEndpoint;
  /** Resolves when a peer is connected (at once if one is). */
  waitForPeer(timeoutMs?: number): Promise<void>;
}

function describe(endpoint: StreamEndpoint): string {
  return 'path' in endpoint ? endpoint.path : `${endpoint.host ?? '127.0.0.1'}:${endpoint.port}`;
}

function connectTo(endpoint: StreamEndpoint): Socket {
  return 'path' in endpoint
    ? createConnection({ path: endpoint.path })
    : createConnection({ host: endpoint.host ?? '127.0.0.1', port: endpoint.port });
}

/**
 * Opens a stream device. Client mode resolves once connected; server mode once listening (frames
 * written before a peer connects are dropped as `'not-connected'`). Rejects with
 * {@link UnsupportedError} when the endpoint cannot be reached or bound.
 */
export async function openStreamNetif(options: StreamNetifOptions): Promise<StreamNetif> {
  if ((options.connect === undefined) === (options.listen === undefined)) {
    throw new RangeError('openStreamNetif needs exactly one of connect and listen');
  }
  const netif = new Stream(options);
  await netif.start();
  return netif;
}

class Stream extends SocketNetifBase implements StreamNetif {
  private readonly options: StreamNetifOptions;
  private readonly decoder: StreamFrameDecoder;
  private readonly reconnectDelayMs: number;
  private server: Server | undefined;
  private socket: Socket | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private peerWaiters: (() => void)[] = [];
  private corked = false;
  private delivered = 0;

  constructor(options: StreamNetifOptions) {
    super(options);
    this.options = options;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 0;
    const maxLengthField = positiveInteger(options.maxLengthField ?? QEMU_MAX_FRAME_LENGTH, 'maxLengthField');
    this.decoder = new StreamFrameDecoder(
      { maxFrameLength: this.maxFrame, maxLengthField: Math.max(maxLengthField, this.maxFrame), minFrameLength: ETHERNET_HEADER },
      { frame: this.onDecodedFrame, drop: this.onDecoderDrop },
    );
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  async start(): Promise<void> {
    if (this.options.listen !== undefined) {
      const endpoint = this.options.listen;
      const server = createServer({ noDelay: true }, this.onConnection);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(new UnsupportedError(`cannot listen on ${describe(endpoint)}: ${error.message}`)));
        if ('path' in endpoint) server.listen(endpoint.path, resolve);
        else server.listen(endpoint.port, endpoint.host ?? '127.0.0.1', resolve);
      });
      server.on('error', () => this.counterSet.add('server-error'));
      this.server = server;
      return;
    }
    const endpoint = this.options.connect as StreamEndpoint;
    const socket = connectTo(endpoint);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error) => reject(new UnsupportedError(`cannot connect to ${describe(endpoint)}: ${error.message}`)));
      socket.once('connect', () => resolve());
    });
    socket.removeAllListeners('error');
    this.adopt(socket);
  }

  address(): StreamEndpoint {
    if (this.server !== undefined) {
      const bound = this.server.address();
      if (typeof bound === 'string') return { path: bound };
      if (bound !== null) return { host: bound.address, port: bound.port };
    }
    return (this.options.connect ?? this.options.listen) as StreamEndpoint;
  }

  waitForPeer(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the stream device is closed'));
    if (this.socket !== undefined) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.peerWaiters = this.peerWaiters.filter((waiter) => waiter !== done);
        reject(new UnsupportedError(`no peer on ${describe(this.address())} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.peerWaiters.push(done);
    });
  }

  write(size: number, fill: Fill, offload?: TxOffload): boolean {
    const refused = this.refuseWrite(size, offload);
    if (refused !== undefined) return this.dropTx(refused);
    const socket = this.socket;
    if (socket === undefined) return this.dropTx('not-connected');
    if (socket.writableLength + STREAM_HEADER_LENGTH + size > this.maxWriteQueueBytes) return this.dropTx('queue-full');
    // The socket keeps the buffer until it is written, so each frame gets its own.
    const buffer = Buffer.allocUnsafe(STREAM_HEADER_LENGTH + size);
    const used = fill(buffer.subarray(STREAM_HEADER_LENGTH));
    if (!(used >= ETHERNET_HEADER && used <= size)) return this.dropTx('bad-fill-length');
    writeStreamHeader(buffer, 0, used);
    // Frames written in one tick leave in one writev.
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(this.uncork, socket);
    }
    socket.write(buffer.subarray(0, STREAM_HEADER_LENGTH + used));
    this.sent(used);
    return true;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.stopReceiving();
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.socket?.destroy();
    this.socket = undefined;
    const server = this.server;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private readonly uncork = (socket: Socket): void => {
    this.corked = false;
    socket.uncork();
  };

  private readonly onConnection = (socket: Socket): void => {
    if (this.socket !== undefined || this.closed) {
      // One peer at a time, as QEMU's own stream server.
      this.counterSet.add('connection-rejected');
      socket.destroy();
      return;
    }
    this.adopt(socket);
  };

  private adopt(socket: Socket): void {
    socket.setNoDelay(true);
    this.socket = socket;
    this.decoder.reset();
    this.counterSet.add('connected');
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', () => this.counterSet.add('socket-error'));
    socket.on('close', () => this.onClose(socket));
    const waiters = this.peerWaiters;
    this.peerWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private onData(socket: Socket, chunk: Buffer): void {
    this.delivered = 0;
    if (!this.decoder.push(chunk)) {
      this.counterSet.add('bad-length');
      socket.destroy();
    }
    if (this.delivered > 0 && !this.closed) this.onBatchEnd?.();
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.corked = false;
    if (this.closed) return;
    this.counterSet.add('disconnected');
    if (this.options.connect !== undefined && this.reconnectDelayMs > 0) this.scheduleReconnect(this.options.connect);
  }

  private scheduleReconnect(endpoint: StreamEndpoint): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      const socket = connectTo(endpoint);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        if (this.closed) socket.destroy();
        else this.adopt(socket);
      });
      socket.once('error', () => {
        this.counterSet.add('reconnect-failed');
        socket.destroy();
        if (!this.closed) this.scheduleReconnect(endpoint);
      });
    }, this.reconnectDelayMs);
  }

  private readonly onDecodedFrame = (frame: Uint8Array): void => {
    this.delivered++;
    this.deliver(frame);
  };

  private readonly onDecoderDrop = (reason: StreamDropReason): void => {
    this.dropRx(reason);
  };
}
