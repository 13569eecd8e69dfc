/**
 * One control connection of the switch (OpenFlow 1.3.x §6.3): HELLO and version negotiation
 * (1.0 or 1.3), framing, echo keepalive, a bounded write queue, and the connection's role and
 * asynchronous-message masks (§6.3.5, §7.3.10).
 */
import { type Clock, CounterSet, DecodeError, type TcpFlow, type Timer, UnsupportedError } from '@morgana/core';
import {
  OFPBRC_BAD_VERSION, OFPBRC_EPERM, OFPCR_ROLE_EQUAL, OFPCR_ROLE_SLAVE, OFPET_BAD_REQUEST, OFPET_HELLO_FAILED,
  OFPHFC_INCOMPATIBLE, OFP_VERSION_1_0,
} from './constants.js';
import type { OutgoingMessage } from './controller.js';
import { MessageFramer } from './framer.js';
import { type OfpMessage, emitMessage, errorFor, errorForDecodeError, negotiateVersion, parseMessage } from './wire.js';

/** Limits and timers of a control channel. */
export interface ChannelConfig {
  readonly clock: Clock;
  /** Versions offered in HELLO, highest first. */
  readonly versions: readonly number[];
  /** Milliseconds of silence before an ECHO_REQUEST; default 5 000. */
  readonly echoIntervalMs: number;
  /** Milliseconds of silence before the connection is given up; default 15 000. */
  readonly echoTimeoutMs: number;
  /**
   * Bytes queued for writing past which asynchronous messages are dropped; past twice this the
   * connection is closed; default 4 MiB.
   */
  readonly maxWriteQueueBytes: number;
}

/** Default async masks (1.3.x §7.3.10): index 0 master/equal, 1 slave. */
const DEFAULT_PACKET_IN_MASK: readonly [number, number] = [0b111, 0];
const DEFAULT_PORT_STATUS_MASK: readonly [number, number] = [0b111, 0b111];
const DEFAULT_FLOW_REMOVED_MASK: readonly [number, number] = [0b1111, 0];

/** Asynchronous message kinds the masks filter. */
export type AsyncKind = 'packet-in' | 'port-status' | 'flow-removed';

/** A controller connection, passive (accepted) or active (dialled). */
export class SwitchChannel {
  /** The negotiated version, 0 until the peer's HELLO. */
  version = 0;
  /** OFPCR_ROLE_EQUAL, _MASTER or _SLAVE. */
  role: number = OFPCR_ROLE_EQUAL;
  packetInMask: readonly [number, number] = DEFAULT_PACKET_IN_MASK;
  portStatusMask: readonly [number, number] = DEFAULT_PORT_STATUS_MASK;
  flowRemovedMask: readonly [number, number] = DEFAULT_FLOW_REMOVED_MASK;
  private readonly framer = new MessageFramer();
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushing = false;
  private xid = 1;
  private closed = false;
  private lastHeard: number;
  private echoTimer: Timer | undefined;
  private closeHandlers: (() => void)[] = [];

