// System benchmark of the TAP backend against the Linux kernel in a test namespace (needs root).
//
// Receive: the kernel queues N small UDP datagrams on the device while we are attached but not
// reading, then we start reading and time the drain: the reader's own ceiling, whatever the
// generator's speed. Compared: the addon (uv_poll, batch sizes 1..256) and the strategy it
// replaced, fs.read on the thread pool over a blocking fd (one and four reads in flight).
// Transmit: `benchmark` runs tap.write() of 60-byte frames the kernel takes in and drops at
// EtherType demux, and of UDP datagrams it delivers to a bound socket.
import { join } from 'node:path';
import Benchmark from 'benchmark';
import { formatMac, parseIpv4, parseMac, writeIpv4, writeMac, writeU16 } from '@morgana/core';
import { createTestNetns } from '../../../tools/netns-helper.js';
import type { TestNetns } from '../../../tools/netns-helper.js';
import { openTap } from '../src/index.js';

const FRAMES = 50_000;
const OUR_MAC = parseMac('02:00:5e:77:00:02');
const OUR_IP = parseIpv4('10.77.0.2');
const KERNEL_IP = parseIpv4('10.77.0.1');

if (process.getuid?.() !== 0) {
  console.log('tap.bench: skipped (needs root for a network namespace and a TAP device)');
  process.exit(0);
}
// Bundled by tools/bench.mjs into .bench-out/, so the addon is not next to this code any more.
process.env.MORGANA_TAP_ADDON ??= join(process.cwd(), 'packages', 'netif-tap', 'build', 'Release', 'morgana_tap.node');

const GENERATOR = `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
payload=b'x'*18
for i in range(int(sys.argv[1])): s.sendto(payload,('10.77.0.2',9))`;

async function queueDatagrams(ns: TestNetns, count: number): Promise<void> {
  const result = await ns.exec('python3', ['-c', GENERATOR, String(count)], { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`generator failed: ${result.stderr}`);
}

async function deviceCounter(ns: TestNetns, name: string): Promise<number> {
  const result = await ns.exec('cat', [`/sys/class/net/${ns.device}/statistics/${name}`]);
  return Number(result.stdout.trim());
}

function report(label: string, frames: number, seconds: number): void {
  const rate = frames / seconds;
  console.log(`${label.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} frames/s  (${frames} frames in ${(seconds * 1000).toFixed(0)} ms)`);
}

async function drainWithAddon(ns: TestNetns, batch: number): Promise<void> {
  const tap = await openTap({ name: ns.device, netns: ns.name, mac: OUR_MAC, rxBatchFrames: batch });
  const droppedBefore = await deviceCounter(ns, 'tx_dropped');
  await queueDatagrams(ns, FRAMES);
  const queued = FRAMES - ((await deviceCounter(ns, 'tx_dropped')) - droppedBefore);
  let received = 0;
  let last = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const idle = setInterval(() => {
      if (received >= queued || (last > 0 && performance.now() - last > 200)) {
        clearInterval(idle);
        resolve();
      }
    }, 20);
    tap.listen(() => {
      received++;
      last = performance.now();
    });
  });
  await tap.close();
  report(`receive, addon uv_poll, batch ${batch}`, received, (last - start) / 1000);
}

/**
 * fs.read on the thread pool: a Python helper inside the namespace attaches a blocking fd
 * (TUNSETIFF) and execs node with it as fd 3, since node alone cannot issue the ioctl.
 */
async function drainWithFsRead(ns: TestNetns, inFlight: number): Promise<void> {
  const reader = `
const fs = require('node:fs');
const target = Number(process.argv[1]);
let received = 0, start = 0, last = 0;
process.stdin.once('data', () => {
  start = performance.now();
  for (let i = 0; i < ${inFlight}; i++) next(Buffer.alloc(2048));
});
function next(buffer) {
  fs.read(3, buffer, 0, buffer.length, null, (error) => {
    if (error) throw error;
    received++;
    last = performance.now();
    if (received >= target) {
      process.stdout.write(JSON.stringify({ received, ms: last - start }) + '\\n');
      return;
    }
    next(buffer);
  });
}
process.stdout.write('ready\\n');`;
  const harness = `import fcntl,os,struct,sys
fd=os.open('/dev/net/tun',os.O_RDWR)
fcntl.ioctl(fd,0x400454ca,struct.pack('16sH',sys.argv[1].encode(),0x0002|0x1000))
os.dup2(fd,3)
os.set_inheritable(3,True)
os.execv(sys.argv[2],[sys.argv[2],'-e',sys.argv[3],sys.argv[4]])`;
  const droppedBefore = await deviceCounter(ns, 'tx_dropped');
  const child = ns.spawn('python3', ['-c', harness, ns.device, process.execPath, reader, String(FRAMES)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  const lines: string[] = [];
  let onLine: () => void = () => {};
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const parts = output.split('\n');
    output = parts.pop() ?? '';
    lines.push(...parts);
    onLine();
  });
  const nextLine = (): Promise<string> =>
    new Promise((resolve) => {
      const check = (): void => {
        const line = lines.shift();
        if (line !== undefined) resolve(line);
        else onLine = check;
      };
      check();
    });
  await nextLine();
  await queueDatagrams(ns, FRAMES);
  const queued = FRAMES - ((await deviceCounter(ns, 'tx_dropped')) - droppedBefore);
  child.stdin?.write('go\n');
  // The reader stops at `queued` frames when it gets there; a thread-pool read stays blocked
  // afterwards, which is exactly why the process is stopped by PID rather than left to exit.
  const result = await Promise.race([
    nextLine(),
    new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 60_000)),
  ]);
  child.kill('SIGKILL');
  if (result === 'timeout') {
    console.log(`receive, fs.read x${inFlight}: did not finish in 60 s`);
    return;
  }
  const { received, ms } = JSON.parse(result) as { received: number; ms: number };
  report(`receive, fs.read thread pool, ${inFlight} in flight`, Math.min(received, queued), ms / 1000);
}

