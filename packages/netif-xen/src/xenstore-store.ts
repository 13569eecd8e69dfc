/**
 * The xenstore database as a xenstored simulator keeps it: a tree of nodes with values and
 * permissions, watches, and transactions with optimistic concurrency (a commit whose reads or
 * writes were changed by someone else since the transaction started fails with EAGAIN, as
 * docs/misc/xenstore.txt specifies). Runtime-neutral: connections are plain objects that
 * receive encoded messages through a callback; the Unix-socket server lives in xenstored.ts.
 */
import { DecodeError } from '@morgana/core';
import {
  XENSTORE_PAYLOAD_MAX,
  XsType,
  type XsMessage,
  XsMessageReader,
  encodeXsMessage,
  nulTerminated,
  payloadString,
  splitNul,
} from './xs-wire.js';

/** Limits of the simulator. Every one is hit by a test. */
export interface XenstoreStoreConfig {
  /** Nodes in the whole tree. Default 10 000; a write beyond it answers ENOSPC. */
  readonly maxNodes?: number;
  /** Watches per connection. Default 128; beyond it WATCH answers E2BIG. */
  readonly maxWatchesPerConnection?: number;
  /** Open transactions per connection. Default 16; beyond it TRANSACTION_START answers ENOSPC. */
  readonly maxTransactionsPerConnection?: number;
  /** Longest absolute path, bytes. Default 3072 (XENSTORE_ABS_PATH_MAX). */
  readonly maxPathLength?: number;
  /** Largest payload accepted and sent. Default 4096 (XENSTORE_PAYLOAD_MAX). */
  readonly maxPayload?: number;
}

export const DEFAULT_XS_MAX_NODES = 10_000;
export const DEFAULT_XS_MAX_WATCHES = 128;
export const DEFAULT_XS_MAX_TRANSACTIONS = 16;
export const DEFAULT_XS_MAX_PATH_LENGTH = 3072;

/** One entry of a node's permission list: `n` none, `r` read, `w` write, `b` both. */
export interface XsPermission {
  readonly domid: number;
  readonly access: 'n' | 'r' | 'w' | 'b';
}

interface XsNode {
  value: Uint8Array;
  /** First entry: the owner and the access of every domain not listed after it. */
  perms: XsPermission[];
  children: Set<string>;
  /** Store generation of the last change to this node (value, perms or children). */
  gen: number;
}

type Tree = Map<string, XsNode>;

interface Transaction {
  readonly id: number;
  readonly tree: Tree;
  /** Generation of every path the transaction looked at or changed, as it was when first seen (-1: absent). */
  readonly seen: Map<string, number>;
  readonly dirty: Set<string>;
  /** Watch events the commit fires, in the order the operations ran. */
  readonly events: { path: string; recursive: boolean }[];
}

interface Watch {
  readonly path: string;
  readonly token: string;
  /** Set for a watch given as a relative path: events then name paths relative to it too. */
  readonly home: string | undefined;
}

function eventPath(watch: Watch, path: string): string {
  return watch.home !== undefined && path.startsWith(watch.home) ? path.slice(watch.home.length) : path;
}

/** A client of the store: a Unix-socket connection, or an in-process one. */
export interface XsConnection {
  /** The domain the connection speaks for; 0 (dom0) bypasses permission checks. */
  readonly domid: number;
  /** Feeds bytes from the client; answers and watch events go to `send`. */
  receive(chunk: Uint8Array): void;
  /** Forgets the connection's watches and transactions. */
  close(): void;
  /** Messages the connection could not decode (counted, then the connection is closed by the transport). */
  readonly decodeErrors: number;
}

class XsFailure extends Error {
  readonly errno: string;
  constructor(errno: string) {
    super(errno);
    this.errno = errno;
  }
}

const encoder = new TextEncoder();
const PATH_CHARS = /^[A-Za-z0-9\-/_@]+$/;

function cloneNode(node: XsNode): XsNode {
  return { value: node.value, perms: node.perms.slice(), children: new Set(node.children), gen: node.gen };
}

function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function isUnder(path: string, ancestor: string): boolean {
  return ancestor === '/' ? path.startsWith('/') : path === ancestor || path.startsWith(`${ancestor}/`);
}

export function formatPermissions(perms: readonly XsPermission[]): string[] {
  return perms.map((p) => `${p.access}${p.domid}`);
}

