/**
 * Grant tables and event channels: the two hypervisor services a split driver needs, as
 * interfaces, plus a simulated hypervisor over one SharedArrayBuffer that any number of
 * threads (one per "domain") can share. Runtime-neutral: only typed arrays and Atomics.
 *
 * The grant table uses Xen's v1 entry layout (xen/include/public/grant_table.h
 * `grant_entry_v1 { u16 flags; u16 domid; u32 frame; }`) and its flag protocol: the granting
 * domain sets GTF_permit_access, the mapping side sets GTF_reading/GTF_writing while it holds
 * a mapping, and end-of-access only succeeds while neither is set.
 */
import { LimitExceeded } from '@morgana/core';

/** A page a front end shares: its grant reference and its bytes. */
export interface GrantedPage {
  readonly ref: number;
  readonly page: Uint8Array;
}

/** The granting side (the guest running netfront). */
export interface GrantTable {
  /** Allocates a zeroed page from the domain's memory, or undefined when none is left. */
  allocatePage(): Uint8Array | undefined;
  /** Returns a page to the allocator. */
  freePage(page: Uint8Array): void;
  /** Grants domain `domid` access to `page` (which came from {@link allocatePage}). */
  grantAccess(domid: number, page: Uint8Array, readonly: boolean): number;
  /** Revokes a grant; false (and nothing changes) while the other domain still has it mapped. */
  endAccess(ref: number): boolean;
}

/** The mapping side (the back end's domain). */
export interface GrantMapper {
  /** Maps grant `ref` of domain `granter`; throws a {@link GrantError} when not granted to us. */
  map(granter: number, ref: number, writable: boolean): Uint8Array;
  unmap(granter: number, ref: number): void;
}

/** Event channels: a doorbell per port. */
export interface EventChannels {
  /** Allocates a port that domain `remote` may bind to. */
  allocUnbound(remote: number): number;
  /** Binds a local port to `remotePort` of domain `remote`. */
  bindInterdomain(remote: number, remotePort: number): number;
  /** Rings the peer of `port`. */
  notify(port: number): void;
  /** Calls `handler` (asynchronously) each time the peer of `port` notifies; notifications coalesce. */
  listen(port: number, handler: () => void): void;
  /** Stops listening and frees the port; the peer's notifies are then dropped. */
  close(port: number): void;
}

export class GrantError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export const GTF_PERMIT_ACCESS = 1;
export const GTF_READONLY = 1 << 2;
export const GTF_READING = 1 << 3;
export const GTF_WRITING = 1 << 4;
/** Bytes of `grant_entry_v1`. */
export const GRANT_ENTRY_LENGTH = 8;
export const GRANT_ENTRY_FLAGS = 0;
export const GRANT_ENTRY_DOMID = 2;
export const GRANT_ENTRY_FRAME = 4;
/** Grant references below this are reserved for the toolstack (xenstore and console pages). */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;

const PAGE = 4096;

/** `Atomics.waitAsync` (ES2024; in Node since 16), typed here because the project's lib is older. */
type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };
const waitAsync: WaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Configuration of {@link SimulatedHypervisor}. */
export interface SimulatedHypervisorConfig {
  /** Pages of guest memory the granting domain allocates from. Default 1024 (4 MiB). */
  readonly pages?: number;
  /** Grant table entries. Default 2048. */
  readonly grantEntries?: number;
  /** Event channel ports. Default 64. */
  readonly ports?: number;
}

export const DEFAULT_SIM_PAGES = 1024;
export const DEFAULT_SIM_GRANT_ENTRIES = 2048;
export const DEFAULT_SIM_PORTS = 64;

/** Where each part lives in the shared buffer; sent to other threads with the buffer. */
export interface SimulatedHypervisorLayout {
  readonly buffer: SharedArrayBuffer;
  readonly pages: number;
  readonly grantEntries: number;
  readonly ports: number;
}

/** [0] next free port, [1] where the next grant-entry search starts, [2] where the next page search starts. */
const HEADER_WORDS = 4;
const PORT_PENDING = 0;
const PORT_CLOSED = 2;

/**
 * One simulated machine's hypervisor state in a SharedArrayBuffer: guest memory, a grant table
 * and event channel ports. `forDomain` gives each domain its view; pass {@link layout} to a
 * worker and call {@link attachSimulatedHypervisor} there.
 */
