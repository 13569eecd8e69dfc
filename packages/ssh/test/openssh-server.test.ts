import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSystemClock, parseIpv4, utf8Decode } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection, createServer } from 'node:net';
import { createHash } from 'node:crypto';
import {
  type CipherName,
  KEX_NAMES,
  type KexName,
  MAC_NAMES,
  type MacName,
  type SshClient,
  type SshClientOptions,
  blobAlgorithm,
  connectSsh,
  parseAuthorizedKeys,
  parseOpenSshPrivateKey,
} from '../src/index.js';

const run = promisify(execFile);
const SSHD = '/usr/sbin/sshd';

function peerPresent(): boolean {
  if (existsSync(SSHD)) return true;
  if (process.env.MORGANA_INTEROP === 'required') throw new Error(`${SSHD} is required for the SSH interop tests (apt-get install openssh-server)`);
  console.log(`skipping: ${SSHD} is not installed (apt-get install openssh-server)`);
  return false;
}

const present = peerPresent();
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (present && !isRoot) {
  if (process.env.MORGANA_INTEROP === 'required') throw new Error('the sshd interop tests must run as root (sshd privilege separation)');
  console.log('skipping: sshd needs root to run as its own user here');
}

describe.skipIf(!present || !isRoot)('morgana client against OpenSSH sshd', () => {
  const crypto = createNodeSshCrypto();
  const stack = createSocketStack();
  const dir = mkdtempSync(join(tmpdir(), 'morgana-sshd-'));
  const userKey = join(dir, 'id_ed25519');
  const port = 20000 + (process.pid % 20000);
  let sshd: ChildProcess | undefined;
  let log = '';
  let hostKeyPublic = '';
  let hostRsaPublic = '';
  const rsaUserKey = join(dir, 'id_rsa');
  // A throwaway local account for password login, deleted in afterAll whatever happens.
  const passwordUser = `mgpw${process.pid}`;
  const password = `pw-${process.pid}-${Date.now()}`;
  let userCreated = false;

  beforeAll(async () => {
    mkdirSync('/run/sshd', { recursive: true });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'host_rsa')]);
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsaUserKey]);
    hostRsaPublic = readFileSync(join(dir, 'host_rsa.pub'), 'utf8');
    hostKeyPublic = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8');
    writeFileSync(join(dir, 'authorized_keys'), `${readFileSync(`${userKey}.pub`, 'utf8')}${readFileSync(`${rsaUserKey}.pub`, 'utf8')}`);
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_ed25519')}`,
        `HostKey ${join(dir, 'host_rsa')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'StrictModes no',
        // Without PAM, sshd checks passwords against /etc/shadow itself.
        'UsePAM no',
        'PasswordAuthentication yes',
        'AllowTcpForwarding yes',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    await run('userdel', [passwordUser]).catch(() => undefined);
    await run('useradd', ['-M', '-d', '/', '-s', '/bin/sh', passwordUser]);
    userCreated = true;
    const chpasswd = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
    chpasswd.stdin?.end(`${passwordUser}:${password}\n`);
    if ((await new Promise<number | null>((resolve) => chpasswd.on('close', resolve))) !== 0) throw new Error('chpasswd failed');
    const version = (await run('ssh', ['-V'])).stderr.trim();
    console.log(`peer: ${SSHD} (${version})`);
    sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    for (let i = 0; i < 200 && !log.includes('Server listening'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    if (!log.includes('Server listening')) throw new Error(`sshd did not start: ${log}`);
  });

  afterAll(async () => {
    sshd?.kill();
    if (userCreated) await run('userdel', [passwordUser]);
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const login = async (cipher: string, mac?: string, rekeyBytes?: number, kex?: KexName, extra: Partial<SshClientOptions> = {}): Promise<SshClient> => {
    const flow = await stack.tcp.connect(parseIpv4('127.0.0.1'), port);
    const expected = parseAuthorizedKeys(hostKeyPublic)[0];
    return connectSsh(flow, {
      crypto,
      clock: createSystemClock(),
      user: 'root',
      privateKey: parseOpenSshPrivateKey(crypto, readFileSync(userKey, 'utf8')),
      verifyHostKey: (algorithm, blob) => blobAlgorithm(blob) === algorithm && Buffer.from(blob).equals(expected.blob),
      transport: {
        ciphers: [cipher as CipherName],
        ...(mac ? { macs: [mac as MacName] } : {}),
        ...(rekeyBytes ? { rekeyBytes } : {}),
        ...(kex ? { kexAlgorithms: [kex] } : {}),
      },
      ...extra,
    });
  };

  /** A loopback TCP echo server outside SSH; resolves to its port and a close function. */
  const echoServer = async (): Promise<{ port: number; close: () => void }> => {
    const server = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('echo server has no port');
    return { port: address.port, close: () => server.close() };
  };
  const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

  for (const cipher of ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes256-gcm@openssh.com']) {
    it(`logs in with an ed25519 key file and runs a command over ${cipher}`, async () => {
      const client = await login(cipher);
      expect(client.transport.negotiated?.strict).toBe(true);
      expect(client.transport.serverSigAlgs).toContain('ssh-ed25519');
      const result = await client.exec('echo hello');
      expect(utf8Decode(result.stdout)).toBe('hello\n');
      expect(result.exitStatus).toBe(0);
      await client.close();
    });
  }

  for (const [cipher, mac] of [...MAC_NAMES.map((name) => ['aes128-ctr', name]), ['aes256-ctr', 'hmac-sha2-512-etm@openssh.com'], ['aes256-ctr', 'hmac-sha2-512']]) {
    it(`logs in and runs a command over ${cipher} with ${mac}`, async () => {
      const client = await login(cipher, mac);
      expect(client.transport.negotiated?.macClientToServer).toBe(mac);
      expect(utf8Decode((await client.exec('echo hello')).stdout)).toBe('hello\n');
      await client.close();
    });
  }

  for (const algorithm of ['rsa-sha2-512', 'rsa-sha2-256'] as const) {
    it(`verifies an RSA host key and logs in with an RSA key file as ${algorithm} (RFC 8332)`, async () => {
      const flow = await stack.tcp.connect(parseIpv4('127.0.0.1'), port);
      const expected = parseAuthorizedKeys(hostRsaPublic)[0];
      const client = await connectSsh(flow, {
        crypto,
        clock: createSystemClock(),
        user: 'root',
        privateKey: parseOpenSshPrivateKey(crypto, readFileSync(rsaUserKey, 'utf8'), algorithm),
        verifyHostKey: (hostAlgorithm, blob) => hostAlgorithm === algorithm && Buffer.from(blob).equals(expected.blob),
        transport: { hostKeyAlgorithms: [algorithm] },
      });
      expect(client.transport.negotiated?.hostKey).toBe(algorithm);
      expect(utf8Decode((await client.exec('echo rsa')).stdout)).toBe('rsa\n');
      await client.close();
    });
  }

  for (const kex of KEX_NAMES) {
    it(`negotiates ${kex} when it is the only method offered, and rekeys with it`, async () => {
      const client = await login('aes128-gcm@openssh.com', undefined, 512 * 1024, kex);
      expect(client.transport.negotiated?.kex).toBe(kex);
      const data = crypto.randomBytes(1024 * 1024);
      const result = await client.exec('cat', data);
      expect(sha256(result.stdout)).toBe(sha256(data));
      expect(client.transport.stats()['rekey-bytes']).toBeGreaterThanOrEqual(1);
      await client.close();
    });
  }

  it('logs in by password as a local user and runs commands (RFC 4252 §8)', async () => {
    const client = await login('chacha20-poly1305@openssh.com', undefined, undefined, undefined, { user: passwordUser, privateKey: undefined, password });
    const result = await client.exec('id -un; echo $HOME');
    expect(utf8Decode(result.stdout)).toBe(`${passwordUser}\n/\n`);
    expect(result.exitStatus).toBe(0);
    expect((await client.exec('exit 3')).exitStatus).toBe(3);
    await client.close();
    expect(log).toContain(`Accepted password for ${passwordUser}`);
  });

  it('is refused with a wrong password', async () => {
    await expect(login('aes128-gcm@openssh.com', undefined, undefined, undefined, { user: passwordUser, privateKey: undefined, password: 'wrong' })).rejects.toThrow(
      'authentication failed',
    );
  });

  it('moves 2 MB intact through a direct-tcpip channel to a local echo server (RFC 4254 §7.2)', async () => {
    const echo = await echoServer();
    const client = await login('aes128-gcm@openssh.com');
    try {
      const channel = await client.forward('127.0.0.1', echo.port);
      const data = crypto.randomBytes(2 * 1024 * 1024);
      const writing = channel.write(data).then(() => channel.shutdown());
      const received: Uint8Array[] = [];
      let total = 0;
      while (total < data.length) {
        const chunk = await channel.read();
        if (chunk === null) break;
        received.push(chunk);
        total += chunk.length;
      }
      await writing;
      expect(sha256(Buffer.concat(received))).toBe(sha256(data));
      await channel.close();
    } finally {
      await client.close();
      echo.close();
    }
  });

  it('is refused a direct-tcpip channel to a closed port', async () => {
    const echo = await echoServer();
    echo.close();
    const client = await login('aes128-gcm@openssh.com');
    await expect(client.forward('127.0.0.1', echo.port)).rejects.toThrow('channel open failed (2)');
    await client.close();
  });

  it('has sshd listen for it (tcpip-forward) and carries 1 MB from a local connection back and forth (RFC 4254 §7.1)', async () => {
    const client = await login('aes128-gcm@openssh.com');
    const origins: string[] = [];
    const forward = await client.remoteForward('127.0.0.1', 0, (channel, origin) => {
      origins.push(`${origin.address}:${origin.port} from ${origin.originatorAddress}`);
      void (async () => {
        for (let chunk = await channel.read(); chunk !== null; chunk = await channel.read()) await channel.write(chunk);
        await channel.shutdown();
        await channel.close();
      })();
    });
    expect(forward.port).toBeGreaterThan(0);
    const data = crypto.randomBytes(1024 * 1024);
    const socket = createConnection(forward.port, '127.0.0.1');
    const hash = createHash('sha256');
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
    });
    socket.end(data);
    await new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    expect(received).toBe(data.length);
    expect(hash.digest('hex')).toBe(sha256(data));
    expect(origins).toEqual([`127.0.0.1:${forward.port} from 127.0.0.1`]);
    await forward.cancel();
    const refused = createConnection(forward.port, '127.0.0.1');
    await expect(new Promise((resolve, reject) => refused.on('connect', resolve).on('error', reject))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await client.close();
  });

  it('pipes 4 MB through a remote cat, rekeying every megabyte, and reads the exit status of false', async () => {
    const client = await login('aes128-gcm@openssh.com', undefined, 1024 * 1024);
    const data = crypto.randomBytes(4 * 1024 * 1024);
    const result = await client.exec('cat', data);
    expect(Buffer.from(result.stdout).equals(Buffer.from(data))).toBe(true);
    expect(client.transport.stats()['rekey-bytes']).toBeGreaterThanOrEqual(3);
    expect((await client.exec('false')).exitStatus).toBe(1);
    await client.close();
  });

  it('is refused with a key sshd does not know', async () => {
    const flow = await stack.tcp.connect(parseIpv4('127.0.0.1'), port);
    const other = join(dir, 'other');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    await expect(
      connectSsh(flow, {
        crypto,
        clock: createSystemClock(),
        user: 'root',
        privateKey: parseOpenSshPrivateKey(crypto, readFileSync(other, 'utf8')),
        verifyHostKey: () => true,
      }),
    ).rejects.toThrow('authentication failed');
  });
});
