// A cbench-style controller benchmark: 16 emulated OpenFlow switches (of-loadgen.c, compiled
// with gcc into a temporary folder, one thread on epoll) send PACKET_INs from 100 000 source
// MACs to a destination each announced on another port, and count the controller's responses
// (FLOW_MODs and PACKET_OUTs) per second, in throughput mode (each switch keeps 64 KiB of
// PACKET_INs queued on its socket) and latency mode (one outstanding PACKET_IN per switch): the
// load `cbench -m 1000 -l 10 -s 16 -M 100000` puts on a controller. The morgana controller
// (learning switch, socket stack, one process) and ovs-testcontroller run pinned to core 0 in
// turn, the generator on core 1; the generator prints its own CPU use, so a figure it limited
// shows. The host is shared and noisy, so each mode runs several rounds, the two controllers
// alternating (which one goes first alternates too); every round is printed, and the ratio
// reported is the median of the rounds' ratios. Run: node tools/bench.mjs cbench
// Settings: CBENCH_SWITCHES (16), CBENCH_MACS (100000), CBENCH_LOOP_MS (1000), CBENCH_LOOPS (10),
// CBENCH_WARMUP (1 loop, not counted), CBENCH_VERSION (1 for OpenFlow 1.0, 4 for 1.3),
// CBENCH_ROUNDS (3), CBENCH_MODES (throughput,latency), CBENCH_PLAIN_FLOW (1: the controller's
// flows hide the socket stack's push-mode extension, so it reads and writes through promises).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Tcp, type TcpFlow, createSystemClock, parseIpv4 } from '@morgana/core';
import { createController, createLearningSwitch } from '@morgana/openflow';
import { createSocketStack } from '@morgana/socket';

const SWITCHES = Number(process.env.CBENCH_SWITCHES ?? 16);
const MACS = Number(process.env.CBENCH_MACS ?? 100_000);
const LOOP_MS = Number(process.env.CBENCH_LOOP_MS ?? 1000);
const LOOPS = Number(process.env.CBENCH_LOOPS ?? 10);
const WARMUP = Number(process.env.CBENCH_WARMUP ?? 1);
const VERSION = Number(process.env.CBENCH_VERSION ?? 1) === 4 ? 4 : 1;
const ROUNDS = Math.max(1, Number(process.env.CBENCH_ROUNDS ?? 3));
const MODES = (process.env.CBENCH_MODES ?? 'throughput,latency').split(',').filter((mode): mode is Mode => mode === 'throughput' || mode === 'latency');
const PLAIN_FLOW = process.env.CBENCH_PLAIN_FLOW === '1';

type Mode = 'throughput' | 'latency';

/** The generator's source: next to this file in the repository (the bundle runs from .bench-out). */
function generatorSource(): string {
  const candidates = [
    join(process.cwd(), 'packages', 'openflow', 'bench', 'of-loadgen.c'),
    join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'openflow', 'bench', 'of-loadgen.c'),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`of-loadgen.c not found (looked in ${candidates.join(', ')})`);
  return found;
}

function runGenerator(binary: string, port: number, mode: Mode): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ['-c', '1', binary, String(port), String(SWITCHES), String(MACS), mode, String(LOOP_MS), String(LOOPS), String(WARMUP), String(VERSION)];
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), (LOOPS + WARMUP) * LOOP_MS + 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`generator exited with ${code}: ${err.trim() || out.trim()}`));
    });
  });
}

/** Resolves once something accepts connections on the port (a controller may start slowly on a busy host). */
async function listening(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** A process's user and system CPU time in clock ticks (1/100 s on Linux), from /proc. */
function cpuTicks(pid: number | undefined): { user: number; sys: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), counted from the state field (3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]), sys: Number(fields[12]) };
  } catch {
    return undefined;
  }
}

