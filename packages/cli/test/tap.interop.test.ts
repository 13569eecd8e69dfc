// End-to-end on a TAP device (root): the www and dns appliances on the pure stack in a test
// namespace, with the Linux kernel's curl and dig as clients. Only namespace addresses are used.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { createTestNetns, type TestNetns } from '../../../tools/netns-helper.js';

const root = join(import.meta.dirname, '..', '..', '..');
const site = mkdtempSync(join(tmpdir(), 'morgana-tap-site-'));
const big = new Uint8Array(50 * 1024 * 1024);
for (let i = 0; i < big.length; i += 1024) big[i] = (i * 2654435761) >>> 24;
writeFileSync(join(site, 'index.html'), '<h1>tap</h1>\n');
writeFileSync(join(site, 'big.bin'), big);
writeFileSync(join(site, 'tap.test.zone'), '$ORIGIN tap.test.\n$TTL 60\n@ SOA ns admin 1 3600 600 86400 60\n@ NS ns\nns A 10.77.0.2\nwww A 10.77.0.80\n');
afterAll(() => rmSync(site, { recursive: true, force: true }));

describeInterop('morgana appliances on a TAP device (Linux kernel peer)', ['curl', 'dig', 'ip'], () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await createTestNetns({ address: '10.77.0.1/24' });
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  async function withAppliance(args: string[], body: () => Promise<void>, net: 'tap' | 'xen-sim' = 'tap'): Promise<void> {
    let output = '';
    const child = ns.spawn(process.execPath, ['--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), ...args, '--net', net, '--tap', ns.device, '--ip', '10.77.0.2/24'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    for (let i = 0; i < 100 && !output.includes('reachable at'); i++) await new Promise((r) => setTimeout(r, 100));
    try {
      expect(output).toContain('reachable at 10.77.0.2');
      await body();
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }

  it('serves the www appliance to curl; a 50 MB download arrives intact', async () => {
    await withAppliance(['www', site], async () => {
      const page = await ns.exec('curl', ['-sS', '-m', '10', 'http://10.77.0.2/']);
      expect(page.stdout).toBe('<h1>tap</h1>\n');
      const sum = await ns.exec('sh', ['-c', 'curl -sS -m 120 http://10.77.0.2/big.bin | sha256sum'], { timeoutMs: 130_000 });
      expect(sum.stdout.split(' ')[0]).toBe(createHash('sha256').update(big).digest('hex'));
    });
  });

  it('serves curl a 50 MB file intact over Xen netfront → simulated netback → TAP (--net xen-sim)', async () => {
    await withAppliance(['www', site], async () => {
      const sum = await ns.exec('sh', ['-c', 'curl -sS -m 300 http://10.77.0.2/big.bin | sha256sum'], { timeoutMs: 310_000 });
      expect(sum.stdout.split(' ')[0]).toBe(createHash('sha256').update(big).digest('hex'));
    }, 'xen-sim');
  }, 320_000);

  it('answers dig over UDP and TCP with the dns appliance', async () => {
    await withAppliance(['dns', join(site, 'tap.test.zone')], async () => {
      const udp = await ns.exec('dig', ['@10.77.0.2', '+tries=2', '+time=3', 'www.tap.test', 'A']);
      expect(udp.stdout).toMatch(/www\.tap\.test\.\s+60\s+IN\s+A\s+10\.77\.0\.80/);
      const tcp = await ns.exec('dig', ['@10.77.0.2', '+tcp', '+tries=2', '+time=3', 'tap.test', 'SOA']);
      expect(tcp.stdout).toMatch(/status: NOERROR/);
    });
  });
});