export function parsePermission(text: string): XsPermission {
  const access = text[0];
  const domid = Number(text.slice(1));
  if ((access !== 'n' && access !== 'r' && access !== 'w' && access !== 'b') || !/^\d+$/.test(text.slice(1)) || domid > 0xffff) {
    throw new XsFailure('EINVAL');
  }
  return { domid, access };
}

/** The simulated xenstored: one store, any number of connections. */
export class XenstoreStore {
  private readonly maxNodes: number;
  private readonly maxWatches: number;
  private readonly maxTransactions: number;
  private readonly maxPathLength: number;
  private readonly maxPayload: number;
  private readonly tree: Tree = new Map();
  private generation = 1;
  private nextTxId = 1;
  private readonly connections = new Set<ConnectionState>();

  constructor(config: XenstoreStoreConfig = {}) {
    this.maxNodes = config.maxNodes ?? DEFAULT_XS_MAX_NODES;
    this.maxWatches = config.maxWatchesPerConnection ?? DEFAULT_XS_MAX_WATCHES;
    this.maxTransactions = config.maxTransactionsPerConnection ?? DEFAULT_XS_MAX_TRANSACTIONS;
    this.maxPathLength = config.maxPathLength ?? DEFAULT_XS_MAX_PATH_LENGTH;
    this.maxPayload = config.maxPayload ?? XENSTORE_PAYLOAD_MAX;
    this.tree.set('/', { value: new Uint8Array(0), perms: [{ domid: 0, access: 'n' }], children: new Set(), gen: 0 });
    for (const path of ['/local', '/local/domain', '/local/domain/0', '/tool']) this.forceWrite(path, '');
  }

  /** Number of nodes, the root included. */
  get size(): number {
    return this.tree.size;
  }

  /** Reads a node directly (for tests and the host side of a simulation); undefined when absent. */
  peek(path: string): string | undefined {
    const node = this.tree.get(path);
    return node === undefined ? undefined : new TextDecoder().decode(node.value);
  }

  /** Writes a node as dom0 would, firing watches. */
  forceWrite(path: string, value: string): void {
    this.createPath(this.tree, path, 0, undefined);
    const node = this.tree.get(path);
    if (node === undefined) return;
    node.value = encoder.encode(value);
    node.gen = this.bump();
    this.fire(path);
  }

  /** Sets a node's permissions as dom0 would. */
  forcePermissions(path: string, perms: readonly XsPermission[]): void {
    const node = this.tree.get(path);
    if (node === undefined) throw new RangeError(`no node ${path}`);
    node.perms = perms.slice();
    node.gen = this.bump();
    this.fire(path);
  }

  /** Watches registered by all connections. */
  watchCount(): number {
    let count = 0;
    for (const conn of this.connections) count += conn.watches.length;
    return count;
  }

  /** Opens a connection for `domid` whose outgoing bytes go to `send`. */
  connect(domid: number, send: (bytes: Uint8Array) => void): XsConnection {
    const state = new ConnectionState(this, domid, send, this.maxPayload);
    this.connections.add(state);
    return state;
  }

  /** @internal */
  dropConnection(state: ConnectionState): void {
    this.connections.delete(state);
  }

  private bump(): number {
    this.generation += 1;
    return this.generation;
  }

  /**
   * @internal Fires every watch on `path` or an ancestor of it; for a removal (`recursive`)
   * also the watches below it, each with its own path, since those nodes went too.
   */
  fire(path: string, recursive = false): void {
    for (const conn of this.connections) {
      for (const watch of conn.watches) {
        if (isUnder(path, watch.path)) conn.sendWatchEvent(eventPath(watch, path), watch.token);
        else if (recursive && isUnder(watch.path, path)) conn.sendWatchEvent(eventPath(watch, watch.path), watch.token);
      }
    }
  }

  private changed(tx: Transaction | undefined, path: string, recursive = false): void {
    if (tx === undefined) this.fire(path, recursive);
    else tx.events.push({ path, recursive });
  }

  /** @internal Resolves a client path: relative paths are under the domain's home. */
  resolve(domid: number, raw: string): string {
    if (raw.startsWith('@')) {
      if (raw !== '@introduceDomain' && raw !== '@releaseDomain') throw new XsFailure('EINVAL');
      return raw;
    }
    const path = raw.startsWith('/') ? raw : `/local/domain/${domid}/${raw}`;
    if (path.length > this.maxPathLength) throw new XsFailure('E2BIG');
    if (path !== '/' && (path.endsWith('/') || path.includes('//') || !PATH_CHARS.test(path))) throw new XsFailure('EINVAL');
    return path;
  }

