// `morgana ssh --allow-remote-forward` with OpenSSH's client over host sockets: ssh -R listens
// through the appliance's stack, and without the flag the appliance refuses it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, type Server, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
const haveSsh = existsSync('/usr/bin/ssh') && existsSync('/usr/bin/ssh-keygen');
if (!haveSsh && process.env.MORGANA_INTEROP === 'required') throw new Error('OpenSSH (openssh-client) is required for the ssh appliance tests');
if (!haveSsh) console.log('skipping the ssh remote-forward appliance tests: openssh-client is not installed');

const dir = mkdtempSync(join(tmpdir(), 'morgana-ssh-rfwd-'));
let echo: Server;
let echoPort = 0;

beforeAll(async () => {
  echo = createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
  if (haveSsh) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user')]);
  }
});
afterAll(async () => {
  await new Promise((resolve) => echo.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the appliance on host sockets at a random loopback port; stop it with the returned function. */
async function appliance(...flags: string[]): Promise<{ port: number; output: () => string; stop: () => Promise<void> }> {
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  let output = '';
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', join(root, 'tools', 'ts-loader.mjs'), join(root, 'packages', 'cli', 'src', 'bin.ts'), 'ssh', '--host-key', join(dir, 'host'), '--authorized-keys', join(dir, 'user.pub'), '--net', 'socket', '--listen', `127.0.0.1:${port}`, ...flags],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 100 && !output.includes('reachable at'); i++) await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    output: () => output,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const sshArgs = (port: number, ...rest: string[]): string[] => [
  '-p',
  String(port),
  '-i',
  join(dir, 'user'),
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'BatchMode=yes',
  '-o',
  'LogLevel=INFO',
  '-o',
  'ExitOnForwardFailure=yes',
  ...rest,
  'tester@127.0.0.1',
];

/** Runs `ssh -N -R spec` until it reports the allocated port, or exits (refused). */
async function remoteForward(port: number, spec: string): Promise<{ allocated: number | undefined; stderr: string; stop: () => Promise<void> }> {
  const child = spawn('ssh', sshArgs(port, '-N', '-R', spec), { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let stderr = '';
  const allocated = await new Promise<number | undefined>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /Allocated port (\d+)/.exec(stderr);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(() => resolve(undefined));
  });
  return {
    allocated,
    stderr,
    async stop() {
      child.kill();
      await exited;
    },
  };
}

describe.skipIf(!haveSsh)('morgana ssh remote forwarding', () => {
  it('with --allow-remote-forward, listens for ssh -R 0 on loopback and carries 1 MB back and forth intact; refuses 0.0.0.0', async () => {
    const app = await appliance('--allow-remote-forward');
    try {
      expect(app.output()).toContain('remote forwarding on loopback');
      const forward = await remoteForward(app.port, `127.0.0.1:0:127.0.0.1:${echoPort}`);
      try {
        expect(forward.allocated).toBeGreaterThan(0);
        const data = randomBytes(1024 * 1024);
        const socket = connect({ host: '127.0.0.1', port: forward.allocated ?? 0, allowHalfOpen: true });
        const hash = createHash('sha256');
        let received = 0;
        socket.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          received += chunk.length;
        });
        socket.end(data);
        await new Promise((resolve) => socket.on('close', resolve));
        expect(received).toBe(data.length);
        expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      } finally {
        await forward.stop();
      }
      const wide = await remoteForward(app.port, `0.0.0.0:0:127.0.0.1:${echoPort}`);
      expect(wide.allocated).toBeUndefined();
      expect(wide.stderr).toContain('remote port forwarding failed');
    } finally {
      await app.stop();
    }
  });

  it('refuses ssh -R without --allow-remote-forward', async () => {
    const app = await appliance();
    try {
      expect(app.output()).toContain('remote forwarding off');
      const forward = await remoteForward(app.port, `0:127.0.0.1:${echoPort}`);
      expect(forward.allocated).toBeUndefined();
      expect(forward.stderr).toContain('remote port forwarding failed');
    } finally {
      await app.stop();
    }
  });
});
