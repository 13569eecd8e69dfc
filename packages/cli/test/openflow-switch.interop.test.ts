// The `morgana openflow-switch` appliance driven by Open vSwitch's ovs-testcontroller (root):
// two TAP ports, each moved into its own test namespace with the kernel on the other side; the
// controller's learning switch makes them reachable, checked with ping and a 1 MB TCP transfer.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { createTestNetns, peerVersion, type TestNetns, uniqueName, which } from '../../../tools/netns-helper.js';

const root = join(import.meta.dirname, '..', '..', '..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describeInterop('morgana openflow-switch driven by ovs-testcontroller (two namespaces over TAP ports)', ['ovs-testcontroller', 'socat', 'ping', 'ip'], () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  for (const version of ['OpenFlow13', 'OpenFlow10'] as const) {
    it(`forwards ping and a 1 MB TCP transfer between the namespaces under ovs-testcontroller (${version})`, async () => {
      console.log(`driving the morgana switch with ${peerVersion(which('ovs-testcontroller') as string)} (${version})`);
      const dir = mkdtempSync(join(tmpdir(), 'morgana-of-switch-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      const port = await freePort();
      const controller = spawn('ovs-testcontroller', ['-O', version, '--no-chdir', `--unixctl=${join(dir, 'ctl')}`, `--log-file=${join(dir, 'log')}`, `ptcp:${port}:127.0.0.1`], { stdio: 'ignore' });
      cleanups.push(() => stop(controller));
      const taps = [uniqueName('ofs'), uniqueName('ofs')];
      let output = '';
      const appliance = spawn(process.execPath, [
        '--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), 'openflow-switch',
        '--controller', `127.0.0.1:${port}`, '--port', taps[0] as string, '--port', taps[1] as string,
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      appliance.stdout?.on('data', (data: Buffer) => (output += data.toString()));
      appliance.stderr?.on('data', (data: Buffer) => (output += data.toString()));
      cleanups.push(() => stop(appliance));
      await waitFor('the appliance to start', () => output.includes('reachable at'), 15_000);
      // Moving a TAP device to another namespace keeps the appliance's file descriptor working.
      const namespaces: TestNetns[] = [];
      for (const [index, tap] of taps.entries()) {
        const ns = await createTestNetns({ adopt: tap, address: `10.89.7.${index + 1}/24` });
        cleanups.push(() => ns.destroy());
        namespaces.push(ns);
      }
      const [left, right] = namespaces as [TestNetns, TestNetns];
      // The controller needs a moment to connect and learn: retry a single ping until one answers.
      await waitFor('a first ping reply', async () => (await left.exec('ping', ['-c', '1', '-W', '1', '10.89.7.2'])).code === 0, 20_000);
      const ping = await left.exec('ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.89.7.2']);
      expect(ping.stdout, ping.stdout + ping.stderr).toMatch(/3 packets transmitted, 3 received/);

      const payload = randomBytes(1024 * 1024);
      const file = join(dir, 'payload.bin');
      writeFileSync(file, payload);
      let received = '';
      const sink = right.spawn('sh', ['-c', 'socat -u TCP-LISTEN:5001,reuseaddr - | sha256sum'], { stdio: ['ignore', 'pipe', 'ignore'] });
      sink.stdout?.on('data', (data: Buffer) => (received += data.toString()));
      const sinkDone = new Promise((resolve) => sink.once('exit', resolve));
      cleanups.push(() => stop(sink));
      await waitFor('the TCP listener', async () => (await right.exec('sh', ['-c', 'ss -ltn | grep -q ":5001"'])).code === 0, 5_000);
      const send = await left.exec('socat', ['-u', `FILE:${file}`, 'TCP:10.89.7.2:5001'], { timeoutMs: 30_000 });
      expect(send.code, send.stderr).toBe(0);
      await sinkDone;
      expect(received.split(' ')[0]).toBe(createHash('sha256').update(payload).digest('hex'));
    }, 60_000);
  }
});
