/**
 * The SSH transport layer (RFC 4253) over a {@link Flow}: version exchange, binary packets,
 * key exchange with strict KEX, rekeying, ext-info and DISCONNECT. Both roles share this code.
 */
import {
  type Clock,
  ClosedError,
  ConnectionReset,
  CounterSet,
  type Counters,
  DecodeError,
  type Flow,
  LimitExceeded,
  ProtocolError,
  type Timer,
  TimeoutError,
  bytesEqual,
  concatBytes,
  utf8Decode,
  utf8Encode,
} from '@morgana/core';
import type { SshCrypto } from './crypto.js';
import {
  EXT_INFO_CLIENT,
  type KexInitRepr,
  type Negotiated,
  STRICT_KEX_CLIENT,
  STRICT_KEX_SERVER,
  deriveKey,
  emitKexInit,
  exchangeHash,
  negotiate,
  parseKexInit,
} from './kex.js';
import { KEX_NAMES, type KexKeyPair, type KexMethod, type KexName, kexMethod } from './kex-method.js';
import { SIGNATURE_ALGORITHMS, type SshPrivateKey, verifySignature } from './keys.js';
import { DISCONNECT, MSG, isKexMessage } from './messages.js';
import {
  CIPHER_NAMES,
  type CipherName,
  LENGTH_SIZE,
  MAC_NAMES,
  MIN_PADDING,
  type MacName,
  NONE_CIPHER,
  type PacketCipher,
  cipherKeySizes,
  createPacketCipher,
  framePacketInto,
  framedLength,
  macKeySize,
} from './packet.js';
import { SshReader, type SshWriter, encode } from './wire.js';

/** Limits and timers of a transport; every field has a default in {@link TRANSPORT_DEFAULTS}. */
export interface TransportConfig {
  /** Our identification string, without CR LF (RFC 4253 §4.2). */
  readonly softwareVersion: string;
  /** Largest packet_length accepted (OpenSSH accepts 256 KiB; RFC 4253 §6.1 requires 35000). */
  readonly maxPacketLength: number;
  /** Lines a client accepts before the server's version line (RFC 4253 §4.2 allows some). */
  readonly maxPreVersionLines: number;
  /** Longest version or pre-version line, CR LF included (RFC 4253 §4.2: 255). */
  readonly maxVersionLineLength: number;
  /** Time allowed from connection to the end of the first key exchange. */
  readonly handshakeTimeoutMs: number;
  /** Rekey after this many bytes in either direction (RFC 4253 §9 recommends 1 GB). */
  readonly rekeyBytes: number;
  /** Rekey after this long (RFC 4253 §9 recommends one hour). */
  readonly rekeyIntervalMs: number;
  /** Messages queued while a key exchange is running (RFC 4253 §7.1 forbids sending them). */
  readonly maxQueuedMessages: number;
  /**
   * Largest reusable buffer packets are sealed into and written from (grown on demand up to
   * this). A fresh buffer per write costs zero-filling and, past the allocator's mmap
   * threshold, page faults; larger writes, or one while the last is still in flight, get
   * a buffer of their own.
   */
  readonly sealBufferSize: number;
  /** Key exchange methods offered, in preference order. */
  readonly kexAlgorithms: readonly KexName[];
  /** Ciphers offered, in preference order. */
  readonly ciphers: readonly CipherName[];
  /** MACs offered for the aes-ctr ciphers, in preference order. */
  readonly macs: readonly MacName[];
  /** Host key algorithms a client accepts, in preference order (a server offers its key's). */
  readonly hostKeyAlgorithms: readonly string[];
}

export const TRANSPORT_DEFAULTS: TransportConfig = {
  softwareVersion: 'SSH-2.0-morgana_0.1',
  maxPacketLength: 256 * 1024,
  maxPreVersionLines: 20,
  maxVersionLineLength: 255,
  handshakeTimeoutMs: 30_000,
  rekeyBytes: 1 << 30,
  rekeyIntervalMs: 3_600_000,
  maxQueuedMessages: 1024,
  sealBufferSize: 512 * 1024,
  kexAlgorithms: KEX_NAMES,
  ciphers: CIPHER_NAMES,
  macs: MAC_NAMES,
  hostKeyAlgorithms: SIGNATURE_ALGORITHMS,
};

/** What a transport needs from its surroundings. */
export interface TransportDeps {
  readonly crypto: SshCrypto;
  readonly clock: Clock;
}

