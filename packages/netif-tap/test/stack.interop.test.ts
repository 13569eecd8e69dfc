/**
 * A whole morgana stack on a TAP device against the Linux kernel in a test namespace: ping
 * (fragmented too, and flooded), arping, UDP both ways and ICMP port unreachable. The kernel
 * and Debian's tools are the peers.
 */
import { existsSync } from 'node:fs';
import { parseIpv4 } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import type { ComposedStack } from '@morgana/stack';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { createTestNetns, peerVersion } from '../../../tools/netns-helper.js';
import type { TestNetns } from '../../../tools/netns-helper.js';
import { openTap } from '../src/index.js';
import { addonPath } from '../src/native.js';

const KERNEL = '10.77.0.1';
const OURS = '10.77.0.2';

function addonMissing(): string | undefined {
  const path = addonPath();
  return existsSync(path) ? undefined : `the native addon is not built (${path}); run the package's install script`;
}

describeInterop(
  `morgana stack on TAP against Linux (${peerVersion('ping', ['-V'])}, ${peerVersion('arping', ['-V'])}, ${peerVersion('socat', ['-V'])})`,
  ['ping', 'arping', 'python3', 'socat'],
  () => {
    let ns: TestNetns;
    let stack: ComposedStack;

    beforeAll(async () => {
      ns = await createTestNetns({ address: `${KERNEL}/24` });
      const tap = await openTap({ name: ns.device, netns: ns.name });
      stack = createDirectStack({ netif: tap, ipv4: { address: `${OURS}/24`, gateway: KERNEL } });
    });

    afterAll(async () => {
      await stack?.close();
      await ns?.destroy();
    });

    it('answers ping from the kernel', async () => {
      const ping = await ns.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', OURS]);
      expect(ping.stdout).toContain('5 packets transmitted, 5 received');
    });

    it('answers 4000-byte and 65000-byte pings: the kernel fragments, we reassemble, and fragment our replies', async () => {
      const medium = await ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-s', '4000', OURS]);
      expect(medium.stdout).toContain('3 received');
      const large = await ns.exec('ping', ['-c', '2', '-i', '0.3', '-W', '3', '-s', '65000', OURS]);
      expect(large.stdout).toContain('2 received');
    });

    it('keeps up with a ping flood of 2000 echoes', async () => {
      const flood = await ns.exec('ping', ['-f', '-c', '2000', '-W', '2', OURS], { timeoutMs: 60_000 });
      const received = Number(/(\d+) received/.exec(flood.stdout)?.[1] ?? 0);
      // A flood sends the next echo on each reply or every 10 ms: a few may be in flight at the end.
      expect(received).toBeGreaterThanOrEqual(1990);
    });

    it('answers arping (ARP requests for our address)', async () => {
      // Debian has two arpings: iputils' (-I, "Received 3 response(s)") and Thomas Habets' (-i, "3 packets received").
      const iputils = peerVersion('arping', ['-V']).includes('iputils');
      const arping = await ns.exec('arping', ['-c', '3', '-w', '5', iputils ? '-I' : '-i', ns.device, OURS]);
      expect(arping.stdout).toMatch(iputils ? /Received 3 response/ : /3 packets transmitted, 3 packets received/);
      expect(arping.code).toBe(0);
    });

    it('echoes UDP datagrams from the kernel, small and fragmented (socat and python clients)', async () => {
      const socket = stack.udp.bind({ port: 7 });
      socket.onMessage((datagram) => {
        socket.send(datagram.data, datagram.address, datagram.port);
      });
      try {
        const viaSocat = await ns.exec('sh', ['-c', `printf 'hello morgana' | socat -t 0.5 - UDP:${OURS}:7`]);
        expect(viaSocat.stdout).toBe('hello morgana');
        const viaPython = await ns.exec('python3', [
          '-c',
          `import socket,os
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.settimeout(3)
for size in (1, 1472, 1473, 8000, 30000, 65507):
  data=os.urandom(size)
  s.sendto(data,('${OURS}',7))
  back,_=s.recvfrom(65535)
  print(size, back==data)`,
        ]);
        expect(viaPython.stdout.trim().split('\n')).toEqual(['1 True', '1472 True', '1473 True', '8000 True', '30000 True', '65507 True']);
      } finally {
        socket.close();
      }
    });

    it('sends UDP datagrams to a kernel socket, fragmented when large', async () => {
      const receiver = ns.spawn(
        'python3',
        [
          '-c',
          `import socket,hashlib
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.bind(('${KERNEL}',5300))
s.settimeout(5)
print('ready',flush=True)
for _ in range(3):
  data,addr=s.recvfrom(65535)
  print(len(data),hashlib.sha256(data).hexdigest(),addr[0],flush=True)`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      receiver.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const done = new Promise<void>((resolve) => receiver.on('exit', () => resolve()));
      const socket = stack.udp.bind();
      try {
        while (!output.startsWith('ready')) await new Promise((resolve) => setTimeout(resolve, 20));
        const { createHash, randomBytes } = await import('node:crypto');
        const payloads = [randomBytes(100), randomBytes(1473), randomBytes(20000)];
        for (const payload of payloads) expect(socket.send(payload, parseIpv4(KERNEL), 5300)).toBe(true);
        await done;
        const lines = output.trim().split('\n').slice(1);
        expect(lines).toEqual(payloads.map((p) => `${p.length} ${createHash('sha256').update(p).digest('hex')} ${OURS}`));
      } finally {
        socket.close();
        receiver.kill();
      }
    });

    it('answers a datagram to a closed port with ICMP port unreachable (the kernel reports ECONNREFUSED)', async () => {
      const probe = await ns.exec('python3', [
        '-c',
        `import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(('${OURS}',9999))
s.send(b'anyone?')
try:
  s.recv(100)
  print('answered')
except ConnectionRefusedError:
  print('refused')
except socket.timeout:
  print('timeout')`,
      ]);
      expect(probe.stdout.trim()).toBe('refused');
    });
  },
  addonMissing,
);
