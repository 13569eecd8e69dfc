/**
 * An OpenFlow controller (1.3.x §6.3): accepts switches on a `Tcp` listener, runs the HELLO /
 * FEATURES handshake, keeps each connection alive with echoes on the injected Clock, and pairs
 * requests with replies by xid. Runs on any morgana Tcp (host sockets, the TypeScript stack).
 * Messages are framed in place in each read; PACKET_INs go to fast handlers without a repr
 * (see fast-path.ts), and everything a read produces leaves in one write. On a flow that offers
 * push mode (the socket stack's), chunks are handled in the socket's own event and answers are
 * written without a promise: in latency-bound use (one request outstanding per switch) that
 * path is most of a response's cost.
 */
import {
  type Clock, ClosedError, type Ipv4Address, CounterSet, type Counters, DecodeError, ProtocolError, TimeoutError, type Tcp, type TcpFlow,
  type TcpListener, type Timer,
} from '@morgana/core';
import {
  OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE,
  OFPMPF_MORE, OFP_TCP_PORT, OFP_VERSION_1_0, OFP_VERSION_1_3,
} from './constants.js';
import { FlowModTemplate, OFPT_PACKET_IN, PacketOutTemplate, RawPacketIn } from './fast-path.js';
import { type FrameSink, MessageFramer } from './framer.js';
import { OFP_REPLY_TYPES, type OfpMessage, emitMessage, errorFor, errorForDecodeError, negotiateVersion, parseMessage } from './wire.js';

/** A message as the application writes it: version and xid are filled in by the connection. */
export type OutgoingMessage = OfpMessage extends infer M ? M extends OfpMessage ? Omit<M, 'version' | 'xid'> : never : never;

/** Configuration of {@link createController}; every limit has a default. */
export interface ControllerConfig {
  readonly tcp: Tcp;
  readonly clock: Clock;
  /** Listening port; default 6653 (IANA). 0 picks a free one where the Tcp allows it. */
  readonly port?: number;
  /** Local address to accept switches on; default every address of the stack. */
  readonly address?: Ipv4Address;
  /** Versions offered in our HELLO bitmap; default [1.3, 1.0]. */
  readonly versions?: readonly number[];
  /** Milliseconds of silence after which an ECHO_REQUEST is sent; default 5 000. */
  readonly echoIntervalMs?: number;
  /** Milliseconds of silence after which the switch is dropped; default 15 000. */
  readonly echoTimeoutMs?: number;
  /** Milliseconds for HELLO and FEATURES_REPLY to arrive; default 10 000. */
  readonly handshakeTimeoutMs?: number;
  /** Milliseconds a request waits for its reply; default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Connected switches at once; more are refused (closed); default 1 024. */
  readonly maxSwitches?: number;
  /** Outstanding requests per switch; default 1 024. */
  readonly maxPendingRequests?: number;
  /** Messages queued for writing per switch before the switch is dropped as stuck; default 4 096. */
  readonly maxWriteQueue?: number;
  /** Largest message accepted; default 65 535. */
  readonly maxMessageSize?: number;
  /** Called when a switch finished its handshake. */
  readonly onSwitch?: (connection: SwitchConnection) => void;
}

export const CONTROLLER_DEFAULTS = {
  port: OFP_TCP_PORT,
  versions: [OFP_VERSION_1_3, OFP_VERSION_1_0] as readonly number[],
  echoIntervalMs: 5_000,
  echoTimeoutMs: 15_000,
  handshakeTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  maxSwitches: 1_024,
  maxPendingRequests: 1_024,
  maxWriteQueue: 4_096,
  maxMessageSize: 0xffff,
} as const;

type Resolved = Required<Omit<ControllerConfig, 'onSwitch' | 'address'>> & Pick<ControllerConfig, 'onSwitch' | 'address'>;

/** A switch's FEATURES_REPLY. */
export type SwitchFeatures = Extract<OfpMessage, { type: 'features-reply' }>;

/** The error a switch answered a request with. */
export class OpenFlowError extends ProtocolError {
  constructor(readonly reply: Extract<OfpMessage, { type: 'error' }>) {
    super(`switch answered with OpenFlow error type ${reply.errorType} code ${reply.code}`);
  }
}

