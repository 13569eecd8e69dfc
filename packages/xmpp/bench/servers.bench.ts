// The morgana XMPP server against Prosody, same run, same load generator (the morgana client):
// chat messages/s routed between two clients, ping round trips/s, and server memory per idle
// authenticated client (RSS difference with N connected clients, right after the logins and
// once the server has been idle). The morgana server runs in its own node process
// (this script re-run with `serve`), so both servers are measured as separate processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Benchmark from 'benchmark';
import { createSystemClock, createSystemRandom, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { type ScramCrypto, type XmppClient, connectXmpp, createMemoryStore, createXmppServer } from '@morgana/xmpp';
import { startProsody } from '../test/peers.js';

const DOMAIN = 'bench.test';
const MESSAGES = 20_000;
const WARMUP = 2_000;
// Two batches of 500: Prosody (run as its own user) refuses logins past about 1000 connections here.
const IDLE_CLIENTS = 500;
const LOGIN_CONCURRENCY = 10;

const crypto: ScramCrypto = {
  hmac: async (hash, key, data) => new Uint8Array(createHmac(hash, key).update(data).digest()),
  digest: async (hash, data) => new Uint8Array(createHash(hash).update(data).digest()),
  hi: async (hash, password, salt, iterations) => new Uint8Array(pbkdf2Sync(password, salt, iterations, hash === 'sha1' ? 20 : 32, hash)),
};
const clock = createSystemClock();
const random = createSystemRandom();
const stack = createSocketStack();
const loopback = parseIpv4('127.0.0.1');
const USERS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', idle: 'idle-pw' };

/** `serve`: the morgana server alone in this process; prints its port. */
async function serve(): Promise<void> {
  const store = createMemoryStore(crypto, random);
  for (const [user, password] of Object.entries(USERS)) await store.addUser(user, password);
  const server = createXmppServer({ clock, random, crypto, store }, { domain: DOMAIN, maxResourcesPerUser: 10_000, maxPendingWrites: 100_000 });
  const listener = stack.tcp.listen(0, { onConnection: (flow) => void server.handle(flow) });
  // The parent asks for a full collection before each RSS reading, so garbage is not counted.
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const usage = process.memoryUsage();
    console.log(`heap ${usage.heapUsed + usage.external}`);
  });
  console.log(`port ${listener.port}`);
}

interface Target {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** Lets the server collect garbage before an RSS reading, where it can be asked to; its JS heap + external bytes when known. */
  settle(): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function startMorgana(): Promise<Target> {
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', () => {
      const match = /port (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`morgana server exited with ${code}`)));
  });
  return {
    name: 'morgana',
    port,
    pid: child.pid ?? 0,
    async settle() {
      out = '';
      child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 500));
      const match = /heap (\d+)/.exec(out);
      return match ? Number(match[1]) : undefined;
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startProsodyTarget(): Promise<Target> {
  const prosody = await startProsody(DOMAIN);
  for (const [user, password] of Object.entries(USERS)) prosody.register(user, password);
  return { name: prosody.version, port: prosody.port, pid: prosodyPid(prosody.port), settle: () => new Promise((r) => setTimeout(() => r(undefined), 500)), stop: () => prosody.stop() };
}

/** The pid of the process listening on `port` (Prosody runs under runuser, one level down). */
function prosodyPid(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inode = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '0A')?.[9];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return Number(pid);
    } catch {
      // Processes come and go, or are not ours to read.
    }
  }
  throw new Error(`no process listens on ${port}`);
}

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

async function login(target: Target, user: string, resource: string): Promise<XmppClient> {
  const flow = await stack.tcp.connect(loopback, target.port);
  return connectXmpp(flow, { jid: `${user}@${DOMAIN}/${resource}`, password: USERS[user], clock, random, crypto, keepaliveInterval: 0, iqTimeout: 120_000 });
}

/** Messages/s from alice to bob through `target`: every message written, then all received. */
async function throughput(target: Target): Promise<number> {
  const alice = await login(target, 'alice', 'a');
  const bob = await login(target, 'bob', 'b');
  let received = 0;
  let waiting: { count: number; resolve: () => void } | undefined;
  bob.on('message', () => {
    received++;
    if (waiting && received >= waiting.count) waiting.resolve();
  });
  const run = async (count: number): Promise<number> => {
    received = 0;
    const done = new Promise<void>((resolve) => (waiting = { count, resolve }));
    const start = performance.now();
    for (let i = 0; i < count; i++) await alice.sendMessage(`bob@${DOMAIN}/b`, `message ${i} with a typical short chat line`);
    await done;
    return count / ((performance.now() - start) / 1000);
  };
  await run(WARMUP);
  const rate = await run(MESSAGES);
  await alice.close();
  await bob.close();
  return rate;
}

/**
 * Seconds a server is left idle before the "idle" reading. V8 shrinks its young generation back
 * at a collection once allocation has been low for a few seconds (its allocation-throughput
 * window); right after a burst of logins it is still grown, by a size bounded by Node's maximum
 * semi-space, not by the number of clients. Both readings are shown.
 */
const IDLE_SECONDS = 6;

/** RSS figures (KiB) at one, IDLE_CLIENTS and 2 × IDLE_CLIENTS clients, and per client. */
interface Readings {
  readonly rss: readonly [number, number, number];
  /** Growth from 1 to 2 × IDLE_CLIENTS clients, per client. */
  readonly perClient: number;
  readonly firstPerClient: number;
  readonly secondPerClient: number;
}

