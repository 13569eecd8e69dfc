/** The connection protocol (RFC 4254): channels with window flow control, as {@link Flow}s. */
import { ClosedError, ConnectionReset, DecodeError, type Flow, LimitExceeded, ProtocolError, writeU32 } from '@morgana/core';
import { MSG } from './messages.js';
import type { SshTransport } from './transport.js';
import { SshReader, encode } from './wire.js';

/** Channel limits; defaults in {@link CHANNEL_DEFAULTS}. */
export interface ChannelConfig {
  /** Our receive window per channel (RFC 4254 §5.2); also the bound on unread bytes. */
  readonly windowSize: number;
  /** Largest data payload we accept in one CHANNEL_DATA (RFC 4254 §5.1). */
  readonly maxPacketSize: number;
  /** Channels open at once per connection. */
  readonly maxChannels: number;
  /** Our global requests awaiting their reply at once (RFC 4254 §4 answers them in order). */
  readonly maxPendingGlobalRequests: number;
  /**
   * Channel data bytes sealed into one write to the transport: fewer, larger socket writes
   * (the window and the peer's maximum packet still cut it into packets).
   */
  readonly writeBatchSize: number;
}

/** CHANNEL_DATA header before the data: type byte, recipient channel, data length (RFC 4254 §5.2). */
const DATA_HEADER = 9;

export const CHANNEL_DEFAULTS: ChannelConfig = {
  windowSize: 2 * 1024 * 1024,
  maxPacketSize: 32 * 1024,
  maxChannels: 16,
  maxPendingGlobalRequests: 16,
  writeBatchSize: 256 * 1024,
};

/** RFC 4254 §5.1 reason codes of CHANNEL_OPEN_FAILURE. */
export const OPEN_FAILURE = { ADMINISTRATIVELY_PROHIBITED: 1, CONNECT_FAILED: 2, UNKNOWN_CHANNEL_TYPE: 3, RESOURCE_SHORTAGE: 4 } as const;

/** A channel request the application sees (RFC 4254 §5.4). */
export interface ChannelRequest {
  readonly type: string;
  readonly wantReply: boolean;
  /** The type-specific data after want-reply. */
  readonly data: Uint8Array;
}

/** An open channel. Its data stream is a {@link Flow}; extended data (stderr) goes to `writeStderr`. */
export class SshChannel implements Flow {
  remoteId = 0;
  remoteWindow = 0;
  remoteMaxPacket = 0;
  /** Called for each channel request; return true to reply SUCCESS. */
  onRequest: ((request: ChannelRequest) => boolean) | undefined;
  /** The exit status the peer reported (RFC 4254 §6.10). */
  exitStatus: number | undefined;
  /** Receives extended data (stderr); it is consumed at once, so its window is re-granted. */
  onStderr: ((data: Uint8Array) => void) | undefined;

  private readonly chunks: Uint8Array[] = [];
  private consumed = 0;
  /** Bytes the peer may still send before we adjust the window. */
  private localWindow: number;
  private eofReceived = false;
  private eofSent = false;
  private closeSent = false;
  private closeReceived = false;
  private error: Error | undefined;
  private reader: { resolve: (chunk: Uint8Array | null) => void; reject: (error: Error) => void } | undefined;
  private windowWaiters: (() => void)[] = [];
  private closeWaiters: (() => void)[] = [];

  constructor(
    private readonly connection: SshConnection,
    readonly localId: number,
    readonly type: string,
  ) {
    this.localWindow = connection.config.windowSize;
  }

  /** RFC 4254 §5.2: data beyond our window is a protocol violation. */
  receiveData(data: Uint8Array): void {
    if (this.eofReceived || this.closeReceived) throw new ProtocolError('channel data after EOF');
    if (data.length > this.connection.config.maxPacketSize) throw new LimitExceeded('maxPacketSize', 'channel data larger than the maximum packet');
    if (data.length > this.localWindow) throw new LimitExceeded('windowSize', 'peer sent more than the channel window');
    this.localWindow -= data.length;
    if (this.reader) {
      const reader = this.reader;
      this.reader = undefined;
      this.take(data.length);
      reader.resolve(data);
      return;
    }
    this.chunks.push(data);
  }

