/**
 * Adapters between morgana's {@link Flow} and Node's `Duplex` streams, with backpressure both
 * ways, so that Node's own libraries (tls, http) run over a morgana TCP connection and
 * morgana's services run over any Node stream (a TLS socket, a net.Socket, a pipe).
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import { ClosedError, ConnectionReset, type Flow, type MorganaError, type TcpFlow, formatIpv4 } from '@morgana/core';
import { toMorganaError } from './errors.js';
import { resetSocket } from './reset.js';

function isTcpFlow(flow: Flow): flow is TcpFlow {
  return typeof (flow as Partial<TcpFlow>).remotePort === 'number';
}

/** A Node `Duplex` over a {@link Flow}. */
class FlowDuplex extends Duplex {
  private reading = false;
  private idleMs = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly flow: Flow) {
    super({ allowHalfOpen: true });
  }

  // Node calls _read only when its buffer is below the high-water mark, so the flow is read
  // only as fast as the stream's consumer takes data: one flow.read() at a time.
  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    this.flow.read().then(
      (chunk) => {
        this.reading = false;
        this.touch();
        this.push(chunk);
      },
      (error: unknown) => {
        this.reading = false;
        this.destroy(toMorganaError(error));
      },
    );
  }

  // The write callback waits for flow.write, which resolves when the bytes fit the flow's
  // send buffer: Node's writable buffer fills, write() returns false, and producers wait for 'drain'.
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.touch();
    this.flow.write(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], callback: (error?: Error | null) => void): void {
    this.touch();
    this.flow.writev(chunks.map((entry) => entry.chunk)).then(() => callback(), callback);
  }

  // end(): our direction is finished (a TCP FIN); reading goes on.
  override _final(callback: (error?: Error | null) => void): void {
    this.flow.shutdown().then(() => callback(), callback);
  }

  // destroy(error) drops the flow (RST); destroy() closes it gracefully, as closing a socket's
  // descriptor does, without making the caller wait for the peer.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (error !== null) {
      this.flow.abort();
    } else {
      this.flow.close().catch(() => {
        // Already reported to whoever was reading or writing.
      });
    }
    callback(error);
  }

  get remoteAddress(): string | undefined {
    return isTcpFlow(this.flow) ? formatIpv4(this.flow.remoteAddress) : undefined;
  }

  get remotePort(): number | undefined {
    return isTcpFlow(this.flow) ? this.flow.remotePort : undefined;
  }

  get localAddress(): string | undefined {
    return isTcpFlow(this.flow) ? formatIpv4(this.flow.localAddress) : undefined;
  }

  get localPort(): number | undefined {
    return isTcpFlow(this.flow) ? this.flow.localPort : undefined;
  }

  /** As on a `net.Socket`, so libraries that tune the socket work unchanged; a no-op for a flow that is not TCP. */
  setNoDelay(noDelay = true): this {
    if (isTcpFlow(this.flow)) this.flow.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay?: number): this {
    if (isTcpFlow(this.flow)) this.flow.setKeepAlive(enable, initialDelay);
    return this;
  }

  /**
   * As `net.Socket#setTimeout`: emits 'timeout' after `ms` without reads or writes (0 turns it
   * off). Node's HTTP server uses it for keep-alive and request timeouts.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback !== undefined) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    this.idleMs = ms;
    this.touch();
    return this;
  }

  /** A flow does not hold the event loop by itself (its stack does): nothing to do, as for an unref'd socket. */
  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Restarts the idle timer after activity. */
  private touch(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.idleMs > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.emit('timeout');
      }, this.idleMs);
      this.idleTimer.unref();
    }
  }
}

/**
 * Wraps a {@link Flow} as a Node `Duplex` (allowHalfOpen). `end()` shuts the flow down,
 * `destroy()` closes it, `destroy(error)` aborts it. A {@link TcpFlow}'s endpoints show as
 * `remoteAddress`/`remotePort`/`localAddress`/`localPort`, as on a `net.Socket`.
 */
export function flowToDuplex(flow: Flow): Duplex {
  return new FlowDuplex(flow);
}


function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError('duplexToFlow needs a byte stream, not an object-mode stream');
}

/** A {@link Flow} over a Node `Duplex`, read in paused mode, with the socket stack's semantics. */
class DuplexFlow implements Flow {
  private ended = false;
  private finished = false;
  private destroyed = false;
  /** close() was called: reads return null, writes fail. */
  private closingStarted = false;
  private closing: Promise<void> | undefined;
  /** Sticky: every pending and later operation rejects with it (an error, a reset, abort()). */
  private error: MorganaError | undefined;
  /** Resolved at the stream's next event; replaced each time. */
  private changed: Promise<void>;
  private wake: () => void = () => {};

