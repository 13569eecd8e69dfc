import { type Clock, type Flow, createSystemClock, parseIpv4, utf8Decode, utf8Encode } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import { VirtualClock } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type InteractivePrompt,
  type SshServerOptions,
  NONE_CIPHER,
  connectSsh,
  createTransport,
  emitKexInit,
  framePacket,
  formatPublicKey,
  generateEd25519Key,
  parseAuthorizedKeys,
  serveSshConnection,
} from '../src/index.js';
import { createFlowPair } from './memory-flow.js';

const crypto = createNodeSshCrypto();
const hostKey = generateEd25519Key(crypto);
const userKey = generateEd25519Key(crypto);
const authorized = parseAuthorizedKeys(`# morgana test key\n${formatPublicKey(userKey, 'user@test')}\n`);

function server(flow: Flow, extra: Partial<SshServerOptions> = {}, clock: Clock = createSystemClock()) {
  return serveSshConnection(flow, {
    crypto,
    clock,
    hostKey,
    authorizedKeys: (user) => (user === 'alice' ? authorized : []),
    checkPassword: (user, password) => user === 'alice' && password === 'secret',
    ...extra,
  });
}

function client(flow: Flow, extra: Partial<Parameters<typeof connectSsh>[1]> = {}, clock: Clock = createSystemClock()) {
  return connectSsh(flow, {
    crypto,
    clock,
    user: 'alice',
    privateKey: userKey,
    verifyHostKey: (_algorithm, blob) => utf8Decode(blob) === utf8Decode(hostKey.publicBlob),
    ...extra,
  });
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('SSH between the morgana client and server', () => {
  it('logs in with an ed25519 key under strict KEX and runs echo, cat and stats', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b);
    const c = await client(a);
    expect(c.transport.negotiated?.strict).toBe(true);
    expect(c.transport.serverSigAlgs).toEqual(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256']);
    expect(utf8Decode((await c.exec('echo hello  world')).stdout)).toBe('hello world\n');
    const data = crypto.randomBytes(300_000);
    const cat = await c.exec('cat', data);
    expect(Buffer.from(cat.stdout).equals(Buffer.from(data))).toBe(true);
    expect(cat.exitStatus).toBe(0);
    const stats = JSON.parse(utf8Decode((await c.exec('stats')).stdout)) as Record<string, number>;
    expect(stats['kex-done']).toBe(1);
    const unknown = await c.exec('rm -rf /');
    expect(unknown.exitStatus).toBe(127);
    expect(utf8Decode(unknown.stderr)).toBe('rm: command not found\n');
    expect(srv.user()).toBe('alice');
    await c.close();
    expect(await srv.closed).toBeNull();
  });

  it('closes its end of the connection when the peer disconnects or hangs up (RFC 4253 §11.1)', async () => {
    const spied = (flow: Flow, onClose: () => void): Flow => ({
      ...flow,
      close: () => {
        onClose();
        return flow.close();
      },
    });
    let closed = 0;
    const [a, b] = createFlowPair();
    const srv = server(spied(b, () => closed++));
    const c = await client(a);
    await c.close();
    expect(await srv.closed).toBeNull();
    for (let i = 0; i < 20 && closed === 0; i++) await tick();
    expect(closed).toBe(1);

    let closedAfterEof = 0;
    const [x, y] = createFlowPair();
    const srv2 = server(spied(y, () => closedAfterEof++));
    await client(x);
    await x.close();
    expect(await srv2.closed).toBeNull();
    for (let i = 0; i < 20 && closedAfterEof === 0; i++) await tick();
    expect(closedAfterEof).toBe(1);
  });

  it('moves data through small windows with backpressure (RFC 4254 §5.2)', async () => {
    const [a, b] = createFlowPair();
    server(b, { channels: { windowSize: 8192, maxPacketSize: 1024 } });
    const c = await client(a, { channels: { windowSize: 4096, maxPacketSize: 512 } });
    const data = crypto.randomBytes(100_000);
    expect(Buffer.from((await c.exec('cat', data)).stdout).equals(Buffer.from(data))).toBe(true);
    await c.close();
  });

  it('authenticates by keyboard-interactive with one hidden password prompt and refuses a wrong answer (RFC 4256)', async () => {
    const seen: InteractivePrompt[][] = [];
    const [a, b] = createFlowPair();
    const srv = server(b);
    const c = await client(a, {
      privateKey: undefined,
      keyboardInteractive: (prompts) => {
        seen.push([...prompts]);
        return ['secret'];
      },
    });
    expect(seen).toEqual([[{ prompt: 'Password: ', echo: false }]]);
    expect(srv.user()).toBe('alice');
    expect((await c.exec('echo ok')).exitStatus).toBe(0);
    await c.close();
    const [x, y] = createFlowPair();
    const refused = server(y);
    await expect(client(x, { privateKey: undefined, keyboardInteractive: () => ['wrong'] })).rejects.toThrow('authentication failed');
    expect(refused.stats()['auth-failure']).toBe(1);
    const [p, q] = createFlowPair();
    server(q);
    await expect(client(p, { privateKey: undefined, keyboardInteractive: () => [] })).rejects.toThrow('expected 1 keyboard-interactive answers');
  });

  it('authenticates by password and refuses a wrong one', async () => {
    const [a, b] = createFlowPair();
    server(b);
    const c = await client(a, { privateKey: undefined, password: 'secret' });
    expect((await c.exec('echo ok')).exitStatus).toBe(0);
    await c.close();
    const [x, y] = createFlowPair();
    server(y);
    await expect(client(x, { privateKey: undefined, password: 'wrong' })).rejects.toThrow('authentication failed');
  });

  it('disconnects after maxAuthAttempts failures (RFC 4252 §4)', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b, { maxAuthAttempts: 2 });
    await expect(client(a, { privateKey: generateEd25519Key(crypto), password: 'wrong' })).rejects.toThrow();
    await srv.closed;
    expect(srv.stats()['auth-attempts-exceeded']).toBe(1);
  });

  it('rekeys after rekeyBytes and keeps the data intact (RFC 4253 §9)', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b, { transport: { rekeyBytes: 64 * 1024 } });
    const c = await client(a, { transport: { rekeyBytes: 64 * 1024 } });
    const data = crypto.randomBytes(1_000_000);
    expect(Buffer.from((await c.exec('cat', data)).stdout).equals(Buffer.from(data))).toBe(true);
    expect(c.transport.stats()['kex-done']).toBeGreaterThan(5);
    expect(srv.transport.stats()['kex-done']).toBeGreaterThan(5);
    expect(c.transport.sessionId).toEqual(srv.transport.sessionId);
    await c.close();
  });

  it('rekeys after rekeyIntervalMs', async () => {
    const clock = new VirtualClock();
    const [a, b] = createFlowPair();
    const srv = server(b, {}, clock);
    const c = await client(a, {}, clock);
    clock.advance(3_600_000);
    for (let i = 0; i < 20; i++) await tick();
    expect(srv.transport.stats()['rekey-time']).toBe(1);
    expect(c.transport.stats()['kex-done']).toBe(2);
    expect(utf8Decode((await c.exec('echo after')).stdout)).toBe('after\n');
  });

  it('opens at most maxChannels channels', async () => {
    const [a, b] = createFlowPair();
    server(b, { channels: { maxChannels: 1 } });
    const c = await client(a);
    const first = await c.startExec('cat');
    await expect(c.exec('echo no')).rejects.toThrow('channel open failed (4)');
    await first.shutdown();
    await first.close();
    await c.close();
  });

  it('forwards direct-tcpip channels through the given Tcp (RFC 4254 §7.2)', async () => {
    const stack = createSocketStack();
    const listener = stack.tcp.listen(0, {
      address: parseIpv4('127.0.0.1'),
      onConnection: (flow) => {
        void (async () => {
          for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) await flow.write(utf8Encode(utf8Decode(chunk).toUpperCase()));
          await flow.close();
        })();
      },
    });
    while (listener.port === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const [a, b] = createFlowPair();
    server(b, { tcp: stack.tcp });
    const c = await client(a);
    const channel = await c.forward('127.0.0.1', listener.port);
    await channel.write(utf8Encode('shout'));
    expect(utf8Decode((await channel.read()) ?? new Uint8Array(0))).toBe('SHOUT');
    await channel.shutdown();
    expect(await channel.read()).toBeNull();
    await expect(c.forward('example.invalid', 80)).rejects.toThrow('channel open failed (2)');
    await c.close();
    await stack.close();
  });

  it('refuses forwarding when no Tcp is given', async () => {
    const [a, b] = createFlowPair();
    server(b);
    const c = await client(a);
    await expect(c.forward('127.0.0.1', 1)).rejects.toThrow('channel open failed (1)');
    await c.close();
  });
});