  private take(count: number): void {
    this.consumed += count;
    // Re-open the window once half of it was consumed: fewer WINDOW_ADJUSTs, steady flow.
    if (this.consumed >= this.connection.config.windowSize / 2 && !this.closeReceived) {
      const grant = this.consumed;
      this.consumed = 0;
      this.localWindow += grant;
      this.connection.sendMessage(encode((w) => w.u8(MSG.CHANNEL_WINDOW_ADJUST).u32(this.remoteId).u32(grant)));
    }
  }

  /** Extended data is handed over at once: re-grant its window immediately (RFC 4254 §5.2). */
  addConsumedExtended(bytes: number): void {
    if (!this.closeReceived) this.connection.sendMessage(encode((w) => w.u8(MSG.CHANNEL_WINDOW_ADJUST).u32(this.remoteId).u32(bytes)));
  }

  receiveEof(): void {
    this.eofReceived = true;
    this.wakeReader();
  }

  receiveClose(): void {
    this.closeReceived = true;
    this.eofReceived = true;
    // Requests the peer will never answer now count as refused.
    for (const reply of this.replies.splice(0)) reply(false);
    this.wakeReader();
    for (const wake of this.windowWaiters.splice(0)) wake();
    if (!this.closeSent) {
      this.closeSent = true;
      this.connection.sendMessage(encode((w) => w.u8(MSG.CHANNEL_CLOSE).u32(this.remoteId)));
    }
    this.connection.release(this);
    for (const wake of this.closeWaiters.splice(0)) wake();
  }

  addWindow(bytes: number): void {
    // RFC 4254 §5.2: the window may not exceed 2^32 - 1.
    this.remoteWindow = Math.min(0xffff_ffff, this.remoteWindow + bytes);
    for (const wake of this.windowWaiters.splice(0)) wake();
  }

  /** The connection ended under this channel. */
  fail(error: Error): void {
    this.error = error;
    this.closeReceived = true;
    for (const reply of this.replies.splice(0)) reply(false);
    if (this.reader) {
      this.reader.reject(error);
      this.reader = undefined;
    }
    for (const wake of this.windowWaiters.splice(0)) wake();
    for (const wake of this.closeWaiters.splice(0)) wake();
  }

  private wakeReader(): void {
    if (this.reader && this.chunks.length === 0) {
      const reader = this.reader;
      this.reader = undefined;
      reader.resolve(null);
    }
  }

  read(): Promise<Uint8Array | null> {
    const chunk = this.chunks.shift();
    if (chunk) {
      this.take(chunk.length);
      return Promise.resolve(chunk);
    }
    if (this.error) return Promise.reject(this.error);
    if (this.eofReceived) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
    });
  }

  async write(data: Uint8Array): Promise<void> {
    await this.sendData(data, undefined);
  }

  /** Sends extended data of type 1 (stderr, RFC 4254 §5.2). */
  async writeStderr(data: Uint8Array): Promise<void> {
    await this.sendData(data, 1);
  }

  async writev(chunks: readonly Uint8Array[]): Promise<void> {
    for (const chunk of chunks) await this.write(chunk);
  }

  private async sendData(data: Uint8Array, extended: number | undefined): Promise<void> {
    const batchSize = this.connection.config.writeBatchSize;
    let offset = 0;
    while (offset < data.length) {
      if (this.error) throw this.error;
      if (this.eofSent || this.closeReceived) throw new ClosedError('channel is closed for writing');
      if (this.remoteWindow === 0) {
        await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
        continue;
      }
      // As many packets as the window allows, up to writeBatchSize, go out in one write;
      // each packet is a small header plus a view of the caller's data, copied once, when sealed.
      const headers: Uint8Array[] = [];
      const pieces: Uint8Array[] = [];
      let batched = 0;
      while (offset < data.length && this.remoteWindow > 0 && batched < batchSize) {
        const size = Math.min(data.length - offset, this.remoteWindow, this.remoteMaxPacket);
        headers.push(this.dataHeader(size, extended));
        pieces.push(data.subarray(offset, offset + size));
        this.remoteWindow -= size;
        offset += size;
        batched += size;
      }
      await this.connection.transport.sendBatch(headers, pieces);
    }
  }

  /** The header of CHANNEL_DATA or CHANNEL_EXTENDED_DATA (RFC 4254 §5.2) up to the data itself. */
  private dataHeader(length: number, extended: number | undefined): Uint8Array {
    const header = new Uint8Array(extended === undefined ? DATA_HEADER : DATA_HEADER + 4);
    header[0] = extended === undefined ? MSG.CHANNEL_DATA : MSG.CHANNEL_EXTENDED_DATA;
    writeU32(header, 1, this.remoteId);
    if (extended !== undefined) writeU32(header, 5, extended);
    writeU32(header, header.length - 4, length);
    return header;
  }

  /** Sends a channel request; with `wantReply`, resolves to whether the peer accepted it. */
  request(type: string, wantReply: boolean, data: Uint8Array = new Uint8Array(0)): Promise<boolean> {
    const message = encode((w) => w.u8(MSG.CHANNEL_REQUEST).u32(this.remoteId).string(type).boolean(wantReply).bytes(data));
    if (!wantReply) return this.connection.transport.send(message).then(() => true);
    return new Promise((resolve, reject) => {
      this.replies.push(resolve);
      this.connection.transport.send(message).catch(reject);
    });
  }

  readonly replies: ((accepted: boolean) => void)[] = [];

  shutdown(): Promise<void> {
    if (this.eofSent || this.closeSent) return Promise.resolve();
    this.eofSent = true;
    return this.connection.transport.send(encode((w) => w.u8(MSG.CHANNEL_EOF).u32(this.remoteId)));
  }

  /** Sends CLOSE and resolves once the peer's CLOSE arrived (RFC 4254 §5.3). */
  async close(): Promise<void> {
    if (!this.closeSent) {
      this.closeSent = true;
      await this.connection.transport.send(encode((w) => w.u8(MSG.CHANNEL_CLOSE).u32(this.remoteId))).catch(() => undefined);
    }
    if (this.closeReceived) return;
    await new Promise<void>((resolve) => this.closeWaiters.push(resolve));
  }

  abort(): void {
    this.fail(new ConnectionReset('channel aborted'));
    if (!this.closeSent) {
      this.closeSent = true;
      this.connection.sendMessage(encode((w) => w.u8(MSG.CHANNEL_CLOSE).u32(this.remoteId)));
    }
  }
}