/** Role-specific settings. */
export type TransportRole =
  | { readonly role: 'server'; readonly hostKey: SshPrivateKey }
  | {
      readonly role: 'client';
      /** Decides whether to trust the server's host key blob; throwing or `false` aborts. */
      readonly verifyHostKey: (algorithm: string, blob: Uint8Array) => boolean;
    };

/** Where received messages go once the first key exchange is over. */
export interface TransportHandler {
  /** A message above the transport layer (numbers 5–7 and 50 and up), owned by the callee. */
  onMessage(payload: Uint8Array): void;
  /** The transport ended; `error` is null after an orderly close. */
  onClose(error: Error | null): void;
}

/**
 * Joins shorter than this (a packet's first bytes, read before its length is known) get an
 * array of their own, so a head joined into the join buffer is never joined into it again.
 */
const JOIN_REUSE_MIN = 64;

/** Random bytes drawn at once for packet padding: one provider call per ~100 packets, not one per packet. */
const PADDING_POOL_SIZE = 4096;

type KexPhase = 'idle' | 'awaiting-kexinit' | 'awaiting-ecdh' | 'awaiting-newkeys';

interface QueuedMessage {
  readonly payload: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** An SSH transport connection; create it with {@link createTransport}. */
export class SshTransport {
  /** Counters: drops and protocol events by kebab-case reason. */
  readonly counters = new CounterSet();
  /** The exchange hash of the first key exchange (RFC 4253 §7.2); empty until then. */
  sessionId: Uint8Array = new Uint8Array(0);
  /** The peer's identification string. */
  peerVersion = '';
  /** The algorithms of the latest key exchange. */
  negotiated: Negotiated | undefined;
  /** Algorithms the peer accepts for signatures (RFC 8308 server-sig-algs), when it said. */
  serverSigAlgs: readonly string[] | undefined;
  handler: TransportHandler | undefined;
  /** The server's host key blob accepted at the first exchange (the client checks it on rekey). */
  acceptedHostKey: Uint8Array | undefined;

  private readonly config: TransportConfig;
  private readonly deps: TransportDeps;
  private readonly roleConfig: TransportRole;
  private readonly isClient: boolean;

  /** Received bytes not yet parsed, as the chunks they arrived in (see {@link contiguous}). */
  private inChunks: Uint8Array[] = [];
  /**
   * Where a packet split across received chunks is joined once keys are in force: reused,
   * since every cipher but none decrypts into a fresh array (see {@link readPacket}). It grows
   * to the largest such packet, at most maxPacketLength plus framing.
   */
  private joinBuffer: Uint8Array = new Uint8Array(0);
  private inBytes = 0;
  private versionDone = false;
  private preVersionLines = 0;
  private sendSequence = 0;
  private receiveSequence = 0;
  private sendCipher: PacketCipher = NONE_CIPHER;
  private receiveCipher: PacketCipher = NONE_CIPHER;
  private pendingSendCipher: PacketCipher | undefined;
  private pendingReceiveCipher: PacketCipher | undefined;
  private pendingLength = -1;

  private phase: KexPhase = 'idle';
  private firstKexDone = false;
  private ourKexInit: Uint8Array | undefined;
  private peerKexInit: Uint8Array | undefined;
  /** The client's method and key pair between its KEX(EC)DH_INIT and the server's reply. */
  private ephemeral: { method: KexMethod; keys: KexKeyPair } | undefined;
  private ignoreNextKexPacket = false;
  private sentNewKeys = false;
  private receivedNewKeys = false;
  private readonly queue: QueuedMessage[] = [];
  private bytesSinceKex = 0;
  private lastKexAt = 0;
  private rekeyTimer: Timer | undefined;
  private handshakeTimer: Timer | undefined;
  private closed = false;
  private sealBuffer: Uint8Array = new Uint8Array(0);
  /** The seal buffer holds a write the flow has not yet taken (Flow: reusable once write resolves). */
  private sealBufferBusy = false;
  private paddingPool: Uint8Array = new Uint8Array(0);
  private paddingUsed = 0;
  private readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;

  constructor(
    private readonly flow: Flow,
    role: TransportRole,
    deps: TransportDeps,
    config: Partial<TransportConfig> = {},
  ) {
    this.config = { ...TRANSPORT_DEFAULTS, ...config };
    this.deps = deps;
    this.roleConfig = role;
    this.isClient = role.role === 'client';
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
  }

