/**
 * Netfront: a Xen paravirtual network device as a morgana {@link Netif}. It negotiates with
 * the back end over xenbus (xenstore), shares a tx and an rx ring page, posts rx buffers by
 * grant reference and sends frames as chains of tx slots. Runtime-neutral: the hypervisor is
 * reached only through the {@link GrantTable} and {@link EventChannels} interfaces.
 *
 * Protocol reference: xen/include/public/io/netif.h ("Feature and Parameter Negotiation",
 * "Guest transmit", "Guest receive").
 */
import {
  type Clock,
  CounterSet,
  type Counters,
  type Fill,
  type FrameHandler,
  type MacAddress,
  type Netif,
  type NetifStats,
  type OffloadFlags,
  ProtocolError,
  type RxOffload,
  type TxOffload,
  emptyNetifStats,
  parseMac,
} from '@morgana/core';
import type { EventChannels, GrantTable } from './grant.js';
import {
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETRXF_DATA_VALIDATED,
  NETRXF_EXTRA_INFO,
  NETRXF_MORE_DATA,
  NETTXF_CSUM_BLANK,
  NETTXF_DATA_VALIDATED,
  NETTXF_MORE_DATA,
  RX_SLOT_SIZE,
  TX_SLOT_SIZE,
  readRxResponse,
  readTxResponse,
  writeRxRequest,
  writeTxRequest,
} from './netif-wire.js';
import { FrontRing, SharedRing, XEN_PAGE_SIZE } from './ring.js';
import { XenbusFrontend, type XenbusFrontendConfig } from './xenbus.js';
import type { XenstoreClient, XenstoreOps } from './xenstore-client.js';

/** What netfront needs from its domain. */
export interface NetfrontDeps {
  readonly xenstore: XenstoreClient;
  readonly grants: GrantTable;
  readonly events: EventChannels;
  readonly clock: Clock;
}

/** Configuration of {@link createNetfront}. */
export interface NetfrontConfig extends XenbusFrontendConfig {
  /** Our domain id (the simulator has no "self" lookup). */
  readonly domid: number;
  /** Device number under `device/vif/`. Default 0. */
  readonly devid?: number;
  /** Largest Ethernet payload. Default 1500. */
  readonly mtu?: number;
  /** rx buffers posted to the back end, at most the ring size (256). Default 256. */
  readonly rxBuffers?: number;
  /**
   * Bytes of a frame one tx slot carries, at most a page. Default 4096. Frames longer than
   * this go as several slots chained with NETTXF_more_data (needs the back end's feature-sg).
   */
  readonly txSlotBytes?: number;
  /** Ask the back end to fill in TCP/UDP checksums (NETTXF_csum_blank) when it allows. Default true. */
  readonly txChecksumOffload?: boolean;
  /** Frames reassembled from several rx slots are capped at this many bytes; longer ones are dropped. Default 65535. */
  readonly maxRxFrameBytes?: number;
}

export const DEFAULT_NETFRONT_RX_BUFFERS = 256;
export const DEFAULT_NETFRONT_MAX_RX_FRAME = 65_535;
const ETHERNET_HEADER = 14;

/** A connected netfront device. */
export interface Netfront extends Netif {
  /** The xenstore path of the device (`/local/domain/<domid>/device/vif/<devid>`). */
  readonly path: string;
  /** What was negotiated with the back end. */
  readonly features: NetfrontFeatures;
  /** The xenbus state machine, for inspection. */
  readonly xenbus: XenbusFrontend;
  /** Drop and error counters (kebab-case reasons). */
  counters(): Counters;
}

export interface NetfrontFeatures {
  readonly sg: boolean;
  readonly rxNotify: boolean;
  readonly csumOffload: boolean;
}

interface TxSlot {
  page: Uint8Array;
  gref: number;
}

/** Opens `device/vif/<devid>` of domain `domid`, negotiates with its back end, and resolves when Connected. */
export async function createNetfront(deps: NetfrontDeps, config: NetfrontConfig): Promise<Netfront> {
  const { xenstore } = deps;
  const home = await xenstore.getDomainPath(config.domid);
  const path = `${home}/device/vif/${config.devid ?? 0}`;
  const backendPath = await xenstore.read(`${path}/backend`);
  const backendId = Number(await xenstore.read(`${path}/backend-id`));
  if (!Number.isInteger(backendId) || backendId < 0) throw new ProtocolError(`${path}/backend-id is not a domain id`);
  const mac = parseMac(await xenstore.read(`${path}/mac`));
  const device = new NetfrontDevice(deps, config, path, backendPath, backendId, mac);
  await device.xenbus.connect();
  return device;
}

