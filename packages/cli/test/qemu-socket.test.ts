// The QEMU frames-over-socket backends without QEMU: the test plays the other end of the
// socket with a morgana stack of its own, so the appliance's frames cross a real UDP socket or
// TCP stream in QEMU's formats. (The TAP engineer's tests put a real QEMU in the middle.)
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { HttpClient } from '@morgana/http';
import { openDgramNetif, openStreamNetif } from '@morgana/netif-socket';
import { createDirectStack } from '@morgana/stack';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const site = join(root, 'docs');

describe('morgana www over QEMU socket formats', () => {
  for (const net of ['qemu-dgram', 'qemu-stream'] as const) {
    it(`serves HTTP to a peer stack over --net ${net}`, async () => {
      const peerPort = 30_000 + Math.floor(Math.random() * 20_000);
      const appliancePort = peerPort + 1;
      const netif =
        net === 'qemu-dgram'
          ? await openDgramNetif({ local: { address: '127.0.0.1', port: peerPort }, remote: { address: '127.0.0.1', port: appliancePort } })
          : await openStreamNetif({ listen: { host: '127.0.0.1', port: peerPort } });
      const peer = createDirectStack({ netif, ipv4: { address: '10.0.9.1/24' } });
      let output = '';
      const child = spawn(process.execPath, ['--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), 'www', site, '--net', net, '--peer', `127.0.0.1:${peerPort}`, '--local', `127.0.0.1:${appliancePort}`, '--ip', '10.0.9.2/24'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      try {
        for (let i = 0; i < 100 && !output.includes('reachable at'); i++) await new Promise((r) => setTimeout(r, 100));
        expect(output).toContain('reachable at 10.0.9.2:80');
        const client = new HttpClient({ tcp: peer.tcp, clock: createSystemClock(), timeout: 10_000 });
        const response = await client.request({ address: parseIpv4('10.0.9.2'), port: 80, path: '/' });
        expect(response.status).toBe(200);
        expect(new TextDecoder().decode(response.body)).toContain('<h1>morgana</h1>');
        client.close();
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
        await peer.close();
      }
    });
  }
});
