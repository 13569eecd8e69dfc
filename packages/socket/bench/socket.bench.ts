// The socket stack's overhead over raw node:net and node:dgram on loopback, measured side by
// side in one run: TCP throughput (MB/s, one connection, 64 KiB writes), UDP datagrams/s
// delivered (64-byte datagrams in batches), and the UDP send path alone (send calls/s, the
// CPU cost per datagram, steadier than delivery on a loaded machine), each with the ratio
// socket stack / raw.
import dgram from 'node:dgram';
import net from 'node:net';
import Benchmark from 'benchmark';
import { type TcpFlow, type UdpSocket, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';

const loopback = parseIpv4('127.0.0.1');
/** Bytes per TCP benchmark operation. */
const TCP_BYTES = 16 * 1024 * 1024;
const TCP_BLOCK = 64 * 1024;
/** Datagrams per UDP benchmark operation, and their size. */
const UDP_BATCH = 64;
const UDP_SIZE = 64;
/** A batch whose datagrams do not all arrive within this is counted as lossy and ends. */
const UDP_BATCH_TIMEOUT_MS = 200;

interface Deferred {
  resolve(): void;
}

// --- TCP, raw node:net ---------------------------------------------------------------------

async function rawTcp(): Promise<{ run(done: () => void): void; close(): void }> {
  let received = 0;
  let target = 0;
  let onTarget: (() => void) | undefined;
  const server = net.createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= target && onTarget !== undefined) {
        const done = onTarget;
        onTarget = undefined;
        done();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  await new Promise((resolve) => client.once('connect', resolve));
  const block = Buffer.alloc(TCP_BLOCK, 1);
  return {
    run(done) {
      target += TCP_BYTES;
      onTarget = done;
      let sent = 0;
      const pump = (): void => {
        while (sent < TCP_BYTES) {
          sent += TCP_BLOCK;
          if (!client.write(block)) {
            client.once('drain', pump);
            return;
          }
        }
      };
      pump();
    },
    close() {
      client.destroy();
      server.close();
    },
  };
}

// --- TCP, the socket stack -------------------------------------------------------------------

async function stackTcp(): Promise<{ run(done: () => void): void; close(): Promise<void> }> {
  const stack = createSocketStack();
  let received = 0;
  let target = 0;
  let onTarget: (() => void) | undefined;
  const listener = stack.tcp.listen(0, {
    onConnection: (flow: TcpFlow) => {
      void (async () => {
        for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) {
          received += chunk.length;
          if (received >= target && onTarget !== undefined) {
            const done = onTarget;
            onTarget = undefined;
            done();
          }
        }
      })().catch(() => undefined);
    },
  });
  const client = await stack.tcp.connect(loopback, listener.port);
  const block = new Uint8Array(TCP_BLOCK).fill(1);
  return {
    run(done) {
      target += TCP_BYTES;
      onTarget = done;
      void (async () => {
        for (let sent = 0; sent < TCP_BYTES; sent += TCP_BLOCK) await client.write(block);
      })();
    },
    close: () => stack.close(),
  };
}

// --- UDP -------------------------------------------------------------------------------------

interface UdpBench {
  run(done: () => void): void;
  lostBatches(): number;
  close(): void | Promise<void>;
}

/** Waits for a batch to arrive; a batch that loses datagrams ends at the timeout and is counted. */
function batchWaiter(): { expect(done: () => void): void; arrived(): void; lost(): number } {
  let pending = 0;
  let lost = 0;
  let onBatch: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const finish = (): void => {
    clearTimeout(timer);
    const done = onBatch;
    onBatch = undefined;
    done?.();
  };
  return {
    expect(done) {
      pending = UDP_BATCH;
      onBatch = done;
      timer = setTimeout(() => {
        lost++;
        finish();
      }, UDP_BATCH_TIMEOUT_MS);
    },
    arrived() {
      pending--;
      if (pending === 0) finish();
    },
    lost: () => lost,
  };
}

async function rawUdp(): Promise<UdpBench> {
  const waiter = batchWaiter();
  const receiver = dgram.createSocket('udp4');
  receiver.on('message', () => waiter.arrived());
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
  const sender = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
  const port = receiver.address().port;
  const payload = Buffer.alloc(UDP_SIZE, 2);
  return {
    run(done) {
      waiter.expect(done);
      for (let index = 0; index < UDP_BATCH; index++) sender.send(payload, port, '127.0.0.1');
    },
    lostBatches: waiter.lost,
    close() {
      receiver.close();
      sender.close();
    },
  };
}

async function stackUdp(): Promise<UdpBench> {
  const stack = createSocketStack();
  const waiter = batchWaiter();
  const receiver: UdpSocket = stack.udp.bind({ address: loopback });
  receiver.onMessage(() => waiter.arrived());
  const sender = stack.udp.bind({ address: loopback });
  const payload = new Uint8Array(UDP_SIZE).fill(2);
  return {
    run(done) {
      waiter.expect(done);
      for (let index = 0; index < UDP_BATCH; index++) sender.send(payload, loopback, receiver.localPort);
    },
    lostBatches: waiter.lost,
    close: () => stack.close(),
  };
}

