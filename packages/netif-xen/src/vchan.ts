/**
 * libxenvchan's inter-domain byte stream as a morgana `Flow`, over the grant table and event
 * channel interfaces. The server shares the control page (and the pages of large rings) with
 * the client's domain and publishes `ring-ref` and `event-channel` under a xenstore path; the
 * client maps them and binds the event channel. Each side then writes its own ring and reads
 * the other's with free-running 32-bit indices, and sends an event only when the peer asked
 * for one through the notify bytes (libxenvchan io.c `send_notify` / `request_notify`).
 */
import {
  ClosedError,
  ConnectionReset,
  CounterSet,
  type Counters,
  type Flow,
  LimitExceeded,
  ProtocolError,
} from '@morgana/core';
import type { EventChannels, GrantMapper, GrantTable } from './grant.js';
import {
  VCHAN_CLI_LIVE,
  VCHAN_CLI_NOTIFY,
  VCHAN_LEFT_CONS,
  VCHAN_LEFT_PROD,
  VCHAN_LIVE_CONNECTED,
  VCHAN_LIVE_EXITED,
  VCHAN_LIVE_NOT_YET,
  VCHAN_NOTIFY_READ,
  VCHAN_NOTIFY_WRITE,
  VCHAN_PAGE_SIZE,
  VCHAN_RIGHT_CONS,
  VCHAN_RIGHT_PROD,
  VCHAN_SRV_LIVE,
  VCHAN_SRV_NOTIFY,
  emitVchanInterface,
  parseVchanInterface,
  vchanChooseOrders,
  vchanRingOffset,
  vchanRingPages,
} from './vchan-wire.js';

/** The xenstore operations vchan needs (an `XenstoreClient` has them). */
export interface VchanXenstore {
  read(path: string): Promise<string>;
  write(path: string, value: string): Promise<void>;
}

export interface VchanServerDeps {
  readonly xenstore: VchanXenstore;
  readonly grants: GrantTable;
  readonly events: EventChannels;
}

export interface VchanServerConfig {
  /** Xenstore directory for `ring-ref` and `event-channel`. */
  readonly path: string;
  /** The client's domain, to which the pages and the port are granted. */
  readonly peerDomid: number;
  /** Minimum bytes of the client-to-server (left) ring. Default 1024 (the in-page ring at 1024). */
  readonly readMin?: number;
  /** Minimum bytes of the server-to-client (right) ring. Default 2048 (the in-page ring at 2048). */
  readonly writeMin?: number;
  /** Largest chunk one `read()` returns. Default: the read ring's size. */
  readonly maxReadBytes?: number;
}

export interface VchanClientDeps {
  readonly xenstore: VchanXenstore;
  readonly mapper: GrantMapper;
  readonly events: EventChannels;
}

export interface VchanClientConfig {
  readonly path: string;
  /** The server's domain (the granter). */
  readonly serverDomid: number;
  /** Largest chunk one `read()` returns. Default: the read ring's size. */
  readonly maxReadBytes?: number;
}

export const DEFAULT_VCHAN_READ_MIN = 1024;
export const DEFAULT_VCHAN_WRITE_MIN = 2048;

/** A vchan end: a Flow plus counters (`bad-index`, `grant-still-mapped`). */
export interface VchanFlow extends Flow {
  /** Ring sizes in bytes: what this end reads and what it writes. */
  readonly readRingSize: number;
  readonly writeRingSize: number;
  counters(): Counters;
}

/** A ring as its backing segments (one in-page area, or granted pages in order). */
interface Ring {
  readonly segments: readonly Uint8Array[];
  readonly segmentSize: number;
  readonly size: number;
  /** Word indices of cons and prod in the control page. */
  readonly cons: number;
  readonly prod: number;
}