  constructor(
    readonly flow: TcpFlow,
    private readonly config: ChannelConfig,
    private readonly counters: CounterSet,
    private readonly onMessage: (channel: SwitchChannel, message: OfpMessage, bytes: Uint8Array) => void,
  ) {
    this.lastHeard = config.clock.now();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Registers a callback for when the connection ends. */
  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  /** Whether an asynchronous message of `kind` with `reason` goes to this controller (roles and masks). */
  wants(kind: AsyncKind, reason: number): boolean {
    if (this.version === 0) return false;
    // OpenFlow 1.0 has neither roles nor masks: every controller gets every message.
    if (this.version === OFP_VERSION_1_0) return true;
    const masks = kind === 'packet-in' ? this.packetInMask : kind === 'port-status' ? this.portStatusMask : this.flowRemovedMask;
    const mask = masks[this.role === OFPCR_ROLE_SLAVE ? 1 : 0];
    return ((mask >>> reason) & 1) === 1;
  }

  /** Sends a message at the negotiated version; `xid` pairs a reply with its request. */
  send(message: OutgoingMessage, xid?: number): void {
    this.sendRaw({ ...message, version: this.version || (this.config.versions[0] as number), xid: xid ?? this.nextXid() } as OfpMessage);
  }

  /**
   * Sends an asynchronous message unless the write queue is over its limit, or the message
   * cannot be encoded (a frame too large for one PACKET_IN): then it is counted and dropped,
   * so the datapath's receive path never sees an exception.
   */
  sendAsync(message: OutgoingMessage): void {
    if (this.queuedBytes > this.config.maxWriteQueueBytes) {
      this.counters.add(`${message.type}-dropped-queue-full`);
      return;
    }
    try {
      this.send(message);
    } catch (error) {
      if (error instanceof DecodeError) this.counters.add(`${message.type}-dropped-${error.reason}`);
      else if (error instanceof UnsupportedError) this.counters.add(`${message.type}-dropped-unsupported`);
      else throw error;
    }
  }

  sendRaw(message: OfpMessage): void {
    this.write(emitMessage(message));
  }

  /** An ERROR for a refused message carrying its first 64 bytes (1.3.x §7.4.4). */
  sendError(offending: Uint8Array, type: number, code: number): void {
    this.sendRaw(errorFor(this.version || (this.config.versions[0] as number), offending, type, code));
  }

  private nextXid(): number {
    const xid = this.xid;
    this.xid = (this.xid + 1) >>> 0 || 1;
    return xid;
  }

  private write(bytes: Uint8Array): void {
    if (this.closed) return;
    // A controller that sends requests but does not read the answers would grow the queue
    // without end: past twice the limit the connection is given up.
    if (this.queuedBytes + bytes.length > 2 * this.config.maxWriteQueueBytes) {
      this.counters.add('control-write-queue-overflow');
      this.close();
      return;
    }
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    if (!this.flushing) void this.flush();
  }

  /** Writes everything queued, batching the messages queued meanwhile into one write. */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue;
        this.queue = [];
        let data: Uint8Array;
        if (batch.length === 1) data = batch[0] as Uint8Array;
        else {
          data = new Uint8Array(batch.reduce((sum, part) => sum + part.length, 0));
          let offset = 0;
          for (const part of batch) {
            data.set(part, offset);
            offset += part.length;
          }
        }
        await this.flow.write(data);
        this.queuedBytes -= data.length;
      }
    } catch {
      this.counters.add('control-write-failed');
      this.close();
    } finally {
      this.flushing = false;
    }
  }

  /** Closes after the queued messages are written. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.echoTimer?.cancel();
    const pending = this.queue;
    this.queue = [];
    void (async () => {
      try {
        for (const part of pending) await this.flow.write(part);
        await this.flow.close();
      } catch {
        this.flow.abort();
      }
    })();
    for (const handler of this.closeHandlers.splice(0)) handler();
  }

  /** Sends HELLO and reads messages until the connection ends. */
  async run(): Promise<void> {
    // Our HELLO carries the highest version and the bitmap of all we speak (1.3.x §6.3.1).
    this.sendRaw({ version: this.config.versions[0] as number, xid: this.nextXid(), type: 'hello', versions: [...this.config.versions].sort((a, b) => a - b) });
    this.scheduleEcho();
    try {
      for (;;) {
        const chunk = await this.flow.read();
        if (chunk === null || this.closed) break;
        this.lastHeard = this.config.clock.now();
        for (const bytes of this.framer.push(chunk)) {
          this.receive(bytes);
          if (this.closed) break;
        }
      }
    } catch (error) {
      // A framing error leaves the stream unusable (1.3.x §7.1); a reset just ends it.
      if (error instanceof DecodeError) this.counters.add(`control-${error.reason}`);
      else this.counters.add('control-read-failed');
    }
    this.close();
  }

  private scheduleEcho(): void {
    const { clock, echoIntervalMs, echoTimeoutMs } = this.config;
    this.echoTimer = clock.setTimer(echoIntervalMs, () => {
      if (this.closed) return;
      const silent = clock.now() - this.lastHeard;
      if (silent >= echoTimeoutMs) {
        this.counters.add('control-echo-timeout');
        this.close();
        return;
      }
      if (silent >= echoIntervalMs && this.version !== 0) this.send({ type: 'echo-request', data: new Uint8Array(0) });
      this.scheduleEcho();
    });
  }

  private receive(bytes: Uint8Array): void {
    let message: OfpMessage;
    try {
      message = parseMessage(bytes, { versions: this.config.versions });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.counters.add(`control-rx-${error.reason}`);
      this.sendRaw(errorForDecodeError(this.version || (this.config.versions[0] as number), bytes, error));
      return;
    }
    if (message.type === 'hello') {
      if (this.version !== 0) return;
      const version = negotiateVersion(this.config.versions, message);
      if (version === undefined) {
        this.counters.add('control-hello-failed');
        this.sendError(bytes, OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE);
        this.close();
        return;
      }
      this.version = version;
      return;
    }
    // Every message after HELLO is at the negotiated version (1.3.x §6.3.1).
    if (this.version === 0 || message.version !== this.version) {
      this.counters.add('control-rx-wrong-version');
      this.sendError(bytes, OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION);
      return;
    }
    try {
      this.onMessage(this, message, bytes);
    } catch (error) {
      // An answer this version cannot encode: refuse the request rather than drop the connection.
      if (!(error instanceof UnsupportedError) && !(error instanceof DecodeError)) throw error;
      this.counters.add('control-answer-unencodable');
      this.sendError(bytes, OFPET_BAD_REQUEST, OFPBRC_EPERM);
    }
  }
}