export class SimulatedHypervisor {
  readonly layout: SimulatedHypervisorLayout;
  private readonly header: Int32Array;
  private readonly memory: Uint8Array;
  private readonly grants: DataView;
  private readonly grantFlags: Int32Array;
  private readonly pending: Int32Array;
  private readonly peerPort: Int32Array;
  private readonly owner: Int32Array;
  private readonly pageUsed: Int32Array;

  constructor(layoutOrConfig: SimulatedHypervisorLayout | SimulatedHypervisorConfig = {}) {
    let layout: SimulatedHypervisorLayout;
    if ('buffer' in layoutOrConfig) layout = layoutOrConfig;
    else {
      const pages = layoutOrConfig.pages ?? DEFAULT_SIM_PAGES;
      const grantEntries = layoutOrConfig.grantEntries ?? DEFAULT_SIM_GRANT_ENTRIES;
      const ports = layoutOrConfig.ports ?? DEFAULT_SIM_PORTS;
      const bytes = HEADER_WORDS * 4 + pages * PAGE + grantEntries * GRANT_ENTRY_LENGTH + ports * 12 + pages * 4;
      layout = { buffer: new SharedArrayBuffer(bytes), pages, grantEntries, ports };
    }
    this.layout = layout;
    const { buffer, pages, grantEntries, ports } = layout;
    let at = 0;
    this.header = new Int32Array(buffer, at, HEADER_WORDS);
    at += HEADER_WORDS * 4;
    this.memory = new Uint8Array(buffer, at, pages * PAGE);
    at += pages * PAGE;
    this.grants = new DataView(buffer, at, grantEntries * GRANT_ENTRY_LENGTH);
    // Each entry's first 4 bytes (flags + domid) as one word, so flag changes are atomic.
    this.grantFlags = new Int32Array(buffer, at, grantEntries * 2);
    at += grantEntries * GRANT_ENTRY_LENGTH;
    this.pending = new Int32Array(buffer, at, ports);
    at += ports * 4;
    this.peerPort = new Int32Array(buffer, at, ports);
    at += ports * 4;
    this.owner = new Int32Array(buffer, at, ports);
    at += ports * 4;
    this.pageUsed = new Int32Array(buffer, at, pages);
    if (!('buffer' in layoutOrConfig)) {
      Atomics.store(this.header, 0, 1);
      this.peerPort.fill(-1);
    }
  }

  /** The grant table of the granting domain `self`. */
  grantTable(self: number): GrantTable {
    return {
      allocatePage: () => {
        // Search from where the last allocation ended, so a steady stream of tx pages does not
        // rescan the used ones each time.
        const pages = this.layout.pages;
        const from = Atomics.load(this.header, 2);
        for (let n = 0; n < pages; n++) {
          const i = (from + n) % pages;
          if (Atomics.compareExchange(this.pageUsed, i, 0, self + 1) === 0) {
            Atomics.store(this.header, 2, (i + 1) % pages);
            const page = this.memory.subarray(i * PAGE, (i + 1) * PAGE);
            page.fill(0);
            return page;
          }
        }
        return undefined;
      },
      freePage: (page) => {
        Atomics.store(this.pageUsed, this.frameOf(page), 0);
      },
      grantAccess: (domid, page, readonly) => {
        const frame = this.frameOf(page);
        const span = this.layout.grantEntries - GNTTAB_NR_RESERVED_ENTRIES;
        for (let n = 0; n < span; n++) {
          const ref = GNTTAB_NR_RESERVED_ENTRIES + (Atomics.add(this.header, 1, 1) % span);
          const word = ref * 2;
          if (Atomics.load(this.grantFlags, word) !== 0) continue;
          this.grants.setUint32(ref * GRANT_ENTRY_LENGTH + GRANT_ENTRY_FRAME, frame, true);
          const flags = GTF_PERMIT_ACCESS | (readonly ? GTF_READONLY : 0);
          // flags (low half) and domid (high half) of the little-endian word, published last
          // as the guest's wmb() before setting GTF_permit_access requires.
          if (Atomics.compareExchange(this.grantFlags, word, 0, flags | (domid << 16)) === 0) return ref;
        }
        throw new LimitExceeded('grantEntries', 'simulated grant table full');
      },
      endAccess: (ref) => {
        const word = ref * 2;
        const current = Atomics.load(this.grantFlags, word);
        if ((current & (GTF_READING | GTF_WRITING)) !== 0) return false;
        return Atomics.compareExchange(this.grantFlags, word, current, 0) === current;
      },
    };
  }

