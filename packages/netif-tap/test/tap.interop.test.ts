/**
 * The TAP backend against the Linux kernel, in a network namespace of its own: raw frames both
 * ways, batching, MTU, close and exit behaviour, device removal, and checksum offload through
 * the virtio-net header. Runs as root with /dev/net/tun; see tools/netns-helper.ts for the gate.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { UnsupportedError, formatMac, ipv4PseudoHeaderSum, parseIpv4, parseMac, readU16 } from '@morgana/core';
import type { MacAddress } from '@morgana/core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { collect, createTestNetns, peerVersion, which } from '../../../tools/netns-helper.js';
import type { TestNetns } from '../../../tools/netns-helper.js';
import { openTap } from '../src/index.js';
import type { TapNetif } from '../src/index.js';
import { addonPath } from '../src/native.js';

const ADDON_PATH = addonPath();
import {
  FrameLog,
  PROTOCOL_ICMP,
  PROTOCOL_UDP,
  TCP_FLAG,
  TCP_OFFSET,
  UDP_OFFSET,
  arpFrame,
  echoReplyFrom,
  parseArp,
  parseIpv4 as parseIpv4Frame,
  parseTcp,
  send,
  tcpFrame,
  udpFrame,
} from '../../../tools/netns-frames.js';

const KERNEL_IP = parseIpv4('10.77.0.1');
const OUR_IP = parseIpv4('10.77.0.2');
const OUR_MAC = parseMac('02:00:5e:77:00:02');
const BROADCAST = parseMac('ff:ff:ff:ff:ff:ff');
const ZERO_MAC = parseMac('00:00:00:00:00:00');

function addonMissing(): string | undefined {
  return existsSync(ADDON_PATH) ? undefined : `the native addon is not built (${ADDON_PATH}); run the package's install script`;
}

/** A Python UDP receiver inside the namespace: resolves with the first datagram's payload (or '' on timeout). */
async function udpReceiver(ns: TestNetns, port: number, timeoutSeconds = 3): Promise<{ ready: Promise<void>; received: Promise<string> }> {
  const child = ns.spawn(
    'python3',
    [
      '-c',
      `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.bind(('10.77.0.1',${port}))
s.settimeout(${timeoutSeconds})
print('ready',flush=True)
try:
  print(s.recv(65535).decode(),flush=True)
except socket.timeout:
  print('',flush=True)`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.startsWith('ready\n')) onReady();
  });
  const received = new Promise<string>((resolve) => child.on('exit', () => resolve(output.slice('ready\n'.length).trim())));
  return { ready, received };
}

