/**
 * A simulated netback: the driver domain's half of a vif, speaking the rings from the other
 * side. It maps the front end's grants, moves tx slot chains out as Ethernet frames, and copies
 * incoming frames into the rx buffers the front end posted ("rx-copy"). Frames leave and enter
 * through a {@link NetbackBridge}: the simulator, a TAP device, or another thread. Runtime-neutral.
 */
import { CounterSet, type Counters, internetChecksum, ipv4PseudoHeaderSum, type Ipv4Address } from '@morgana/core';
import { type EventChannels, GrantError, type GrantMapper } from './grant.js';
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_OKAY,
  NETRXF_DATA_VALIDATED,
  NETRXF_MORE_DATA,
  NETTXF_CSUM_BLANK,
  NETTXF_EXTRA_INFO,
  NETTXF_MORE_DATA,
  RX_SLOT_SIZE,
  TX_SLOT_SIZE,
  XEN_NETIF_MAX_TX_SIZE,
  XEN_NETIF_NR_SLOTS_MIN,
  type TxRequest,
  readRxRequest,
  readTxRequest,
  writeRxResponse,
  writeTxResponse,
} from './netif-wire.js';
import { BackRing, SharedRing, XEN_PAGE_SIZE } from './ring.js';
import { XenbusState, parseXenbusState } from './xenbus-state.js';
import type { XenstoreClient } from './xenstore-client.js';

/** Where the back end's frames go and come from. */
export interface NetbackBridge {
  /** A frame the guest sent. Valid only during the call. */
  output(frame: Uint8Array): void;
}

export interface NetbackDeps {
  readonly xenstore: XenstoreClient;
  readonly mapper: GrantMapper;
  readonly events: EventChannels;
  readonly bridge: NetbackBridge;
}

/** Configuration of {@link startNetback}. */
export interface NetbackConfig {
  /** The front end's domain and device number. */
  readonly frontDomid: number;
  readonly devid?: number;
  /** Our own domain id. Default 0. */
  readonly domid?: number;
  /** Advertise feature-sg (multi-slot packets). Default true. */
  readonly sg?: boolean;
  /** Slots one tx packet may use; more is a malformed packet. Default XEN_NETIF_NR_SLOTS_MIN (18). */
  readonly maxTxSlots?: number;
  /** Mark received frames NETRXF_data_validated (the "wire" checked them). Default true. */
  readonly rxDataValidated?: boolean;
  /** Bytes per rx slot when splitting a frame over several buffers. Default 4096. */
  readonly rxSlotBytes?: number;
}

/** A running back end. */
export interface Netback {
  /** The back end's xenstore directory. */
  readonly path: string;
  /** Delivers a frame to the guest; false when it posted no buffer (counted `rx-no-buffer`). */
  input(frame: Uint8Array): boolean;
  /** The back end's xenbus state. */
  state(): XenbusState;
  counters(): Counters;
  /** Simulates the back end going away: switches to Closing then Closed and unmaps everything. */
  close(): Promise<void>;
}

interface Connection {
  tx: BackRing;
  rx: BackRing;
  txRef: number;
  rxRef: number;
  port: number;
}

/** Starts the back end of `/local/domain/<frontDomid>/device/vif/<devid>` (the toolstack nodes must exist, see {@link createSimulatedVif}). */
export async function startNetback(deps: NetbackDeps, config: NetbackConfig): Promise<Netback> {
  const back = new NetbackDevice(deps, config);
  await back.start();
  return back;
}

class NetbackDevice implements Netback {
  readonly path: string;
  private readonly frontPath: string;
  private readonly deps: NetbackDeps;
  private readonly frontDomid: number;
  private readonly sg: boolean;
  private readonly maxTxSlots: number;
  private readonly rxValidated: boolean;
  private readonly rxSlotBytes: number;
  private readonly counterSet = new CounterSet();
  private readonly txFrame = new Uint8Array(XEN_NETIF_MAX_TX_SIZE);
  private stateValue: XenbusState = XenbusState.Initialising;
  private conn: Connection | undefined;
  private unwatch: (() => Promise<void>) | undefined;
  private busy = false;