interface PendingWrite {
  readonly data: Uint8Array;
  offset: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface PendingRead {
  readonly resolve: (chunk: Uint8Array | null) => void;
  readonly reject: (error: Error) => void;
}

interface EndpointSetup {
  readonly control: Uint8Array;
  readonly isServer: boolean;
  readonly readRing: Ring;
  readonly writeRing: Ring;
  readonly events: EventChannels;
  readonly port: number;
  readonly maxReadBytes: number | undefined;
  readonly release: (counters: CounterSet) => void;
}

function ringOf(control: Uint8Array, order: number, pages: readonly Uint8Array[], cons: number, prod: number): Ring {
  const offset = vchanRingOffset(order);
  const size = 2 ** order;
  if (offset !== undefined) return { segments: [control.subarray(offset, offset + size)], segmentSize: size, size, cons: cons / 4, prod: prod / 4 };
  return { segments: pages, segmentSize: VCHAN_PAGE_SIZE, size, cons: cons / 4, prod: prod / 4 };
}

class VchanEndpoint implements VchanFlow {
  readonly readRingSize: number;
  readonly writeRingSize: number;
  private readonly control: Uint8Array;
  private readonly indices: Uint32Array;
  private readonly readRing: Ring;
  private readonly writeRing: Ring;
  private readonly events: EventChannels;
  private readonly port: number;
  private readonly maxReadBytes: number;
  private readonly releaseResources: (counters: CounterSet) => void;
  /** Offsets of our liveness byte, the peer's, the notify byte we honour, and the one we set. */
  private readonly myLive: number;
  private readonly peerLive: number;
  private readonly myNotify: number;
  private readonly peerNotify: number;
  private readonly counterSet = new CounterSet();
  private readonly reads: PendingRead[] = [];
  private readonly writes: PendingWrite[] = [];
  private readonly drained: (() => void)[] = [];
  private writeShut = false;
  private finished = false;
  private failure: Error | undefined;

  constructor(setup: EndpointSetup) {
    this.control = setup.control;
    this.indices = new Uint32Array(setup.control.buffer, setup.control.byteOffset, 4);
    this.readRing = setup.readRing;
    this.writeRing = setup.writeRing;
    this.readRingSize = setup.readRing.size;
    this.writeRingSize = setup.writeRing.size;
    this.events = setup.events;
    this.port = setup.port;
    this.maxReadBytes = setup.maxReadBytes ?? setup.readRing.size;
    this.releaseResources = setup.release;
    this.myLive = setup.isServer ? VCHAN_SRV_LIVE : VCHAN_CLI_LIVE;
    this.peerLive = setup.isServer ? VCHAN_CLI_LIVE : VCHAN_SRV_LIVE;
    this.myNotify = setup.isServer ? VCHAN_SRV_NOTIFY : VCHAN_CLI_NOTIFY;
    this.peerNotify = setup.isServer ? VCHAN_CLI_NOTIFY : VCHAN_SRV_NOTIFY;
    this.events.listen(this.port, () => this.pump());
  }

  counters(): Counters {
    return this.counterSet.snapshot();
  }

