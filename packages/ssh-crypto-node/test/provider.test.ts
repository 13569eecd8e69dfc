import { generateKeyPairSync } from 'node:crypto';
import { fromHex, toHex, utf8Encode } from '@morgana/core';
import { MODP14_PRIME, constantTimeEqual } from '@morgana/ssh';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNodeSshCrypto, poly1305 } from '../src/index.js';

const crypto = createNodeSshCrypto();

describe('node:crypto SSH provider', () => {
  it('computes the Poly1305 tag of RFC 8439 §2.5.2', () => {
    const key = fromHex('85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b');
    expect(toHex(poly1305(key, utf8Encode('Cryptographic Forum Research Group')))).toBe('a8061dc1305136c6c22b8baf0c0127a9');
  });

  it('produces the ChaCha20 block of RFC 8439 §2.3.2 from state words 12–15', () => {
    const state = fromHex('01000000000000090000004a00000000');
    const block = crypto.chacha20(fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'), state, new Uint8Array(64));
    expect(toHex(block.subarray(0, 32))).toBe('10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e');
  });

  it('agrees on the X25519 shared secret of RFC 7748 §6.1', () => {
    const alice = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bobPublic = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(toHex(crypto.x25519(alice, bobPublic))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    const a = crypto.x25519Generate();
    const b = crypto.x25519Generate();
    expect(toHex(crypto.x25519(a.privateKey, b.publicKey))).toBe(toHex(crypto.x25519(b.privateKey, a.publicKey)));
  });

  it('signs like RFC 8032 §7.1 test 1 and rejects altered signatures', () => {
    const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    const publicKey = crypto.ed25519PublicKey(seed);
    expect(toHex(publicKey)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const signature = crypto.ed25519Sign(seed, new Uint8Array(0));
    expect(toHex(signature)).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    expect(crypto.ed25519Verify(publicKey, new Uint8Array(0), signature)).toBe(true);
    signature[3] ^= 1;
    expect(crypto.ed25519Verify(publicKey, new Uint8Array(0), signature)).toBe(false);
    expect(crypto.ed25519Verify(publicKey.subarray(1), new Uint8Array(0), signature)).toBe(false);
  });

  it('agrees on a group 14 secret 2^(xy) mod p over the RFC 3526 §3 prime', () => {
    const p = BigInt(`0x${toHex(MODP14_PRIME)}`);
    const power = (base: bigint, exponent: bigint): bigint => {
      let result = 1n;
      for (let b = base % p, e = exponent; e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) result = (result * b) % p;
      return result;
    };
    const a = crypto.modp14Generate();
    const b = crypto.modp14Generate();
    const x = BigInt(`0x${toHex(a.privateKey)}`);
    const y = BigInt(`0x${toHex(b.privateKey)}`);
    expect(BigInt(`0x${toHex(a.publicKey)}`)).toBe(power(2n, x));
    const secret = BigInt(`0x${toHex(crypto.modp14(a.privateKey, b.publicKey))}`);
    expect(secret).toBe(power(2n, x * y));
    expect(BigInt(`0x${toHex(crypto.modp14(b.privateKey, a.publicKey))}`)).toBe(secret);
  });

  it('signs and verifies rsa-sha2-256 and rsa-sha2-512 (RFC 8332)', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = privateKey.export({ format: 'jwk' });
    const field = (name: string): Uint8Array => new Uint8Array(Buffer.from(String(jwk[name as keyof typeof jwk]), 'base64url'));
    const key = { n: field('n'), e: field('e'), d: field('d'), p: field('p'), q: field('q'), iqmp: field('qi') };
    for (const hash of ['sha256', 'sha512'] as const) {
      const data = utf8Encode(`data for ${hash}`);
      const signature = crypto.rsaSign(hash, key, data);
      expect(crypto.rsaVerify(hash, key, data, signature)).toBe(true);
      expect(crypto.rsaVerify(hash, key, utf8Encode('other'), signature)).toBe(false);
    }
  });

  it('round-trips AES-GCM and rejects any flipped bit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 100 }), fc.nat(), (plaintext, flip) => {
        const key = crypto.randomBytes(32);
        const iv = crypto.randomBytes(12);
        const aad = utf8Encode('aad');
        const sealed = crypto.aesGcmSeal(key, iv, aad, plaintext);
        expect(toHex(crypto.aesGcmOpen(key, iv, aad, sealed) ?? new Uint8Array(1))).toBe(toHex(plaintext));
        sealed[flip % sealed.length] ^= 1;
        expect(crypto.aesGcmOpen(key, iv, aad, sealed)).toBeNull();
      }),
      { numRuns: 50 },
    );
  });

  it('continues the AES-CTR keystream across update calls', () => {
    const key = crypto.randomBytes(16);
    const iv = crypto.randomBytes(16);
    const data = crypto.randomBytes(100);
    const whole = crypto.aesCtr(key, iv).update(data);
    const split = crypto.aesCtr(key, iv);
    const parts = [split.update(data.subarray(0, 7)), split.update(data.subarray(7))];
    expect(toHex(parts[0]) + toHex(parts[1])).toBe(toHex(whole));
  });

  it('computes HMAC-SHA-256 of RFC 4231 test case 2', () => {
    expect(toHex(crypto.hmac('sha256', utf8Encode('Jefe'), utf8Encode('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('compares bytes with constantTimeEqual', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }), (a, b) => {
        expect(constantTimeEqual(a, b)).toBe(toHex(a) === toHex(b));
        expect(constantTimeEqual(a, a.slice())).toBe(true);
      }),
    );
  });
});