  constructor(deps: NetbackDeps, config: NetbackConfig) {
    this.deps = deps;
    this.frontDomid = config.frontDomid;
    const devid = config.devid ?? 0;
    this.path = `/local/domain/${config.domid ?? 0}/backend/vif/${config.frontDomid}/${devid}`;
    this.frontPath = `/local/domain/${config.frontDomid}/device/vif/${devid}`;
    this.sg = config.sg ?? true;
    this.maxTxSlots = config.maxTxSlots ?? XEN_NETIF_NR_SLOTS_MIN;
    this.rxValidated = config.rxDataValidated ?? true;
    this.rxSlotBytes = config.rxSlotBytes ?? XEN_PAGE_SIZE;
  }

  async start(): Promise<void> {
    const xs = this.deps.xenstore;
    await xs.write(`${this.path}/feature-rx-copy`, '1');
    await xs.write(`${this.path}/feature-rx-flip`, '0');
    await xs.write(`${this.path}/feature-sg`, this.sg ? '1' : '0');
    await xs.write(`${this.path}/feature-rx-notify`, '1');
    await this.setState(XenbusState.InitWait);
    this.unwatch = await xs.watch(`${this.frontPath}/state`, `netback-${this.frontDomid}-${this.path}`, () => {
      void this.onFrontendChange();
    });
  }

  state(): XenbusState {
    return this.stateValue;
  }

  counters(): Counters {
    return this.counterSet.snapshot();
  }

  private async setState(state: XenbusState): Promise<void> {
    this.stateValue = state;
    await this.deps.xenstore.write(`${this.path}/state`, String(state));
  }

