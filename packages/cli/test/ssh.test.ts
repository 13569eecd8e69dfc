// The ssh appliance with OpenSSH's own client, over usernet (the pure stack): login with a key,
// the built-in commands, and no host shell. (direct-tcpip is tested in @morgana/ssh with ssh -W.)
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
const haveSsh = existsSync('/usr/bin/ssh') && existsSync('/usr/bin/ssh-keygen');
if (!haveSsh && process.env.MORGANA_INTEROP === 'required') throw new Error('OpenSSH (openssh-client) is required for the ssh appliance tests');
if (!haveSsh) console.log('skipping the ssh appliance tests: openssh-client is not installed');

const dir = mkdtempSync(join(tmpdir(), 'morgana-ssh-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveSsh)('morgana ssh', () => {
  it('lets OpenSSH log in over usernet, run built-ins, and refuses a host shell', async () => {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user')]);
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    let output = '';
    const child = spawn(process.execPath, ['--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), 'ssh', '--host-key', join(dir, 'host'), '--authorized-keys', join(dir, 'user.pub'), '--net', 'usernet', '--forward', `${port}:22`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      for (let i = 0; i < 100 && !output.includes('reachable at'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(output).toContain('reachable at tcp 127.0.0.1');
      const ssh = (...args: string[]) =>
        run('ssh', ['-p', String(port), '-i', join(dir, 'user'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', 'tester@127.0.0.1', ...args]);
      const echo = await ssh('echo', 'hello', 'from', 'morgana');
      expect(echo.stdout).toBe('hello from morgana\n');
      const shell = await ssh('uname', '-a').then(() => 0, (error: { code: number }) => error.code);
      expect(shell).toBe(127);
      const hostKey = readFileSync(join(dir, 'host.pub'), 'utf8').split(' ')[1];
      const keyscan = await run('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1']).catch(() => ({ stdout: '' }));
      if (keyscan.stdout !== '') expect(keyscan.stdout).toContain(hostKey);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