/**
 * What a connection does with a global request from the peer (RFC 4254 §4): `false` refuses,
 * bytes accept with that response data (empty for none). A promise defers the answer (a bind
 * that completes later); replies still go out in the order of the requests.
 */
export type GlobalRequestHandler = (name: string, data: SshReader) => Uint8Array | false | Promise<Uint8Array | false>;

/** What a connection does with channel-open requests from the peer. */
export type ChannelOpenHandler = (type: string, data: SshReader) => ((channel: SshChannel) => void) | { failure: number; description: string };

/** The channels of one authenticated connection. */
export class SshConnection {
  readonly config: ChannelConfig;
  private readonly channels = new Map<number, SshChannel>();
  private readonly pendingOpens = new Map<number, { resolve: (channel: SshChannel) => void; reject: (error: Error) => void }>();
  /** Our global requests with want-reply, oldest first: replies come in order (RFC 4254 §4). */
  private readonly pendingGlobal: {
    resolve: (response: Uint8Array | null) => void;
    reject: (error: Error) => void;
    onSuccess: ((response: Uint8Array) => void) | undefined;
  }[] = [];
  private nextId = 0;
  onOpen: ChannelOpenHandler | undefined;
  /** Answers the peer's global requests; without it every one is refused. */
  onGlobalRequest: GlobalRequestHandler | undefined;
  /** Replies to the peer's global requests not sent yet, and the promise that sends the last of them. */
  private deferredReplies = 0;
  private replyChain: Promise<void> = Promise.resolve();

  constructor(
    readonly transport: SshTransport,
    config: Partial<ChannelConfig> = {},
  ) {
    this.config = { ...CHANNEL_DEFAULTS, ...config };
  }

  sendMessage(message: Uint8Array): void {
    this.transport.send(message).catch(() => undefined);
  }

  release(channel: SshChannel): void {
    this.channels.delete(channel.localId);
  }

  private allocate(type: string): SshChannel {
    if (this.channels.size + this.pendingOpens.size >= this.config.maxChannels) throw new LimitExceeded('maxChannels', 'too many open channels');
    while (this.channels.has(this.nextId) || this.pendingOpens.has(this.nextId)) this.nextId = (this.nextId + 1) >>> 0;
    const channel = new SshChannel(this, this.nextId, type);
    this.nextId = (this.nextId + 1) >>> 0;
    return channel;
  }

