// A cbench-style controller benchmark: many emulated OpenFlow 1.0 switches send PACKET_INs
// (random source and destination MACs) and count the controller's responses (FLOW_MOD and
// PACKET_OUT messages) per second, in throughput mode (as many outstanding as the connection
// takes) and latency mode (one outstanding per switch). The morgana controller (learning
// switch, socket stack, one process) and ovs-testcontroller run pinned to core 0 in turn, the
// generator on core 1. Run: node tools/bench.mjs cbench
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { createController, createLearningSwitch } from '@morgana/openflow';
import { createSocketStack } from '@morgana/socket';

const SWITCHES = Number(process.env.CBENCH_SWITCHES ?? 16);
const MACS = Number(process.env.CBENCH_MACS ?? 1000);
const SECONDS = Number(process.env.CBENCH_SECONDS ?? 5);
const WINDOW = Number(process.env.CBENCH_WINDOW ?? 64);


function header(type: number, length: number, xid: number): Buffer {
  const b = Buffer.alloc(length);
  b[0] = 1;
  b[1] = type;
  b.writeUInt16BE(length, 2);
  b.writeUInt32BE(xid >>> 0, 4);
  return b;
}

/** One emulated switch. */
class EmulatedSwitch {
  responses = 0;
  flowMods = 0;
  packetOuts = 0;
  outstanding = 0;
  lastSent = 0;
  unanswered = 0;
  ready = false;
  private buffer: Buffer = Buffer.alloc(0);
  private xid = 1;
  private readonly socket: Socket;
  private readonly frame = Buffer.alloc(60);

  constructor(port: number, private readonly id: number, private readonly onReady: () => void, private readonly onResponse: (sw: EmulatedSwitch) => void) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', () => undefined);
    this.socket.write(header(0, 8, 0));
    // An Ethernet/IPv4/UDP frame; MACs are patched per packet.
    this.frame.writeUInt16BE(0x0800, 12);
    this.frame.set([0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    while (this.buffer.length - offset >= 8) {
      const length = this.buffer.readUInt16BE(offset + 2);
      if (length < 8 || this.buffer.length - offset < length) break;
      const type = this.buffer[offset + 1];
      const xid = this.buffer.readUInt32BE(offset + 4);
      offset += length;
      switch (type) {
        case 2: // ECHO_REQUEST
          this.socket.write(header(3, 8, xid));
          break;
        case 5: {
          // FEATURES_REQUEST → FEATURES_REPLY with one port
          const reply = header(6, 32 + 48, xid);
          reply.writeBigUInt64BE(BigInt(this.id + 1), 8);
          reply.writeUInt32BE(256, 12);
          reply[16] = 1;
          reply.writeUInt16BE(1, 32);
          this.socket.write(reply);
          if (!this.ready) {
            this.ready = true;
            this.onReady();
          }
          break;
        }
        case 7: // GET_CONFIG_REQUEST → GET_CONFIG_REPLY
          this.socket.write(Buffer.concat([header(8, 12, xid).subarray(0, 8), Buffer.from([0, 0, 0xff, 0xff])]).fill(0, 8, 10));
          break;
        case 18: // BARRIER_REQUEST
          this.socket.write(header(19, 8, xid));
          break;
        case 13:
        case 14:
          if (type === 14) this.flowMods++;
          else this.packetOuts++;
          this.responses++;
          if (this.outstanding > 0) this.outstanding--;
          this.onResponse(this);
          break;
        default:
          break;
      }
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }

  /** Sends `count` PACKET_INs in one write. */
  send(count: number): void {
    const packets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const src = 1 + Math.floor(Math.random() * MACS);
      const dst = 1 + Math.floor(Math.random() * MACS);
      this.frame.writeUIntBE(0x020000000000 + dst, 0, 6);
      this.frame.writeUIntBE(0x020000000000 + src, 6, 6);
      const packetIn = header(10, 18 + 60, this.xid++);
      packetIn.writeUInt32BE(0xffffffff, 8);
      packetIn.writeUInt16BE(60, 12);
      packetIn.writeUInt16BE(1 + (src % 4), 14);
      this.frame.copy(packetIn, 18);
      packets.push(packetIn);
    }
    this.outstanding += count;
    this.lastSent = performance.now();
    this.socket.write(count === 1 ? packets[0] : Buffer.concat(packets));
  }

  close(): void {
    this.socket.destroy();
  }
}

async function run(port: number, mode: 'throughput' | 'latency'): Promise<{ responses: number; flowMods: number; packetOuts: number }> {
  let readyCount = 0;
  let measuring = false;
  let allReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (allReady = resolve));
  const switches: EmulatedSwitch[] = [];
  const onResponse = (sw: EmulatedSwitch): void => {
    if (!measuring) return;
    if (mode === 'latency') {
      if (sw.outstanding === 0) sw.send(1);
    } else if (sw.outstanding < WINDOW / 2) sw.send(WINDOW - sw.outstanding);
  };
  for (let i = 0; i < SWITCHES; i++) switches.push(new EmulatedSwitch(port, i, () => ++readyCount === SWITCHES && allReady(), onResponse));
  await Promise.race([ready, new Promise((r) => setTimeout(r, 10_000))]);
  if (readyCount < SWITCHES) throw new Error(`only ${readyCount} of ${SWITCHES} switches finished the handshake`);
  await new Promise((r) => setTimeout(r, 300));
  for (const sw of switches) {
    sw.responses = 0;
    sw.flowMods = 0;
    sw.packetOuts = 0;
  }
  measuring = true;
  for (const sw of switches) sw.send(mode === 'latency' ? 1 : WINDOW);
  // Keep windows full even if a controller answers with something else for a while.
  // A learning switch rightly answers nothing for a frame whose destination sits on the port it
  // came from: such packets are written off after 20 ms so the pipeline never stalls.
  const refill = setInterval(() => {
    const now = performance.now();
    for (const sw of switches) {
      if (sw.outstanding > 0 && now - sw.lastSent > 20) {
        sw.unanswered += sw.outstanding;
        sw.outstanding = 0;
      }
      if (mode === 'throughput' && sw.outstanding < WINDOW / 2) sw.send(WINDOW - sw.outstanding);
      else if (mode === 'latency' && sw.outstanding === 0) sw.send(1);
    }
  }, 5);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  clearInterval(refill);
  const total = { responses: 0, flowMods: 0, packetOuts: 0 };
  for (const sw of switches) {
    total.responses += sw.responses;
    total.flowMods += sw.flowMods;
    total.packetOuts += sw.packetOuts;
    sw.close();
  }
  return total;
}

