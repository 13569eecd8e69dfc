/**
 * A xenstore client over any byte transport (a Unix socket to xenstored, the xenstore ring
 * page of a guest, or an in-process connection to the simulator). Runtime-neutral.
 */
import { ConnectionReset, DecodeError, LimitExceeded, ProtocolError } from '@morgana/core';
import {
  XENSTORE_PAYLOAD_MAX,
  XenstoreError,
  XsMessageReader,
  XsType,
  encodeXsMessage,
  nulTerminated,
  payloadString,
  splitNul,
  type XsMessage,
} from './xs-wire.js';

/** A duplex byte stream to xenstored. */
export interface XenstoreTransport {
  write(bytes: Uint8Array): void;
  /** Sets the receiver of incoming bytes, and of the end of the stream. */
  onData(receive: (chunk: Uint8Array) => void, onClose: () => void): void;
  close(): void;
}

/** Configuration of {@link XenstoreClient}. */
export interface XenstoreClientConfig {
  /** Requests awaiting an answer at once. Default 64; beyond it a request rejects with LimitExceeded. */
  readonly maxPendingRequests?: number;
  /** Attempts of {@link XenstoreClient.transaction} when commits keep failing with EAGAIN. Default 16. */
  readonly maxTransactionAttempts?: number;
  /** Largest payload. Default 4096. */
  readonly maxPayload?: number;
}

export const DEFAULT_XS_MAX_PENDING = 64;
export const DEFAULT_XS_TRANSACTION_ATTEMPTS = 16;

/** Called with the path that changed (or the watched path, at registration) and the token. */
export type WatchCallback = (path: string, token: string) => void;

/** Operations that run inside a transaction, or outside one when `txId` is 0. */
export interface XenstoreOps {
  read(path: string): Promise<string>;
  /** Like read, but undefined for ENOENT. */
  tryRead(path: string): Promise<string | undefined>;
  write(path: string, value: string | Uint8Array): Promise<void>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  directory(path: string): Promise<string[]>;
  getPermissions(path: string): Promise<string[]>;
  setPermissions(path: string, perms: readonly string[]): Promise<void>;
}

interface Pending {
  readonly type: number;
  resolve(message: XsMessage): void;
  reject(error: Error): void;
}

const encoder = new TextEncoder();

export class XenstoreClient implements XenstoreOps {
  private readonly transport: XenstoreTransport;
  private readonly maxPending: number;
  private readonly maxAttempts: number;
  private readonly reader: XsMessageReader;
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<string, WatchCallback>();
  private nextReqId = 1;
  private closed = false;
  /** Watch events for tokens nobody registered, and other unexpected messages. */
  unexpectedMessages = 0;

  constructor(transport: XenstoreTransport, config: XenstoreClientConfig = {}) {
    this.transport = transport;
    this.maxPending = config.maxPendingRequests ?? DEFAULT_XS_MAX_PENDING;
    this.maxAttempts = config.maxTransactionAttempts ?? DEFAULT_XS_TRANSACTION_ATTEMPTS;
    this.reader = new XsMessageReader(config.maxPayload ?? XENSTORE_PAYLOAD_MAX);
    transport.onData(
      (chunk) => this.receive(chunk),
      () => this.fail(new ConnectionReset('xenstore connection closed')),
    );
  }

