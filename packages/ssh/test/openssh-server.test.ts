import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSystemClock, parseIpv4, utf8Decode } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CipherName, type MacName, type SshClient, blobAlgorithm, connectSsh, parseAuthorizedKeys, parseOpenSshPrivateKey } from '../src/index.js';

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
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
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
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const login = async (cipher: string, mac?: string, rekeyBytes?: number): Promise<SshClient> => {
    const flow = await stack.tcp.connect(parseIpv4('127.0.0.1'), port);
    const expected = parseAuthorizedKeys(hostKeyPublic)[0];
    return connectSsh(flow, {
      crypto,
      clock: createSystemClock(),
      user: 'root',
      privateKey: parseOpenSshPrivateKey(crypto, readFileSync(userKey, 'utf8')),
      verifyHostKey: (algorithm, blob) => blobAlgorithm(blob) === algorithm && Buffer.from(blob).equals(expected.blob),
      transport: { ciphers: [cipher as CipherName], ...(mac ? { macs: [mac as MacName] } : {}), ...(rekeyBytes ? { rekeyBytes } : {}) },
    });
  };

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

  for (const [cipher, mac] of [
    ['aes128-ctr', 'hmac-sha2-256-etm@openssh.com'],
    ['aes256-ctr', 'hmac-sha2-512'],
  ]) {
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