interface Pending {
  readonly resolve: (replies: OfpMessage[]) => void;
  readonly reject: (error: Error) => void;
  readonly replies: OfpMessage[];
  readonly timer: Timer;
}

/** Bytes of a connection's output buffer to start with; it grows to hold a whole batch. */
const OUTPUT_BUFFER_BYTES = 64 * 1024;
/** Largest written output buffer kept for reuse; a bigger one (after a burst) is left to the GC. */
const SPARE_BUFFER_LIMIT = 1024 * 1024;

/**
 * What a flow may offer beyond `TcpFlow` (the socket stack's flows do): chunks pushed to a
 * receiver instead of read() promises, and writes that need no promise when the kernel takes
 * the bytes at once. Detected per flow; any other flow uses read() and write().
 */
interface PushFlow {
  receive(receiver: { data(chunk: Uint8Array): void; end(error?: Error): void }): void;
  writeNow(data: Uint8Array): Promise<void> | undefined;
}

function pushFlow(flow: TcpFlow): PushFlow | undefined {
  const candidate = flow as Partial<PushFlow>;
  return typeof candidate.receive === 'function' && typeof candidate.writeNow === 'function' ? (flow as TcpFlow & PushFlow) : undefined;
}

/** One connected switch. */
export class SwitchConnection {
  /** Negotiated version; 0 until HELLO arrives. */
  version = 0;
  features: SwitchFeatures | undefined;
  private nextXid = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(message: OfpMessage) => void>();
  private readonly closeListeners = new Set<(reason: Error | undefined) => void>();
  private readonly framer: MessageFramer;
  private lastReceived: number;
  private keepalive: Timer | undefined;
  /** The write in flight (settled when none is). */
  private writing: Promise<void> = Promise.resolve();
  private writeInFlight = false;
  /** Messages in the output buffer or being written. */
  private queued = 0;
  /**
   * Messages emitted since the last write, back to back: everything produced while handling one
   * read goes out in one write, and while a write is in flight the next batch gathers here.
   */
  private out: Uint8Array = new Uint8Array(OUTPUT_BUFFER_BYTES);
  private outLength = 0;
  private outMessages = 0;
  /** A written output buffer, reused for the batch after next (the Flow lets us once its write settled). */
  private spare: Uint8Array | undefined;
  /** The buffer being written and how many messages it holds. */
  private inFlightBuffer: Uint8Array = new Uint8Array(0);
  private inFlightMessages = 0;
  private flushScheduled = false;
  private readonly flushTask = (): void => this.flush();
  /** True while the messages of one read are handled: they are flushed once, after the last. */
  private inRead = false;
  private closed = false;
  private packetInHandlers: readonly ((packetIn: RawPacketIn) => void)[] = [];
  private readonly rawPacketIn = new RawPacketIn();
  private readonly sink: FrameSink = { frame: (bytes, offset, length) => this.onFrame(bytes, offset, length) };
  private onReady: () => void = () => undefined;
  private handshake: Timer | undefined;
  /** The flow's push-mode extension, when it has one. */
  private readonly push: PushFlow | undefined;
  // Fast-path tallies in plain numbers, folded into the counters whenever they are read.
  private rxPacketIns = 0;
  private txFlowMods = 0;
  private txPacketOuts = 0;
  private readonly counterSet = new CounterSet();

  constructor(readonly flow: TcpFlow, private readonly config: Resolved) {
    this.framer = new MessageFramer({ maxMessageSize: config.maxMessageSize });
    this.lastReceived = config.clock.now();
    this.push = pushFlow(flow);
  }

  /** Per-switch counters: messages in/out by type, drops by reason. */
  get counters(): CounterSet {
    this.foldTallies();
    return this.counterSet;
  }

