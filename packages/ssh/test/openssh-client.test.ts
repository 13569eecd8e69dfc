import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEX_NAMES, type SshServerConnection, generateEd25519Key, parseAuthorizedKeys, parseOpenSshPrivateKey, serveSshConnection } from '../src/index.js';

const run = promisify(execFile);
const SSH = '/usr/bin/ssh';

function peerPresent(): boolean {
  if (existsSync(SSH)) return true;
  if (process.env.MORGANA_INTEROP === 'required') throw new Error(`${SSH} is required for the SSH interop tests (apt-get install openssh-client)`);
  console.log(`skipping: ${SSH} is not installed (apt-get install openssh-client)`);
  return false;
}

const present = peerPresent();

describe.skipIf(!present)('OpenSSH ssh client against the morgana server', () => {
  const crypto = createNodeSshCrypto();
  const stack = createSocketStack();
  const dir = mkdtempSync(join(tmpdir(), 'morgana-ssh-'));
  const keyFile = join(dir, 'id_ed25519');
  const connections: SshServerConnection[] = [];
  let port = 0;
  let rsaPort = 0;
  let rsa256Port = 0;
  const rsaUserKey = join(dir, 'id_rsa');
  let version = '';

  beforeAll(async () => {
    version = (await run(SSH, ['-V'])).stderr.trim();
    console.log(`peer: ${version}`);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const authorized = parseAuthorizedKeys(readFileSync(`${keyFile}.pub`, 'utf8'));
    const hostKey = generateEd25519Key(crypto);
    const listener = stack.tcp.listen(0, {
      address: parseIpv4('127.0.0.1'),
      onConnection: (flow) => {
        connections.push(
          serveSshConnection(flow, {
            crypto,
            clock: createSystemClock(),
            hostKey,
            authorizedKeys: (user) => (user === 'morgana' ? authorized : []),
            checkPassword: (user, password) => user === 'pw' && password === 'open sesame',
            // Small enough that the 16 MB transfers below rekey from the server side too.
            transport: { rekeyBytes: 4 * 1024 * 1024 },
            tcp: stack.tcp,
            remoteForward: { tcp: stack.tcp },
          }),
        );
      },
    });
    while (listener.port === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    port = listener.port;
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'host_rsa')]);
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsaUserKey]);
    const rsaHostKey = parseOpenSshPrivateKey(crypto, readFileSync(join(dir, 'host_rsa'), 'utf8'), 'rsa-sha2-512');
    const rsaAuthorized = parseAuthorizedKeys(readFileSync(`${rsaUserKey}.pub`, 'utf8'));
    const rsaListener = stack.tcp.listen(0, {
      address: parseIpv4('127.0.0.1'),
      onConnection: (flow) => {
        connections.push(serveSshConnection(flow, { crypto, clock: createSystemClock(), hostKey: rsaHostKey, authorizedKeys: () => rsaAuthorized }));
      },
    });
    while (rsaListener.port === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    rsaPort = rsaListener.port;
    const rsa256HostKey = parseOpenSshPrivateKey(crypto, readFileSync(join(dir, 'host_rsa'), 'utf8'), 'rsa-sha2-256');
    const rsa256Listener = stack.tcp.listen(0, {
      address: parseIpv4('127.0.0.1'),
      onConnection: (flow) => {
        connections.push(serveSshConnection(flow, { crypto, clock: createSystemClock(), hostKey: rsa256HostKey, authorizedKeys: () => rsaAuthorized }));
      },
    });
    while (rsa256Listener.port === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    rsa256Port = rsa256Listener.port;
  });

  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sshArgs = (cipher: string, command: string, mac = 'hmac-sha2-256-etm@openssh.com'): string[] => [
    '-m',
    mac,
    '-p',
    String(port),
    '-i',
    keyFile,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
    '-c',
    cipher,
    'morgana@127.0.0.1',
    command,
  ];

  for (const cipher of ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes256-gcm@openssh.com']) {
    it(`logs in with an ed25519 key and runs echo over ${cipher}`, async () => {
      const { stdout } = await run(SSH, sshArgs(cipher, 'echo hello'));
      expect(stdout).toBe('hello\n');
      const negotiated = connections[connections.length - 1].transport.negotiated;
      expect(negotiated).toMatchObject({ strict: true, clientExtInfo: true, kex: 'curve25519-sha256', cipherClientToServer: cipher });
    });

    it(`moves 16 MB through cat intact over ${cipher}`, async () => {
      const data = randomBytes(16 * 1024 * 1024);
      const child = spawn(SSH, sshArgs(cipher, 'cat'), { stdio: ['pipe', 'pipe', 'pipe'] });
      const hash = createHash('sha256');
      let received = 0;
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.stdin.end(data);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(received).toBe(data.length);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(connections[connections.length - 1].transport.stats()['rekey-bytes']).toBeGreaterThanOrEqual(4);
    });
  }

  for (const [cipher, mac] of [
    ['aes128-ctr', 'hmac-sha2-256-etm@openssh.com'],
    ['aes256-ctr', 'hmac-sha2-512-etm@openssh.com'],
    ['aes128-ctr', 'hmac-sha2-256'],
    ['aes256-ctr', 'hmac-sha2-512'],
  ]) {
    it(`runs echo and moves 4 MB through cat over ${cipher} with ${mac}`, async () => {
      const { stdout } = await run(SSH, sshArgs(cipher, 'echo hello', mac));
      expect(stdout).toBe('hello\n');
      const data = randomBytes(4 * 1024 * 1024);
      const child = spawn(SSH, sshArgs(cipher, 'cat', mac), { stdio: ['pipe', 'pipe', 'pipe'] });
      const hash = createHash('sha256');
      child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
      child.stdin.end(data);
      expect(await new Promise<number | null>((resolve) => child.on('close', resolve))).toBe(0);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    });
  }

  for (const kex of KEX_NAMES) {
    it(`negotiates ${kex} when ssh offers only it, and rekeys with it`, async () => {
      const args = sshArgs('aes128-gcm@openssh.com', 'cat');
      args.splice(args.length - 2, 0, '-o', `KexAlgorithms=${kex}`, '-o', 'RekeyLimit=1M');
      const data = randomBytes(2 * 1024 * 1024);
      const child = spawn(SSH, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const hash = createHash('sha256');
      child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
      child.stdin.end(data);
      expect(await new Promise<number | null>((resolve) => child.on('close', resolve))).toBe(0);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      const last = connections[connections.length - 1].transport;
      expect(last.negotiated?.kex).toBe(kex);
      expect(last.stats()['kex-done']).toBeGreaterThanOrEqual(2);
    });
  }

  it('follows the rekeys OpenSSH starts every megabyte (RekeyLimit=1M) during a 8 MB cat', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const args = sshArgs('aes256-gcm@openssh.com', 'cat');
    args.splice(args.length - 2, 0, '-o', 'RekeyLimit=1M');
    const child = spawn(SSH, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
    child.stdin.end(data);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    const last = connections[connections.length - 1];
    expect(last.transport.stats()['kex-done']).toBeGreaterThan(4);
  });

  it('accepts an rsa-sha2-512 host key and an RSA user key signing rsa-sha2-512 (RFC 8332)', async () => {
    const args = sshArgs('aes128-gcm@openssh.com', 'echo rsa');
    args[args.indexOf(String(port))] = String(rsaPort);
    args[args.indexOf(keyFile)] = rsaUserKey;
    args.splice(args.length - 2, 0, '-o', 'HostKeyAlgorithms=rsa-sha2-512', '-o', 'PubkeyAcceptedAlgorithms=rsa-sha2-512');
    const { stdout } = await run(SSH, args);
    expect(stdout).toBe('rsa\n');
  });

  it('offers an rsa-sha2-256 host key that ssh verifies (RFC 8332)', async () => {
    const args = sshArgs('aes128-gcm@openssh.com', 'echo rsa256 host');
    args[args.indexOf(String(port))] = String(rsa256Port);
    args[args.indexOf(keyFile)] = rsaUserKey;
    args.splice(args.length - 2, 0, '-o', 'HostKeyAlgorithms=rsa-sha2-256');
    const { stdout } = await run(SSH, args);
    expect(stdout).toBe('rsa256 host\n');
    expect(connections[connections.length - 1].transport.negotiated?.hostKey).toBe('rsa-sha2-256');
  });

  it('accepts an RSA user key signing rsa-sha2-256', async () => {
    const args = sshArgs('aes128-gcm@openssh.com', 'echo rsa256');
    args[args.indexOf(String(port))] = String(rsaPort);
    args[args.indexOf(keyFile)] = rsaUserKey;
    args.splice(args.length - 2, 0, '-o', 'PubkeyAcceptedAlgorithms=rsa-sha2-256');
    const { stdout } = await run(SSH, args);
    expect(stdout).toBe('rsa256\n');
  });

  it('logs in by password through SSH_ASKPASS (RFC 4252 §8)', async () => {
    const askpass = join(dir, 'askpass.sh');
    writeFileSync(askpass, "#!/bin/sh\necho 'open sesame'\n", { mode: 0o755 });
    const args = sshArgs('aes128-gcm@openssh.com', 'echo by password').filter((arg) => arg !== 'BatchMode=yes');
    const batch = args.indexOf('-o', args.indexOf('UserKnownHostsFile=/dev/null') + 1);
    args.splice(batch, 1);
    args[args.indexOf('morgana@127.0.0.1')] = 'pw@127.0.0.1';
    args.splice(args.indexOf('-i'), 2);
    args.splice(args.length - 2, 0, '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1');
    const { stdout } = await run(SSH, args, { env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } });
    expect(stdout).toBe('by password\n');
  });

  for (const [answer, expected] of [
    ['open sesame', 'accepts'],
    ['wrong', 'refuses'],
  ] as const) {
    it(`${expected} a keyboard-interactive login answered through SSH_ASKPASS (RFC 4256)`, async () => {
      const askpass = join(dir, `askpass-${expected}.sh`);
      writeFileSync(askpass, `#!/bin/sh\necho '${answer}'\n`, { mode: 0o755 });
      const args = sshArgs('aes128-gcm@openssh.com', 'echo interactive').filter((arg) => arg !== 'BatchMode=yes');
      args.splice(args.indexOf('-o', args.indexOf('UserKnownHostsFile=/dev/null') + 1), 1);
      args[args.indexOf('morgana@127.0.0.1')] = 'pw@127.0.0.1';
      args.splice(args.indexOf('-i'), 2);
      args.splice(args.length - 2, 0, '-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1');
      const env = { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
      if (expected === 'accepts') {
        const { stdout } = await run(SSH, args, { env });
        expect(stdout).toBe('interactive\n');
        expect(connections[connections.length - 1].user()).toBe('pw');
      } else {
        await expect(run(SSH, args, { env })).rejects.toMatchObject({ code: 255 });
        expect(connections[connections.length - 1].stats()['auth-failure']).toBeGreaterThanOrEqual(1);
      }
    });
  }

  it('carries ssh -W through a direct-tcpip channel to a loopback TCP service (RFC 4254 §7.2)', async () => {
    const echo = stack.tcp.listen(0, {
      address: parseIpv4('127.0.0.1'),
      onConnection: (flow) => {
        void (async () => {
          for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) await flow.write(chunk);
          await flow.close();
        })();
      },
    });
    while (echo.port === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const args = sshArgs('chacha20-poly1305@openssh.com', '');
    args.pop();
    args.pop();
    args.push('-W', `127.0.0.1:${echo.port}`, 'morgana@127.0.0.1');
    const data = randomBytes(1024 * 1024);
    const child = spawn(SSH, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
    child.stdin.end(data);
    expect(await new Promise<number | null>((resolve) => child.on('close', resolve))).toBe(0);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    echo.close();
  });

  it('listens for ssh -R 0 on a port of its choice, carries 1 MB through forwarded-tcpip intact, and releases it on -O cancel and on exit (RFC 4254 §7)', async () => {
    const echo = stack.tcp.listen(0, {
      address: parseIpv4('127.0.0.1'),
      onConnection: (flow) => {
        void (async () => {
          for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) await flow.write(chunk);
          await flow.close();
        })().catch(() => flow.abort());
      },
    });
    while (echo.port === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const control = join(dir, 'control');
    const base = sshArgs('aes128-gcm@openssh.com', '');
    base.splice(base.length - 2, 2);
    // The first value of an option wins in ssh: INFO (for "Allocated port") replaces ERROR.
    base[base.indexOf('LogLevel=ERROR')] = 'LogLevel=INFO';
    base.push('-o', `ControlPath=${control}`);
    const spec = `0:127.0.0.1:${echo.port}`;
    const args = [...base, '-o', 'ExitOnForwardFailure=yes', '-o', 'ControlMaster=yes', '-N', '-R', spec, 'morgana@127.0.0.1'];
    const master = spawn(SSH, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => master.on('close', resolve));
    try {
      let stderr = '';
      const allocated = await new Promise<number>((resolve, reject) => {
        master.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const match = /Allocated port (\d+)/.exec(stderr);
          if (match) resolve(Number(match[1]));
        });
        void exited.then(() => reject(new Error(`ssh exited: ${stderr}`)));
      });
      const session = connections[connections.length - 1];
      expect(session.remoteForwards()).toBe(1);
      const data = randomBytes(1024 * 1024);
      const flow = await stack.tcp.connect(parseIpv4('127.0.0.1'), allocated);
      const hash = createHash('sha256');
      let received = 0;
      const reading = (async () => {
        for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) {
          hash.update(chunk);
          received += chunk.length;
        }
      })();
      await flow.write(data);
      await flow.shutdown();
      await reading;
      await flow.close();
      expect(received).toBe(data.length);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(session.stats()['forward-connections']).toBe(1);

      // The mux finds a forward by its spec as given (port 0) and cancels the allocated port.
      await run(SSH, [...base, '-O', 'cancel', '-R', spec, 'morgana@127.0.0.1']);
      // ssh sends cancel-tcpip-forward without want-reply: -O cancel returns before the server acts.
      for (let i = 0; i < 500 && session.remoteForwards() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(session.remoteForwards()).toBe(0);
      expect(session.stats()['forward-cancelled']).toBe(1);
      await expect(stack.tcp.connect(parseIpv4('127.0.0.1'), allocated)).rejects.toThrow();

      // A second forward goes away with the session.
      await run(SSH, [...base, '-O', 'forward', '-R', spec, 'morgana@127.0.0.1']);
      expect(session.remoteForwards()).toBe(1);
      await run(SSH, [...base, '-O', 'exit', 'morgana@127.0.0.1']);
      await session.closed;
      expect(session.remoteForwards()).toBe(0);
    } finally {
      master.kill();
      await exited;
      echo.close();
    }
  });

  it('reports exit status 127 and stderr for an unknown command', async () => {
    const error = await run(SSH, sshArgs('aes128-gcm@openssh.com', 'sh -c true')).catch((e: unknown) => e as { code: number; stderr: string });
    expect(error).toMatchObject({ code: 127 });
    expect((error as { stderr: string }).stderr).toContain('command not found');
  });

  it('refuses a key that is not authorized', async () => {
    const otherKey = join(dir, 'other');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const args = sshArgs('aes128-gcm@openssh.com', 'echo hello');
    args[3] = otherKey;
    await expect(run(SSH, args)).rejects.toMatchObject({ code: 255 });
  });
});