// --- the run ---------------------------------------------------------------------------------

interface Result {
  readonly name: string;
  readonly hz: number;
  readonly rme: number;
}

function runSuite(name: string, cases: readonly (readonly [string, (deferred: Deferred) => void])[]): Promise<Result[]> {
  return new Promise((resolve) => {
    const results: Result[] = [];
    const suite = new Benchmark.Suite(name);
    for (const [caseName, fn] of cases) suite.add(caseName, { defer: true, fn, minSamples: 10 });
    suite.on('cycle', (event: Benchmark.Event) => {
      const bench = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number } };
      results.push({ name: bench.name, hz: bench.hz, rme: bench.stats.rme });
    });
    suite.on('complete', () => resolve(results));
    suite.run({ async: true });
  });
}

const rawTcpBench = await rawTcp();
const stackTcpBench = await stackTcp();
const tcp = await runSuite('tcp', [
  ['raw node:net', (deferred) => rawTcpBench.run(() => deferred.resolve())],
  ['socket stack', (deferred) => stackTcpBench.run(() => deferred.resolve())],
]);
rawTcpBench.close();
await stackTcpBench.close();

const rawUdpBench = await rawUdp();
const stackUdpBench = await stackUdp();
const udp = await runSuite('udp', [
  ['raw node:dgram', (deferred) => rawUdpBench.run(() => deferred.resolve())],
  ['socket stack', (deferred) => stackUdpBench.run(() => deferred.resolve())],
]);
rawUdpBench.close();
await stackUdpBench.close();

// The send path alone: one datagram per call to a receiver that does not read (the kernel
// drops what its buffer cannot hold), so only the sender's work is timed.
const sink = dgram.createSocket('udp4');
await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
sink.on('message', () => undefined);
sink.setRecvBufferSize(4096);
const sinkPort = sink.address().port;
// Given a lookup that answers at once (as the socket stack's does), dgram sends within the
// call instead of a tick later, so both sides time the same work.
const rawSender = dgram.createSocket({
  type: 'udp4',
  lookup: (hostname: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void) => callback(null, hostname, 4),
});
await new Promise<void>((resolve) => rawSender.bind(0, '127.0.0.1', resolve));
const rawPayload = Buffer.alloc(UDP_SIZE, 3);
const sendStack = createSocketStack();
const stackSender = sendStack.udp.bind({ address: loopback });
const stackPayload = new Uint8Array(UDP_SIZE).fill(3);
/** Sends per benchmark operation; the operation ends once their completion callbacks have run. */
const SEND_BATCH = 256;
const noop = (): undefined => undefined;
const sendResults = await runSuite('udp send', [
  [
    'raw node:dgram',
    (deferred) => {
      for (let index = 0; index < SEND_BATCH; index++) rawSender.send(rawPayload, sinkPort, '127.0.0.1', noop);
      setImmediate(() => deferred.resolve());
    },
  ],
  [
    'socket stack',
    (deferred) => {
      for (let index = 0; index < SEND_BATCH; index++) stackSender.send(stackPayload, loopback, sinkPort);
      setImmediate(() => deferred.resolve());
    },
  ],
]);
rawSender.close();
sink.close();
await sendStack.close();

const mbPerSecond = (result: Result): number => (result.hz * TCP_BYTES) / 1e6;
const datagramsPerSecond = (result: Result): number => result.hz * UDP_BATCH;
console.log(`TCP over loopback, one connection, ${TCP_BLOCK / 1024} KiB writes, ${TCP_BYTES / 1024 / 1024} MiB per op:`);
for (const result of tcp) console.log(`  ${result.name.padEnd(16)} ${mbPerSecond(result).toFixed(0).padStart(7)} MB/s ±${result.rme.toFixed(1)}%`);
console.log(`  ratio socket stack / raw: ${(mbPerSecond(tcp[1]) / mbPerSecond(tcp[0])).toFixed(2)}`);
console.log(`UDP over loopback, ${UDP_SIZE}-byte datagrams in batches of ${UDP_BATCH}:`);
for (const result of udp) {
  console.log(`  ${result.name.padEnd(16)} ${Math.round(datagramsPerSecond(result)).toLocaleString('en-US').padStart(10)} datagrams/s ±${result.rme.toFixed(1)}%`);
}
console.log(`  ratio socket stack / raw: ${(datagramsPerSecond(udp[1]) / datagramsPerSecond(udp[0])).toFixed(2)}`);
console.log(`UDP send path, ${UDP_SIZE}-byte datagrams (both with a completion callback, which the socket stack needs to count errors):`);
for (const result of sendResults) {
  console.log(`  ${result.name.padEnd(16)} ${Math.round(result.hz * SEND_BATCH).toLocaleString('en-US').padStart(10)} sends/s ±${result.rme.toFixed(1)}%`);
}
console.log(`  ratio socket stack / raw: ${(sendResults[1].hz / sendResults[0].hz).toFixed(2)}`);
const lost = rawUdpBench.lostBatches() + stackUdpBench.lostBatches();
if (lost > 0) console.log(`  (${lost} batches lost datagrams and ended after ${UDP_BATCH_TIMEOUT_MS} ms: UDP figures are pessimistic)`);