  private canAccess(node: XsNode, domid: number, want: 'r' | 'w'): boolean {
    if (domid === 0) return true;
    const [owner, ...rest] = node.perms;
    if (owner === undefined || owner.domid === domid) return true;
    const entry = rest.find((p) => p.domid === domid);
    const access = entry?.access ?? owner.access;
    return access === 'b' || access === want;
  }

  private note(tx: Transaction | undefined, path: string): void {
    if (tx === undefined || tx.seen.has(path)) return;
    tx.seen.set(path, this.tree.get(path)?.gen ?? -1);
  }

  private treeOf(tx: Transaction | undefined): Tree {
    return tx === undefined ? this.tree : tx.tree;
  }

  private lookup(tx: Transaction | undefined, domid: number, path: string, want: 'r' | 'w'): XsNode {
    this.note(tx, path);
    const node = this.treeOf(tx).get(path);
    if (node === undefined) throw new XsFailure('ENOENT');
    if (!this.canAccess(node, domid, want)) throw new XsFailure('EACCES');
    return node;
  }

  /** Creates `path` and missing ancestors (empty values, permissions inherited from the parent). */
  private createPath(tree: Tree, path: string, domid: number, tx: Transaction | undefined): string[] {
    const created: string[] = [];
    const missing: string[] = [];
    let at = path;
    while (!tree.has(at)) {
      missing.push(at);
      at = parentOf(at);
    }
    this.note(tx, at);
    const top = tree.get(at);
    if (top === undefined) return created;
    if (!this.canAccess(top, domid, 'w')) throw new XsFailure('EACCES');
    if (missing.length > 0 && tree.size + missing.length > this.maxNodes) throw new XsFailure('ENOSPC');
    for (const p of missing.reverse()) {
      const parent = tree.get(parentOf(p));
      if (parent === undefined) break;
      const gen = tx === undefined ? this.bump() : 0;
      const perms = domid === 0 ? parent.perms.slice() : [{ domid, access: 'n' as const }];
      tree.set(p, { value: new Uint8Array(0), perms, children: new Set(), gen });
      parent.children.add(baseName(p));
      parent.gen = gen;
      created.push(p, parentOf(p));
      this.note(tx, p);
    }
    return created;
  }

  private markDirty(tx: Transaction | undefined, paths: Iterable<string>): void {
    if (tx === undefined) return;
    for (const p of paths) {
      this.note(tx, p);
      tx.dirty.add(p);
    }
  }