  read(): Promise<Uint8Array | null> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.finished) return Promise.reject(new ClosedError('vchan closed'));
    return new Promise((resolve, reject) => {
      this.reads.push({ resolve, reject });
      this.pump();
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.writeShut || this.finished) return Promise.reject(new ClosedError('vchan write side shut down'));
    if (data.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.writes.push({ data, offset: 0, resolve, reject });
      this.pump();
    });
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    const joined = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    return this.write(joined);
  }

  /**
   * vchan has one liveness byte per side and no half-close: setting ours to 0 after the queued
   * bytes are in the ring is the end of our stream, which the peer reads as end of file once
   * it has drained the ring. We go on reading what the peer writes.
   */
  async shutdown(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.finished) return;
    this.writeShut = true;
    if (this.writes.length > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    if (this.failure !== undefined) throw this.failure;
    this.markExited();
  }

  async close(): Promise<void> {
    if (this.finished) return;
    await this.shutdown();
    if (this.finished) return;
    this.finish(new ClosedError('vchan closed'));
  }

  abort(): void {
    if (this.finished) return;
    this.writeShut = true;
    this.markExited();
    this.fail(new ConnectionReset('vchan aborted'));
  }

  private markExited(): void {
    if (Atomics.load(this.control, this.myLive) === VCHAN_LIVE_EXITED) return;
    Atomics.store(this.control, this.myLive, VCHAN_LIVE_EXITED);
    // libxenvchan_close notifies unconditionally so a waiting peer sees the end.
    this.events.notify(this.port);
  }

  private fail(error: Error): void {
    this.failure = error;
    this.finish(error);
  }

  /** Rejects whatever is pending with `error` and gives back the pages and the port. */
  private finish(error: Error): void {
    this.finished = true;
    for (const read of this.reads.splice(0)) read.reject(error);
    for (const write of this.writes.splice(0)) write.reject(error);
    for (const resolve of this.drained.splice(0)) resolve();
    this.events.close(this.port);
    this.releaseResources(this.counterSet);
  }

  /** Runs on every event and after every call: moves bytes both ways and settles waiters. */
  private pump(): void {
    if (this.finished) return;
    this.pumpWrites();
    if (this.finished) return;
    this.pumpReads();
  }

  private used(ring: Ring): number | undefined {
    const used = (Atomics.load(this.indices, ring.prod) - Atomics.load(this.indices, ring.cons)) >>> 0;
    if (used > ring.size) {
      // A peer that moves an index past the other cannot be trusted with the rest of the stream.
      this.counterSet.add('bad-index');
      this.markExited();
      this.fail(new ProtocolError(`vchan peer index inconsistent: ${used} bytes in a ${ring.size}-byte ring`));
      return undefined;
    }
    return used;
  }

  /** `send_notify`: clear the peer's request bit and send an event only if it was set. */
  private sendNotify(bit: number): void {
    const previous = Atomics.and(this.control, this.myNotify, ~bit & 0xff);
    if ((previous & bit) !== 0) this.events.notify(this.port);
  }

  /** `request_notify`: ask the peer for an event; the caller re-reads the indices afterwards. */
  private requestNotify(bit: number): void {
    Atomics.or(this.control, this.peerNotify, bit);
  }

  private pumpReads(): void {
    while (this.reads.length > 0) {
      let used = this.used(this.readRing);
      if (used === undefined) return;
      if (used === 0) {
        const peerExited = Atomics.load(this.control, this.peerLive) === VCHAN_LIVE_EXITED;
        this.requestNotify(VCHAN_NOTIFY_WRITE);
        used = this.used(this.readRing);
        if (used === undefined) return;
        if (used === 0) {
          // Liveness was read before the recheck, so bytes written before the peer exited are
          // never mistaken for end of stream.
          if (!peerExited) return;
          for (const read of this.reads.splice(0)) read.resolve(null);
          return;
        }
      }
      const count = Math.min(used, this.maxReadBytes);
      const chunk = new Uint8Array(count);
      const cons = Atomics.load(this.indices, this.readRing.cons);
      this.copy(this.readRing, cons, chunk, false);
      Atomics.store(this.indices, this.readRing.cons, (cons + count) >>> 0);
      this.sendNotify(VCHAN_NOTIFY_READ);
      (this.reads.shift() as PendingRead).resolve(chunk);
    }
  }

  private pumpWrites(): void {
    let wrote = false;
    while (this.writes.length > 0) {
      const used = this.used(this.writeRing);
      if (used === undefined) return;
      let space = this.writeRing.size - used;
      if (space === 0) {
        this.requestNotify(VCHAN_NOTIFY_READ);
        const again = this.used(this.writeRing);
        if (again === undefined) return;
        space = this.writeRing.size - again;
        if (space === 0) break;
      }
      const head = this.writes[0] as PendingWrite;
      const count = Math.min(space, head.data.length - head.offset);
      const prod = Atomics.load(this.indices, this.writeRing.prod);
      this.copy(this.writeRing, prod, head.data.subarray(head.offset, head.offset + count), true);
      Atomics.store(this.indices, this.writeRing.prod, (prod + count) >>> 0);
      wrote = true;
      head.offset += count;
      if (head.offset === head.data.length) {
        this.writes.shift();
        head.resolve();
      }
    }
    if (wrote) this.sendNotify(VCHAN_NOTIFY_WRITE);
    if (this.writes.length === 0) for (const resolve of this.drained.splice(0)) resolve();
  }

  /** Copies between `bytes` and the ring starting at free-running index `index`. */
  private copy(ring: Ring, index: number, bytes: Uint8Array, intoRing: boolean): void {
    let at = 0;
    let position = index & (ring.size - 1);
    while (at < bytes.length) {
      const segment = ring.segments[Math.floor(position / ring.segmentSize)] as Uint8Array;
      const within = position % ring.segmentSize;
      const count = Math.min(bytes.length - at, ring.segmentSize - within);
      if (intoRing) segment.set(bytes.subarray(at, at + count), within);
      else bytes.set(segment.subarray(within, within + count), at);
      at += count;
      position = (position + count) & (ring.size - 1);
    }
  }
}

/**
 * Creates the server end (libxenvchan_server_init): shares the control page and any large
 * ring's pages with `peerDomid`, allocates an unbound port for it and publishes both under
 * `path`. Bytes written before the client connects wait in the ring.
 */
