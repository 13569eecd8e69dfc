/**
 * The socket transports against a real QEMU: qemu-system-x86_64 runs with no guest, as a hub
 * between our socket and a TAP device it creates; the device is moved into a test namespace
 * where the Linux kernel answers. Raw frames first (our ARP request, the kernel's reply), then a
 * whole morgana stack pinged by the kernel through QEMU.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIpv4, parseMac } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { FrameLog, arpFrame, parseArp } from '../../../tools/netns-frames.js';
import { collect, createTestNetns, peerVersion, uniqueName } from '../../../tools/netns-helper.js';
import type { TestNetns } from '../../../tools/netns-helper.js';
import { openDgramNetif, openStreamNetif } from '../src/index.js';
import type { SocketNetif } from '../src/index.js';

const KERNEL = '10.78.0.1';
const OURS = '10.78.0.2';
const OUR_MAC = parseMac('02:00:5e:78:00:02');

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

async function freeTcpPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function until(predicate: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A QEMU hub between `socketNetdev` and a new TAP device `tap`. */
function startQemu(socketNetdev: string, tap: string): { process: ChildProcess; output: () => string } {
  const args = [
    '-nodefaults',
    '-display',
    'none',
    '-machine',
    'none',
    '-netdev',
    `${socketNetdev},id=s`,
    '-netdev',
    `tap,id=t,ifname=${tap},script=no,downscript=no`,
    '-netdev',
    'hubport,id=p0,hubid=0,netdev=s',
    '-netdev',
    'hubport,id=p1,hubid=0,netdev=t',
  ];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { process: child, output: () => output };
}

interface Variant {
  readonly name: string;
  /** Opens our end and returns QEMU's -netdev for the socket side; `ready` finishes our side once QEMU runs. */
  setup(dir: string): Promise<{ netdev: string; ready: () => Promise<SocketNetif> }>;
}

const variants: Variant[] = [
  {
    name: '-netdev dgram (UDP, one frame per datagram)',
    async setup() {
      const qemuPort = await freeUdpPort();
      const netif = await openDgramNetif({ local: { address: '127.0.0.1', port: 0 }, remote: { address: '127.0.0.1', port: qemuPort }, mac: OUR_MAC });
      const ours = netif.address().port;
      return {
        netdev: `dgram,local.type=inet,local.host=127.0.0.1,local.port=${qemuPort},remote.type=inet,remote.host=127.0.0.1,remote.port=${ours}`,
        ready: () => Promise.resolve(netif),
      };
    },
  },
  {
    name: '-netdev stream, QEMU listening on TCP, we connect',
    async setup() {
      const port = await freeTcpPort();
      return {
        netdev: `stream,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`,
        async ready() {
          let netif: SocketNetif | undefined;
          await until(
            async () => {
              netif = await openStreamNetif({ connect: { port }, mac: OUR_MAC }).catch(() => undefined);
              return netif !== undefined;
            },
            10_000,
            'QEMU to listen',
          );
          return netif as SocketNetif;
        },
      };
    },
  },
  {
    name: '-netdev stream, QEMU connecting to our Unix socket',
    async setup(dir) {
      const path = join(dir, 'qemu.sock');
      const netif = await openStreamNetif({ listen: { path }, mac: OUR_MAC });
      return {
        netdev: `stream,server=off,addr.type=unix,addr.path=${path}`,
        async ready() {
          await netif.waitForPeer(10_000);
          return netif;
        },
      };
    },
  },
  {
    name: '-netdev socket,connect= (legacy, QEMU connecting to us over TCP)',
    async setup() {
      const netif = await openStreamNetif({ listen: { port: 0 }, mac: OUR_MAC });
      const address = netif.address();
      return {
        netdev: `socket,connect=127.0.0.1:${'port' in address ? address.port : 0}`,
        async ready() {
          await netif.waitForPeer(10_000);
          return netif;
        },
      };
    },
  },
];

describeInterop(
  `frames over sockets through QEMU (${peerVersion('qemu-system-x86_64', ['--version'])})`,
  ['qemu-system-x86_64', 'ping'],
  () => {
    for (const variant of variants) {
      describe(variant.name, () => {
        let ns: TestNetns | undefined;
        let qemu: ReturnType<typeof startQemu> | undefined;
        let netif: SocketNetif;
        let dir: string;

        beforeAll(async () => {
          dir = mkdtempSync(join(tmpdir(), 'morgana-qemu-'));
          const tap = uniqueName('mq');
          const ours = await variant.setup(dir);
          qemu = startQemu(ours.netdev, tap);
          await until(async () => (await collect('ip', ['link', 'show', tap])).code === 0 || qemu?.process.exitCode !== null, 10_000, `QEMU to create ${tap}`);
          if (qemu.process.exitCode !== null) throw new Error(`QEMU exited: ${qemu.output()}`);
          netif = await ours.ready();
          ns = await createTestNetns({ adopt: tap, address: `${KERNEL}/24` });
        });

        afterAll(async () => {
          await netif?.close();
          qemu?.process.kill();
          await ns?.destroy();
          rmSync(dir, { recursive: true, force: true });
        });

        it('carries our ARP request to the Linux kernel and its reply back', async () => {
          const log = new FrameLog();
          netif.listen(log.onFrame, log.onBatchEnd);
          const request = arpFrame(1, OUR_MAC, parseIpv4(OURS), parseMac('00:00:00:00:00:00'), parseIpv4(KERNEL), parseMac('ff:ff:ff:ff:ff:ff'));
          expect(netif.write(request.length, (buffer) => (buffer.set(request), request.length))).toBe(true);
          const reply = parseArp(await log.waitFor((frame) => parseArp(frame)?.op === 2, 5000, 'the kernel ARP reply'));
          expect(reply?.senderIp).toBe(parseIpv4(KERNEL));
          expect(reply?.targetIp).toBe(parseIpv4(OURS));
        });

        it('lets the kernel ping a morgana stack through QEMU, 4000-byte fragmented pings included', async () => {
          const namespace = ns as TestNetns;
          const stack = createDirectStack({ netif, ipv4: { address: `${OURS}/24` } });
          try {
            const ping = await namespace.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', OURS]);
            expect(ping.stdout).toContain('3 received');
            const big = await namespace.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '-s', '4000', OURS]);
            expect(big.stdout).toContain('2 received');
          } finally {
            await stack.close();
          }
        });
      });
    }
  },
);