  /** @internal Executes one request for a connection; returns the reply payload or throws XsFailure. */
  execute(conn: ConnectionState, type: number, tx: Transaction | undefined, args: Uint8Array): Uint8Array {
    const domid = conn.domid;
    const tree = this.treeOf(tx);
    const one = (): string => this.resolve(domid, payloadString(args));
    switch (type) {
      case XsType.READ: {
        const node = this.lookup(tx, domid, one(), 'r');
        return node.value;
      }
      case XsType.DIRECTORY: {
        const node = this.lookup(tx, domid, one(), 'r');
        const names = [...node.children].sort();
        const reply = nulTerminated(...names);
        if (reply.length > this.maxPayload) throw new XsFailure('E2BIG');
        return reply;
      }
      case XsType.DIRECTORY_PART: {
        // xenstore.txt DIRECTORY_PART: <path>|<offset>| → <generation>|<names from offset>,
        // with one more NUL once the list is complete. Clients use it when DIRECTORY is E2BIG.
        const [rawPath, rawOffset] = splitNul(args);
        if (rawPath === undefined || rawOffset === undefined || !/^\d+$/.test(rawOffset)) throw new XsFailure('EINVAL');
        const node = this.lookup(tx, domid, this.resolve(domid, rawPath), 'r');
        const all = nulTerminated(...[...node.children].sort());
        const offset = Number(rawOffset);
        if (offset > all.length) throw new XsFailure('EINVAL');
        const head = nulTerminated(String(node.gen));
        const room = this.maxPayload - head.length - 1;
        let end = Math.min(all.length, offset + room);
        // Cut only after a whole name.
        if (end < all.length) end = all.lastIndexOf(0, end - 1) + 1;
        if (end <= offset && offset < all.length) throw new XsFailure('E2BIG');
        const complete = end === all.length;
        const out = new Uint8Array(head.length + (end - offset) + (complete ? 1 : 0));
        out.set(head);
        out.set(all.subarray(offset, end), head.length);
        return out;
      }
      case XsType.GET_PERMS: {
        const node = this.lookup(tx, domid, one(), 'r');
        return nulTerminated(...formatPermissions(node.perms));
      }
      case XsType.WRITE: {
        const nul = args.indexOf(0);
        if (nul < 0) throw new XsFailure('EINVAL');
        const path = this.resolve(domid, new TextDecoder().decode(args.subarray(0, nul)));
        if (path.startsWith('@')) throw new XsFailure('EINVAL');
        const created = this.createPath(tree, path, domid, tx);
        const node = this.lookup(tx, domid, path, 'w');
        node.value = args.slice(nul + 1);
        node.gen = tx === undefined ? this.bump() : 0;
        this.markDirty(tx, [path, ...created]);
        this.changed(tx, path);
        return nulTerminated('OK');
      }
      case XsType.MKDIR: {
        const path = one();
        if (path.startsWith('@')) throw new XsFailure('EINVAL');
        const created = this.createPath(tree, path, domid, tx);
        this.markDirty(tx, created);
        if (created.length > 0) this.changed(tx, path);
        return nulTerminated('OK');
      }
      case XsType.RM: {
        const path = one();
        if (path === '/' || path.startsWith('@')) throw new XsFailure('EINVAL');
        this.note(tx, path);
        const node = tree.get(path);
        if (node === undefined) {
          // Removing an absent node is fine when its parent exists (docs/misc/xenstore.txt RM).
          if (!tree.has(parentOf(path))) throw new XsFailure('ENOENT');
          return nulTerminated('OK');
        }
        if (!this.canAccess(node, domid, 'w')) throw new XsFailure('EACCES');
        const parent = tree.get(parentOf(path));
        const removed: string[] = [];
        const stack = [path];
        while (stack.length > 0) {
          const p = stack.pop() ?? '';
          const n = tree.get(p);
          if (n === undefined) continue;
          for (const child of n.children) stack.push(p === '/' ? `/${child}` : `${p}/${child}`);
          tree.delete(p);
          removed.push(p);
        }
        if (parent !== undefined) {
          parent.children.delete(baseName(path));
          parent.gen = tx === undefined ? this.bump() : 0;
        }
        this.markDirty(tx, [...removed, parentOf(path)]);
        this.changed(tx, path, true);
        return nulTerminated('OK');
      }
      case XsType.SET_PERMS: {
        const [rawPath, ...permTexts] = splitNul(args);
        if (rawPath === undefined || permTexts.length === 0) throw new XsFailure('EINVAL');
        const path = this.resolve(domid, rawPath);
        const perms = permTexts.map(parsePermission);
        const node = this.lookup(tx, domid, path, 'w');
        // Only dom0 or the owner may change permissions.
        if (domid !== 0 && node.perms[0]?.domid !== domid) throw new XsFailure('EACCES');
        node.perms = perms;
        node.gen = tx === undefined ? this.bump() : 0;
        this.markDirty(tx, [path]);
        this.changed(tx, path);
        return nulTerminated('OK');
      }
      case XsType.GET_DOMAIN_PATH: {
        const id = payloadString(args);
        if (!/^\d+$/.test(id)) throw new XsFailure('EINVAL');
        return nulTerminated(`/local/domain/${id}`);
      }
      default:
        throw new XsFailure('EINVAL');
    }
  }

  /** @internal */
  startTransaction(): Transaction {
    const tree: Tree = new Map();
    for (const [path, node] of this.tree) tree.set(path, cloneNode(node));
    const id = this.nextTxId;
    this.nextTxId = (this.nextTxId % 0xffff_fffe) + 1;
    return { id, tree, seen: new Map(), dirty: new Set(), events: [] };
  }

  /** @internal Commits: EAGAIN when anything the transaction saw changed since it started. */
  commit(tx: Transaction): void {
    for (const [path, gen] of tx.seen) {
      if ((this.tree.get(path)?.gen ?? -1) !== gen) throw new XsFailure('EAGAIN');
    }
    let added = 0;
    for (const path of tx.dirty) added += (tx.tree.has(path) ? 1 : 0) - (this.tree.has(path) ? 1 : 0);
    if (this.tree.size + added > this.maxNodes) throw new XsFailure('ENOSPC');
    const changed = [...tx.dirty].sort();
    for (const path of changed) {
      const node = tx.tree.get(path);
      if (node === undefined) this.tree.delete(path);
      else this.tree.set(path, { ...cloneNode(node), gen: this.bump() });
    }
    for (const event of tx.events) this.fire(event.path, event.recursive);
  }

