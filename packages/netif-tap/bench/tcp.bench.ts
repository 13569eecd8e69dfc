// System benchmark: bulk TCP through the TAP backend, morgana against Linux, side by side with
// Linux against Linux over a veth pair (needs root, socat). Each run moves BENCH_MB megabytes
// one way; the figure is wall time from the first byte asked for to the peer's exit.
import { join } from 'node:path';
import type { TcpFlow } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import { createTestNetns } from '../../../tools/netns-helper.js';
import type { TestNetns } from '../../../tools/netns-helper.js';
import { openTap } from '../src/index.js';
import type { TapOffloadOptions } from '../src/index.js';

const MB = 1024 * 1024;
const BENCH_MB = Number(process.env.BENCH_MB ?? 200);
const KERNEL = '10.77.0.1';
const OURS = '10.77.0.2';

if (process.getuid?.() !== 0) {
  console.log('tcp.bench: skipped (needs root for a network namespace and a TAP device)');
  process.exit(0);
}
process.env.MORGANA_TAP_ADDON ??= join(process.cwd(), 'packages', 'netif-tap', 'build', 'Release', 'morgana_tap.node');

function report(label: string, bytes: number, ms: number): number {
  const rate = bytes / MB / (ms / 1000);
  console.log(`${label.padEnd(58)} ${rate.toFixed(1).padStart(8)} MB/s  (${(bytes / MB).toFixed(0)} MB in ${ms.toFixed(0)} ms)`);
  return rate;
}

async function pour(flow: TcpFlow, total: number): Promise<void> {
  const block = new Uint8Array(256 * 1024);
  let sent = 0;
  while (sent < total) {
    const chunk = block.subarray(0, Math.min(block.length, total - sent));
    await flow.write(chunk);
    sent += chunk.length;
  }
}

async function drain(flow: TcpFlow): Promise<number> {
  let total = 0;
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) return total;
    total += chunk.length;
  }
}

async function morgana(label: string, offload: TapOffloadOptions | undefined): Promise<{ down: number; up: number }> {
  const ns = await createTestNetns({ address: `${KERNEL}/24` });
  const stack = createDirectStack({ netif: await openTap({ name: ns.device, netns: ns.name, offload }), ipv4: { address: `${OURS}/24` } });
  const bytes = BENCH_MB * MB;
  const result = { down: 0, up: 0 };
  try {
    const downListener = stack.tcp.listen(5002);
    const start = performance.now();
    const client = ns.exec('sh', ['-c', `socat -u TCP:${OURS}:5002,connect-timeout=10 - | wc -c`], { timeoutMs: 600_000 });
    const flow = await Promise.race([downListener.accept(), client.then(() => undefined)]);
    if (flow === undefined) throw new Error(`socat could not connect: ${(await client).stderr}`);
    await pour(flow, bytes);
    await flow.close();
    const received = Number((await client).stdout.trim());
    result.down = report(`${label}: morgana -> Linux (socat)`, received, performance.now() - start);
    downListener.close();

    const upListener = stack.tcp.listen(5001);
    const upStart = performance.now();
    const sender = ns.exec('sh', ['-c', `head -c ${bytes} /dev/zero | socat -u - TCP:${OURS}:5001,connect-timeout=10`], { timeoutMs: 600_000 });
    const upFlow = await upListener.accept();
    const total = await drain(upFlow);
    await upFlow.close();
    await sender;
    result.up = report(`${label}: Linux (socat) -> morgana`, total, performance.now() - upStart);
    upListener.close();
  } catch (error) {
    console.log(`${label}: failed: ${(error as Error).message}`);
  } finally {
    await stack.close();
    await ns.destroy();
  }
  return result;
}

async function linuxBaseline(): Promise<number> {
  const ns: TestNetns = await createTestNetns({ veth: 'veth0', address: `${KERNEL}/24`, peerAddress: `${OURS}/24` });
  try {
    const server = ns.spawn('sh', ['-c', `head -c ${BENCH_MB * MB} /dev/zero | socat -u - TCP-LISTEN:5002,bind=${KERNEL},reuseaddr`], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const start = performance.now();
    const client = await ns.exec('ip', ['netns', 'exec', `${ns.name}-peer`, 'sh', '-c', `socat -u TCP:${KERNEL}:5002 - | wc -c`], { timeoutMs: 600_000 });
    const rate = report('Linux -> Linux over veth (socat both ends)', Number(client.stdout.trim()), performance.now() - start);
    server.kill();
    return rate;
  } finally {
    await ns.destroy();
  }
}

/** A client in the namespace that opens, asks, reads the answer and closes, as fast as it can, for SHORT_SECONDS. */
const SHORT_SECONDS = Number(process.env.BENCH_SHORT_SECONDS ?? 5);
const shortClient = (address: string) => `import socket, time
n = 0
end = time.time() + ${SHORT_SECONDS}
while time.time() < end:
    s = socket.create_connection(('${address}', 5003))
    s.sendall(b'ping')
    while s.recv(64): pass
    s.close()
    n += 1
print(n)`;

function reportRate(label: string, count: number): number {
  const rate = count / SHORT_SECONDS;
  console.log(`${label.padEnd(58)} ${rate.toFixed(0).padStart(8)} connections/s (request, answer, close)`);
  return rate;
}

async function shortConnections(): Promise<void> {
  const ns = await createTestNetns({ address: `${KERNEL}/24` });
  const stack = createDirectStack({ netif: await openTap({ name: ns.device, netns: ns.name }), ipv4: { address: `${OURS}/24` } });
  let ours = 0;
  try {
    stack.tcp.listen(5003, {
      backlog: 1024,
      onConnection: (flow) => {
        void (async () => {
          await flow.read();
          await flow.write(new TextEncoder().encode('pong'));
          await flow.close();
        })().catch(() => flow.abort());
      },
    });
    const run = await ns.exec('python3', ['-c', shortClient(OURS)], { timeoutMs: 120_000 });
    ours = reportRate('short connections: Linux client -> morgana on TAP', Number(run.stdout.trim()));
  } finally {
    await stack.close();
    await ns.destroy();
  }
  const veth: TestNetns = await createTestNetns({ veth: 'veth0', address: `${KERNEL}/24`, peerAddress: `${OURS}/24` });
  try {
    const server = veth.spawn('ip', ['netns', 'exec', `${veth.name}-peer`, process.execPath, '-e', `require('net').createServer({allowHalfOpen:true},(s)=>{s.once('data',()=>s.end('pong'))}).listen(5003,'${OURS}')`], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const run = await veth.exec('python3', ['-c', shortClient(OURS)], { timeoutMs: 120_000 });
    const linux = reportRate('short connections: Linux client -> node:net over veth', Number(run.stdout.trim()));
    if (ours > 0 && linux > 0) console.log(`  short connections: morgana / node:net on Linux TCP = ${(ours / linux).toFixed(2)}`);
    server.kill();
  } finally {
    await veth.destroy();
  }
}

console.log(`bulk TCP, ${BENCH_MB} MB each way, node ${process.version}`);
const baseline = await linuxBaseline();
for (const [label, offload] of [
  ['TAP, no offload', undefined],
  ['TAP, checksum offload + TSO', { checksum: true, tso: true }],
] as const) {
  const { down, up } = await morgana(label, offload);
  if (down > 0) console.log(`  ${label}: morgana send / Linux-over-veth = ${(down / baseline).toFixed(2)}`);
  if (up > 0) console.log(`  ${label}: morgana receive / Linux-over-veth = ${(up / baseline).toFixed(2)}`);
}
await shortConnections();