  private async onFrontendChange(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const text = await this.deps.xenstore.tryRead(`${this.frontPath}/state`);
      const front = text === undefined ? XenbusState.Unknown : parseXenbusState(text);
      if ((front === XenbusState.Initialised || front === XenbusState.Connected) && this.stateValue === XenbusState.InitWait) {
        await this.connect();
      } else if ((front === XenbusState.Closing || front === XenbusState.Closed || front === XenbusState.Unknown) && this.conn !== undefined) {
        this.disconnect();
        await this.setState(XenbusState.Closing);
        await this.setState(XenbusState.Closed);
      }
    } finally {
      this.busy = false;
    }
  }

  private async connect(): Promise<void> {
    const xs = this.deps.xenstore;
    const read = async (name: string): Promise<number> => {
      const value = Number(await xs.read(`${this.frontPath}/${name}`));
      if (!Number.isInteger(value) || value < 0) throw new GrantError('bad-node', `${this.frontPath}/${name} is not a number`);
      return value;
    };
    try {
      if ((await xs.tryRead(`${this.frontPath}/request-rx-copy`)) !== '1') throw new GrantError('no-rx-copy', 'front end did not request rx-copy');
      const txRef = await read('tx-ring-ref');
      const rxRef = await read('rx-ring-ref');
      const remotePort = await read('event-channel');
      const { mapper, events } = this.deps;
      const tx = new BackRing(new SharedRing(mapper.map(this.frontDomid, txRef, true), TX_SLOT_SIZE));
      const rx = new BackRing(new SharedRing(mapper.map(this.frontDomid, rxRef, true), RX_SLOT_SIZE));
      const port = events.bindInterdomain(this.frontDomid, remotePort);
      this.conn = { tx, rx, txRef, rxRef, port };
      events.listen(port, () => this.poll());
      await this.setState(XenbusState.Connected);
      this.poll();
    } catch (error) {
      this.counterSet.add('connect-failed');
      await this.setState(XenbusState.Closing);
      throw error;
    }
  }

  private disconnect(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    this.conn = undefined;
    this.deps.events.close(conn.port);
    this.deps.mapper.unmap(this.frontDomid, conn.txRef);
    this.deps.mapper.unmap(this.frontDomid, conn.rxRef);
  }

  /** Processes every tx request chain the front end published. */
  private poll(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    const { tx } = conn;
    let notify = false;
    do {
      if (tx.requestProdOverflow()) {
        // A front end claiming more requests than the ring holds is broken: stop serving it.
        this.counterSet.add('tx-request-overflow');
        this.disconnect();
        return;
      }
      while (tx.unconsumedRequests() > 0) {
        this.transmitOne(tx);
        if (tx.pushResponsesAndCheckNotify()) notify = true;
      }
    } while (tx.finalCheckForRequests());
    if (notify) this.deps.events.notify(conn.port);
  }

  private transmitOne(tx: BackRing): void {
    const requests: TxRequest[] = [];
    let more = true;
    while (more) {
      if (tx.unconsumedRequests() === 0) {
        // The chain's tail is not published: answer what we took as errors.
        this.counterSet.add('tx-truncated-chain');
        this.respond(tx, requests, NETIF_RSP_ERROR);
        return;
      }
      const req = readTxRequest(tx.sring.page, tx.nextRequestOffset());
      tx.advanceRequest();
      requests.push(req);
      more = (req.flags & NETTXF_MORE_DATA) !== 0;
    }
    const first = requests[0] as TxRequest;
    let error: string | undefined;
    if ((first.flags & NETTXF_EXTRA_INFO) !== 0) error = 'tx-extra-info-unsupported';
    else if (requests.length > this.maxTxSlots) error = 'tx-too-many-slots';
    else if (requests.length > 1 && !this.sg) error = 'tx-sg-not-negotiated';
    let length = 0;
    if (error === undefined) {
      for (let i = 0; i < requests.length && error === undefined; i++) {
        const req = requests[i] as TxRequest;
        // netif.h: the first slot's size is the packet's total; its own share is what the others leave.
        const rest = requests.slice(1).reduce((n, r) => n + r.size, 0);
        const size = i === 0 ? first.size - rest : req.size;
        if (size < 0 || req.offset + size > XEN_PAGE_SIZE) {
          error = 'tx-bad-slot';
          break;
        }
        try {
          const page = this.deps.mapper.map(this.frontDomid, req.gref, false);
          this.txFrame.set(page.subarray(req.offset, req.offset + size), length);
          this.deps.mapper.unmap(this.frontDomid, req.gref);
          length += size;
        } catch (caught) {
          if (!(caught instanceof GrantError)) throw caught;
          error = 'tx-bad-grant';
        }
      }
    }
    if (error !== undefined) {
      this.counterSet.add(error);
      this.respond(tx, requests, NETIF_RSP_ERROR);
      return;
    }
    this.respond(tx, requests, NETIF_RSP_OKAY);
    const frame = this.txFrame.subarray(0, length);
    if ((first.flags & NETTXF_CSUM_BLANK) !== 0) completeChecksum(frame);
    this.counterSet.add('tx-frames');
    this.deps.bridge.output(frame);
  }

  private respond(tx: BackRing, requests: readonly TxRequest[], status: number): void {
    for (const req of requests) {
      writeTxResponse(tx.sring.page, tx.nextResponseOffset(), { id: req.id, status });
      tx.advanceResponse();
    }
  }

  input(frame: Uint8Array): boolean {
    const conn = this.conn;
    if (conn === undefined) {
      this.counterSet.add('rx-not-connected');
      return false;
    }
    const { rx } = conn;
    const slots = Math.max(1, Math.ceil(frame.length / this.rxSlotBytes));
    if (slots > 1 && !this.sg) {
      this.counterSet.add('rx-needs-sg');
      return false;
    }
    if (rx.unconsumedRequests() < slots) {
      this.counterSet.add('rx-no-buffer');
      return false;
    }
    for (let i = 0; i < slots; i++) {
      const req = readRxRequest(rx.sring.page, rx.nextRequestOffset());
      rx.advanceRequest();
      const start = i * this.rxSlotBytes;
      const end = Math.min(frame.length, start + this.rxSlotBytes);
      let status = end - start;
      try {
        const page = this.deps.mapper.map(this.frontDomid, req.gref, true);
        page.set(frame.subarray(start, end), 0);
        this.deps.mapper.unmap(this.frontDomid, req.gref);
      } catch (caught) {
        if (!(caught instanceof GrantError)) throw caught;
        this.counterSet.add('rx-bad-grant');
        status = NETIF_RSP_ERROR;
      }
      const flags = (i < slots - 1 ? NETRXF_MORE_DATA : 0) | (i === 0 && this.rxValidated ? NETRXF_DATA_VALIDATED : 0);
      writeRxResponse(rx.sring.page, rx.nextResponseOffset(), { id: req.id, offset: 0, flags, status });
      rx.advanceResponse();
    }
    this.counterSet.add('rx-frames');
    if (rx.pushResponsesAndCheckNotify()) this.deps.events.notify(conn.port);
    return true;
  }

  async close(): Promise<void> {
    this.disconnect();
    const unwatch = this.unwatch;
    this.unwatch = undefined;
    await unwatch?.().catch(() => undefined);
    await this.setState(XenbusState.Closing).catch(() => undefined);
    await this.setState(XenbusState.Closed).catch(() => undefined);
  }
}