async function main(): Promise<void> {
  const results: Record<string, Record<string, number>> = {};
  const contenders: [string, (port: number, dir: string) => ChildProcess | undefined][] = [
    ['morgana controller (learning switch, socket stack)', (port) => spawn('taskset', ['-c', '0', process.execPath, process.argv[1]], { stdio: 'ignore', env: { ...process.env, MORGANA_BENCH_ROLE: 'controller', MORGANA_BENCH_PORT: String(port) } })],
    ['ovs-testcontroller', (port, dir) => (existsSync('/usr/bin/ovs-testcontroller') ? spawn('taskset', ['-c', '0', '/usr/bin/ovs-testcontroller', `ptcp:${port}:127.0.0.1`, `--unixctl=${join(dir, 'ctl')}`], { stdio: 'ignore' }) : undefined)],
  ];
  for (const [name, start] of contenders) {
    for (const mode of ['throughput', 'latency'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'morgana-cbench-'));
      const port = 30_000 + Math.floor(Math.random() * 20_000);
      const child = start(port, dir);
      if (child === undefined) {
        console.log(`${name}: skipped (not installed)`);
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, 1000));
      try {
        const total = await run(port, mode);
        const rate = total.responses / SECONDS;
        (results[name] ??= {})[mode] = rate;
        console.log(`${name}, ${mode} mode: ${rate.toFixed(0)} responses/s (${(total.flowMods / SECONDS).toFixed(0)} flow-mods/s, ${(total.packetOuts / SECONDS).toFixed(0)} packet-outs/s)`);
      } catch (error) {
        console.log(`${name}, ${mode} mode: failed: ${(error as Error).message}`);
      } finally {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }
  const ours = results['morgana controller (learning switch, socket stack)'];
  const theirs = results['ovs-testcontroller'];
  if (ours !== undefined && theirs !== undefined) {
    for (const mode of ['throughput', 'latency']) if (ours[mode] && theirs[mode]) console.log(`ratio morgana / ovs-testcontroller, ${mode} mode: ${(ours[mode] / theirs[mode]).toFixed(2)}`);
  }
}

if (process.env.MORGANA_BENCH_ROLE === 'controller') {
  const clock = createSystemClock();
  const app = createLearningSwitch({ clock, maxMacs: 1_000_000 });
  createController({ tcp: createSocketStack().tcp, clock, port: Number(process.env.MORGANA_BENCH_PORT), address: parseIpv4('127.0.0.1'), onSwitch: (sw) => app.attach(sw), maxWriteQueue: 1_000_000 });
} else {
  await main();
}