describeInterop(
  `TAP device against the Linux kernel (${peerVersion('ip', ['-V'])})`,
  ['ping', 'python3'],
  () => {
    let ns: TestNetns;
    let kernelMac: MacAddress;

    beforeAll(async () => {
      ns = await createTestNetns({ address: '10.77.0.1/24' });
      const address = await ns.exec('cat', [`/sys/class/net/${ns.device}/address`]);
      kernelMac = parseMac(address.stdout.trim());
    });

    afterAll(async () => {
      await ns?.destroy();
    });

    async function attach(options: Parameters<typeof openTap>[0] = {}): Promise<{ tap: TapNetif; log: FrameLog }> {
      const tap = await openTap({ name: ns.device, netns: ns.name, mac: OUR_MAC, ...options });
      const log = new FrameLog();
      tap.listen(log.onFrame, log.onBatchEnd);
      return { tap, log };
    }

    it('sends our ARP request to the kernel and receives its reply', async () => {
      const { tap, log } = await attach();
      try {
        expect(tap.name).toBe(ns.device);
        expect(tap.mac).toBe(OUR_MAC);
        expect(tap.mtu).toBe(1500);
        expect(send(tap, arpFrame(1, OUR_MAC, OUR_IP, ZERO_MAC, KERNEL_IP, BROADCAST))).toBe(true);
        const reply = parseArp(await log.waitFor((frame) => parseArp(frame)?.op === 2, 5000, 'the ARP reply'));
        expect(reply?.senderIp).toBe(KERNEL_IP);
        expect(reply?.senderMac).toBe(kernelMac);
        expect(reply?.targetIp).toBe(OUR_IP);
        expect(tap.stats().txFrames).toBe(1);
        expect(tap.stats().rxFrames).toBeGreaterThanOrEqual(1);
      } finally {
        await tap.close();
      }
    });

    it('answers the kernel ping with hand-built ARP and echo replies (frames both ways)', async () => {
      const { tap, log } = await attach();
      try {
        const originalOnFrame = log.onFrame;
        tap.listen((frame, offload) => {
          originalOnFrame(frame, offload);
          const arp = parseArp(frame);
          if (arp?.op === 1 && arp.targetIp === OUR_IP) send(tap, arpFrame(2, OUR_MAC, OUR_IP, arp.senderMac, arp.senderIp, arp.senderMac));
          const reply = echoReplyFrom(frame, OUR_MAC);
          if (reply !== undefined) send(tap, reply);
        }, log.onBatchEnd);
        const ping = await ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2']);
        expect(ping.stdout).toContain('3 received');
        expect(ping.code).toBe(0);
        expect(log.frames.filter((frame) => parseIpv4Frame(frame)?.protocol === PROTOCOL_ICMP)).toHaveLength(3);
      } finally {
        await tap.close();
      }
    });

    it('drains a queued burst in batches of at most rxBatchFrames, with onBatchEnd once per batch', async () => {
      await ns.exec('ip', ['neigh', 'replace', '10.77.0.2', 'lladdr', formatMac(OUR_MAC), 'dev', ns.device, 'nud', 'permanent']);
      const tap = await openTap({ name: ns.device, netns: ns.name, mac: OUR_MAC, rxBatchFrames: 16 });
      try {
        // Attached but not yet listening: the kernel queues the datagrams on the device.
        const blast = await ns.exec('python3', [
          '-c',
          "import socket\ns=socket.socket(2,2)\nfor i in range(100): s.sendto(b'burst %d' % i, ('10.77.0.2', 9))",
        ]);
        expect(blast.code).toBe(0);
        const log = new FrameLog();
        tap.listen(log.onFrame, log.onBatchEnd);
        await log.waitFor(() => log.frames.filter((frame) => parseIpv4Frame(frame)?.protocol === PROTOCOL_UDP).length === 100, 5000, '100 datagrams');
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(Math.max(...log.batchSizes)).toBe(16);
        expect(log.batchSizes.slice(0, 6)).toEqual([16, 16, 16, 16, 16, 16]);
        expect(log.batchSizes.reduce((a, b) => a + b, 0)).toBe(log.frames.length);
        expect(log.batches).toBe(log.batchSizes.length);
      } finally {
        await tap.close();
        await ns.exec('ip', ['neigh', 'del', '10.77.0.2', 'dev', ns.device]);
      }
    });

    it('sets the device MTU, carries a full 9000-byte frame and drops larger writes as too-large', async () => {
      const { tap, log } = await attach({ mtu: 9000 });
      try {
        expect(tap.mtu).toBe(9000);
        const link = await ns.exec('ip', ['-o', 'link', 'show', ns.device]);
        expect(link.stdout).toContain('mtu 9000');
        const payload = new Uint8Array(9000 - 28).fill(0x5a);
        const receiver = await udpReceiver(ns, 5001);
        await receiver.ready;
        const frame = udpFrame({ sourceMac: OUR_MAC, destinationMac: kernelMac, source: OUR_IP, destination: KERNEL_IP, sourcePort: 40000, destinationPort: 5001, payload });
        expect(frame.length).toBe(9014);
        expect(send(tap, frame)).toBe(true);
        expect(await receiver.received).toBe('Z'.repeat(9000 - 28));
        expect(tap.write(9000 + 14 + 4 + 1, () => 60)).toBe(false);
        expect(tap.counters()['too-large']).toBe(1);
        expect(tap.stats().txDropped).toBe(1);
      } finally {
        await tap.close();
        await ns.exec('ip', ['link', 'set', ns.device, 'mtu', '1500']);
      }
    });

    it('drops and counts received frames longer than its MTU (device MTU raised behind its back)', async () => {
      const { tap, log } = await attach();
      try {
        await ns.exec('ip', ['link', 'set', ns.device, 'mtu', '4000']);
        await ns.exec('ip', ['neigh', 'replace', '10.77.0.2', 'lladdr', formatMac(OUR_MAC), 'dev', ns.device, 'nud', 'permanent']);
        await ns.exec('python3', ['-c', "import socket\ns=socket.socket(2,2)\ns.sendto(b'x'*3000, ('10.77.0.2', 9))\ns.sendto(b'y'*100, ('10.77.0.2', 9))"]);
        await log.waitFor((frame) => parseIpv4Frame(frame)?.totalLength === 128, 5000, 'the small datagram');
        expect(tap.counters()['too-large']).toBe(1);
        expect(tap.stats().rxDropped).toBe(1);
        expect(log.frames.some((frame) => frame.length > 1518)).toBe(false);
      } finally {
        await tap.close();
        await ns.exec('ip', ['link', 'set', ns.device, 'mtu', '1500']);
        await ns.exec('ip', ['neigh', 'del', '10.77.0.2', 'dev', ns.device]);
      }
    });

    it('close releases the device: later writes are dropped as closed and the device can be attached again', async () => {
      const { tap } = await attach();
      await expect(openTap({ name: ns.device, netns: ns.name })).rejects.toThrow(/already attached/);
      await tap.close();
      await tap.close();
      expect(send(tap, arpFrame(1, OUR_MAC, OUR_IP, ZERO_MAC, KERNEL_IP, BROADCAST))).toBe(false);
      expect(tap.counters().closed).toBe(1);
      expect(() => tap.listen(() => {})).toThrow(/closed/);
      const again = await openTap({ name: ns.device, netns: ns.name });
      await again.close();
    });

    it('never holds the process: a reading child exits on process.exit() and by itself after close', async () => {
      const script = (mode: string): string => `
const b = require(${JSON.stringify(ADDON_PATH)});
const r = b.open(${JSON.stringify(ns.device)}, false, false, 0, ${JSON.stringify(`/run/netns/${ns.name}`)}, 0);
b.attach(r.handle, new Uint8Array(65536), new Uint32Array(128), 64, 1519, new Uint8Array(1600));
b.start(r.handle, () => {});
setTimeout(() => { ${mode === 'exit' ? 'process.exit(7)' : 'b.close(r.handle)'}; }, 200);`;
      const run = (mode: string, waitMs: number): Promise<number | 'running'> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, ['-e', script(mode)], { stdio: 'inherit' });
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve('running');
          }, waitMs);
          child.on('exit', (code) => {
            clearTimeout(timer);
            resolve(code ?? -1);
          });
        });
      // While the kernel keeps the device busy, so a read is always pending.
      const flood = ns.spawn('ping', ['-f', '-w', '4', '10.77.0.2'], { stdio: 'ignore' });
      try {
        expect(await run('exit', 3000)).toBe(7);
        expect(await run('close', 3000)).toBe(0);
      } finally {
        flood.kill();
      }
    });

    it('reports device-gone and stops reading when the device is deleted while attached', async () => {
      const { tap, log } = await attach();
      try {
        await ns.exec('ip', ['link', 'del', ns.device]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(tap.counters()['device-gone']).toBe(1);
        expect(send(tap, arpFrame(1, OUR_MAC, OUR_IP, ZERO_MAC, KERNEL_IP, BROADCAST))).toBe(false);
      } finally {
        await tap.close();
        await ns.exec('ip', ['tuntap', 'add', 'dev', ns.device, 'mode', 'tap']);
        await ns.exec('ip', ['addr', 'add', '10.77.0.1/24', 'dev', ns.device]);
        await ns.exec('ip', ['link', 'set', ns.device, 'up']);
        const address = await ns.exec('cat', [`/sys/class/net/${ns.device}/address`]);
        kernelMac = parseMac(address.stdout.trim());
      }
    });

    it('explains a missing device, a missing namespace and a missing permission', async () => {
      await expect(openTap({ name: 'mgnosuch0', netns: ns.name })).rejects.toThrow(UnsupportedError);
      await expect(openTap({ name: 'mgnosuch0', netns: ns.name })).rejects.toThrow(/ip tuntap add dev mgnosuch0 mode tap/);
      await expect(openTap({ name: ns.device, netns: 'mg-no-such-namespace' })).rejects.toThrow(/no network namespace/);
      const asNobody = await collect(which('runuser') ?? '/usr/sbin/runuser', [
        '-u',
        'nobody',
        '--',
        process.execPath,
        '-e',
        `try { require(${JSON.stringify(ADDON_PATH)}).open('mgx0', true, false, 0, null, 0) } catch (e) { console.log(e.code, e.message) }`,
      ]);
      expect(asNobody.stdout).toMatch(/^(EACCES|EPERM) cannot (open \/dev\/net\/tun|attach)/);
    });

    it('with checksum offload: kernel frames arrive verified with partial checksums, ours get finished by the kernel', async () => {
      const { tap, log } = await attach({ offload: { checksum: true } });
      try {
        expect(tap.offload).toEqual({ txChecksum: true, rxChecksum: true, tsoMaxSize: 0 });
        await ns.exec('ip', ['neigh', 'replace', '10.77.0.2', 'lladdr', formatMac(OUR_MAC), 'dev', ns.device, 'nud', 'permanent']);
        const verified: boolean[] = [];
        const originalOnFrame = log.onFrame;
        tap.listen((frame, offload) => {
          originalOnFrame(frame, offload);
          if (parseIpv4Frame(frame)?.protocol === PROTOCOL_UDP) verified.push(offload?.checksumVerified === true);
        }, log.onBatchEnd);
        await ns.exec('python3', ['-c', "import socket\ns=socket.socket(2,2)\ns.sendto(b'offload', ('10.77.0.2', 9))"]);
        const inbound = await log.waitFor((frame) => parseIpv4Frame(frame)?.protocol === PROTOCOL_UDP, 5000, 'the datagram');
        expect(verified).toEqual([true]);
        // The kernel skipped the checksum: the field holds only the pseudo-header sum.
        const udpLength = readU16(inbound, UDP_OFFSET + 4);
        expect(readU16(inbound, UDP_OFFSET + 6)).toBe(ipv4PseudoHeaderSum(KERNEL_IP, OUR_IP, PROTOCOL_UDP, udpLength));

        const frameOptions = { sourceMac: OUR_MAC, destinationMac: kernelMac, source: OUR_IP, destination: KERNEL_IP, sourcePort: 40000, partialChecksum: true };
        // Marked partial: the kernel finishes the checksum and delivers.
        const withOffload = await udpReceiver(ns, 5002);
        await withOffload.ready;
        const partial = udpFrame({ ...frameOptions, destinationPort: 5002, payload: new TextEncoder().encode('finished by the kernel') });
        expect(tap.write(partial.length, (buffer) => (buffer.set(partial), partial.length), { checksumStart: UDP_OFFSET, checksumOffset: 6, segmentSize: 0 })).toBe(true);
        expect(await withOffload.received).toBe('finished by the kernel');
        // The same partial checksum unmarked is a bad checksum: the kernel drops the datagram.
        const without = await udpReceiver(ns, 5003, 1);
        await without.ready;
        const unmarked = udpFrame({ ...frameOptions, destinationPort: 5003, payload: new TextEncoder().encode('dropped by the kernel') });
        expect(send(tap, unmarked)).toBe(true);
        expect(await without.received).toBe('');
      } finally {
        await tap.close();
        await ns.exec('ip', ['neigh', 'del', '10.77.0.2', 'dev', ns.device]);
      }
    });

    it('with TSO: one 20000-byte TCP segment is taken by the kernel (GSO) and read whole by a Linux TCP socket', async () => {
      const { tap, log } = await attach({ offload: { checksum: true, tso: true } });
      const server = ns.spawn(
        'python3',
        [
          '-c',
          `import socket,hashlib
l=socket.socket()
l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
l.bind(('10.77.0.1',6000))
l.listen(1)
print('ready',flush=True)
c,_=l.accept()
data=b''
while True:
  chunk=c.recv(65536)
  if not chunk: break
  data+=chunk
print(len(data),hashlib.sha256(data).hexdigest(),flush=True)`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const done = new Promise<string>((resolve) => server.on('exit', () => resolve(output)));
      try {
        expect(tap.offload.tsoMaxSize).toBe(65455);
        await ns.exec('ip', ['neigh', 'replace', '10.77.0.2', 'lladdr', formatMac(OUR_MAC), 'dev', ns.device, 'nud', 'permanent']);
        await vi.waitUntil(() => output.startsWith('ready'), { timeout: 5000 });
        const base = { sourceMac: OUR_MAC, destinationMac: kernelMac, source: OUR_IP, destination: KERNEL_IP, sourcePort: 45000, destinationPort: 6000 };
        const iss = 1000;
        send(tap, tcpFrame({ ...base, seq: iss, ack: 0, flags: TCP_FLAG.syn, mss: 1460 }));
        const synAck = parseTcp(await log.waitFor((f) => (parseTcp(f)?.flags ?? 0) === (TCP_FLAG.syn | TCP_FLAG.ack), 5000, 'the SYN-ACK'));
        const peerSeq = (synAck?.seq ?? 0) + 1;
        send(tap, tcpFrame({ ...base, seq: iss + 1, ack: peerSeq, flags: TCP_FLAG.ack }));
        const payload = new Uint8Array(20000);
        for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 255;
        const segment = tcpFrame({ ...base, seq: iss + 1, ack: peerSeq, flags: TCP_FLAG.ack | TCP_FLAG.psh, payload, partialChecksum: true });
        const sent = tap.write(segment.length, (buffer) => (buffer.set(segment), segment.length), {
          checksumStart: TCP_OFFSET,
          checksumOffset: 16,
          segmentSize: 1448,
        });
        expect(sent).toBe(true);
        await log.waitFor((f) => parseTcp(f)?.ack === iss + 1 + payload.length, 5000, 'the ACK of all 20000 bytes');
        send(tap, tcpFrame({ ...base, seq: iss + 1 + payload.length, ack: peerSeq, flags: TCP_FLAG.fin | TCP_FLAG.ack }));
        const [length, digest] = (await done).trim().split('\n')[1].split(' ');
        expect(Number(length)).toBe(20000);
        expect(digest).toBe(createHash('sha256').update(payload).digest('hex'));
      } finally {
        server.kill();
        await tap.close();
        await ns.exec('ip', ['neigh', 'del', '10.77.0.2', 'dev', ns.device]);
      }
    });

    it('refuses TSO without checksum offload and TSO writes when TSO is off', async () => {
      await expect(openTap({ name: ns.device, netns: ns.name, offload: { tso: true } })).rejects.toThrow(/needs offload.checksum/);
      const { tap } = await attach({ offload: { checksum: true } });
      try {
        expect(tap.write(20000, () => 20000, { checksumStart: 34, checksumOffset: 16, segmentSize: 1448 })).toBe(false);
        expect(tap.counters()['too-large']).toBe(1);
      } finally {
        await tap.close();
      }
    });
  },
  addonMissing,
);