describe('SSH under arbitrary fragmentation, rekey thresholds and command sequences', () => {
  it('keeps a sealed buffer untouched until the flow took it, and seals writes beyond sealBufferSize apart', async () => {
    // A flow that takes its bytes only when its write resolves, a turn later: a transport
    // that reused its seal buffer any earlier would send corrupted packets.
    const lazy = (flow: Flow): Flow => ({
      ...flow,
      write: (data) =>
        new Promise<void>((resolve, reject) => {
          setTimeout(() => flow.write(data.slice()).then(resolve, reject), 0);
        }),
    });
    for (const sealBufferSize of [512 * 1024, 100]) {
      const [a, b] = createFlowPair();
      server(lazy(b), { transport: { sealBufferSize } });
      const c = await client(lazy(a), { transport: { sealBufferSize } });
      const data = crypto.randomBytes(700_000);
      // Window adjusts and data go out while earlier writes are still held by the flow.
      const [first, second] = await Promise.all([c.exec('cat', data), c.exec('echo both at once')]);
      expect(Buffer.from(first.stdout).equals(Buffer.from(data))).toBe(true);
      expect(utf8Decode(second.stdout)).toBe('both at once\n');
      await c.close();
    }
  });

  it('returns every command output intact whatever the chunking and rekeying', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 2000, max: 200_000 }),
        fc.constantFrom(...(['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes256-ctr'] as const)),
        fc.array(fc.oneof(fc.record({ kind: fc.constant('cat' as const), size: fc.integer({ min: 0, max: 40_000 }) }), fc.record({ kind: fc.constant('echo' as const), word: fc.stringMatching(/^[a-z]{1,10}$/) })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (maxPiece, rekeyBytes, cipher, commands) => {
          let state = maxPiece;
          const split = (left: number): number => {
            state = (state * 1103515245 + 12345) % 2147483648;
            return 1 + (state % Math.min(left, maxPiece));
          };
          const [a, b] = createFlowPair(split);
          server(b, { transport: { rekeyBytes } });
          const c = await client(a, { transport: { rekeyBytes, ciphers: [cipher] } });
          for (const command of commands) {
            if (command.kind === 'cat') {
              const data = crypto.randomBytes(command.size);
              expect(Buffer.from((await c.exec('cat', data)).stdout).equals(Buffer.from(data))).toBe(true);
            } else {
              expect(utf8Decode((await c.exec(`echo ${command.word}`)).stdout)).toBe(`${command.word}\n`);
            }
          }
          await c.close();
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('SSH transport limits and hostile input', () => {
  it('closes when the key exchange does not finish within handshakeTimeoutMs', async () => {
    const clock = new VirtualClock();
    const [, b] = createFlowPair();
    const srv = server(b, {}, clock);
    clock.advance(30_000);
    expect(await srv.closed).toMatchObject({ name: expect.stringMatching(/Timeout/) as unknown });
  });

  it('disconnects a client that does not authenticate within authTimeoutMs', async () => {
    const clock = new VirtualClock();
    const [a, b] = createFlowPair();
    const srv = server(b, { authTimeoutMs: 5000 }, clock);
    const raw = createTransport(a, { role: 'client', verifyHostKey: () => true }, { crypto, clock });
    await raw.start();
    clock.advance(5000);
    await srv.closed;
    expect(srv.stats()['auth-timeout']).toBe(1);
  });

  it('ends with KEY_EXCHANGE_FAILED when no cipher is shared (RFC 4253 §7.1)', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b, { transport: { ciphers: ['chacha20-poly1305@openssh.com'] } });
    await expect(client(a, { transport: { ciphers: ['aes128-gcm@openssh.com'] } })).rejects.toThrow('no matching cipher');
    expect(String(await srv.closed)).toContain('no matching cipher');
  });

  it('drops the connection on a packet longer than maxPacketLength (RFC 4253 §6.1)', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b, { transport: { maxPacketLength: 35_000 } });
    await a.write(utf8Encode('SSH-2.0-test\r\n'));
    await a.write(Uint8Array.of(0, 0, 0x88, 0xbc, 4));
    await srv.closed;
    expect(srv.stats()['decode-bad-packet-length']).toBe(1);
  });

  it('rejects a version line longer than maxVersionLineLength (RFC 4253 §4.2)', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b);
    await a.write(utf8Encode(`SSH-2.0-${'x'.repeat(300)}`));
    expect(await srv.closed).toMatchObject({ code: 'LIMIT' });
  });

  it('lets a client skip at most maxPreVersionLines lines before the server version', async () => {
    const [a, b] = createFlowPair();
    const result = client(a);
    await b.write(utf8Encode('banner\r\n'.repeat(21)));
    await expect(result).rejects.toThrow('too many lines');
  });

  const kexInit = (kexAlgorithms: string[]): Uint8Array =>
    framePacket(
      NONE_CIPHER,
      emitKexInit({
        cookie: new Uint8Array(16),
        kexAlgorithms,
        hostKeyAlgorithms: ['ssh-ed25519'],
        ciphersClientToServer: ['aes128-gcm@openssh.com'],
        ciphersServerToClient: ['aes128-gcm@openssh.com'],
        macsClientToServer: ['hmac-sha2-256'],
        macsServerToClient: ['hmac-sha2-256'],
        compressionClientToServer: ['none'],
        compressionServerToClient: ['none'],
        firstKexPacketFollows: false,
      }),
      (n) => new Uint8Array(n),
    );
  // SSH_MSG_IGNORE as an unencrypted packet: length 12, padding 10.
  const ignore = Uint8Array.of(0, 0, 0, 12, 10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  it('refuses a strict-KEX KEXINIT that is not the first packet (Terrapin countermeasure)', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b);
    await a.write(utf8Encode('SSH-2.0-test\r\n'));
    await a.write(ignore);
    await a.write(kexInit(['curve25519-sha256', 'kex-strict-c-v00@openssh.com']));
    expect(String(await srv.closed)).toContain('KEXINIT was not the first packet');
  });

  it('allows IGNORE before KEXINIT from a peer without strict KEX (RFC 4253 §11.2)', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b);
    await a.write(utf8Encode('SSH-2.0-test\r\n'));
    await a.write(ignore);
    await a.write(kexInit(['curve25519-sha256']));
    await tick();
    expect(srv.transport.negotiated?.strict).toBe(false);
    expect(srv.transport.stats()['ignored-message']).toBe(1);
  });

  it('refuses a non-KEX message during a strict initial key exchange', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b);
    await a.write(utf8Encode('SSH-2.0-test\r\n'));
    await a.write(kexInit(['curve25519-sha256', 'kex-strict-c-v00@openssh.com']));
    await a.write(ignore);
    expect(String(await srv.closed)).toContain('strict key exchange');
  });

  it('survives arbitrary bytes before the key exchange', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (bytes, withVersion) => {
        const [a, b] = createFlowPair();
        const srv = server(b);
        if (withVersion) await a.write(utf8Encode('SSH-2.0-fuzz\r\n'));
        await a.write(bytes);
        await a.shutdown();
        const error = await srv.closed;
        expect(error === null || error instanceof Error).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('survives arbitrary bytes after the key exchange and counts the drop', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 64, maxLength: 600 }), async (bytes) => {
        const [a, b] = createFlowPair();
        const srv = server(b);
        const c = await client(a);
        await a.write(bytes);
        const error = await srv.closed;
        expect(error).toBeInstanceOf(Error);
        const stats = srv.stats();
        expect((stats['bad-mac'] ?? 0) + (stats['decode-bad-packet-length'] ?? 0)).toBeGreaterThan(0);
        void c;
      }),
      { numRuns: 10 },
    );
  });
});
