import { type Flow, createSystemClock, utf8Decode } from '@morgana/core';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type KexName,
  MODP14_PRIME,
  type SshCrypto,
  connectSsh,
  exchangeHash,
  formatPublicKey,
  generateEd25519Key,
  isValidModp14Public,
  kexMethod,
  parseAuthorizedKeys,
  serveSshConnection,
} from '../src/index.js';
import { createFlowPair } from './memory-flow.js';

const crypto = createNodeSshCrypto();
const hostKey = generateEd25519Key(crypto);
const userKey = generateEd25519Key(crypto);
const authorized = parseAuthorizedKeys(formatPublicKey(userKey, 'user@test'));
const GROUP14: KexName = 'diffie-hellman-group14-sha256';

const toBigInt = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));
const fromBigInt = (value: bigint, length = 0): Uint8Array => {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Uint8Array.from(Buffer.from(hex.padStart(length * 2, '0'), 'hex'));
};
const P = toBigInt(MODP14_PRIME);

function server(flow: Flow, serverCrypto: SshCrypto = crypto, kexAlgorithms: readonly KexName[] = [GROUP14]) {
  return serveSshConnection(flow, { crypto: serverCrypto, clock: createSystemClock(), hostKey, authorizedKeys: () => authorized, transport: { kexAlgorithms } });
}

function client(flow: Flow, clientCrypto: SshCrypto = crypto, kexAlgorithms: readonly KexName[] = [GROUP14], rekeyBytes?: number) {
  return connectSsh(flow, {
    crypto: clientCrypto,
    clock: createSystemClock(),
    user: 'alice',
    privateKey: userKey,
    verifyHostKey: () => true,
    transport: { kexAlgorithms, ...(rekeyBytes ? { rekeyBytes } : {}) },
  });
}

/** A provider whose group 14 public value is `value`: a peer trying to force K. */
const forcing = (value: Uint8Array): SshCrypto => ({ ...crypto, modp14Generate: () => ({ privateKey: Uint8Array.of(7), publicKey: value }) });

