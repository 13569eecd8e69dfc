// The controller's per-message cost without the network: a learning switch behind the real
// controller over an in-memory TcpFlow that hands it reads of 500 back-to-back PACKET_INs (64-byte
// frames, buffered, each from a new source MAC to a destination learned on another port, as
// cbench sends them) and takes its writes. Each read is answered with 500 FLOW_MODs in one write;
// the last cases read one PACKET_IN at a time, as in cbench's latency mode.
// "fast path": the learning switch as shipped (PACKET_INs read in place, answers from templates);
// "general path": the same with an onMessage listener attached, which makes the controller parse
// every PACKET_IN into a repr first. Run: node tools/bench.mjs openflow/bench/controller
import Benchmark from 'benchmark';
import type { Counters, Ipv4Address, Tcp, TcpFlow, TcpInfo, TcpListenOptions, TcpListener } from '@morgana/core';
import { createSystemClock } from '@morgana/core';
import { type OfpMessage, type SwitchConnection, createController, createLearningSwitch, emitMessage } from '@morgana/openflow';

const BATCH = 500;
const MACS = 100_000;

/** A TcpFlow whose reads are pushed by the benchmark and whose writes call `onWrite`. */
class MemoryFlow implements TcpFlow {
  readonly localAddress = 0 as Ipv4Address;
  readonly localPort = 6653;
  readonly remoteAddress = 0 as Ipv4Address;
  readonly remotePort = 40000;
  onWrite: (bytes: Uint8Array) => void = () => undefined;
  private reader: ((chunk: Uint8Array | null) => void) | undefined;
  private readonly queued: Uint8Array[] = [];

  push(chunk: Uint8Array): void {
    const reader = this.reader;
    this.reader = undefined;
    if (reader !== undefined) reader(chunk);
    else this.queued.push(chunk);
  }

  read(): Promise<Uint8Array | null> {
    const chunk = this.queued.shift();
    if (chunk !== undefined) return Promise.resolve(chunk);
    return new Promise((resolve) => { this.reader = resolve; });
  }

  write(data: Uint8Array): Promise<void> {
    this.onWrite(data);
    return Promise.resolve();
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    // One stream write, as a socket flow makes of it.
    const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    this.onWrite(bytes);
    return Promise.resolve();
  }

  shutdown(): Promise<void> { return Promise.resolve(); }
  close(): Promise<void> { this.push(new Uint8Array(0)); return Promise.resolve(); }
  abort(): void { this.reader?.(null); }
  setNoDelay(): void { /* nothing to tune in memory */ }
  setKeepAlive(): void { /* nothing to tune in memory */ }
  info(): TcpInfo {
    return { state: 'ESTABLISHED', srtt: 0, rttvar: 0, rto: 0, cwnd: 0, ssthresh: 0, mss: 0, retransmits: 0, bytesSent: 0, bytesReceived: 0, sndWnd: 0, rcvWnd: 0, congestionControl: 'none' };
  }
}

/** A Tcp with one listener that accepts the flows handed to `connect`. */
class MemoryTcp implements Tcp {
  private onConnection: ((flow: TcpFlow) => void) | undefined;
  listen(port: number, options?: TcpListenOptions): TcpListener {
    this.onConnection = options?.onConnection;
    return { port, accept: () => new Promise(() => undefined), close: () => undefined };
  }
  connect(): Promise<TcpFlow> { return Promise.reject(new Error('memory Tcp only accepts')); }
  accept(flow: MemoryFlow): void { this.onConnection?.(flow); }
  stats(): Counters { return {}; }
}