const ETHERTYPE_IPV4 = 0x0800;
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;

/**
 * NETTXF_csum_blank: the guest left the TCP/UDP checksum for us. Like Linux's netback
 * (skb_checksum_setup) we find the transport header by parsing the frame, then compute the
 * whole checksum over the pseudo header and the segment. Frames we cannot parse go as they are.
 */
function completeChecksum(frame: Uint8Array): void {
  if (frame.length < 34 || ((frame[12] ?? 0) << 8 | (frame[13] ?? 0)) !== ETHERTYPE_IPV4) return;
  const ip = 14;
  const ihl = ((frame[ip] ?? 0) & 0x0f) * 4;
  const total = ((frame[ip + 2] ?? 0) << 8) | (frame[ip + 3] ?? 0);
  const protocol = frame[ip + 9] ?? 0;
  const start = ip + ihl;
  const end = ip + total;
  if (ihl < 20 || end > frame.length || end <= start) return;
  const field = protocol === PROTOCOL_TCP ? start + 16 : protocol === PROTOCOL_UDP ? start + 6 : -1;
  if (field < 0 || field + 2 > end) return;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const source = view.getUint32(ip + 12) as Ipv4Address;
  const destination = view.getUint32(ip + 16) as Ipv4Address;
  view.setUint16(field, 0);
  let sum = internetChecksum(frame, start, end, ipv4PseudoHeaderSum(source, destination, protocol, end - start));
  // RFC 768: a computed UDP checksum of zero is sent as all ones.
  if (protocol === PROTOCOL_UDP && sum === 0) sum = 0xffff;
  view.setUint16(field, sum);
}

/** Options of {@link createSimulatedVif}. */
export interface SimulatedVifOptions {
  readonly frontDomid: number;
  readonly backDomid?: number;
  readonly devid?: number;
  /** `'02:00:00:00:00:01'`. */
  readonly mac: string;
}

/**
 * What the toolstack (xl/libxl) writes before either driver starts: the front end's directory
 * with its MAC and its back end's path, the back end's with its front end's, both in state
 * Initialising, with each domain allowed to read the other's nodes.
 */
export async function createSimulatedVif(dom0: XenstoreClient, options: SimulatedVifOptions): Promise<{ frontend: string; backend: string }> {
  const back = options.backDomid ?? 0;
  const devid = options.devid ?? 0;
  const frontend = `/local/domain/${options.frontDomid}/device/vif/${devid}`;
  const backend = `/local/domain/${back}/backend/vif/${options.frontDomid}/${devid}`;
  await dom0.transaction(async (ops) => {
    await ops.write(`/local/domain/${options.frontDomid}`, '');
    await ops.setPermissions(`/local/domain/${options.frontDomid}`, [`n${options.frontDomid}`]);
    await ops.write(`${frontend}/backend`, backend);
    await ops.write(`${frontend}/backend-id`, String(back));
    await ops.write(`${frontend}/mac`, options.mac);
    await ops.write(`${frontend}/handle`, String(devid));
    await ops.write(`${frontend}/state`, String(XenbusState.Initialising));
    await ops.write(`${backend}/frontend`, frontend);
    await ops.write(`${backend}/frontend-id`, String(options.frontDomid));
    await ops.write(`${backend}/mac`, options.mac);
    await ops.write(`${backend}/handle`, String(devid));
    await ops.write(`${backend}/state`, String(XenbusState.Initialising));
    for (const path of [`${frontend}/backend`, `${frontend}/backend-id`, `${frontend}/mac`, `${frontend}/handle`, `${frontend}/state`, frontend]) {
      await ops.setPermissions(path, [`n${options.frontDomid}`, `r${back}`]);
    }
    for (const path of [`${backend}/frontend`, `${backend}/frontend-id`, `${backend}/mac`, `${backend}/handle`, `${backend}/state`, backend]) {
      await ops.setPermissions(path, [`n${back}`, `r${options.frontDomid}`]);
    }
  });
  return { frontend, backend };
}
