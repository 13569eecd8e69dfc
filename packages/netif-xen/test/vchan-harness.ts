/** A server domain and a client domain sharing one simulated hypervisor and xenstore. */
import { SimulatedHypervisor } from '../src/grant.js';
import { type VchanFlow, connectVchanClient, createVchanServer } from '../src/vchan.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';

export const SERVER_DOMID = 1;
export const CLIENT_DOMID = 2;
export const VCHAN_PATH = '/local/domain/1/data/vchan';

export interface VchanPair {
  readonly hypervisor: SimulatedHypervisor;
  readonly server: VchanFlow;
  readonly client: VchanFlow;
  /** The control page's grant reference, as published in xenstore. */
  readonly ringRef: number;
}

export async function createVchanPair(options: { readMin?: number; writeMin?: number; maxReadBytes?: number; pages?: number } = {}): Promise<VchanPair> {
  const store = new XenstoreStore();
  const hypervisor = new SimulatedHypervisor({ pages: options.pages ?? 64, grantEntries: 256, ports: 16 });
  const xenstore = new XenstoreClient(connectInProcess(store, 0));
  const server = await createVchanServer(
    { xenstore, grants: hypervisor.grantTable(SERVER_DOMID), events: hypervisor.eventChannels(SERVER_DOMID) },
    { path: VCHAN_PATH, peerDomid: CLIENT_DOMID, readMin: options.readMin, writeMin: options.writeMin, maxReadBytes: options.maxReadBytes },
  );
  const client = await connectVchanClient(
    { xenstore, mapper: hypervisor.grantMapper(CLIENT_DOMID), events: hypervisor.eventChannels(CLIENT_DOMID) },
    { path: VCHAN_PATH, serverDomid: SERVER_DOMID, maxReadBytes: options.maxReadBytes },
  );
  const ringRef = Number(await xenstore.read(`${VCHAN_PATH}/ring-ref`));
  return { hypervisor, server, client, ringRef };
}

/** Reads until end of stream and returns everything as one array. */
export async function readAll(flow: VchanFlow): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) break;
    chunks.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Byte equality without a deep-equality diff (fast on megabytes). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