  constructor(private readonly stream: Duplex) {
    this.changed = this.nextChange();
    // A 'readable' listener keeps the stream paused: Node reads ahead only up to its
    // high-water mark, and our read() takes from that buffer when the caller asks.
    stream.on('readable', () => this.wake());
    stream.on('drain', () => this.wake());
    stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    stream.on('finish', () => {
      this.finished = true;
      this.wake();
    });
    stream.on('error', (error: unknown) => {
      this.error ??= toMorganaError(error);
      this.wake();
    });
    stream.on('close', () => {
      this.destroyed = true;
      this.wake();
    });
    this.ended = stream.readableEnded;
    this.finished = stream.writableFinished;
    this.destroyed = stream.destroyed;
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      // Checked again after every wait: a read pending when the flow fails rejects, one
      // pending when it is closed returns the end.
      if (this.error !== undefined) throw this.error;
      if (this.closingStarted) return null;
      const chunk: unknown = this.stream.read();
      if (chunk !== null) return toBytes(chunk);
      if (this.ended) return null;
      if (this.destroyed) throw new ConnectionReset('the stream closed before its end');
      await this.changed;
    }
  }

  write(data: Uint8Array): Promise<void> {
    return this.send(data, false);
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    return this.send(Buffer.concat(chunks), true);
  }

  async shutdown(): Promise<void> {
    if (this.error !== undefined) throw this.error;
    if (this.destroyed) return;
    if (!this.stream.writableEnded) this.stream.end();
    await this.until(() => this.finished || this.destroyed);
  }

  close(): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    this.closing ??= this.destroyed ? Promise.resolve() : this.closeGracefully();
    return this.closing;
  }

  private async closeGracefully(): Promise<void> {
    this.closingStarted = true;
    this.wake();
    if (!this.stream.writableEnded) this.stream.end();
    // Nobody reads any more: let the rest flow away so that the peer's end can arrive.
    this.stream.removeAllListeners('readable');
    this.stream.resume();
    await this.until(() => this.destroyed || (this.ended && this.finished));
    this.stream.destroy();
  }

  abort(): void {
    if (this.error !== undefined || this.destroyed) return;
    this.error = new ConnectionReset('connection aborted locally');
    this.resetOrDestroy();
    this.wake();
  }

  /** A TCP net.Socket can send a RST; any other stream (TLS, a pipe, ...) can only be destroyed. */
  private resetOrDestroy(): void {
    if (this.stream instanceof net.Socket) {
      try {
        resetSocket(this.stream);
        return;
      } catch {
        // Not a TCP handle (Node throws ERR_INVALID_HANDLE_TYPE before touching the socket).
      }
    }
    this.stream.destroy();
  }

  private nextChange(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.changed = this.nextChange();
        resolve();
      };
    });
  }

  /** Waits until `done()` holds, failing when the stream fails first. */
  private async until(done: () => boolean): Promise<void> {
    for (;;) {
      if (this.error !== undefined) throw this.error;
      if (done()) return;
      if (this.destroyed) throw new ConnectionReset('the stream closed early');
      await this.changed;
    }
  }

  /**
   * Writes, resolving when the stream has room again. Bytes that will wait in the stream's
   * buffer are copied first (the caller may reuse its own once `write` resolves), unless the
   * write fills the buffer anyway: then it waits until the stream is done with them.
   */
  private async send(data: Uint8Array, owned: boolean): Promise<void> {
    if (this.error !== undefined) throw this.error;
    const stream = this.stream;
    if (this.closingStarted || this.destroyed || stream.writableEnded) throw new ClosedError('the flow is shut down for writing');
    const fills = stream.writableLength + data.length >= stream.writableHighWaterMark;
    if (owned || !fills) {
      if (stream.write(owned ? data : Buffer.from(data))) return;
      await this.until(() => !stream.writableNeedDrain);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      stream.write(data, (error?: Error | null) => {
        if (error == null) resolve();
        else reject(this.error ?? toMorganaError(error));
      });
    });
  }
}

/**
 * Wraps a Node `Duplex` (a net.Socket, a TLS socket, ...) as a {@link Flow}. `read()` pulls
 * from the stream in paused mode, `write()` resolves when the stream's buffer has room,
 * `shutdown()` is `end()`, `close()` waits until both directions finished, `abort()` resets
 * a net.Socket and destroys any other stream.
 */
export function duplexToFlow(duplex: Duplex): Flow {
  return new DuplexFlow(duplex);
}