export async function createVchanServer(deps: VchanServerDeps, config: VchanServerConfig): Promise<VchanFlow> {
  const { grants, events } = deps;
  const orders = vchanChooseOrders(config.readMin ?? DEFAULT_VCHAN_READ_MIN, config.writeMin ?? DEFAULT_VCHAN_WRITE_MIN);
  const pages: Uint8Array[] = [];
  const refs: number[] = [];
  const giveBack = (counters: CounterSet | undefined): void => {
    refs.forEach((ref, i) => {
      if (grants.endAccess(ref)) grants.freePage(pages[i] as Uint8Array);
      else counters?.add('grant-still-mapped');
    });
    for (const page of pages.slice(refs.length)) grants.freePage(page);
  };
  try {
    const allocate = (): Uint8Array => {
      const page = grants.allocatePage();
      if (page === undefined) throw new LimitExceeded('pages', 'no page left for the vchan rings');
      pages.push(page);
      return page;
    };
    const control = allocate();
    const leftPages = Array.from({ length: vchanRingPages(orders.left) }, allocate);
    const rightPages = Array.from({ length: vchanRingPages(orders.right) }, allocate);
    for (const page of pages) refs.push(grants.grantAccess(config.peerDomid, page, false));
    emitVchanInterface(
      {
        leftCons: 0, leftProd: 0, rightCons: 0, rightProd: 0,
        leftOrder: orders.left, rightOrder: orders.right,
        cliLive: VCHAN_LIVE_NOT_YET, srvLive: VCHAN_LIVE_CONNECTED,
        cliNotify: VCHAN_NOTIFY_WRITE, srvNotify: VCHAN_NOTIFY_WRITE,
        grants: refs.slice(1),
      },
      control,
    );
    const port = events.allocUnbound(config.peerDomid);
    try {
      await deps.xenstore.write(`${config.path}/ring-ref`, String(refs[0]));
      await deps.xenstore.write(`${config.path}/event-channel`, String(port));
    } catch (error) {
      events.close(port);
      throw error;
    }
    return new VchanEndpoint({
      control,
      isServer: true,
      readRing: ringOf(control, orders.left, leftPages, VCHAN_LEFT_CONS, VCHAN_LEFT_PROD),
      writeRing: ringOf(control, orders.right, rightPages, VCHAN_RIGHT_CONS, VCHAN_RIGHT_PROD),
      events,
      port,
      maxReadBytes: config.maxReadBytes,
      release: giveBack,
    });
  } catch (error) {
    giveBack(undefined);
    throw error;
  }
}

function parseNumber(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text.trim())) throw new ProtocolError(`vchan ${what} is not a number: ${JSON.stringify(text)}`);
  return Number(text.trim());
}

/**
 * Connects the client end (libxenvchan_client_init): reads `ring-ref` and `event-channel` under
 * `path`, maps the control page and the ring pages, binds the port, marks itself live and
 * tells the server.
 */
export async function connectVchanClient(deps: VchanClientDeps, config: VchanClientConfig): Promise<VchanFlow> {
  const { mapper, events } = deps;
  const ringRef = parseNumber(await deps.xenstore.read(`${config.path}/ring-ref`), 'ring-ref');
  const remotePort = parseNumber(await deps.xenstore.read(`${config.path}/event-channel`), 'event-channel');
  const mapped: number[] = [];
  const unmapAll = (): void => {
    for (const ref of mapped) mapper.unmap(config.serverDomid, ref);
  };
  try {
    const control = mapper.map(config.serverDomid, ringRef, true);
    mapped.push(ringRef);
    const shared = parseVchanInterface(control);
    const mapPage = (ref: number): Uint8Array => {
      const page = mapper.map(config.serverDomid, ref, true);
      mapped.push(ref);
      return page;
    };
    const leftCount = vchanRingPages(shared.leftOrder);
    const leftPages = shared.grants.slice(0, leftCount).map(mapPage);
    const rightPages = shared.grants.slice(leftCount).map(mapPage);
    const port = events.bindInterdomain(config.serverDomid, remotePort);
    Atomics.store(control, VCHAN_CLI_LIVE, VCHAN_LIVE_CONNECTED);
    Atomics.store(control, VCHAN_SRV_NOTIFY, VCHAN_NOTIFY_WRITE);
    const endpoint = new VchanEndpoint({
      control,
      isServer: false,
      readRing: ringOf(control, shared.rightOrder, rightPages, VCHAN_RIGHT_CONS, VCHAN_RIGHT_PROD),
      writeRing: ringOf(control, shared.leftOrder, leftPages, VCHAN_LEFT_CONS, VCHAN_LEFT_PROD),
      events,
      port,
      maxReadBytes: config.maxReadBytes,
      release: unmapAll,
    });
    events.notify(port);
    return endpoint;
  } catch (error) {
    unmapAll();
    throw error;
  }
}
