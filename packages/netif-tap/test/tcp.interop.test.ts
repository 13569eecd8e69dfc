/**
 * morgana TCP on a TAP device against Linux TCP in a test namespace: bulk transfers both ways
 * checked by SHA-256 (socat, curl, nc as the peers), the same over an impaired link, options
 * and well-formedness as tshark decodes them, crafted segments from scapy, and a SYN flood.
 * MORGANA_TCP_INTEROP_MB sets the bulk size (default 100 MB each way).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIpv4, parseMac } from '@morgana/core';
import type { TcpFlow, TcpListener } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import type { ComposedStack } from '@morgana/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { impairNetif } from '../../../tools/netns-impair.js';
import { createTestNetns, peerVersion } from '../../../tools/netns-helper.js';
import type { ExecResult, TestNetns } from '../../../tools/netns-helper.js';
import { openTap } from '../src/index.js';
import { addonPath } from '../src/native.js';

const KERNEL = '10.77.0.1';
const OURS = '10.77.0.2';
/** Source address of scapy's crafted segments. */
const SCAPY = '10.77.0.50';
const MB = 1024 * 1024;
const BULK_BYTES = Number(process.env.MORGANA_TCP_INTEROP_MB ?? 100) * MB;
const BULK_TIMEOUT_MS = 300_000;
/** Debian's python3, which has scapy (a pyenv python on PATH may not). */
const SYSTEM_PYTHON = '/usr/bin/python3';