class NetfrontDevice implements Netfront {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly path: string;
  readonly xenbus: XenbusFrontend;
  offload: OffloadFlags = { txChecksum: false, rxChecksum: false, tsoMaxSize: 0 };
  features: NetfrontFeatures = { sg: false, rxNotify: false, csumOffload: false };
  private readonly deps: NetfrontDeps;
  private readonly backendId: number;
  private readonly backendPath: string;
  private readonly rxBufferCount: number;
  private readonly txSlotBytes: number;
  private readonly wantCsumOffload: boolean;
  private readonly maxRxFrame: number;
  private readonly statsValue: NetifStats = emptyNetifStats();
  private readonly counterSet = new CounterSet();
  private tx: FrontRing | undefined;
  private rx: FrontRing | undefined;
  private txRingRef = -1;
  private rxRingRef = -1;
  private port = -1;
  private connected = false;
  /** Slots in flight by tx id; undefined when free. */
  private txInFlight: (TxSlot | undefined)[] = [];
  private txFreeIds: number[] = [];
  private rxPages: { page: Uint8Array; gref: number }[] = [];
  private scratch: Uint8Array;
  private rxAssembly: Uint8Array;
  private onFrame: FrameHandler | undefined;
  private onBatchEnd: (() => void) | undefined;
  private leakedGrants = 0;

  constructor(deps: NetfrontDeps, config: NetfrontConfig, path: string, backendPath: string, backendId: number, mac: MacAddress) {
    this.deps = deps;
    this.path = path;
    this.backendPath = backendPath;
    this.backendId = backendId;
    this.mac = mac;
    this.mtu = config.mtu ?? 1500;
    this.rxBufferCount = config.rxBuffers ?? DEFAULT_NETFRONT_RX_BUFFERS;
    this.txSlotBytes = config.txSlotBytes ?? XEN_PAGE_SIZE;
    this.wantCsumOffload = config.txChecksumOffload ?? true;
    this.maxRxFrame = config.maxRxFrameBytes ?? DEFAULT_NETFRONT_MAX_RX_FRAME;
    if (this.txSlotBytes < 64 || this.txSlotBytes > XEN_PAGE_SIZE) throw new RangeError('txSlotBytes must be between 64 and 4096');
    this.scratch = new Uint8Array(this.mtu + ETHERNET_HEADER);
    this.rxAssembly = new Uint8Array(this.maxRxFrame);
    this.xenbus = new XenbusFrontend(
      deps.xenstore,
      deps.clock,
      { frontend: path, backend: backendPath },
      { publish: (ops) => this.publish(ops), connected: () => this.start(), teardown: () => this.teardown() },
      config,
    );
  }

  /** Allocates and shares both rings and the event channel, and states our features (netif.h "Feature and Parameter Negotiation"). */
  private async publish(ops: XenstoreOps): Promise<void> {
    const back = this.backendPath;
    if ((await ops.tryRead(`${back}/feature-rx-copy`)) !== '1') {
      throw new ProtocolError(`back end ${back} lacks feature-rx-copy; only copying receive is supported`);
    }
    const sg = (await ops.tryRead(`${back}/feature-sg`)) === '1';
    const noCsum = (await ops.tryRead(`${back}/feature-no-csum-offload`)) === '1';
    this.features = { sg, rxNotify: true, csumOffload: this.wantCsumOffload && !noCsum };
    if (this.tx === undefined) this.allocateRings();
    await ops.write(`${this.path}/tx-ring-ref`, String(this.txRingRef));
    await ops.write(`${this.path}/rx-ring-ref`, String(this.rxRingRef));
    await ops.write(`${this.path}/event-channel`, String(this.port));
    await ops.write(`${this.path}/request-rx-copy`, '1');
    await ops.write(`${this.path}/feature-rx-notify`, '1');
    await ops.write(`${this.path}/feature-sg`, '1');
    await ops.write(`${this.path}/feature-no-csum-offload`, this.features.csumOffload ? '0' : '1');
  }

  private allocateRings(): void {
    const { grants, events } = this.deps;
    const txPage = grants.allocatePage();
    const rxPage = grants.allocatePage();
    if (txPage === undefined || rxPage === undefined) throw new ProtocolError('no memory for the ring pages');
    const txShared = new SharedRing(txPage, TX_SLOT_SIZE);
    const rxShared = new SharedRing(rxPage, RX_SLOT_SIZE);
    txShared.init();
    rxShared.init();
    this.tx = new FrontRing(txShared);
    this.rx = new FrontRing(rxShared);
    this.txRingRef = grants.grantAccess(this.backendId, txPage, false);
    this.rxRingRef = grants.grantAccess(this.backendId, rxPage, false);
    this.port = events.allocUnbound(this.backendId);
    this.txInFlight = new Array<TxSlot | undefined>(txShared.size).fill(undefined);
    this.txFreeIds = Array.from({ length: txShared.size }, (_, i) => txShared.size - 1 - i);
  }

