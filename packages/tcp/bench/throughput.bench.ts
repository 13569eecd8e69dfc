// Bulk transfer between two TCP instances over an in-memory, zero-delay Ip pair (datagrams
// handed over in a microtask, checksums offloaded as a host-local device would), at the MSS of
// MTU 1500 and 9000, and with software checksums; then goodput under 1% loss in simulated
// time for each congestion controller. Run with `node tools/bench.mjs throughput`.
import Benchmark from 'benchmark';
import { createSystemClock, createSystemRandom } from '@morgana/core';
import type { TcpFlow } from '@morgana/core';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import { createTcp } from '../src/index.js';
import type { TcpConfig } from '../src/index.js';
import { createMemoryIpPair } from '../test/helpers/memory-ip.js';

/** Bytes moved per benchmark operation. */
const TRANSFER = 16 << 20;
const CHUNK = 256 << 10;

interface Link {
  client: TcpFlow;
  server: TcpFlow;
}

async function connectPair(mtu: number, checksumOffload: boolean): Promise<Link> {
  const clock = createSystemClock();
  const pair = createMemoryIpPair({ clock, mode: 'microtask', mtu, checksumOffload });
  const config: TcpConfig = { receiveBufferSize: 4 << 20, sendBufferSize: 4 << 20 };
  const a = createTcp({ ip: pair.a, clock, random: createSystemRandom() }, config);
  const b = createTcp({ ip: pair.b, clock, random: createSystemRandom() }, config);
  const accepting = b.listen(5001).accept();
  const client = await a.connect(pair.addressB, 5001);
  return { client, server: await accepting };
}

const chunk = new Uint8Array(CHUNK).fill(0x5a);

async function transfer(link: Link, bytes: number): Promise<void> {
  let received = 0;
  const reading = (async () => {
    while (received < bytes) {
      const data = await link.server.read();
      if (data === null) throw new Error('unexpected end of stream');
      received += data.length;
    }
  })();
  for (let sent = 0; sent < bytes; sent += CHUNK) await link.client.write(chunk);
  await reading;
}

function gbits(hz: number): string {
  return ((hz * TRANSFER * 8) / 1e9).toFixed(2);
}

/** Goodput in simulated time over a 1 Gbit/s, 10 ms RTT link with 1% loss each way. */
async function lossyGoodput(congestionControl: 'newreno' | 'cubic', seed: number): Promise<number> {
  const clock = new VirtualClock();
  const random = createSeededRandom(seed);
  const link = { delay: 5, loss: 0.01, bandwidth: 125_000, queueBytes: 500_000 };
  const pair = createMemoryIpPair({ clock, random: random.fork(), aToB: link, bToA: link, checksumOffload: true });
  const config: TcpConfig = { congestionControl, receiveBufferSize: 8 << 20, sendBufferSize: 8 << 20 };
  const a = createTcp({ ip: pair.a, clock, random: random.fork() }, config);
  const b = createTcp({ ip: pair.b, clock, random: random.fork() }, config);
  let client: TcpFlow | undefined;
  let server: TcpFlow | undefined;
  void b.listen(5001).accept().then((flow) => (server = flow));
  void a.connect(pair.addressB, 5001, { timeout: 600_000 }).then((flow) => (client = flow));
  await clock.runUntil(() => client !== undefined && server !== undefined, 600_000);
  const sender = client as TcpFlow;
  const receiver = server as TcpFlow;
  const bytes = 32 << 20;
  let received = 0;
  let done = false;
  void (async () => {
    while (received < bytes) received += ((await receiver.read()) as Uint8Array).length;
    done = true;
  })();
  void (async () => {
    for (let sent = 0; sent < bytes; sent += CHUNK) await sender.write(chunk);
  })();
  const start = clock.now();
  await clock.runUntil(() => done, 3_600_000);
  return (bytes * 8) / ((clock.now() - start) / 1000) / 1e6;
}

async function main(): Promise<void> {
  const scenarios: [string, number, boolean][] = [
    ['bulk, MTU 1500 (MSS 1448), checksum offloaded', 1500, true],
    ['bulk, MTU 9000 (MSS 8948), checksum offloaded', 9000, true],
    ['bulk, MTU 1500 (MSS 1448), software checksums', 1500, false],
    ['bulk, MTU 9000 (MSS 8948), software checksums', 9000, false],
  ];
  const links = new Map<string, Link>();
  for (const [name, mtu, offload] of scenarios) {
    const link = await connectPair(mtu, offload);
    await transfer(link, TRANSFER); // warm up the JIT and the windows
    links.set(name, link);
  }
  const suite = new Benchmark.Suite('tcp throughput');
  for (const [name] of scenarios) {
    const link = links.get(name) as Link;
    suite.add(name, {
      defer: true,
      minSamples: 10,
      fn: (deferred: Benchmark.Deferred) => {
        void transfer(link, TRANSFER).then(() => deferred.resolve());
      },
    });
  }
  await new Promise<void>((resolve) => {
    suite
      .on('cycle', (event: Benchmark.Event) => {
        const bench = event.target as Benchmark.Target & { hz: number; name: string };
        console.log(`${String(event.target)}  = ${gbits(bench.hz)} Gbit/s (16 MiB per op)`);
      })
      .on('complete', () => resolve())
      .run({ async: true });
  });
  for (const link of links.values()) link.client.abort();

  for (const congestionControl of ['newreno', 'cubic'] as const) {
    const results: number[] = [];
    for (const seed of [1, 2, 3]) results.push(await lossyGoodput(congestionControl, seed));
    const mean = results.reduce((sum, value) => sum + value, 0) / results.length;
    console.log(
      `goodput with 1% loss, 1 Gbit/s, 10 ms RTT, ${congestionControl}: ${mean.toFixed(1)} Mbit/s simulated ` +
        `(seeds 1-3: ${results.map((value) => value.toFixed(1)).join(', ')})`,
    );
  }
}

await main();