  /**
   * Sends a global request (RFC 4254 §4) with want-reply; resolves to the response data of
   * REQUEST_SUCCESS, or null on REQUEST_FAILURE. `onSuccess` runs synchronously on success,
   * before any later message is handled (a channel the request enables may follow at once).
   */
  globalRequest(name: string, data: Uint8Array = new Uint8Array(0), onSuccess?: (response: Uint8Array) => void): Promise<Uint8Array | null> {
    if (this.pendingGlobal.length >= this.config.maxPendingGlobalRequests) {
      return Promise.reject(new LimitExceeded('maxPendingGlobalRequests', 'too many global requests awaiting a reply'));
    }
    return new Promise((resolve, reject) => {
      this.pendingGlobal.push({ resolve, reject, onSuccess });
      this.transport.send(encode((w) => w.u8(MSG.GLOBAL_REQUEST).string(name).boolean(true).bytes(data), 16 + name.length + data.length)).catch(reject);
    });
  }

  /** Opens a channel (RFC 4254 §5.1); `extra` is the type-specific data. */
  open(type: string, extra: Uint8Array = new Uint8Array(0)): Promise<SshChannel> {
    const channel = this.allocate(type);
    return new Promise((resolve, reject) => {
      this.pendingOpens.set(channel.localId, {
        resolve: () => resolve(channel),
        reject,
      });
      this.channels.set(channel.localId, channel);
      this.transport
        .send(encode((w) => w.u8(MSG.CHANNEL_OPEN).string(type).u32(channel.localId).u32(this.config.windowSize).u32(this.config.maxPacketSize).bytes(extra)))
        .catch(reject);
    });
  }

