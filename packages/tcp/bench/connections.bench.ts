// Connection set-up and tear-down rate, and memory per idle connection, over an in-memory
// zero-delay Ip pair. Run with `node tools/bench.mjs connections`.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Benchmark from 'benchmark';
import { createSystemClock, createSystemRandom } from '@morgana/core';
import type { TcpFlow } from '@morgana/core';
import { createTcp } from '../src/index.js';
import { createMemoryIpPair } from '../test/helpers/memory-ip.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Idle connections opened for the memory measurement. */
const IDLE_CONNECTIONS = 10_000;

async function setupTeardown(): Promise<void> {
  const clock = createSystemClock();
  const pair = createMemoryIpPair({ clock, mode: 'microtask', checksumOffload: true });
  // A 2 ms TIME-WAIT so closed connections leave the table and ports stay free.
  const config = { msl: 1 };
  const a = createTcp({ ip: pair.a, clock, random: createSystemRandom() }, config);
  const b = createTcp({ ip: pair.b, clock, random: createSystemRandom() }, config);
  const listener = b.listen(80);
  const cycle = async (): Promise<void> => {
    const accepting = listener.accept();
    const client = await a.connect(pair.addressB, 80);
    const server = await accepting;
    await Promise.all([client.close(), server.close()]);
  };
  await cycle();
  await new Promise<void>((resolve) => {
    new Benchmark.Suite('tcp connections')
      .add('connect + accept + close both sides', {
        defer: true,
        fn: (deferred: Benchmark.Deferred) => {
          void cycle().then(() => deferred.resolve());
        },
      })
      .on('cycle', (event: Benchmark.Event) => {
        const bench = event.target as Benchmark.Target & { hz: number };
        console.log(`${String(event.target)}  = ${Math.round(bench.hz)} connections set up and torn down per second`);
      })
      .on('complete', () => resolve())
      .run({ async: true });
  });
}

async function idleMemory(): Promise<void> {
  const clock = createSystemClock();
  const pair = createMemoryIpPair({ clock, mode: 'microtask', checksumOffload: true });
  const a = createTcp({ ip: pair.a, clock, random: createSystemRandom() });
  const b = createTcp({ ip: pair.b, clock, random: createSystemRandom() });
  const flows: TcpFlow[] = [];
  b.listen(80, { backlog: 1024, onConnection: (flow) => flows.push(flow) });
  // Warm up code paths before measuring.
  for (let i = 0; i < 100; i++) flows.push(await a.connect(pair.addressB, 80));
  for (const flow of flows.splice(0)) flow.abort();
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < IDLE_CONNECTIONS; i++) flows.push(await a.connect(pair.addressB, 80));
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  const endpoints = a.stats().connections + b.stats().connections;
  const perEndpoint = (after - before) / endpoints;
  console.log(
    `idle connections: ${IDLE_CONNECTIONS} (${endpoints} endpoints, client and server), heap +${((after - before) / 1024 / 1024).toFixed(1)} MiB, ` +
      `${(perEndpoint / 1024).toFixed(2)} KiB per connection endpoint`,
  );
  for (const flow of flows) flow.abort();
}

await setupTeardown();
await idleMemory();