  /** @internal */
  get watchLimit(): number {
    return this.maxWatches;
  }
  /** @internal */
  get transactionLimit(): number {
    return this.maxTransactions;
  }
}

class ConnectionState implements XsConnection {
  readonly domid: number;
  readonly watches: Watch[] = [];
  private readonly transactions = new Map<number, Transaction>();
  private readonly store: XenstoreStore;
  private readonly send: (bytes: Uint8Array) => void;
  private readonly reader: XsMessageReader;
  private closed = false;
  decodeErrors = 0;

  constructor(store: XenstoreStore, domid: number, send: (bytes: Uint8Array) => void, maxPayload: number) {
    this.store = store;
    this.domid = domid;
    this.send = send;
    this.reader = new XsMessageReader(maxPayload);
  }

  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    let messages: XsMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.decodeErrors += 1;
      this.close();
      return;
    }
    for (const message of messages) this.handle(message);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transactions.clear();
    this.watches.length = 0;
    this.store.dropConnection(this);
  }

  sendWatchEvent(path: string, token: string): void {
    if (this.closed) return;
    this.send(encodeXsMessage({ type: XsType.WATCH_EVENT, reqId: 0, txId: 0, payload: nulTerminated(path, token) }));
  }

  private reply(request: XsMessage, type: number, payload: Uint8Array): void {
    this.send(encodeXsMessage({ type, reqId: request.reqId, txId: request.txId, payload }));
  }

  private handle(message: XsMessage): void {
    try {
      const payload = this.dispatch(message);
      if (payload !== undefined) this.reply(message, message.type, payload);
    } catch (error) {
      if (!(error instanceof XsFailure)) throw error;
      this.reply(message, XsType.ERROR, nulTerminated(error.errno));
    }
  }

  /** The reply payload, or undefined when the handler replied itself. */
  private dispatch(message: XsMessage): Uint8Array | undefined {
    const args = message.payload;
    switch (message.type) {
      case XsType.WATCH: {
        const [rawPath, token] = splitNul(args);
        if (rawPath === undefined || token === undefined) throw new XsFailure('EINVAL');
        const path = this.store.resolve(this.domid, rawPath);
        if (this.watches.some((w) => w.path === path && w.token === token)) throw new XsFailure('EEXIST');
        if (this.watches.length >= this.store.watchLimit) throw new XsFailure('E2BIG');
        const home = rawPath.startsWith('/') || rawPath.startsWith('@') ? undefined : `/local/domain/${this.domid}/`;
        this.watches.push({ path, token, home });
        this.reply(message, XsType.WATCH, nulTerminated('OK'));
        // A new watch fires once at once so the client reads the initial state (xenstore.txt WATCH).
        this.sendWatchEvent(rawPath, token);
        return undefined;
      }
      case XsType.UNWATCH: {
        const [rawPath, token] = splitNul(args);
        if (rawPath === undefined || token === undefined) throw new XsFailure('EINVAL');
        const path = this.store.resolve(this.domid, rawPath);
        const at = this.watches.findIndex((w) => w.path === path && w.token === token);
        if (at < 0) throw new XsFailure('ENOENT');
        this.watches.splice(at, 1);
        return nulTerminated('OK');
      }
      case XsType.RESET_WATCHES:
        this.watches.length = 0;
        return nulTerminated('OK');
      case XsType.TRANSACTION_START: {
        if (message.txId !== 0) throw new XsFailure('EBUSY');
        if (this.transactions.size >= this.store.transactionLimit) throw new XsFailure('ENOSPC');
        const tx = this.store.startTransaction();
        this.transactions.set(tx.id, tx);
        return nulTerminated(String(tx.id));
      }
      case XsType.TRANSACTION_END: {
        const tx = this.transactions.get(message.txId);
        if (tx === undefined) throw new XsFailure('ENOENT');
        const verdict = payloadString(args);
        if (verdict !== 'T' && verdict !== 'F') throw new XsFailure('EINVAL');
        this.transactions.delete(message.txId);
        if (verdict === 'T') this.store.commit(tx);
        return nulTerminated('OK');
      }
      default: {
        let tx: Transaction | undefined;
        if (message.txId !== 0) {
          tx = this.transactions.get(message.txId);
          if (tx === undefined) throw new XsFailure('ENOENT');
        }
        return this.store.execute(this, message.type, tx, args);
      }
    }
  }
}

export { XsFailure };