  /** Handles one connection-protocol message; throws DecodeError/ProtocolError on bad ones. */
  handle(payload: Uint8Array): void {
    const reader = new SshReader(payload, 1);
    switch (payload[0]) {
      case MSG.GLOBAL_REQUEST: {
        const name = reader.text();
        const wantReply = reader.boolean();
        // RFC 4254 §4: a request nobody handles is answered FAILURE.
        const response = this.onGlobalRequest?.(name, reader) ?? false;
        if (!wantReply) {
          if (response instanceof Promise) response.catch(() => undefined);
          return;
        }
        this.replyGlobal(response);
        return;
      }
      case MSG.REQUEST_SUCCESS:
      case MSG.REQUEST_FAILURE: {
        const pending = this.pendingGlobal.shift();
        if (!pending) throw new ProtocolError('global request reply without a request');
        if (payload[0] === MSG.REQUEST_FAILURE) {
          pending.resolve(null);
          return;
        }
        const response = payload.subarray(1);
        try {
          pending.onSuccess?.(response);
        } catch (error) {
          pending.reject(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }
        pending.resolve(response);
        return;
      }
      case MSG.CHANNEL_OPEN:
        this.onChannelOpen(reader);
        return;
      case MSG.CHANNEL_OPEN_CONFIRMATION: {
        const channel = this.lookup(reader.u32());
        const pending = this.pendingOpens.get(channel.localId);
        if (!pending) throw new ProtocolError('unexpected CHANNEL_OPEN_CONFIRMATION');
        this.pendingOpens.delete(channel.localId);
        channel.remoteId = reader.u32();
        channel.remoteWindow = reader.u32();
        channel.remoteMaxPacket = Math.max(1, reader.u32());
        pending.resolve(channel);
        return;
      }
      case MSG.CHANNEL_OPEN_FAILURE: {
        const id = reader.u32();
        const pending = this.pendingOpens.get(id);
        if (!pending) throw new ProtocolError('unexpected CHANNEL_OPEN_FAILURE');
        const reason = reader.u32();
        const description = reader.text();
        this.pendingOpens.delete(id);
        this.channels.delete(id);
        pending.reject(new ProtocolError(`channel open failed (${reason}): ${description}`));
        return;
      }
      case MSG.CHANNEL_WINDOW_ADJUST:
        this.lookup(reader.u32()).addWindow(reader.u32());
        return;
      case MSG.CHANNEL_DATA: {
        const channel = this.lookup(reader.u32());
        // The payload is the transport's fresh array: a view of it is ours to keep.
        const data = reader.string();
        reader.expectEnd();
        channel.receiveData(data);
        return;
      }
      case MSG.CHANNEL_EXTENDED_DATA: {
        const channel = this.lookup(reader.u32());
        reader.u32();
        const data = reader.string();
        channel.onStderr?.(data);
        channel.addConsumedExtended(data.length);
        return;
      }
      case MSG.CHANNEL_EOF:
        this.lookup(reader.u32()).receiveEof();
        return;
      case MSG.CHANNEL_CLOSE:
        this.lookup(reader.u32()).receiveClose();
        return;
      case MSG.CHANNEL_REQUEST: {
        const channel = this.lookup(reader.u32());
        const type = reader.text();
        const wantReply = reader.boolean();
        const data = reader.bytesView(reader.remaining);
        if (type === 'exit-status') channel.exitStatus = new SshReader(data).u32();
        const accepted = channel.onRequest?.({ type, wantReply, data }) ?? type === 'exit-status';
        if (wantReply) this.sendMessage(encode((w) => w.u8(accepted ? MSG.CHANNEL_SUCCESS : MSG.CHANNEL_FAILURE).u32(channel.remoteId)));
        return;
      }
      case MSG.CHANNEL_SUCCESS:
      case MSG.CHANNEL_FAILURE: {
        const channel = this.lookup(reader.u32());
        channel.replies.shift()?.(payload[0] === MSG.CHANNEL_SUCCESS);
        return;
      }
      default: {
        const sequence = this.transport.lastReceivedSequence();
        this.sendMessage(encode((w) => w.u8(MSG.UNIMPLEMENTED).u32(sequence)));
      }
    }
  }

  /** Answers a global request; a deferred answer holds back later ones (RFC 4254 §4: replies in order). */
  private replyGlobal(response: Uint8Array | false | Promise<Uint8Array | false>): void {
    const send = (answer: Uint8Array | false): void => {
      if (answer === false) this.sendMessage(Uint8Array.of(MSG.REQUEST_FAILURE));
      else this.sendMessage(encode((w) => w.u8(MSG.REQUEST_SUCCESS).bytes(answer), 1 + answer.length));
    };
    if (this.deferredReplies === 0 && !(response instanceof Promise)) {
      send(response);
      return;
    }
    this.deferredReplies++;
    const answer = Promise.resolve(response).catch((): false => false);
    this.replyChain = this.replyChain
      .then(() => answer)
      .then((settled) => {
        this.deferredReplies--;
        send(settled);
      });
  }

  /** Resolves once every global request received so far has been answered (sent to the transport). */
  globalRepliesSent(): Promise<void> {
    return this.deferredReplies === 0 ? Promise.resolve() : this.replyChain;
  }

  private onChannelOpen(reader: SshReader): void {
    const type = reader.text();
    const senderId = reader.u32();
    const window = reader.u32();
    const maxPacket = reader.u32();
    const refuse = (failure: number, description: string): void =>
      this.sendMessage(encode((w) => w.u8(MSG.CHANNEL_OPEN_FAILURE).u32(senderId).u32(failure).string(description).string('')));
    const decision = this.onOpen?.(type, reader) ?? { failure: OPEN_FAILURE.UNKNOWN_CHANNEL_TYPE, description: `unknown channel type ${type}` };
    if (typeof decision !== 'function') {
      refuse(decision.failure, decision.description);
      return;
    }
    let channel: SshChannel;
    try {
      channel = this.allocate(type);
    } catch {
      refuse(OPEN_FAILURE.RESOURCE_SHORTAGE, 'too many channels');
      return;
    }
    channel.remoteId = senderId;
    channel.remoteWindow = window;
    channel.remoteMaxPacket = Math.max(1, maxPacket);
    this.channels.set(channel.localId, channel);
    this.sendMessage(
      encode((w) => w.u8(MSG.CHANNEL_OPEN_CONFIRMATION).u32(senderId).u32(channel.localId).u32(this.config.windowSize).u32(this.config.maxPacketSize)),
    );
    decision(channel);
  }

  private lookup(id: number): SshChannel {
    const channel = this.channels.get(id);
    if (!channel) throw new DecodeError('unknown-channel', `no channel ${id}`);
    return channel;
  }

  /** Fails every channel (the transport closed). */
  fail(error: Error): void {
    for (const channel of this.channels.values()) channel.fail(error);
    for (const pending of this.pendingOpens.values()) pending.reject(error);
    for (const pending of this.pendingGlobal.splice(0)) pending.reject(error);
    this.channels.clear();
    this.pendingOpens.clear();
  }
}