  /** The datapath id from FEATURES_REPLY (0n before). */
  get datapathId(): bigint {
    return this.features?.datapathId ?? 0n;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Subscribes to every message the switch sends that is not a reply to our request. */
  onMessage(listener: (message: OfpMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Subscribes a fast packet-in handler. Every PACKET_IN after the handshake reaches it as one
   * reused {@link RawPacketIn} read in place from the receive buffer, valid only during the call.
   * PACKET_INs still reach `onMessage` listeners as well, parsed only while there are some.
   */
  onPacketIn(handler: (packetIn: RawPacketIn) => void): () => void {
    this.packetInHandlers = [...this.packetInHandlers, handler];
    return () => {
      this.packetInHandlers = this.packetInHandlers.filter((candidate) => candidate !== handler);
    };
  }

  onClose(listener: (reason: Error | undefined) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Sends a message and returns its xid. */
  send(message: OutgoingMessage, xid = this.allocateXid()): number {
    this.write({ ...message, version: this.version || this.config.versions[0], xid } as OfpMessage);
    return xid;
  }

  /**
   * Fast path: sends `template`'s FLOW_MOD (exact in_port / eth_src / eth_dst match, one output
   * action) with these fields, written straight into the output buffer; returns its xid.
   */
  sendFlowMod(template: FlowModTemplate, bufferId: number, inPort: number, ethSrc: number, ethDst: number, outPort: number): number {
    if (template.version !== this.version) throw new RangeError(`FLOW_MOD template of version ${template.version} on a version ${this.version} connection`);
    const xid = this.allocateXid();
    if (!this.admit()) return xid;
    const at = this.reserve(template.size);
    template.write(this.out, at, xid, bufferId, inPort, ethSrc, ethDst, outPort);
    this.txFlowMods += 1;
    return xid;
  }

  /**
   * Fast path: sends `template`'s PACKET_OUT (one output action) carrying
   * `source[from, from + length)` as its frame (length 0 for a buffered packet); returns its xid.
   */
  sendPacketOut(template: PacketOutTemplate, bufferId: number, inPort: number, outPort: number, source: Uint8Array, from: number, length: number): number {
    if (template.version !== this.version) throw new RangeError(`PACKET_OUT template of version ${template.version} on a version ${this.version} connection`);
    const xid = this.allocateXid();
    if (!this.admit()) return xid;
    const at = this.reserve(template.headSize + length);
    template.write(this.out, at, xid, bufferId, inPort, outPort, source, from, length);
    this.txPacketOuts += 1;
    return xid;
  }

  /**
   * Sends a request and resolves with its replies: one, or every part of a multipart reply
   * (until one without OFPMPF_REPLY_MORE). Rejects with `OpenFlowError`, `TimeoutError` or
   * `ClosedError`.
   */
  request(message: OutgoingMessage): Promise<OfpMessage[]> {
    return this.track(message);
  }

  /**
   * Sends `messages` then a BARRIER_REQUEST; resolves when the barrier reply shows the switch
   * processed them all (1.3 §6.2), rejecting with the first `OpenFlowError` one of them caused.
   */
  async sendWithBarrier(messages: readonly OutgoingMessage[]): Promise<void> {
    const errors: OpenFlowError[] = [];
    const xids = new Set(messages.map((message) => this.send(message)));
    const off = this.onMessage((reply) => {
      if (reply.type === 'error' && xids.has(reply.xid)) errors.push(new OpenFlowError(reply));
    });
    try {
      await this.track({ type: 'barrier-request' });
    } finally {
      off();
    }
    if (errors.length > 0) throw errors[0] as OpenFlowError;
  }

  /**
   * Closes the connection: gracefully (after queued messages, such as a final error, are
   * written) when `graceful`, else at once with a reset.
   */
  close(reason?: Error, graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    this.keepalive?.cancel();
    this.handshake?.cancel();
    for (const pending of this.pending.values()) {
      pending.timer.cancel();
      pending.reject(reason ?? new ClosedError('switch connection closed'));
    }
    this.pending.clear();
    if (graceful) {
      // What was queued before the close (a HELLO_FAILED error, say) still goes out first.
      void this.drain().then(() => this.flow.close()).catch(() => this.flow.abort());
    } else {
      this.flow.abort();
    }
    for (const listener of this.closeListeners) listener(reason);
  }

  private allocateXid(): number {
    const xid = this.nextXid;
    this.nextXid = this.nextXid >= 0xffffffff ? 1 : this.nextXid + 1;
    return xid;
  }

  private track(message: OutgoingMessage): Promise<OfpMessage[]> {
    if (this.closed) return Promise.reject(new ClosedError('switch connection closed'));
    if (this.pending.size >= this.config.maxPendingRequests) {
      this.counterSet.add('pending-requests-full');
      return Promise.reject(new ProtocolError(`more than ${this.config.maxPendingRequests} requests outstanding`));
    }
    const xid = this.allocateXid();
    return new Promise<OfpMessage[]>((resolve, reject) => {
      const timer = this.config.clock.setTimer(this.config.requestTimeoutMs, () => {
        this.pending.delete(xid);
        this.counterSet.add('request-timeout');
        reject(new TimeoutError(`no reply to ${message.type} (xid ${xid}) within ${this.config.requestTimeoutMs} ms`));
      });
      this.pending.set(xid, { resolve, reject, replies: [], timer });
      this.send(message, xid);
    });
  }

  private write(message: OfpMessage): void {
    if (!this.admit()) return;
    const bytes = emitMessage(message);
    this.out.set(bytes, this.reserve(bytes.length));
    this.counterSet.add(`tx-${message.type}`);
  }

  /** Counts one more message into the output buffer, or drops the switch when it is not reading. */
  private admit(): boolean {
    if (this.closed) return false;
    if (this.queued >= this.config.maxWriteQueue) {
      this.counterSet.add('write-queue-full');
      this.close(new ProtocolError(`switch is not reading: ${this.queued} messages queued`));
      return false;
    }
    this.queued += 1;
    this.outMessages += 1;
    // A read's messages are flushed after the read; anything else at the end of the current task.
    if (!this.inRead && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
    return true;
  }

  /** Makes room for `size` more bytes in the output buffer; returns where they go. */
  private reserve(size: number): number {
    const at = this.outLength;
    if (at + size > this.out.length) {
      const grown = new Uint8Array(Math.max(2 * this.out.length, at + size));
      grown.set(this.out.subarray(0, at));
      this.out = grown;
    }
    this.outLength = at + size;
    return at;
  }

  private foldTallies(): void {
    if (this.rxPacketIns > 0) this.counterSet.add('rx-packet-in', this.rxPacketIns);
    if (this.txFlowMods > 0) this.counterSet.add('tx-flow-mod', this.txFlowMods);
    if (this.txPacketOuts > 0) this.counterSet.add('tx-packet-out', this.txPacketOuts);
    this.rxPacketIns = 0;
    this.txFlowMods = 0;
    this.txPacketOuts = 0;
  }

  /**
   * Writes the output buffer as one batch unless a write is in flight; that write's completion
   * writes whatever gathered meanwhile, so batches go out in order, one write at a time.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.outLength === 0 || this.writeInFlight) return;
    let written: Promise<void> | undefined;
    if (this.push !== undefined) {
      // The kernel usually takes the batch at once: then the buffer is ours again straight away.
      written = this.push.writeNow(this.out.subarray(0, this.outLength));
      if (written === undefined) {
        this.queued -= this.outMessages;
        this.outLength = 0;
        this.outMessages = 0;
        return;
      }
    }
    const buffer = this.out;
    const length = this.outLength;
    const messages = this.outMessages;
    this.out = this.spare ?? new Uint8Array(Math.min(buffer.length, SPARE_BUFFER_LIMIT));
    this.spare = undefined;
    this.outLength = 0;
    this.outMessages = 0;
    this.writeInFlight = true;
    this.inFlightBuffer = buffer;
    this.inFlightMessages = messages;
    this.writing = (written ?? this.flow.write(buffer.subarray(0, length))).then(this.onWritten, this.onWriteFailed);
  }

  private readonly onWritten = (): void => {
    this.writeInFlight = false;
    this.queued -= this.inFlightMessages;
    if (this.inFlightBuffer.length <= SPARE_BUFFER_LIMIT) this.spare = this.inFlightBuffer;
    if (this.outLength > 0) this.flush();
  };

  private readonly onWriteFailed = (error: unknown): void => {
    this.writeInFlight = false;
    this.queued -= this.inFlightMessages;
    this.close(error instanceof Error ? error : undefined);
  };

  /** Settles once everything queued so far is written (or failed). */
  private async drain(): Promise<void> {
    while (this.writeInFlight || this.outLength > 0) {
      if (!this.writeInFlight) this.flush();
      await this.writing;
    }
  }

  /** Reads until the stream ends; the connection's whole receive path. */
  async run(onReady: () => void): Promise<void> {
    this.onReady = onReady;
    this.handshake = this.config.clock.setTimer(this.config.handshakeTimeoutMs, () => {
      if (this.features === undefined) {
        this.counterSet.add('handshake-timeout');
        this.close(new TimeoutError('switch did not complete the HELLO/FEATURES handshake'));
      }
    });
    // Our HELLO goes at our highest version with the bitmap of all (1.3 §6.3.1).
    this.write({ version: Math.max(...this.config.versions), xid: this.allocateXid(), type: 'hello', versions: [...this.config.versions].sort((a, b) => a - b) });
    this.scheduleKeepalive();
    if (this.push !== undefined) {
      // Push mode: each chunk is handled in the socket's own event, answered with a direct write.
      const push = this.push;
      await new Promise<void>((resolve) => {
        push.receive({
          data: (chunk) => {
            if (!this.closed) this.consume(chunk);
          },
          end: (error) => {
            this.close(error, error === undefined);
            resolve();
          },
        });
      });
      return;
    }
    try {
      for (;;) {
        const chunk = await this.flow.read();
        if (chunk === null) break;
        this.consume(chunk);
        if (this.closed) break;
      }
      this.close(undefined, true);
    } catch (error) {
      this.close(error instanceof Error ? error : undefined);
    }
  }

  /**
   * Handles every message of one received chunk and writes what they produced as one batch.
   * A bad length or a failing handler drops the switch.
   */
  private consume(chunk: Uint8Array): void {
    const now = this.config.clock.now();
    this.lastReceived = now;
    this.rawPacketIn.receivedAt = now;
    this.inRead = true;
    try {
      this.framer.each(chunk, this.sink);
    } catch (error) {
      if (error instanceof DecodeError) this.counterSet.add(`framing-${error.reason}`);
      this.inRead = false;
      this.close(error instanceof Error ? error : undefined);
      return;
    }
    this.inRead = false;
    this.flush();
  }

  /**
   * One message of a read, in place. A PACKET_IN with fast handlers and no listeners is read
   * without a repr; everything else goes through the general parser.
   */
  private onFrame(bytes: Uint8Array, offset: number, length: number): boolean {
    const handlers = this.packetInHandlers;
    if (
      handlers.length > 0 && this.listeners.size === 0 && this.features !== undefined && bytes[offset + 1] === OFPT_PACKET_IN
      && bytes[offset] === this.version && this.rawPacketIn.read(bytes, offset, length, this.version)
    ) {
      this.rxPacketIns += 1;
      for (let index = 0; index < handlers.length; index += 1) (handlers[index] as (packetIn: RawPacketIn) => void)(this.rawPacketIn);
    } else {
      this.receive(bytes, offset, length);
    }
    return !this.closed;
  }

  private receive(whole: Uint8Array, offset: number, length: number): void {
    const bytes = whole.subarray(offset, offset + length);
    let message: OfpMessage;
    try {
      message = parseMessage(bytes, { versions: this.version === 0 ? this.config.versions : [this.version] });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.counterSet.add(`rx-${error.reason}`);
      // Unknown or malformed messages are refused with the matching error (1.3 §7.4.4, §6.4).
      this.write(errorForDecodeError(this.version || (bytes[0] as number), bytes, error));
      return;
    }
    this.counterSet.add(`rx-${message.type}`);
    if (message.type === 'hello') {
      this.onHello(message);
      return;
    }
    if (message.type === 'echo-request') {
      this.write({ version: this.version, xid: message.xid, type: 'echo-reply', data: message.data });
      return;
    }
    if (message.type === 'features-reply' && this.features === undefined) {
      this.features = message;
      this.onReady();
      return;
    }
    if (message.type === 'packet-in' && this.features !== undefined) {
      const handlers = this.packetInHandlers;
      if (handlers.length > 0) this.rawPacketIn.fromMessage(message, whole, offset, length);
      for (const handler of handlers) handler(this.rawPacketIn);
    }
    const pending = OFP_REPLY_TYPES.has(message.type) ? this.pending.get(message.xid) : undefined;
    if (pending !== undefined) {
      if (message.type === 'error') {
        this.finish(message.xid, pending);
        pending.reject(new OpenFlowError(message));
        return;
      }
      pending.replies.push(message);
      if (message.type === 'multipart-reply' && (message.flags & OFPMPF_MORE) !== 0) return;
      this.finish(message.xid, pending);
      pending.resolve(pending.replies);
      return;
    }
    for (const listener of this.listeners) listener(message);
  }

  private finish(xid: number, pending: Pending): void {
    pending.timer.cancel();
    this.pending.delete(xid);
  }

  private onHello(hello: Extract<OfpMessage, { type: 'hello' }>): void {
    if (this.version !== 0) return;
    const version = negotiateVersion(this.config.versions, hello);
    if (version === undefined) {
      this.counterSet.add('hello-incompatible');
      this.write(errorFor(Math.max(...this.config.versions), new Uint8Array(0), OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE));
      this.close(new ProtocolError(`no common OpenFlow version with the switch's ${hello.versions?.join(',') ?? hello.version}`), true);
      return;
    }
    this.version = version;
    this.send({ type: 'features-request' });
  }

  private scheduleKeepalive(): void {
    const interval = this.config.echoIntervalMs;
    this.keepalive = this.config.clock.setTimer(interval, () => {
      if (this.closed) return;
      const silent = this.config.clock.now() - this.lastReceived;
      if (silent >= this.config.echoTimeoutMs) {
        this.counterSet.add('echo-timeout');
        this.close(new TimeoutError(`switch silent for ${silent} ms`));
        return;
      }
      if (silent >= interval && this.version !== 0) this.send({ type: 'echo-request', data: new Uint8Array(0) });
      this.scheduleKeepalive();
    });
  }
}

/** A running controller. */
export interface Controller {
  readonly port: number;
  /** Switches that finished their handshake, by datapath id. */
  readonly switches: ReadonlyMap<bigint, SwitchConnection>;
  stats(): Counters;
  close(): void;
}

/** Starts a controller on `config.tcp`. */
export function createController(config: ControllerConfig): Controller {
  const resolved: Resolved = { ...CONTROLLER_DEFAULTS, ...config };
  const counters = new CounterSet();
  const switches = new Map<bigint, SwitchConnection>();
  const connections = new Set<SwitchConnection>();
  let listener: TcpListener | undefined;
  const accept = (flow: TcpFlow): void => {
    if (connections.size >= resolved.maxSwitches) {
      counters.add('switches-full');
      flow.abort();
      return;
    }
    flow.setNoDelay(true);
    const connection = new SwitchConnection(flow, resolved);
    connections.add(connection);
    counters.add('connections');
    connection.onClose(() => {
      connections.delete(connection);
      if (connection.features !== undefined && switches.get(connection.datapathId) === connection) switches.delete(connection.datapathId);
      counters.add('disconnections');
    });
    void connection.run(() => {
      // A reconnecting datapath replaces its stale connection.
      switches.get(connection.datapathId)?.close(new ProtocolError('datapath reconnected'));
      switches.set(connection.datapathId, connection);
      counters.add('switches-up');
      resolved.onSwitch?.(connection);
    });
  };
  listener = resolved.tcp.listen(resolved.port, { address: config.address, onConnection: accept });
  return {
    port: listener.port,
    switches,
    stats: () => counters.snapshot(),
    close(): void {
      listener?.close();
      listener = undefined;
      for (const connection of [...connections]) connection.close();
    },
  };
}