  /** The mapper of domain `self`. */
  grantMapper(self: number): GrantMapper {
    return {
      map: (granter, ref, writable) => {
        if (ref < 0 || ref >= this.layout.grantEntries) throw new GrantError('bad-ref', `grant ref ${ref} out of range`);
        const word = ref * 2;
        for (;;) {
          const current = Atomics.load(this.grantFlags, word);
          const flags = current & 0xffff;
          if ((flags & GTF_PERMIT_ACCESS) === 0 || current >>> 16 !== self) throw new GrantError('not-granted', `grant ref ${ref} of domain ${granter} is not granted to domain ${self}`);
          if (writable && (flags & GTF_READONLY) !== 0) throw new GrantError('read-only', `grant ref ${ref} is read-only`);
          const next = current | (writable ? GTF_WRITING : GTF_READING);
          if (Atomics.compareExchange(this.grantFlags, word, current, next) === current) break;
        }
        const frame = this.grants.getUint32(ref * GRANT_ENTRY_LENGTH + GRANT_ENTRY_FRAME, true);
        if (frame >= this.layout.pages) throw new GrantError('bad-frame', `grant ref ${ref} names frame ${frame}`);
        return this.memory.subarray(frame * PAGE, (frame + 1) * PAGE);
      },
      unmap: (_granter, ref) => {
        if (ref < 0 || ref >= this.layout.grantEntries) return;
        Atomics.and(this.grantFlags, ref * 2, ~(GTF_READING | GTF_WRITING));
      },
    };
  }

  /** The event channels of domain `self`. */
  eventChannels(self: number): EventChannels {
    const listening = new Set<number>();
    const checkPort = (port: number): void => {
      if (!Number.isInteger(port) || port < 1 || port >= this.layout.ports || Atomics.load(this.owner, port) !== self + 1) {
        throw new GrantError('bad-port', `event channel port ${port} is not bound by domain ${self}`);
      }
    };
    const allocate = (): number => {
      const port = Atomics.add(this.header, 0, 1);
      if (port >= this.layout.ports) throw new LimitExceeded('ports', 'simulated event channel ports exhausted');
      Atomics.store(this.owner, port, self + 1);
      Atomics.store(this.pending, port, PORT_PENDING);
      return port;
    };
    return {
      allocUnbound: () => allocate(),
      bindInterdomain: (_remote, remotePort) => {
        if (remotePort < 1 || remotePort >= this.layout.ports || Atomics.load(this.owner, remotePort) === 0) {
          throw new GrantError('bad-port', `remote port ${remotePort} is not allocated`);
        }
        const port = allocate();
        Atomics.store(this.peerPort, port, remotePort);
        Atomics.store(this.peerPort, remotePort, port);
        return port;
      },
      notify: (port) => {
        checkPort(port);
        const peer = Atomics.load(this.peerPort, port);
        if (peer < 0 || Atomics.load(this.pending, peer) === PORT_CLOSED) return;
        Atomics.store(this.pending, peer, 1);
        Atomics.notify(this.pending, peer);
      },
      listen: (port, handler) => {
        checkPort(port);
        if (listening.has(port)) throw new GrantError('busy', `port ${port} already has a listener`);
        listening.add(port);
        const loop = (): void => {
          if (!listening.has(port)) return;
          // Consume the pending bit first so a notify during the handler is not lost.
          const was = Atomics.exchange(this.pending, port, 0);
          if (was === PORT_CLOSED) return;
          if (was === 1) {
            handler();
            queueMicrotask(loop);
            return;
          }
          const waited = waitAsync(this.pending, port, 0);
          if (waited.async && typeof waited.value !== 'string') void waited.value.then(loop);
          else queueMicrotask(loop);
        };
        loop();
      },
      close: (port) => {
        checkPort(port);
        listening.delete(port);
        Atomics.store(this.pending, port, PORT_CLOSED);
        Atomics.notify(this.pending, port);
        const peer = Atomics.load(this.peerPort, port);
        if (peer >= 0) Atomics.store(this.peerPort, peer, -1);
        Atomics.store(this.peerPort, port, -1);
      },
    };
  }

  private frameOf(page: Uint8Array): number {
    const offset = page.byteOffset - this.memory.byteOffset;
    if (page.buffer !== this.memory.buffer || offset < 0 || offset % PAGE !== 0 || offset >= this.memory.length) {
      throw new GrantError('not-guest-memory', 'page does not belong to the simulated guest memory');
    }
    return offset / PAGE;
  }
}

/** Rebuilds the hypervisor view in another thread from the layout posted to it. */
export function attachSimulatedHypervisor(layout: SimulatedHypervisorLayout): SimulatedHypervisor {
  return new SimulatedHypervisor(layout);
}