function frame(dst: number, src: number): Uint8Array {
  const bytes = new Uint8Array(64);
  for (let index = 0; index < 6; index += 1) {
    bytes[index] = Math.floor(dst / 2 ** (8 * (5 - index))) % 256;
    bytes[6 + index] = Math.floor(src / 2 ** (8 * (5 - index))) % 256;
  }
  bytes[12] = 0x08;
  return bytes;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

/** A connected switch of `version` behind a learning switch; `general` adds an onMessage listener. */
async function setUp(version: 1 | 4, general: boolean, batch: number): Promise<{ run(deferred: { resolve(): void }): void }> {
  const tcp = new MemoryTcp();
  const clock = createSystemClock();
  const app = createLearningSwitch({ clock, maxMacs: 1_000_000 });
  let ready: (connection: SwitchConnection) => void = () => undefined;
  const up = new Promise<SwitchConnection>((resolve) => { ready = resolve; });
  // Cases are set up together and wait their turn in silence: no keepalive may drop them meanwhile.
  createController({ tcp, clock, port: 6653, echoIntervalMs: 3_600_000, echoTimeoutMs: 3_600_000, onSwitch: (connection) => { app.attach(connection); ready(connection); } });
  const flow = new MemoryFlow();
  tcp.accept(flow);
  const send = (message: OfpMessage): void => flow.push(emitMessage(message));
  send({ version, xid: 1, type: 'hello' });
  send({ version, xid: 2, type: 'features-reply', datapathId: 1n, nBuffers: 256, nTables: 1, auxiliaryId: 0, capabilities: 0, actions: 0, ports: [] });
  const connection = await up;
  if (general) connection.onMessage(() => undefined);
  const destination = 0x80_00_00_00_00_01;
  send({ version, xid: 3, type: 'packet-in', bufferId: 0xffffffff, totalLen: 64, reason: 0, tableId: 0, cookie: 0n, match: { inPort: 2 }, data: frame(0xffff_ffff_ffff, destination) });
  // Batches of PACKET_INs cycling through MACS sources, built up front.
  const batches: Uint8Array[] = [];
  for (let first = 0; first < MACS; first += batch) {
    const parts: Uint8Array[] = [];
    for (let index = first; index < first + batch; index += 1) {
      parts.push(emitMessage({ version, xid: index, type: 'packet-in', bufferId: 1 + (index % 256), totalLen: 64, reason: 0, tableId: 0, cookie: 0n, match: { inPort: 1 }, data: frame(destination, 0x0000_0100_0000 + index) }));
    }
    batches.push(concat(parts));
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  let next = 0;
  let done: { resolve(): void } | undefined;
  const answer = batch * (version === 1 ? 80 : 104);
  flow.onWrite = (bytes) => {
    // Between runs the keepalive may send an echo request: only answers to a batch are checked.
    if (done === undefined) return;
    // Each read is answered in full, by FLOW_MODs only (80 bytes in 1.0, 104 in 1.3).
    if (bytes.length !== answer || bytes[1] !== 14) throw new Error(`expected ${batch} FLOW_MODs in one write, got ${bytes.length} bytes`);
    const deferred = done;
    done = undefined;
    deferred?.resolve();
  };
  // One pass over every source first, so the MAC table is at its full size while measured.
  for (const batch of batches) {
    await new Promise<void>((resolve) => {
      done = { resolve };
      flow.push(batch);
    });
  }
  return {
    run(deferred): void {
      done = deferred;
      flow.push(batches[next] as Uint8Array);
      next = (next + 1) % batches.length;
    },
  };
}

const cases: [string, 1 | 4, boolean, number][] = [
  ['fast path, OpenFlow 1.0', 1, false, BATCH],
  ['fast path, OpenFlow 1.3', 4, false, BATCH],
  ['general path, OpenFlow 1.0', 1, true, BATCH],
  ['general path, OpenFlow 1.3', 4, true, BATCH],
  // Latency-mode shape: each read carries one PACKET_IN and gets its own write.
  ['fast path, OpenFlow 1.0', 1, false, 1],
  ['fast path, OpenFlow 1.3', 4, false, 1],
];
const suite = new Benchmark.Suite('openflow controller');
const batches = new Map<string, number>();
for (const [name, version, general, batch] of cases) {
  const bench = await setUp(version, general, batch);
  const title = `${name}: read of ${batch} PACKET_IN${batch === 1 ? '' : 's'} answered`;
  batches.set(title, batch);
  suite.add(title, { defer: true, fn: (deferred: { resolve(): void }) => bench.run(deferred) });
}
suite
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target as Benchmark.Target & { hz: number; name: string };
    console.log(`${String(event.target)} (${Math.round(bench.hz * (batches.get(bench.name) ?? 1)).toLocaleString()} PACKET_INs answered/s)`);
  })
  .run();