  private receive(chunk: Uint8Array): void {
    let messages: XsMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.fail(new ProtocolError(`xenstore stream undecodable: ${error.message}`, { cause: error }));
      this.transport.close();
      return;
    }
    for (const message of messages) {
      if (message.type === XsType.WATCH_EVENT) {
        const [path, token] = splitNul(message.payload);
        const callback = token === undefined ? undefined : this.watches.get(token);
        if (callback === undefined || path === undefined || token === undefined) this.unexpectedMessages += 1;
        else callback(path, token);
        continue;
      }
      const waiter = this.pending.get(message.reqId);
      if (waiter === undefined) {
        this.unexpectedMessages += 1;
        continue;
      }
      this.pending.delete(message.reqId);
      if (message.type === XsType.ERROR) waiter.reject(new XenstoreError(payloadString(message.payload)));
      else if (message.type !== waiter.type) waiter.reject(new ProtocolError(`xenstore answered type ${message.type} to a type ${waiter.type} request`));
      else waiter.resolve(message);
    }
  }

  private fail(error: Error): void {
    this.closed = true;
    const waiters = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  /** Sends one request and waits for its answer. */
  request(type: number, txId: number, payload: Uint8Array): Promise<XsMessage> {
    if (this.closed) return Promise.reject(new ConnectionReset('xenstore connection closed'));
    if (this.pending.size >= this.maxPending) return Promise.reject(new LimitExceeded('maxPendingRequests'));
    let reqId = this.nextReqId;
    while (this.pending.has(reqId)) reqId = (reqId + 1) >>> 0;
    this.nextReqId = (reqId + 1) >>> 0;
    return new Promise<XsMessage>((resolve, reject) => {
      this.pending.set(reqId, { type, resolve, reject });
      this.transport.write(encodeXsMessage({ type, reqId, txId, payload }));
    });
  }

  /** The operations bound to transaction `txId` (0: none). */
  ops(txId: number): XenstoreOps {
    const str = async (type: number, ...parts: string[]): Promise<string> => payloadString((await this.request(type, txId, nulTerminated(...parts))).payload);
    return {
      read: (path) => str(XsType.READ, path),
      tryRead: async (path) => {
        try {
          return await str(XsType.READ, path);
        } catch (error) {
          if (error instanceof XenstoreError && error.errno === 'ENOENT') return undefined;
          throw error;
        }
      },
      write: async (path, value) => {
        const head = encoder.encode(`${path}\0`);
        const body = typeof value === 'string' ? encoder.encode(value) : value;
        const payload = new Uint8Array(head.length + body.length);
        payload.set(head);
        payload.set(body, head.length);
        await this.request(XsType.WRITE, txId, payload);
      },
      mkdir: async (path) => {
        await str(XsType.MKDIR, path);
      },
      rm: async (path) => {
        await str(XsType.RM, path);
      },
      directory: async (path) => {
        try {
          return splitNul((await this.request(XsType.DIRECTORY, txId, nulTerminated(path))).payload);
        } catch (error) {
          if (!(error instanceof XenstoreError && error.errno === 'E2BIG')) throw error;
          return this.directoryParts(txId, path);
        }
      },
      getPermissions: async (path) => splitNul((await this.request(XsType.GET_PERMS, txId, nulTerminated(path))).payload),
      setPermissions: async (path, perms) => {
        await str(XsType.SET_PERMS, path, ...perms);
      },
    };
  }

  /**
   * Lists a directory too large for one reply with DIRECTORY_PART (xenstore.txt), starting over
   * if the directory's generation changes between parts.
   */
  private async directoryParts(txId: number, path: string): Promise<string[]> {
    for (let attempt = 1; ; attempt++) {
      const names: string[] = [];
      let offset = 0;
      let generation: string | undefined;
      let restart = false;
      for (;;) {
        const payload = (await this.request(XsType.DIRECTORY_PART, txId, nulTerminated(path, String(offset)))).payload;
        const genEnd = payload.indexOf(0);
        if (genEnd < 0) throw new ProtocolError('DIRECTORY_PART reply without a generation');
        const gen = new TextDecoder().decode(payload.subarray(0, genEnd));
        if (generation !== undefined && gen !== generation) {
          restart = true;
          break;
        }
        generation = gen;
        const body = payload.subarray(genEnd + 1);
        // A complete list ends with an extra NUL (an empty name).
        const complete = body.length === 0 || (body.length >= 1 && body[body.length - 1] === 0 && (body.length === 1 || body[body.length - 2] === 0));
        const part = complete ? body.subarray(0, body.length - 1) : body;
        names.push(...splitNul(part));
        offset += part.length;
        if (complete) return names;
        if (part.length === 0) throw new ProtocolError('DIRECTORY_PART made no progress');
      }
      if (restart && attempt >= this.maxAttempts) throw new XenstoreError('EAGAIN', `directory ${path} kept changing while being listed`);
    }
  }

  read(path: string): Promise<string> {
    return this.ops(0).read(path);
  }
  tryRead(path: string): Promise<string | undefined> {
    return this.ops(0).tryRead(path);
  }
  write(path: string, value: string | Uint8Array): Promise<void> {
    return this.ops(0).write(path, value);
  }
  mkdir(path: string): Promise<void> {
    return this.ops(0).mkdir(path);
  }
  rm(path: string): Promise<void> {
    return this.ops(0).rm(path);
  }
  directory(path: string): Promise<string[]> {
    return this.ops(0).directory(path);
  }
  getPermissions(path: string): Promise<string[]> {
    return this.ops(0).getPermissions(path);
  }
  setPermissions(path: string, perms: readonly string[]): Promise<void> {
    return this.ops(0).setPermissions(path, perms);
  }

  /** The home path of domain `domid` (`/local/domain/<domid>`). */
  async getDomainPath(domid: number): Promise<string> {
    return payloadString((await this.request(XsType.GET_DOMAIN_PATH, 0, nulTerminated(String(domid)))).payload);
  }

  /**
   * Watches `path` and everything under it; `callback` runs once at once (xenstored's initial
   * event) and after every change. Tokens are unique per client. Returns the unwatch function.
   */
  async watch(path: string, token: string, callback: WatchCallback): Promise<() => Promise<void>> {
    if (this.watches.has(token)) throw new RangeError(`watch token ${token} already in use`);
    this.watches.set(token, callback);
    try {
      await this.request(XsType.WATCH, 0, nulTerminated(path, token));
    } catch (error) {
      this.watches.delete(token);
      throw error;
    }
    return async () => {
      if (!this.watches.delete(token)) return;
      if (!this.closed) await this.request(XsType.UNWATCH, 0, nulTerminated(path, token));
    };
  }

  async transactionStart(): Promise<number> {
    const reply = await this.request(XsType.TRANSACTION_START, 0, nulTerminated(''));
    const id = Number(payloadString(reply.payload));
    if (!Number.isInteger(id) || id <= 0 || id > 0xffff_ffff) throw new ProtocolError(`xenstore gave transaction id ${payloadString(reply.payload)}`);
    return id;
  }

  async transactionEnd(txId: number, commit: boolean): Promise<void> {
    await this.request(XsType.TRANSACTION_END, txId, nulTerminated(commit ? 'T' : 'F'));
  }

  /**
   * Runs `body` in a transaction and commits it, starting again from scratch when the commit
   * answers EAGAIN (another client changed what the transaction read), up to
   * `maxTransactionAttempts` times. An error from `body` aborts the transaction.
   */
  async transaction<T>(body: (ops: XenstoreOps) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const txId = await this.transactionStart();
      let result: T;
      try {
        result = await body(this.ops(txId));
      } catch (error) {
        await this.transactionEnd(txId, false).catch(() => undefined);
        throw error;
      }
      try {
        await this.transactionEnd(txId, true);
        return result;
      } catch (error) {
        if (!(error instanceof XenstoreError && error.errno === 'EAGAIN') || attempt >= this.maxAttempts) throw error;
      }
    }
  }

  /** Closes the transport; pending requests reject with ConnectionReset. */
  close(): void {
    if (this.closed) return;
    this.fail(new ConnectionReset('xenstore client closed'));
    this.watches.clear();
    this.transport.close();
  }
}
