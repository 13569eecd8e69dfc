// The openflow-controller appliance over usernet: a scripted switch (the openflow package's
// test helper) connects through the forwarded port, finishes the handshake, and is reported.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createSocketStack } from '@morgana/socket';
import { describe, expect, it } from 'vitest';
import { FakeSwitch } from '../../openflow/test/fake-switch.js';

const root = join(import.meta.dirname, '..', '..', '..');

describe('morgana openflow-controller', () => {
  it('accepts a switch through usernet and runs the learning switch on it', async () => {
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    let output = '';
    const child = spawn(process.execPath, ['--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), 'openflow-controller', '--net', 'usernet', '--forward', `${port}:6653`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const stack = createSocketStack();
    try {
      for (let i = 0; i < 100 && !output.includes('reachable at'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(output).toContain('reachable at tcp 127.0.0.1');
      const fake = await FakeSwitch.connect(stack.tcp, port);
      await fake.handshake(4, 0x42n);
      // The learning switch installs its table-miss flow on a 1.3 switch.
      const flowMod = await fake.expect('flow-mod');
      expect(flowMod.priority).toBe(0);
      for (let i = 0; i < 50 && !output.includes('switch 0000000000000042 connected'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(output).toContain('switch 0000000000000042 connected (OpenFlow version 4)');
      fake.flow.abort();
    } finally {
      await stack.close();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