  /** Sends our version and KEXINIT and starts reading; resolves when the first key exchange ends. */
  start(): Promise<void> {
    this.handshakeTimer = this.deps.clock.setTimer(this.config.handshakeTimeoutMs, () => {
      this.fail(new TimeoutError('SSH key exchange did not finish in time'), DISCONNECT.KEY_EXCHANGE_FAILED);
    });
    this.flow.write(utf8Encode(`${this.config.softwareVersion}\r\n`)).catch((error: unknown) => this.fail(asError(error)));
    this.sendKexInit();
    void this.pump();
    return this.ready;
  }

  /** Sends a message; while a key exchange runs it waits in a bounded queue (RFC 4253 §7.1). */
  send(payload: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('SSH transport is closed'));
    if (this.phase !== 'idle') {
      if (this.queue.length >= this.config.maxQueuedMessages) {
        this.counters.add('queue-full');
        return Promise.reject(new LimitExceeded('maxQueuedMessages', 'too many messages queued during key exchange'));
      }
      return new Promise((resolve, reject) => this.queue.push({ payload, resolve, reject }));
    }
    return this.writePackets([payload]);
  }

  /**
   * Sends messages as consecutive packets in one write to the flow (one system call on a
   * socket, one promise); message i is `payloads[i]` followed by `rests[i]` when given (a
   * header and its data, never joined in between). During a key exchange they wait in the
   * queue like {@link send}'s.
   */
  sendBatch(payloads: readonly Uint8Array[], rests?: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('SSH transport is closed'));
    if (this.phase !== 'idle') {
      const joined = payloads.map((payload, i) => (rests === undefined ? payload : concatBytes([payload, rests[i]])));
      return Promise.all(joined.map((payload) => this.send(payload))).then(() => undefined);
    }
    return this.writePackets(payloads, rests);
  }

  /** Sends DISCONNECT (RFC 4253 §11.1) and closes the flow. */
  async disconnect(reason: number = DISCONNECT.BY_APPLICATION, description = 'closed by application'): Promise<void> {
    if (this.closed) return;
    const message = encode((w) => w.u8(MSG.DISCONNECT).u32(reason).string(description).string(''));
    try {
      await this.writePacket(message);
    } catch {
      // The peer may already be gone; closing matters more than the notice.
    }
    this.finish(null);
    await this.flow.close().catch(() => undefined);
  }

  /** A snapshot of the counters. */
  stats(): Counters {
    return this.counters.snapshot();
  }

  private fail(error: Error, reason: number = DISCONNECT.PROTOCOL_ERROR): void {
    if (this.closed) return;
    this.counters.add(error instanceof DecodeError ? `decode-${error.reason}` : 'protocol-error');
    if (this.versionDone) {
      const message = encode((w) => w.u8(MSG.DISCONNECT).u32(reason).string(error.message.slice(0, 200)).string(''));
      this.writePacket(message).catch(() => undefined);
    }
    this.finish(error);
    this.flow.close().catch(() => undefined);
  }

  private finish(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.handshakeTimer?.cancel();
    this.rekeyTimer?.cancel();
    for (const queued of this.queue.splice(0)) queued.reject(error ?? new ClosedError('SSH transport closed'));
    this.rejectReady(error ?? new ClosedError('SSH transport closed before key exchange'));
    this.handler?.onClose(error);
  }

  private writePacket(payload: Uint8Array): Promise<void> {
    return this.writePackets([payload]);
  }

  /** Frames and seals each payload (‖ its rest) straight into one buffer, then writes it at once. */
  private writePackets(payloads: readonly Uint8Array[], rests?: readonly Uint8Array[]): Promise<void> {
    const cipher = this.sendCipher;
    let total = 0;
    for (let i = 0; i < payloads.length; i++) total += framedLength(cipher, payloads[i].length + (rests?.[i].length ?? 0)) + cipher.tagSize;
    const reuse = !this.sealBufferBusy && total <= this.config.sealBufferSize;
    if (reuse && this.sealBuffer.length < total) {
      this.sealBuffer = new Uint8Array(Math.min(this.config.sealBufferSize, Math.max(total, 2 * this.sealBuffer.length)));
    }
    const out = reuse ? this.sealBuffer.subarray(0, total) : new Uint8Array(total);
    let offset = 0;
    for (let i = 0; i < payloads.length; i++) {
      const plainLength = framePacketInto(cipher, payloads[i], this.padding, out, offset, rests?.[i]);
      cipher.sealInPlace(this.sendSequence, out, offset, plainLength);
      this.sendSequence = (this.sendSequence + 1) >>> 0;
      offset += plainLength + cipher.tagSize;
    }
    const written = this.flow.write(out);
    if (reuse) {
      this.sealBufferBusy = true;
      const release = (): void => {
        this.sealBufferBusy = false;
      };
      written.then(release, release);
    }
    // Counted after the write is queued: a rekey started here must follow these packets.
    this.countBytes(total);
    return written;
  }

  /** Random padding bytes (RFC 4253 §6), from a pool refilled by the provider. */
  private readonly padding = (count: number): Uint8Array => {
    if (this.paddingUsed + count > this.paddingPool.length) {
      this.paddingPool = this.deps.crypto.randomBytes(Math.max(PADDING_POOL_SIZE, count));
      this.paddingUsed = 0;
    }
    const bytes = this.paddingPool.subarray(this.paddingUsed, this.paddingUsed + count);
    this.paddingUsed += count;
    return bytes;
  };

  private countBytes(count: number): void {
    this.bytesSinceKex += count;
    if (this.firstKexDone && this.phase === 'idle' && this.bytesSinceKex >= this.config.rekeyBytes) {
      this.counters.add('rekey-bytes');
      this.sendKexInit();
    }
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.flow.read();
        if (this.closed) return;
        if (chunk === null) {
          this.finish(this.firstKexDone ? null : new ConnectionReset('peer closed the connection during the SSH handshake'));
          // Close our half too, or the connection lingers half-open until the process exits.
          await this.flow.close().catch(() => undefined);
          return;
        }
        this.append(chunk);
        this.process();
        if (this.closed) return;
      }
    } catch (error) {
      this.fail(asError(error), DISCONNECT.CONNECTION_LOST);
    }
  }

  private append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.inChunks.push(chunk);
    this.inBytes += chunk.length;
  }

  /**
   * The first `count` buffered bytes as one array, or null until that many arrived. Chunks are
   * merged only then, so a peer dribbling single bytes costs linear, not quadratic, copying.
   */
  private contiguous(count: number): Uint8Array | null {
    if (this.inBytes < count) return null;
    if (this.inChunks[0].length < count) {
      // Join exactly `count` bytes; the rest of the last chunk stays a view (no copy of it).
      const joined = this.joinTarget(count);
      let filled = 0;
      while (filled < count) {
        const chunk = this.inChunks[0];
        const take = Math.min(chunk.length, count - filled);
        joined.set(take === chunk.length ? chunk : chunk.subarray(0, take), filled);
        filled += take;
        if (take === chunk.length) this.inChunks.shift();
        else this.inChunks[0] = chunk.subarray(take);
      }
      this.inChunks.unshift(joined);
    }
    return this.inChunks[0];
  }

  /**
   * An array of `count` bytes to join received chunks into: the reused join buffer for a
   * whole packet under keys (it is consumed before the next join), a fresh one otherwise.
   */
  private joinTarget(count: number): Uint8Array {
    if (this.receiveCipher === NONE_CIPHER || count < JOIN_REUSE_MIN) return new Uint8Array(count);
    if (this.joinBuffer.length < count) this.joinBuffer = new Uint8Array(count);
    return this.joinBuffer.subarray(0, count);
  }

  private consume(count: number): void {
    this.inBytes -= count;
    while (count > 0) {
      const first = this.inChunks[0];
      if (first.length > count) {
        this.inChunks[0] = first.subarray(count);
        return;
      }
      this.inChunks.shift();
      count -= first.length;
    }
  }

  private process(): void {
    try {
      if (!this.versionDone && !this.readVersion()) return;
      while (!this.closed) {
        const payload = this.readPacket();
        if (payload === null) return;
        this.dispatch(payload);
      }
    } catch (error) {
      if (error instanceof DecodeError || error instanceof ProtocolError || error instanceof LimitExceeded) {
        this.fail(error);
        return;
      }
      throw error;
    }
  }

  /** RFC 4253 §4.2: "SSH-2.0-softwareversion SP comments CR LF"; a client skips other lines first. */
  private readVersion(): boolean {
    for (;;) {
      const buffered = this.contiguous(this.inBytes);
      const newline = buffered === null ? -1 : buffered.indexOf(0x0a);
      if (buffered === null || newline < 0) {
        if (this.inBytes > this.config.maxVersionLineLength) throw new LimitExceeded('maxVersionLineLength', 'version line too long');
        return false;
      }
      if (newline + 1 > this.config.maxVersionLineLength) throw new LimitExceeded('maxVersionLineLength', 'version line too long');
      let line = utf8Decode(buffered.subarray(0, newline));
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.consume(newline + 1);
      if (line.startsWith('SSH-')) {
        if (!line.startsWith('SSH-2.0-') && !line.startsWith('SSH-1.99-')) {
          throw new ProtocolError(`unsupported protocol version: ${line.slice(0, 40)}`);
        }
        this.peerVersion = line;
        this.versionDone = true;
        return true;
      }
      // Only servers may send other lines first (RFC 4253 §4.2).
      if (!this.isClient) throw new ProtocolError('client sent a line before its version');
      if (++this.preVersionLines > this.config.maxPreVersionLines) throw new LimitExceeded('maxPreVersionLines', 'too many lines before the version');
    }
  }

  /** One packet's payload from the buffer, or null when more bytes are needed (RFC 4253 §6). */
  private readPacket(): Uint8Array | null {
    const cipher = this.receiveCipher;
    if (this.pendingLength < 0) {
      const head = this.contiguous(cipher.headSize);
      if (head === null) return null;
      const length = cipher.packetLength(this.receiveSequence, head);
      const aligned = cipher.lengthExcluded ? length : length + LENGTH_SIZE;
      if (length > this.config.maxPacketLength || length < MIN_PADDING + 2) {
        throw new DecodeError('bad-packet-length', `packet length ${length} is outside the limits`);
      }
      if (aligned % cipher.blockSize !== 0) throw new DecodeError('bad-packet-length', 'packet length is not a multiple of the block size');
      this.pendingLength = length;
    }
    const total = LENGTH_SIZE + this.pendingLength + cipher.tagSize;
    const buffered = this.contiguous(total);
    if (buffered === null) return null;
    const packet = buffered.subarray(0, total);
    this.consume(total);
    this.pendingLength = -1;
    const body = cipher.open(this.receiveSequence, packet);
    if (body === null) {
      this.counters.add('bad-mac');
      throw new DecodeError('bad-mac', 'packet authentication failed');
    }
    this.receiveSequence = (this.receiveSequence + 1) >>> 0;
    const padding = body[0];
    if (padding < MIN_PADDING || padding >= body.length) throw new DecodeError('bad-padding', 'bad padding length');
    const payloadLength = body.length - 1 - padding;
    if (payloadLength < 1) throw new DecodeError('empty-payload', 'packet carries no message number');
    this.countBytes(total);
    // A decrypted body is a fresh array of ours: hand out a view. Before the first NEWKEYS it
    // is a view into the received bytes, copied so a message never pins the read buffer.
    return cipher === NONE_CIPHER ? body.slice(1, 1 + payloadLength) : body.subarray(1, 1 + payloadLength);
  }

  private dispatch(payload: Uint8Array): void {
    const type = payload[0];
    const sequenceOfThis = (this.receiveSequence - 1) >>> 0;
    if (type === MSG.DISCONNECT) {
      const reader = new SshReader(payload, 1);
      const reason = reader.u32();
      const description = reader.text();
      this.counters.add('disconnect-received');
      this.finish(reason === DISCONNECT.BY_APPLICATION ? null : new ConnectionReset(`peer disconnected (${reason}): ${description}`));
      // RFC 4253 §11.1: DISCONNECT ends the connection; the sender waits for our close.
      this.flow.close().catch(() => undefined);
      return;
    }
    // Strict KEX: during the initial exchange only KEX messages are allowed (OpenSSH PROTOCOL §1.10).
    // Before the peer's KEXINIT its strictness is unknown; a strict peer's KEXINIT must then
    // be packet 0, which the KEXINIT handler checks.
    if (!this.firstKexDone && !isKexMessage(type) && this.negotiated?.strict) {
      throw new ProtocolError(`message ${type} during the initial strict key exchange`);
    }
    if (type === MSG.IGNORE || type === MSG.DEBUG || type === MSG.UNIMPLEMENTED) {
      this.counters.add('ignored-message');
      return;
    }
    if (isKexMessage(type)) {
      this.onKexMessage(type, payload, sequenceOfThis);
      return;
    }
    if (!this.firstKexDone) throw new ProtocolError(`message ${type} before the first key exchange ended`);
    if (type === MSG.EXT_INFO && this.isClient) {
      this.onExtInfo(payload);
      return;
    }
    this.handler?.onMessage(payload);
  }

  private sendKexInit(): void {
    const hostKeyAlgorithms = this.roleConfig.role === 'server' ? [this.roleConfig.hostKey.algorithm] : this.config.hostKeyAlgorithms;
    const kex: string[] = [...this.config.kexAlgorithms];
    if (!this.firstKexDone) kex.push(this.isClient ? EXT_INFO_CLIENT : STRICT_KEX_SERVER);
    if (!this.firstKexDone && this.isClient) kex.push(STRICT_KEX_CLIENT);
    const repr: KexInitRepr = {
      cookie: this.deps.crypto.randomBytes(16),
      kexAlgorithms: kex,
      hostKeyAlgorithms,
      ciphersClientToServer: this.config.ciphers,
      ciphersServerToClient: this.config.ciphers,
      macsClientToServer: this.config.macs,
      macsServerToClient: this.config.macs,
      compressionClientToServer: ['none'],
      compressionServerToClient: ['none'],
      firstKexPacketFollows: false,
    };
    this.ourKexInit = emitKexInit(repr);
    this.phase = 'awaiting-kexinit';
    this.sentNewKeys = false;
    this.receivedNewKeys = false;
    this.writePacket(this.ourKexInit).catch((error: unknown) => this.fail(asError(error)));
    if (this.peerKexInit !== undefined) this.afterBothKexInits();
  }

  private onKexMessage(type: number, payload: Uint8Array, sequence: number): void {
    if (type === MSG.KEXINIT) {
      if (this.peerKexInit !== undefined) throw new ProtocolError('KEXINIT during a key exchange');
      const repr = parseKexInit(payload);
      // Strict KEX: KEXINIT must be the very first packet of the connection.
      if (!this.firstKexDone && sequence !== 0 && this.isStrictOffer(repr)) {
        throw new ProtocolError('strict KEX: KEXINIT was not the first packet');
      }
      this.peerKexInit = payload;
      this.ignoreNextKexPacket = repr.firstKexPacketFollows;
      if (this.phase === 'idle') {
        this.sendKexInit();
        return;
      }
      this.afterBothKexInits();
      return;
    }
    if (this.ignoreNextKexPacket) {
      this.ignoreNextKexPacket = false;
      this.counters.add('wrong-guess-ignored');
      return;
    }
    if (type === MSG.KEX_ECDH_INIT && !this.isClient && this.phase === 'awaiting-ecdh') {
      this.serverEcdh(payload);
      return;
    }
    if (type === MSG.KEX_ECDH_REPLY && this.isClient && this.phase === 'awaiting-ecdh') {
      this.clientEcdh(payload);
      return;
    }
    if (type === MSG.NEWKEYS && this.phase === 'awaiting-newkeys' && this.pendingReceiveCipher !== undefined) {
      new SshReader(payload, 1).expectEnd();
      this.receiveCipher = this.pendingReceiveCipher;
      this.pendingReceiveCipher = undefined;
      this.receivedNewKeys = true;
      if (this.negotiated?.strict) this.receiveSequence = 0;
      this.maybeKexDone();
      return;
    }
    throw new ProtocolError(`unexpected key exchange message ${type}`);
  }

  private isStrictOffer(repr: KexInitRepr): boolean {
    return repr.kexAlgorithms.includes(this.isClient ? STRICT_KEX_SERVER : STRICT_KEX_CLIENT);
  }

  private afterBothKexInits(): void {
    const ours = parseKexInit(this.ourKexInit as Uint8Array);
    const theirs = parseKexInit(this.peerKexInit as Uint8Array);
    const client = this.isClient ? ours : theirs;
    const server = this.isClient ? theirs : ours;
    let negotiated: Negotiated;
    try {
      negotiated = negotiate(client, server);
    } catch (error) {
      // RFC 4253 §7.1: no common algorithm ends the connection as a failed key exchange.
      this.fail(asError(error), DISCONNECT.KEY_EXCHANGE_FAILED);
      return;
    }
    // Strict-ness and ext-info are fixed by the first exchange.
    this.negotiated = this.firstKexDone && this.negotiated ? { ...negotiated, strict: this.negotiated.strict, clientExtInfo: false } : negotiated;
    // RFC 4253 §7: a wrong guess is ignored; a right one (same first choices) is processed.
    if (this.ignoreNextKexPacket && theirs.kexAlgorithms[0] === negotiated.kex && theirs.hostKeyAlgorithms[0] === negotiated.hostKey) {
      this.ignoreNextKexPacket = false;
    }
    this.phase = 'awaiting-ecdh';
    if (this.isClient) {
      const method = kexMethod(negotiated.kex);
      const keys = method.generate(this.deps.crypto);
      this.ephemeral = { method, keys };
      // RFC 4253 §8 KEXDH_INIT carries mpint e; RFC 5656 §7.1 KEX_ECDH_INIT a string Q_C.
      const init = encode((w) => writePublic(w.u8(MSG.KEX_ECDH_INIT), method, keys.publicKey), 16 + keys.publicKey.length);
      this.writePacket(init).catch((error: unknown) => this.fail(asError(error)));
    }
  }

  private serverEcdh(payload: Uint8Array): void {
    if (this.roleConfig.role !== 'server') return;
    const method = kexMethod(this.negotiated?.kex ?? '');
    const reader = new SshReader(payload, 1);
    const clientPublic = readPublic(reader, method).slice();
    reader.expectEnd();
    const ephemeral = method.generate(this.deps.crypto);
    const secret = method.agree(this.deps.crypto, ephemeral.privateKey, clientPublic);
    const hostKey = this.roleConfig.hostKey;
    const hash = exchangeHash(this.deps.crypto, {
      clientVersion: this.peerVersion,
      serverVersion: this.config.softwareVersion,
      clientKexInit: this.peerKexInit as Uint8Array,
      serverKexInit: this.ourKexInit as Uint8Array,
      hostKeyBlob: hostKey.publicBlob,
      clientPublic,
      serverPublic: ephemeral.publicKey,
      publicEncoding: method.publicEncoding,
      sharedSecret: secret,
    });
    this.installKeys(secret, hash);
    const signature = hostKey.sign(hash);
    const reply = encode(
      (w) => writePublic(w.u8(MSG.KEX_ECDH_REPLY).string(hostKey.publicBlob), method, ephemeral.publicKey).string(signature),
      32 + hostKey.publicBlob.length + ephemeral.publicKey.length + signature.length,
    );
    this.writePacket(reply).catch((error: unknown) => this.fail(asError(error)));
    this.sendNewKeys();
  }

  private clientEcdh(payload: Uint8Array): void {
    if (this.roleConfig.role !== 'client' || this.ephemeral === undefined) return;
    const { method, keys } = this.ephemeral;
    const reader = new SshReader(payload, 1);
    const hostKeyBlob = reader.string().slice();
    const serverPublic = readPublic(reader, method).slice();
    const signature = reader.string().slice();
    reader.expectEnd();
    const secret = method.agree(this.deps.crypto, keys.privateKey, serverPublic);
    const clientPublic = keys.publicKey;
    this.ephemeral = undefined;
    const hash = exchangeHash(this.deps.crypto, {
      clientVersion: this.config.softwareVersion,
      serverVersion: this.peerVersion,
      clientKexInit: this.ourKexInit as Uint8Array,
      serverKexInit: this.peerKexInit as Uint8Array,
      hostKeyBlob,
      clientPublic,
      serverPublic,
      publicEncoding: method.publicEncoding,
      sharedSecret: secret,
    });
    const algorithm = this.negotiated?.hostKey ?? '';
    if (!verifySignature(this.deps.crypto, algorithm, hostKeyBlob, hash, signature)) {
      this.fail(new ProtocolError('host key signature does not verify'), DISCONNECT.KEY_EXCHANGE_FAILED);
      return;
    }
    if (this.firstKexDone && this.acceptedHostKey !== undefined && !bytesEqual(this.acceptedHostKey, hostKeyBlob)) {
      this.fail(new ProtocolError('host key changed during rekey'), DISCONNECT.HOST_KEY_NOT_VERIFIABLE);
      return;
    }
    if (!this.firstKexDone && !this.roleConfig.verifyHostKey(algorithm, hostKeyBlob)) {
      this.fail(new ProtocolError('host key rejected'), DISCONNECT.HOST_KEY_NOT_VERIFIABLE);
      return;
    }
    this.acceptedHostKey = hostKeyBlob;
    this.installKeys(secret, hash);
    this.sendNewKeys();
  }


  private installKeys(secret: Uint8Array, hash: Uint8Array): void {
    if (this.sessionId.length === 0) this.sessionId = hash;
    const negotiated = this.negotiated as Negotiated;
    const crypto = this.deps.crypto;
    // RFC 4253 §7.2: letters A–F name the IVs, encryption keys and integrity keys.
    const make = (name: CipherName, mac: MacName | undefined, ivLetter: string, keyLetter: string, macLetter: string): PacketCipher => {
      const sizes = cipherKeySizes(name);
      const iv = deriveKey(crypto, secret, hash, ivLetter, this.sessionId, sizes.iv);
      const key = deriveKey(crypto, secret, hash, keyLetter, this.sessionId, sizes.key);
      const macKey = mac === undefined ? undefined : { name: mac, key: deriveKey(crypto, secret, hash, macLetter, this.sessionId, macKeySize(mac)) };
      return createPacketCipher(crypto, name, key, iv, macKey);
    };
    const clientToServer = make(negotiated.cipherClientToServer, negotiated.macClientToServer, 'A', 'C', 'E');
    const serverToClient = make(negotiated.cipherServerToClient, negotiated.macServerToClient, 'B', 'D', 'F');
    this.pendingSendCipher = this.isClient ? clientToServer : serverToClient;
    this.pendingReceiveCipher = this.isClient ? serverToClient : clientToServer;
    this.phase = 'awaiting-newkeys';
  }

  private sendNewKeys(): void {
    this.writePacket(Uint8Array.of(MSG.NEWKEYS)).catch((error: unknown) => this.fail(asError(error)));
    this.sendCipher = this.pendingSendCipher as PacketCipher;
    this.pendingSendCipher = undefined;
    if (this.negotiated?.strict) this.sendSequence = 0;
    this.sentNewKeys = true;
    // RFC 8308 §2.4: the server's EXT_INFO goes right after its first NEWKEYS.
    if (!this.isClient && !this.firstKexDone && this.negotiated?.clientExtInfo) {
      const extInfo = encode((w) => w.u8(MSG.EXT_INFO).u32(1).string('server-sig-algs').nameList(SIGNATURE_ALGORITHMS));
      this.writePacket(extInfo).catch((error: unknown) => this.fail(asError(error)));
    }
    this.maybeKexDone();
  }

  private maybeKexDone(): void {
    if (!this.sentNewKeys || !this.receivedNewKeys) return;
    this.phase = 'idle';
    this.peerKexInit = undefined;
    this.ourKexInit = undefined;
    this.bytesSinceKex = 0;
    this.lastKexAt = this.deps.clock.now();
    this.rekeyTimer?.cancel();
    this.rekeyTimer = this.deps.clock.setTimer(this.config.rekeyIntervalMs, () => {
      if (this.phase === 'idle' && !this.closed) {
        this.counters.add('rekey-time');
        this.sendKexInit();
      }
    });
    this.counters.add('kex-done');
    if (!this.firstKexDone) {
      this.firstKexDone = true;
      this.handshakeTimer?.cancel();
      this.resolveReady();
    }
    for (const queued of this.queue.splice(0)) this.writePacket(queued.payload).then(queued.resolve, queued.reject);
  }

  /** RFC 8308 §3.1: remember server-sig-algs; other extensions are ignored. */
  private onExtInfo(payload: Uint8Array): void {
    const reader = new SshReader(payload, 1);
    const count = reader.u32();
    for (let i = 0; i < count; i++) {
      const name = reader.text();
      const value = reader.string();
      if (name === 'server-sig-algs') this.serverSigAlgs = new SshReader(encode((w) => w.string(value))).nameList();
    }
  }

  /** The sequence number of the last packet received (for SSH_MSG_UNIMPLEMENTED, RFC 4253 §11.4). */
  lastReceivedSequence(): number {
    return (this.receiveSequence - 1) >>> 0;
  }

  /** Milliseconds since the last key exchange finished. */
  sinceLastKex(): number {
    return this.deps.clock.now() - this.lastKexAt;
  }
}

/** Writes a KEX(EC)DH public value as its method encodes it. */
function writePublic(writer: SshWriter, method: KexMethod, value: Uint8Array): SshWriter {
  return method.publicEncoding === 'mpint' ? writer.mpint(value) : writer.string(value);
}

/** Reads a KEX(EC)DH public value as its method encodes it (an mpint must not be negative). */
function readPublic(reader: SshReader, method: KexMethod): Uint8Array {
  return method.publicEncoding === 'mpint' ? reader.mpint() : reader.string();
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Creates a transport; call `start()` to run the handshake. */
export function createTransport(flow: Flow, role: TransportRole, deps: TransportDeps, config: Partial<TransportConfig> = {}): SshTransport {
  return new SshTransport(flow, role, deps, config);
}