  private start(): void {
    const rx = this.rx;
    if (rx === undefined) return;
    const { grants } = this.deps;
    const count = Math.min(this.rxBufferCount, rx.size);
    for (let id = 0; id < count; id++) {
      const page = grants.allocatePage();
      if (page === undefined) {
        this.counterSet.add('rx-buffer-alloc-failed');
        break;
      }
      const gref = grants.grantAccess(this.backendId, page, false);
      this.rxPages.push({ page, gref });
      writeRxRequest(rx.sring.page, rx.nextRequestOffset(), { id, gref });
      rx.advanceRequest();
    }
    this.offload = { txChecksum: this.features.csumOffload, rxChecksum: true, tsoMaxSize: 0 };
    this.connected = true;
    if (rx.pushRequestsAndCheckNotify()) this.deps.events.notify(this.port);
    this.deps.events.listen(this.port, () => this.poll());
    this.poll();
  }

  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
  }

  write(size: number, fill: Fill, offload?: TxOffload): boolean {
    const tx = this.tx;
    if (!this.connected || tx === undefined || size > this.scratch.length) return this.dropTx(this.connected ? 'tx-too-large' : 'tx-not-connected');
    this.reapTx();
    const length = fill(this.scratch.subarray(0, size));
    if (length <= 0 || length > size) return this.dropTx('tx-bad-fill');
    const slots = Math.ceil(length / this.txSlotBytes);
    if (slots > 1 && !this.features.sg) return this.dropTx('tx-needs-sg');
    if (slots > this.txFreeIds.length || slots > tx.freeRequests()) return this.dropTx('tx-ring-full');
    const pages: TxSlot[] = [];
    for (let i = 0; i < slots; i++) {
      const page = this.deps.grants.allocatePage();
      if (page === undefined) {
        for (const p of pages) this.deps.grants.freePage(p.page);
        return this.dropTx('tx-no-memory');
      }
      pages.push({ page, gref: -1 });
    }
    // netif.h "Guest transmit": the first slot's size is the whole packet's, the rest their own;
    // every slot but the last carries NETTXF_more_data.
    const csum = offload !== undefined && this.features.csumOffload ? NETTXF_CSUM_BLANK | NETTXF_DATA_VALIDATED : 0;
    for (let i = 0; i < slots; i++) {
      const slot = pages[i] as TxSlot;
      const start = i * this.txSlotBytes;
      const end = Math.min(length, start + this.txSlotBytes);
      slot.page.set(this.scratch.subarray(start, end));
      slot.gref = this.deps.grants.grantAccess(this.backendId, slot.page, true);
      const id = this.txFreeIds.pop() as number;
      this.txInFlight[id] = slot;
      writeTxRequest(tx.sring.page, tx.nextRequestOffset(), {
        gref: slot.gref,
        offset: 0,
        flags: (i < slots - 1 ? NETTXF_MORE_DATA : 0) | (i === 0 ? csum : 0),
        id,
        size: i === 0 ? length : end - start,
      });
      tx.advanceRequest();
    }
    if (tx.pushRequestsAndCheckNotify()) this.deps.events.notify(this.port);
    this.statsValue.txFrames += 1;
    this.statsValue.txBytes += length;
    return true;
  }

  private dropTx(reason: string): false {
    this.statsValue.txDropped += 1;
    this.counterSet.add(reason);
    return false;
  }

  /** Consumes tx responses: the back end is done with those slots, so their grants end. */
  private reapTx(): void {
    const tx = this.tx;
    if (tx === undefined) return;
    do {
      if (tx.responseProdOverflow()) {
        this.counterSet.add('tx-response-overflow');
        void this.xenbus.close();
        return;
      }
      while (tx.unconsumedResponses() > 0) {
        const rsp = readTxResponse(tx.sring.page, tx.nextResponseOffset());
        tx.advanceResponse();
        const slot = rsp.id < this.txInFlight.length ? this.txInFlight[rsp.id] : undefined;
        if (slot === undefined) {
          this.counterSet.add('tx-bad-response-id');
          continue;
        }
        if (rsp.status !== NETIF_RSP_OKAY && rsp.status !== NETIF_RSP_NULL) this.counterSet.add('tx-error-response');
        this.txInFlight[rsp.id] = undefined;
        this.releaseGrant(slot.gref, slot.page);
        this.txFreeIds.push(rsp.id);
      }
    } while (tx.finalCheckForResponses());
  }

  private releaseGrant(gref: number, page: Uint8Array): void {
    if (this.deps.grants.endAccess(gref)) this.deps.grants.freePage(page);
    else {
      // The back end still maps it: the page cannot be reused safely, so it is leaked (Linux
      // defers the same way, gnttab_end_foreign_access).
      this.leakedGrants += 1;
      this.counterSet.add('grant-still-mapped');
    }
  }

  /** Handles an event: tx completions and received frames. */
  private poll(): void {
    if (!this.connected) return;
    this.reapTx();
    const rx = this.rx;
    if (rx === undefined) return;
    let delivered = 0;
    do {
      if (rx.responseProdOverflow()) {
        this.counterSet.add('rx-response-overflow');
        void this.xenbus.close();
        return;
      }
      while (rx.unconsumedResponses() > 0 && this.connected) {
        if (this.receiveOne(rx)) delivered += 1;
      }
    } while (this.connected && rx.finalCheckForResponses());
    if (rx.pushRequestsAndCheckNotify()) this.deps.events.notify(this.port);
    if (delivered > 0) this.onBatchEnd?.();
  }

  /** Consumes the slots of one received frame and reposts their buffers; true when a frame was delivered. */
  private receiveOne(rx: FrontRing): boolean {
    let length = 0;
    let flags = 0;
    let ok = true;
    let single: Uint8Array | undefined;
    let slots = 0;
    for (;;) {
      if (rx.unconsumedResponses() === 0) {
        // The back end published a chain whose tail is not there yet: a protocol violation
        // (netback pushes whole packets).
        this.counterSet.add('rx-truncated-chain');
        ok = false;
        break;
      }
      const rsp = readRxResponse(rx.sring.page, rx.nextResponseOffset());
      rx.advanceResponse();
      const buffer = rsp.id < this.rxPages.length ? this.rxPages[rsp.id] : undefined;
      if (buffer === undefined) {
        this.counterSet.add('rx-bad-response-id');
        ok = false;
        break;
      }
      this.repost(rx, rsp.id, buffer.gref);
      if (slots === 0) flags = rsp.flags;
      slots += 1;
      if ((rsp.flags & NETRXF_EXTRA_INFO) !== 0) {
        // An extra-info slot would follow (GSO or hash); a back end sends one only once those
        // are negotiated, which we never do, so it is counted and not parsed.
        this.counterSet.add('rx-extra-info-ignored');
      }
      if (rsp.status < 0) {
        this.counterSet.add('rx-error-response');
        ok = false;
      } else if (rsp.offset + rsp.status > XEN_PAGE_SIZE) {
        this.counterSet.add('rx-bad-offset');
        ok = false;
      } else if (ok) {
        const bytes = buffer.page.subarray(rsp.offset, rsp.offset + rsp.status);
        if (slots === 1 && (rsp.flags & NETRXF_MORE_DATA) === 0) single = bytes;
        else if (length + bytes.length > this.rxAssembly.length) {
          this.counterSet.add('rx-frame-too-large');
          ok = false;
        } else {
          this.rxAssembly.set(bytes, length);
        }
        length += bytes.length;
      }
      if ((rsp.flags & NETRXF_MORE_DATA) === 0) break;
    }
    if (!ok || length === 0) {
      this.statsValue.rxDropped += 1;
      return false;
    }
    const frame = single ?? this.rxAssembly.subarray(0, length);
    this.statsValue.rxFrames += 1;
    this.statsValue.rxBytes += length;
    const handler = this.onFrame;
    if (handler === undefined) {
      this.statsValue.rxDropped += 1;
      this.counterSet.add('rx-no-listener');
      return false;
    }
    const offload: RxOffload = { checksumVerified: (flags & NETRXF_DATA_VALIDATED) !== 0 };
    handler(frame, offload);
    return true;
  }

  /** Gives buffer `id` back to the back end (its grant stays valid while connected). */
  private repost(rx: FrontRing, id: number, gref: number): void {
    writeRxRequest(rx.sring.page, rx.nextRequestOffset(), { id, gref });
    rx.advanceRequest();
  }

  private teardown(): void {
    this.connected = false;
    const { grants, events } = this.deps;
    if (this.port >= 0) {
      events.close(this.port);
      this.port = -1;
    }
    for (let id = 0; id < this.txInFlight.length; id++) {
      const slot = this.txInFlight[id];
      if (slot !== undefined) {
        this.counterSet.add('tx-lost-in-flight');
        this.releaseGrant(slot.gref, slot.page);
        this.txInFlight[id] = undefined;
      }
    }
    for (const buffer of this.rxPages) this.releaseGrant(buffer.gref, buffer.page);
    this.rxPages = [];
    if (this.tx !== undefined) this.releaseGrant(this.txRingRef, this.tx.sring.page);
    if (this.rx !== undefined) this.releaseGrant(this.rxRingRef, this.rx.sring.page);
    this.tx = undefined;
    this.rx = undefined;
  }

  stats(): NetifStats {
    return { ...this.statsValue };
  }

  counters(): Counters {
    return this.counterSet.snapshot();
  }

  async close(): Promise<void> {
    await this.xenbus.close();
  }
}