interface Memory {
  /** Read right after the logins and their pings (after a forced GC where possible). */
  readonly busy: Readings;
  /** Read after IDLE_SECONDS of idleness (then a forced GC where possible): the headline figure. */
  readonly idle: Readings;
  /** JS heap + external (KiB) per client of the second batch, when the server reports it. */
  readonly heapPerClient: number | undefined;
}

function readings(rss: [number, number, number]): Readings {
  return { rss, perClient: (rss[2] - rss[0]) / (2 * IDLE_CLIENTS), firstPerClient: (rss[1] - rss[0]) / IDLE_CLIENTS, secondPerClient: (rss[2] - rss[1]) / IDLE_CLIENTS };
}

/**
 * Server RSS growth per idle authenticated client, in KiB, in two batches of IDLE_CLIENTS, each
 * point read right after the logins and again once the server has been idle.
 */
async function memoryPerClient(target: Target): Promise<Memory> {
  // One client first, so one-time allocations (first session, code paths) are not counted.
  const first = await login(target, 'idle', 'first');
  await first.ping();
  const busy: number[] = [];
  const idle: number[] = [];
  const heap: (number | undefined)[] = [];
  const read = async (): Promise<void> => {
    await target.settle();
    busy.push(rssKiB(target.pid));
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    heap.push(await target.settle());
    idle.push(rssKiB(target.pid));
  };
  await read();
  const clients: XmppClient[] = [first];
  const batch = async (offset: number): Promise<void> => {
    for (let i = 0; i < IDLE_CLIENTS; i += LOGIN_CONCURRENCY) {
      const logins = await Promise.all(Array.from({ length: Math.min(LOGIN_CONCURRENCY, IDLE_CLIENTS - i) }, (_, j) => login(target, 'idle', `c${offset + i + j}`)));
      clients.push(...logins);
    }
    await Promise.all(clients.map((c) => c.ping()));
  };
  await batch(0);
  await read();
  await batch(IDLE_CLIENTS);
  await read();
  await Promise.all(clients.map((c) => c.close()));
  const [, heap1, heap2] = heap;
  const heapPerClient = heap1 !== undefined && heap2 !== undefined ? (heap2 - heap1) / 1024 / IDLE_CLIENTS : undefined;
  return { busy: readings(busy as [number, number, number]), idle: readings(idle as [number, number, number]), heapPerClient };
}

/** XEP-0199 ping round trips/s through `target` (client → server → client), with Benchmark.js. */
async function pingRate(target: Target): Promise<number> {
  const client = await login(target, 'alice', 'p');
  const hz = await new Promise<number>((resolve) => {
    const suite = new Benchmark.Suite(target.name);
    suite.add(`iq ping round trip via ${target.name}`, {
      defer: true,
      maxTime: 2,
      fn: (deferred: { resolve(): void }) => void client.ping().then(() => deferred.resolve()),
    });
    suite.on('cycle', (event: Benchmark.Event) => {
      console.log(String(event.target));
      resolve((event.target as Benchmark.Target & { hz: number }).hz);
    });
    suite.run({ async: true });
  });
  await client.close();
  return hz;
}

async function main(): Promise<void> {
  const results: { name: string; rate: number; ping: number; memory: Memory }[] = [];
  for (const start of [startMorgana, startProsodyTarget]) {
    const target = await start();
    try {
      // Memory first, on a fresh server, so garbage from the load runs does not blur it.
      const memory = await memoryPerClient(target);
      const ping = await pingRate(target);
      const rate = await throughput(target);
      results.push({ name: target.name, rate, ping, memory });
      const { idle, busy } = memory;
      const perBatch = (r: Readings): string => `first ${IDLE_CLIENTS}: ${r.firstPerClient.toFixed(1)}, next ${IDLE_CLIENTS}: ${r.secondPerClient.toFixed(1)}`;
      console.log(`${target.name.padEnd(24)} ${Math.round(rate).toLocaleString('en-US').padStart(8)} msgs/s`);
      console.log(
        `  idle RSS ${idle.rss.join(' → ')} KiB with 1 → ${IDLE_CLIENTS} → ${2 * IDLE_CLIENTS} idle clients: ${idle.perClient.toFixed(1)} KiB/client (${perBatch(idle)})` +
          `${memory.heapPerClient === undefined ? '' : `, JS heap + external ${memory.heapPerClient.toFixed(1)} KiB/client`}`,
      );
      console.log(`  right after the logins: RSS ${busy.rss.join(' → ')} KiB: ${busy.perClient.toFixed(1)} KiB/client (${perBatch(busy)})`);
    } finally {
      await target.stop();
    }
  }
  const [morgana, prosody] = results;
  console.log(`morgana/Prosody: ${(morgana.rate / prosody.rate).toFixed(2)}x messages/s, ${(morgana.ping / prosody.ping).toFixed(2)}x ping round trips/s, ${(morgana.memory.idle.perClient / prosody.memory.idle.perClient).toFixed(2)}x memory per idle client (${(morgana.memory.busy.perClient / prosody.memory.busy.perClient).toFixed(2)}x right after the logins)`);
  await stack.close();
}

if (process.argv[2] === 'serve') await serve();
else await main();