function etherFrame(destination: number): Uint8Array {
  const frame = new Uint8Array(60);
  writeMac(frame, 0, destination as ReturnType<typeof parseMac>);
  writeMac(frame, 6, OUR_MAC);
  writeU16(frame, 12, 0x88b5);
  return frame;
}

function udpFrame(destination: number): Uint8Array {
  const frame = new Uint8Array(60);
  writeMac(frame, 0, destination as ReturnType<typeof parseMac>);
  writeMac(frame, 6, OUR_MAC);
  writeU16(frame, 12, 0x0800);
  frame[14] = 0x45;
  writeU16(frame, 16, 46);
  frame[22] = 64;
  frame[23] = 17;
  writeIpv4(frame, 26, OUR_IP);
  writeIpv4(frame, 30, KERNEL_IP);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += (frame[i] << 8) | frame[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  writeU16(frame, 24, ~sum & 0xffff);
  writeU16(frame, 34, 40000);
  writeU16(frame, 36, 9);
  writeU16(frame, 38, 26);
  // UDP checksum 0: none (RFC 768), so the kernel takes the datagram as it is.
  return frame;
}

async function transmit(ns: TestNetns): Promise<void> {
  const kernelMac = parseMac((await ns.exec('cat', [`/sys/class/net/${ns.device}/address`])).stdout.trim());
  const sink = ns.spawn('python3', ['-c', "import socket,time\ns=socket.socket(2,2)\ns.bind(('10.77.0.1',9))\ntime.sleep(600)"], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const tap = await openTap({ name: ns.device, netns: ns.name, mac: OUR_MAC });
  const frames = { 'EtherType 0x88b5 (dropped at demux)': etherFrame(kernelMac), 'UDP to a bound socket': udpFrame(kernelMac) };
  const rxBefore = await deviceCounter(ns, 'rx_packets');
  const suite = new Benchmark.Suite('tap transmit');
  for (const [label, frame] of Object.entries(frames)) {
    const fill = (buffer: Uint8Array): number => {
      buffer.set(frame);
      return frame.length;
    };
    suite.add(`transmit, tap.write 60-byte ${label}`, () => {
      tap.write(60, fill);
    });
  }
  suite.on('cycle', (event: Benchmark.Event) => {
    const bench = event.target;
    console.log(`${String(bench.name).padEnd(60)} ${Math.round(bench.hz ?? 0).toLocaleString('en-US').padStart(10)} frames/s  ±${(bench.stats?.rme ?? 0).toFixed(1)}%`);
  });
  suite.run();
  const stats = tap.stats();
  const rxAfter = await deviceCounter(ns, 'rx_packets');
  console.log(`  kernel counted ${rxAfter - rxBefore} frames in, tap counted ${stats.txFrames} out and ${stats.txDropped} dropped`);
  await tap.close();
  sink.kill();
}

const ns = await createTestNetns({ address: '10.77.0.1/24' });
try {
  // Room for the whole burst in the device's queue (its ring follows txqueuelen).
  await ns.exec('ip', ['link', 'set', ns.device, 'txqueuelen', String(FRAMES * 2)]);
  await ns.exec('ip', ['neigh', 'replace', '10.77.0.2', 'lladdr', formatMac(OUR_MAC), 'dev', ns.device, 'nud', 'permanent']);
  console.log(`TAP backend vs Linux ${(await ns.exec('uname', ['-r'])).stdout.trim()}, node ${process.version}, ${FRAMES} frames of 60 bytes`);
  for (const batch of [1, 8, 64, 256]) await drainWithAddon(ns, batch);
  for (const inFlight of [1, 4]) await drainWithFsRead(ns, inFlight);
  await transmit(ns);
} finally {
  await ns.destroy();
}