const OURS = 'morgana controller (learning switch, socket stack)';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** One controller's responses/s in one mode, or undefined when it is not installed or failed twice. */
async function measure(binary: string, name: string, start: (port: number) => ChildProcess | undefined, mode: Mode, round: number): Promise<number | undefined> {
  // A controller that loses the race with the generator at start-up gets one more try.
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const child = start(port);
    if (child === undefined) {
      console.log(`${name}: skipped (not installed)`);
      return undefined;
    }
    try {
      if (!(await listening(port, 15_000))) throw new Error('the controller did not start listening');
      const before = cpuTicks(child.pid);
      const output = await runGenerator(binary, port, mode);
      const after = cpuTicks(child.pid);
      const loops = [...output.matchAll(/^loop \d+: (\d+) responses\/s$/gm)].map((match) => Number(match[1]));
      const average = Number(/^average: (\d+)/m.exec(output)?.[1] ?? 0);
      const cpu = /^generator cpu: (\d+)%/m.exec(output)?.[1] ?? '?';
      // The CPU time spans every loop, the warm-up ones too.
      const responses = [...output.matchAll(/^loop \d+(?: \(warm-up\))?: (\d+) responses\/s$/gm)].reduce((sum, match) => sum + Number(match[1]) * LOOP_MS / 1000, 0);
      const perResponse = before !== undefined && after !== undefined && responses > 0
        ? `; controller cpu per response: user ${((after.user - before.user) * 1e4 / responses).toFixed(1)} µs, sys ${((after.sys - before.sys) * 1e4 / responses).toFixed(1)} µs`
        : '';
      console.log(`round ${round}, ${name}, ${mode} mode: ${average} responses/s (loops: ${loops.join(' ')}; generator cpu ${cpu}%${perResponse})`);
      return average;
    } catch (error) {
      console.log(`round ${round}, ${name}, ${mode} mode, attempt ${attempt}: failed: ${(error as Error).message}`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return undefined;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-cbench-'));
  const binary = join(dir, 'of-loadgen');
  try {
    execFileSync('gcc', ['-O2', '-o', binary, generatorSource()], { stdio: 'inherit' });
    console.log(`generator: ${SWITCHES} switches, ${MACS} MACs each, OpenFlow ${VERSION === 1 ? '1.0' : '1.3'}, ${LOOPS} loops of ${LOOP_MS} ms after ${WARMUP} warm-up loop(s); node ${process.version}`);
    const contenders: [string, (port: number) => ChildProcess | undefined][] = [
      [OURS, (port) => spawn('taskset', ['-c', '0', process.execPath, process.argv[1] as string], { stdio: 'ignore', env: { ...process.env, MORGANA_BENCH_ROLE: 'controller', MORGANA_BENCH_PORT: String(port) } })],
      ['ovs-testcontroller', (port) => (existsSync('/usr/bin/ovs-testcontroller') ? spawn('taskset', ['-c', '0', '/usr/bin/ovs-testcontroller', `ptcp:${port}:127.0.0.1`, `--unixctl=${join(dir, `ctl-${port}`)}`], { stdio: 'ignore' }) : undefined)],
    ];
    if (PLAIN_FLOW) console.log('the morgana controller runs without the push-mode extension (CBENCH_PLAIN_FLOW=1)');
    const summary: string[] = [];
    for (const mode of MODES) {
      const ratios: number[] = [];
      for (let round = 1; round <= ROUNDS; round += 1) {
        // Alternating who goes first spreads slow drifts of the host's load over both.
        const order = round % 2 === 1 ? contenders : [...contenders].reverse();
        const figures = new Map<string, number>();
        for (const [name, start] of order) {
          const figure = await measure(binary, name, start, mode, round);
          if (figure !== undefined) figures.set(name, figure);
        }
        const ours = figures.get(OURS);
        const theirs = figures.get('ovs-testcontroller');
        if (ours !== undefined && theirs !== undefined && theirs > 0) {
          ratios.push(ours / theirs);
          console.log(`round ${round}, ${mode} mode: ratio morgana / ovs-testcontroller ${(ours / theirs).toFixed(2)}`);
        }
      }
      if (ratios.length > 0) {
        summary.push(`ratio morgana / ovs-testcontroller, ${mode} mode: median ${median(ratios).toFixed(2)} over ${ratios.length} round(s) (${ratios.map((ratio) => ratio.toFixed(2)).join(' ')})`);
      }
    }
    for (const line of summary) console.log(line);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `tcp` whose flows offer only the TcpFlow interface (for comparing with the push-mode path). */
function plainTcp(tcp: Tcp): Tcp {
  const plain = (flow: TcpFlow): TcpFlow => ({
    localAddress: flow.localAddress, localPort: flow.localPort, remoteAddress: flow.remoteAddress, remotePort: flow.remotePort,
    read: () => flow.read(), write: (data) => flow.write(data), writev: (chunks) => flow.writev(chunks), shutdown: () => flow.shutdown(),
    close: () => flow.close(), abort: () => flow.abort(), setNoDelay: (on) => flow.setNoDelay(on), setKeepAlive: (on, idle) => flow.setKeepAlive(on, idle),
    info: () => flow.info(),
  });
  return {
    listen: (port, options) => tcp.listen(port, { ...options, onConnection: options?.onConnection === undefined ? undefined : (flow) => options.onConnection?.(plain(flow)) }),
    connect: async (address, port, options) => plain(await tcp.connect(address, port, options)),
    stats: () => tcp.stats(),
  };
}

if (process.env.MORGANA_BENCH_ROLE === 'controller') {
  const clock = createSystemClock();
  const app = createLearningSwitch({ clock, maxMacs: 1_000_000 });
  const tcp = createSocketStack().tcp;
  createController({ tcp: PLAIN_FLOW ? plainTcp(tcp) : tcp, clock, port: Number(process.env.MORGANA_BENCH_PORT), address: parseIpv4('127.0.0.1'), onSwitch: (sw) => app.attach(sw), maxWriteQueue: 1_000_000 });
} else {
  await main();
}