function missing(): string | undefined {
  const path = addonPath();
  if (!existsSync(path)) return `the native addon is not built (${path}); run the package's install script`;
  if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} (with python3-scapy) is missing`;
  return undefined;
}

/** Reads a flow to its end, hashing; returns [bytes, sha256 hex]. */
async function drain(flow: TcpFlow): Promise<[number, string]> {
  const hash = createHash('sha256');
  let total = 0;
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) break;
    hash.update(chunk);
    total += chunk.length;
  }
  return [total, hash.digest('hex')];
}

/** Writes `total` pseudo-random bytes in 64 KiB chunks; returns their sha256 hex. */
async function pour(flow: TcpFlow, total: number): Promise<string> {
  const hash = createHash('sha256');
  const block = randomBytes(64 * 1024);
  let sent = 0;
  let round = 0;
  while (sent < total) {
    // Vary every chunk so a misplaced segment changes the digest.
    block.writeUInt32BE(round++, 0);
    const chunk = block.subarray(0, Math.min(block.length, total - sent));
    hash.update(chunk);
    await flow.write(chunk);
    sent += chunk.length;
  }
  return hash.digest('hex');
}

/** The listener's next connection, or a failure as soon as the peer gives up connecting. */
function acceptOrFail(listener: TcpListener, client: Promise<ExecResult>, peer: string): Promise<TcpFlow> {
  return Promise.race([
    listener.accept(),
    client.then((result) => {
      throw new Error(`${peer} finished before we accepted its connection (exit ${result.code}): ${result.stderr.trim()}`);
    }),
  ]);
}

function sha256sumOf(stdout: string): string {
  return stdout.trim().split(/\s+/)[0];
}

/** Runs the bulk tests against one stack (plain or impaired). */
function bulkTests(label: string, size: () => number, context: () => { ns: TestNetns; stack: ComposedStack; dir: string }): void {
  it(`${label}: receives a bulk upload from socat whole (SHA-256)`, { timeout: BULK_TIMEOUT_MS }, async () => {
    const { ns, stack, dir } = context();
    const file = join(dir, `upload-${size()}`);
    if (!existsSync(file)) writeFileSync(file, randomBytes(size()));
    const expected = createHash('sha256').update(readFileSync(file)).digest('hex');
    const listener = stack.tcp.listen(5001);
    try {
      const sender = ns.exec('socat', ['-u', `FILE:${file}`, `TCP:${OURS}:5001,connect-timeout=10`], { timeoutMs: BULK_TIMEOUT_MS });
      const flow = await acceptOrFail(listener, sender, 'socat');
      const [total, digest] = await drain(flow);
      await flow.close();
      expect((await sender).code).toBe(0);
      expect(total).toBe(size());
      expect(digest).toBe(expected);
    } finally {
      listener.close();
    }
  });

  it(`${label}: serves a bulk download to curl whole (SHA-256, HTTP/1.1 over morgana TCP)`, { timeout: BULK_TIMEOUT_MS }, async () => {
    const { ns, stack } = context();
    const listener = stack.tcp.listen(8080);
    try {
      const client = ns.exec('bash', ['-c', `set -o pipefail; curl -sS --connect-timeout 10 --max-time 280 -o - http://${OURS}:8080/bulk | sha256sum`], {
        timeoutMs: BULK_TIMEOUT_MS,
      });
      const flow = await acceptOrFail(listener, client, 'curl');
      let request = '';
      while (!request.includes('\r\n\r\n')) {
        const chunk = await flow.read();
        if (chunk === null) break;
        request += new TextDecoder().decode(chunk);
      }
      expect(request.startsWith('GET /bulk HTTP/1.1\r\n')).toBe(true);
      await flow.write(new TextEncoder().encode(`HTTP/1.1 200 OK\r\nContent-Length: ${size()}\r\nConnection: close\r\n\r\n`));
      const digest = await pour(flow, size());
      await flow.close();
      const result = await client;
      expect(result.stderr).toBe('');
      expect(sha256sumOf(result.stdout)).toBe(digest);
    } finally {
      listener.close();
    }
  });

  it(`${label}: connects out to nc -l and sends a tenth of the bulk whole (SHA-256)`, { timeout: BULK_TIMEOUT_MS }, async () => {
    const { ns, stack } = context();
    const receiver = ns.spawn('sh', ['-c', `nc -l -N ${KERNEL} 5003 | sha256sum`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    receiver.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const done = new Promise<void>((resolve) => receiver.on('exit', () => resolve()));
    let flow: TcpFlow | undefined;
    const deadline = Date.now() + 10_000;
    while (flow === undefined) {
      flow = await stack.tcp.connect(parseIpv4(KERNEL), 5003, { timeout: 2000 }).catch((error: unknown) => {
        if (Date.now() > deadline) throw error;
        return undefined;
      });
      if (flow === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const digest = await pour(flow, Math.ceil(size() / 10));
    await flow.close();
    await done;
    expect(sha256sumOf(output)).toBe(digest);
  });
}

describeInterop(
  `morgana TCP on TAP against Linux TCP (${peerVersion('socat', ['-V'])}, ${peerVersion('curl', ['--version'])})`,
  ['socat', 'curl', 'nc', 'sha256sum', 'tshark'],
  () => {
    describe('on a clean link', () => {
      let ns: TestNetns;
      let stack: ComposedStack;
      let dir: string;

      beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'morgana-tcp-'));
        ns = await createTestNetns({ address: `${KERNEL}/24` });
        stack = createDirectStack({ netif: await openTap({ name: ns.device, netns: ns.name }), ipv4: { address: `${OURS}/24` } });
      });

      afterAll(async () => {
        await stack?.close();
        await ns?.destroy();
        rmSync(dir, { recursive: true, force: true });
      });

      bulkTests('clean link', () => BULK_BYTES, () => ({ ns, stack, dir }));

      /** Captures one 200 kB upload's packets (port 5010) into `pcap`. */
      async function captureHandshake(pcap: string): Promise<void> {
        const capture = ns.spawn('tshark', ['-q', '-i', ns.device, '-w', pcap, '-f', 'tcp port 5010'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let captureLog = '';
        capture.stderr?.on('data', (chunk: Buffer) => (captureLog += chunk.toString()));
        const deadline = Date.now() + 15_000;
        while (!captureLog.includes('Capturing on')) {
          if (Date.now() > deadline) throw new Error(`tshark did not start: ${captureLog}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const listener = stack.tcp.listen(5010);
        try {
          const client = ns.exec('sh', ['-c', `head -c 200000 /dev/urandom | socat -u - TCP:${OURS}:5010`]);
          const flow = await listener.accept();
          const [total] = await drain(flow);
          await flow.close();
          await client;
          expect(total).toBe(200_000);
        } finally {
          listener.close();
        }
        await new Promise((resolve) => setTimeout(resolve, 1500));
        capture.kill('SIGINT');
        await new Promise((resolve) => capture.on('exit', resolve));
      }

      it('sends well-formed segments with the options tshark expects in its SYN-ACK', { timeout: 120_000 }, async () => {
        const pcap = join(dir, 'handshake.pcap');
        // On a loaded machine the capture can miss the handshake: try a few times before failing.
        let synAck = { stdout: '' } as ExecResult;
        for (let attempt = 0; attempt < 3 && synAck.stdout.trim() === ''; attempt++) {
          await captureHandshake(pcap);
          synAck = await ns.exec('tshark', [
            '-r',
            pcap,
            '-Y',
            `tcp.flags.syn == 1 && tcp.flags.ack == 1 && ip.src == ${OURS}`,
            '-T',
            'fields',
            '-e',
            'tcp.options.mss_val',
            '-e',
            'tcp.options.sack_perm',
            '-e',
            'tcp.options.wscale.shift',
            '-e',
            'tcp.options.timestamp.tsval',
          ]);
        }
        const [mss, sackPermitted, windowScale, tsval] = synAck.stdout.trim().split('\t');
        // The kernel offers MSS 1460, SACK, window scaling and timestamps; we answer in kind (RFC 9293 3.7.1, RFC 2018, RFC 7323).
        expect(Number(mss)).toBe(1460);
        expect(sackPermitted).not.toBe('');
        expect(windowScale).not.toBe('');
        expect(tsval).not.toBe('');
        const problems = await ns.exec('tshark', [
          '-r',
          pcap,
          '-o',
          'tcp.check_checksum:TRUE',
          '-o',
          'ip.check_checksum:TRUE',
          '-Y',
          `ip.src == ${OURS} && (_ws.malformed || _ws.expert.severity >= error || tcp.checksum.status == 0 || ip.checksum.status == 0)`,
        ]);
        expect(problems.stdout.trim()).toBe('');
      });

      it('answers scapy-crafted segments: RST for a closed port, nothing for a bad checksum, a challenge ACK for an in-window SYN', async () => {
        // Scapy speaks from an address the kernel does not own, so the kernel drops our answers
        // instead of resetting connections it knows nothing of; scapy sniffs them on the device.
        const kernelMac = parseMac((await ns.exec('cat', [`/sys/class/net/${ns.device}/address`])).stdout.trim());
        stack.arp.addStatic(parseIpv4(SCAPY), kernelMac);
        const listener = stack.tcp.listen(5020);
        listener.accept().then(
          (flow) => flow.read().catch(() => null),
          () => null,
        );
        try {
          const result = await ns.exec(SYSTEM_PYTHON, [
            '-c',
            `from scapy.all import IP,TCP,sr1,send,sniff,conf
conf.verb=0
ip=IP(src='${SCAPY}',dst='${OURS}')
r=sr1(ip/TCP(sport=40001,dport=5999,flags='S',seq=1000),timeout=2)
print('closed', r[TCP].flags if r else None, r[TCP].ack if r else None)
r=sr1(ip/TCP(sport=40002,dport=5020,flags='S',seq=2000,chksum=0x1234),timeout=1)
print('badsum', r[TCP].flags if r else None)
synack=sr1(ip/TCP(sport=40003,dport=5020,flags='S',seq=3000,options=[('MSS',1460)]),timeout=2)
print('synack', synack[TCP].flags if synack else None)
send(ip/TCP(sport=40003,dport=5020,flags='A',seq=3001,ack=synack[TCP].seq+1))
# scapy's sr1 would not match a challenge ACK (its ack is not our SYN's seq): sniff for it.
got=sniff(iface='${ns.device}',filter='tcp and src host ${OURS} and src port 5020 and dst port 40003',count=1,timeout=3,
  started_callback=lambda: send(ip/TCP(sport=40003,dport=5020,flags='S',seq=3100)))
print('challenge', got[0][TCP].flags if got else None, got[0][TCP].ack==3001 if got else None)`,
          ]);
          expect(result.stdout.trim().split('\n')).toEqual(['closed RA 1001', 'badsum None', 'synack SA', 'challenge A True']);
        } finally {
          listener.close();
        }
      });

      it('completes a transfer while scapy throws truncated headers, overlapping fragments, blind RSTs, SYNs and a SYN flood at it', { timeout: 240_000 }, async () => {
        const listener = stack.tcp.listen(5040);
        const bytes = 40 * MB;
        const sourcePort = 40_111;
        const before = { ipv4: stack.ipv4.stats(), tcp: stack.tcp.stats() };
        try {
          // The attacks run in a loop for a while; the upload starts once they are under way, from
          // a known port, so the blind resets and SYNs are aimed at the live connection itself.
          const attack = ns.exec(SYSTEM_PYTHON, [
            '-c',
            `import time
from scapy.all import IP,TCP,ICMP,Raw,RandShort,send,conf
conf.verb=0
ours='${OURS}'
end=time.time()+8
rounds=0
while time.time()<end:
    # Truncated headers: an IP header cut short, and a TCP header cut short inside a valid IP packet.
    send(IP(dst=ours,proto=6)/Raw(b'\\x45\\x00'), count=5)
    send(IP(dst=ours,proto=6)/Raw(b'\\x13\\x88\\x13\\x88\\x00\\x00'), count=5)
    # Overlapping IP fragments (teardrop-like): same id, the second overlaps the first.
    pkt=IP(dst=ours,id=4000+rounds,proto=1)/ICMP()/Raw(b'A'*64)
    a=IP(bytes(pkt)); a.flags='MF'; a.frag=0; a.remove_payload(); a=a/Raw(bytes(pkt)[20:60])
    b=IP(bytes(pkt)); b.flags=0; b.frag=2; b.remove_payload(); b=b/Raw(bytes(pkt)[36:])
    send(a); send(b)
    # Blind resets with sequence numbers far from the window (RFC 5961 §3), and a SYN into the
    # established connection, which earns a challenge ACK (RFC 5961 §4).
    for seq in (12345, 0x80000000, 0xfffffff0):
        send(IP(src='${KERNEL}',dst=ours)/TCP(sport=${sourcePort},dport=5040,flags='R',seq=seq))
    send(IP(src='${KERNEL}',dst=ours)/TCP(sport=${sourcePort},dport=5040,flags='S',seq=99999))
    # A SYN flood at the listening port.
    send(IP(src='10.77.0.98',dst=ours)/TCP(sport=RandShort(),dport=5040,flags='S'), count=100)
    rounds+=1
print('rounds', rounds)`,
          ], { timeoutMs: 180_000 });
          await new Promise((resolve) => setTimeout(resolve, 2500));
          const upload = ns.exec('sh', ['-c', `head -c ${bytes} /dev/urandom | tee ${dir}/hostile.bin | socat -u - TCP:${OURS}:5040,connect-timeout=10,sourceport=${sourcePort}`], { timeoutMs: 200_000 });
          const flow = await acceptOrFail(listener, upload, 'socat');
          const [total, digest] = await drain(flow);
          await flow.close();
          expect((await upload).code).toBe(0);
          const done = await attack;
          expect(done.stdout).toMatch(/rounds [1-9]/);
          const sent = await ns.exec('sha256sum', [`${dir}/hostile.bin`]);
          expect(total).toBe(bytes);
          expect(digest).toBe(sha256sumOf(sent.stdout));
          const after = { ipv4: stack.ipv4.stats(), tcp: stack.tcp.stats() };
          const grew = (a: Record<string, number>, b: Record<string, number>) => Object.keys(b).filter((k) => (b[k] ?? 0) > (a[k] ?? 0));
          // The bad input was seen and dropped by reason, not silently.
          expect(grew(before.ipv4, after.ipv4).length).toBeGreaterThan(0);
          expect(grew(before.tcp, after.tcp).length).toBeGreaterThan(0);
        } finally {
          listener.close();
        }
      });

      it('stays reachable during a SYN flood of 3000 spoofed SYNs', { timeout: 120_000 }, async () => {
        const listener = stack.tcp.listen(5030);
        try {
          const flood = ns.exec(SYSTEM_PYTHON, [
            '-c',
            `from scapy.all import IP,TCP,RandShort,send,conf
conf.verb=0
send(IP(src='10.77.0.99',dst='${OURS}')/TCP(sport=RandShort(),dport=5030,flags='S',seq=12345),count=3000)`,
          ], { timeoutMs: 110_000 });
          await new Promise((resolve) => setTimeout(resolve, 500));
          const client = ns.exec('sh', ['-c', `printf 'still here' | socat -t 5 - TCP:${OURS}:5030,connect-timeout=10`], { timeoutMs: 60_000 });
          const flow = await listener.accept();
          const chunk = await flow.read();
          await flow.close();
          expect(new TextDecoder().decode(chunk ?? new Uint8Array())).toBe('still here');
          expect((await client).code).toBe(0);
          expect((await flood).code).toBe(0);
        } finally {
          listener.close();
        }
      });
    });

    describe('with virtio-net checksum offload and TSO on the TAP device', () => {
      let ns: TestNetns;
      let stack: ComposedStack;
      let dir: string;

      beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'morgana-tcp-'));
        ns = await createTestNetns({ address: `${KERNEL}/24` });
        const tap = await openTap({ name: ns.device, netns: ns.name, offload: { checksum: true, tso: true } });
        stack = createDirectStack({ netif: tap, ipv4: { address: `${OURS}/24` } });
      });

      afterAll(async () => {
        await stack?.close();
        await ns?.destroy();
        rmSync(dir, { recursive: true, force: true });
      });

      bulkTests('offloading device', () => BULK_BYTES, () => ({ ns, stack, dir }));
    });

    describe('on an impaired link (user-space netem: 1% loss, 1% duplicates, 3% reordering, 2 ms delay each way)', () => {
      let ns: TestNetns;
      let stack: ComposedStack;
      let dir: string;

      beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'morgana-tcp-'));
        ns = await createTestNetns({ address: `${KERNEL}/24` });
        const tap = await openTap({ name: ns.device, netns: ns.name });
        const conditions = { loss: 0.01, duplicate: 0.01, reorder: 0.03, reorderDelay: 5, delay: 2 };
        stack = createDirectStack({ netif: impairNetif(tap, conditions), ipv4: { address: `${OURS}/24` } });
      });

      afterAll(async () => {
        await stack?.close();
        await ns?.destroy();
        rmSync(dir, { recursive: true, force: true });
      });

      bulkTests('impaired link', () => Math.ceil(BULK_BYTES / 10), () => ({ ns, stack, dir }));
    });
  },
  missing,
);