describe('diffie-hellman-group14-sha256 (RFC 8268, RFC 4253 §8)', () => {
  it('accepts exactly the public values 1 < e < p-1, with or without leading zeros', () => {
    const interesting = fc.oneof(
      fc.bigInt({ min: 0n, max: 300n }),
      fc.bigInt({ min: P - 300n, max: P + 300n }),
      fc.bigInt({ min: 0n, max: (1n << 2056n) - 1n }),
    );
    fc.assert(
      fc.property(interesting, fc.nat(3), (value, zeros) => {
        const bytes = fromBigInt(value);
        const padded = new Uint8Array(bytes.length + zeros);
        padded.set(bytes, zeros);
        expect(isValidModp14Public(padded)).toBe(value > 1n && value < P - 1n);
      }),
      { numRuns: 500 },
    );
    for (const refused of [0n, 1n, P - 1n, P, P + 1n]) expect(isValidModp14Public(fromBigInt(refused))).toBe(false);
    for (const accepted of [2n, P - 2n]) expect(isValidModp14Public(fromBigInt(accepted))).toBe(true);
    expect(isValidModp14Public(new Uint8Array(0))).toBe(false);
  });

  it('agrees on K with the peer and refuses bad peer values before computing anything', () => {
    const method = kexMethod(GROUP14);
    const a = method.generate(crypto);
    const b = method.generate(crypto);
    expect(isValidModp14Public(a.publicKey)).toBe(true);
    const k = method.agree(crypto, a.privateKey, b.publicKey);
    expect(toBigInt(k)).toBe(toBigInt(method.agree(crypto, b.privateKey, a.publicKey)));
    // K = f^x mod p, checked with a naive square-and-multiply over bigints.
    let expected = 1n;
    let base = toBigInt(b.publicKey) % P;
    for (let exponent = toBigInt(a.privateKey); exponent > 0n; exponent >>= 1n) {
      if (exponent & 1n) expected = (expected * base) % P;
      base = (base * base) % P;
    }
    expect(toBigInt(k)).toBe(expected);
    for (const bad of [0n, 1n, P - 1n, P]) expect(() => method.agree(crypto, a.privateKey, fromBigInt(bad))).toThrow('1 < e < p-1');
  });

  it('hashes e and f as mpints, unlike the ECDH strings (RFC 4253 §8)', () => {
    const base = {
      clientVersion: 'SSH-2.0-a',
      serverVersion: 'SSH-2.0-b',
      clientKexInit: Uint8Array.of(20),
      serverKexInit: Uint8Array.of(20),
      hostKeyBlob: Uint8Array.of(1, 2),
      // A leading high bit: the mpint gains a zero byte, the string does not.
      clientPublic: Uint8Array.of(0x80, 1),
      serverPublic: Uint8Array.of(5),
      sharedSecret: Uint8Array.of(9),
    };
    const asString = exchangeHash(crypto, base);
    const asMpint = exchangeHash(crypto, { ...base, publicEncoding: 'mpint' });
    expect(Buffer.from(asMpint).equals(Buffer.from(asString))).toBe(false);
    const manual = Buffer.concat([
      ...['SSH-2.0-a', 'SSH-2.0-b'].map((text) => Buffer.concat([Buffer.from([0, 0, 0, text.length]), Buffer.from(text)])),
      Buffer.from([0, 0, 0, 1, 20, 0, 0, 0, 1, 20, 0, 0, 0, 2, 1, 2]),
      Buffer.from([0, 0, 0, 3, 0, 0x80, 1, 0, 0, 0, 1, 5, 0, 0, 0, 1, 9]),
    ]);
    expect(Buffer.from(asMpint).equals(Buffer.from(crypto.sha256(manual)))).toBe(true);
  });

  it('logs in over group 14 when both sides offer only it, and rekeys with it', async () => {
    const [a, b] = createFlowPair();
    const srv = server(b);
    const c = await client(a, crypto, [GROUP14], 256 * 1024);
    expect(c.transport.negotiated?.kex).toBe(GROUP14);
    expect(srv.transport.negotiated?.kex).toBe(GROUP14);
    expect(c.transport.negotiated?.strict).toBe(true);
    const data = crypto.randomBytes(600_000);
    expect(Buffer.from((await c.exec('cat', data)).stdout).equals(Buffer.from(data))).toBe(true);
    expect(c.transport.stats()['rekey-bytes']).toBeGreaterThanOrEqual(1);
    expect(srv.transport.stats()['kex-done']).toBeGreaterThanOrEqual(2);
    expect(utf8Decode((await c.exec('echo after')).stdout)).toBe('after\n');
    await c.close();
    expect(await srv.closed).toBeNull();
  });

  it('prefers curve25519-sha256 when both are offered, and negotiates group 14 with a peer that has only it', async () => {
    const [a, b] = createFlowPair();
    server(b, crypto, ['curve25519-sha256', GROUP14]);
    const c = await client(a, crypto, ['curve25519-sha256', GROUP14]);
    expect(c.transport.negotiated?.kex).toBe('curve25519-sha256');
    await c.close();
    const [d, e] = createFlowPair();
    server(e, crypto, ['curve25519-sha256', GROUP14]);
    const other = await client(d, crypto, [GROUP14]);
    expect(other.transport.negotiated?.kex).toBe(GROUP14);
    await other.close();
  });

  for (const [name, value] of [
    ['e = 1', Uint8Array.of(1)],
    ['e = p-1', fromBigInt(P - 1n)],
    ['e = p', MODP14_PRIME],
  ] as const) {
    it(`the server refuses a client's ${name} and disconnects`, async () => {
      const [a, b] = createFlowPair();
      const srv = server(b);
      await expect(client(a, forcing(value))).rejects.toThrow();
      expect(String(await srv.closed)).toContain('1 < e < p-1');
      expect(srv.transport.stats()['protocol-error']).toBe(1);
    });
  }

  it("the client refuses a server's f = p-1", async () => {
    const [a, b] = createFlowPair();
    server(b, forcing(fromBigInt(P - 1n)));
    await expect(client(a)).rejects.toThrow('1 < e < p-1');
  });
});
