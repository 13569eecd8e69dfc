/** {@link SshCrypto} on node:crypto (OpenSSL). */
import {
  type KeyObject,
  createCipheriv,
  createDecipheriv,
  createDiffieHellman,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  getDiffieHellman,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import type { Modp14KeyPair, RsaPrivateKey, RsaPublicKey, SshCrypto, SshHash, StreamCipher, X25519KeyPair } from '@morgana/ssh';
import { poly1305 } from './poly1305.js';

// DER prefixes of PKCS #8 / SubjectPublicKeyInfo for the raw 32-byte curve keys (RFC 8410).
const ED25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const ED25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const X25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const X25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);
const GCM_TAG = 16;
/** OpenSSL's built-in RFC 3526 group 14 (2048-bit MODP, generator 2). */
const MODP14 = 'modp14';
const MODP14_PRIME = getDiffieHellman(MODP14).getPrime();
const MODP14_GENERATOR = 2;

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  return Buffer.concat([prefix, key]);
}

function bytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function b64url(value: Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

function checkLength(name: string, value: Uint8Array, length: number): void {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes`);
}

function ed25519Private(seed: Uint8Array): KeyObject {
  checkLength('ed25519 seed', seed, 32);
  return createPrivateKey({ key: der(ED25519_PKCS8, seed), format: 'der', type: 'pkcs8' });
}

function rsaPublic(key: RsaPublicKey): KeyObject {
  return createPublicKey({ key: { kty: 'RSA', n: b64url(key.n), e: b64url(key.e) }, format: 'jwk' });
}

function rsaPrivate(key: RsaPrivateKey): KeyObject {
  const d = BigIntFrom(key.d);
  const p = BigIntFrom(key.p);
  const q = BigIntFrom(key.q);
  return createPrivateKey({
    key: {
      kty: 'RSA',
      n: b64url(key.n),
      e: b64url(key.e),
      d: b64url(key.d),
      p: b64url(key.p),
      q: b64url(key.q),
      dp: b64url(toBytes(d % (p - 1n))),
      dq: b64url(toBytes(d % (q - 1n))),
      qi: b64url(key.iqmp),
    },
    format: 'jwk',
  });
}

function BigIntFrom(value: Uint8Array): bigint {
  return value.length === 0 ? 0n : BigInt(`0x${Buffer.from(value).toString('hex')}`);
}

function toBytes(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return bytes(Buffer.from(hex, 'hex'));
}

function aesMode(key: Uint8Array, mode: 'gcm' | 'ctr'): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new RangeError('AES keys are 16, 24 or 32 bytes');
  return `aes-${key.length * 8}-${mode}`;
}

/** Creates the node:crypto provider. */
export function createNodeSshCrypto(): SshCrypto {
  return {
    randomBytes: (count) => bytes(randomBytes(count)),
    sha256: (data) => bytes(createHash('sha256').update(data).digest()),
    sha512: (data) => bytes(createHash('sha512').update(data).digest()),
    hmac: (hash: SshHash, key, data) => bytes(createHmac(hash, key).update(data).digest()),

    x25519Generate(): X25519KeyPair {
      const { privateKey, publicKey } = generateKeyPairSync('x25519');
      return {
        privateKey: bytes(privateKey.export({ format: 'der', type: 'pkcs8' })).slice(X25519_PKCS8.length),
        publicKey: bytes(publicKey.export({ format: 'der', type: 'spki' })).slice(X25519_SPKI.length),
      };
    },
    x25519(privateKey, peerPublicKey) {
      checkLength('x25519 private key', privateKey, 32);
      checkLength('x25519 public key', peerPublicKey, 32);
      return bytes(
        diffieHellman({
          privateKey: createPrivateKey({ key: der(X25519_PKCS8, privateKey), format: 'der', type: 'pkcs8' }),
          publicKey: createPublicKey({ key: der(X25519_SPKI, peerPublicKey), format: 'der', type: 'spki' }),
        }),
      );
    },

    modp14Generate(): Modp14KeyPair {
      const group = getDiffieHellman(MODP14);
      group.generateKeys();
      return { privateKey: bytes(group.getPrivateKey()), publicKey: bytes(group.getPublicKey()) };
    },
    modp14(privateKey, peerPublic) {
      // A named group cannot take a given private key; the same prime and generator can.
      const group = createDiffieHellman(MODP14_PRIME, MODP14_GENERATOR);
      group.setPrivateKey(privateKey);
      return bytes(group.computeSecret(peerPublic));
    },

    ed25519PublicKey(seed) {
      return bytes(createPublicKey(ed25519Private(seed)).export({ format: 'der', type: 'spki' })).slice(ED25519_SPKI.length);
    },
    ed25519Sign: (seed, data) => bytes(sign(null, data, ed25519Private(seed))),
    ed25519Verify(publicKey, data, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        const key = createPublicKey({ key: der(ED25519_SPKI, publicKey), format: 'der', type: 'spki' });
        return verify(null, data, key, signature);
      } catch {
        return false;
      }
    },

    rsaSign: (hash, key, data) => bytes(sign(hash, data, rsaPrivate(key))),
    rsaVerify(hash, key, data, signature) {
      try {
        return verify(hash, data, rsaPublic(key), signature);
      } catch {
        return false;
      }
    },

    aesGcmSeal(key, iv, aad, plaintext) {
      const cipher = createCipheriv(aesMode(key, 'gcm') as "aes-128-gcm", key, iv, { authTagLength: GCM_TAG });
      cipher.setAAD(aad);
      const out = new Uint8Array(plaintext.length + GCM_TAG);
      const body = cipher.update(plaintext);
      out.set(body, 0);
      const tail = cipher.final();
      out.set(tail, body.length);
      out.set(cipher.getAuthTag(), plaintext.length);
      return out;
    },
    aesGcmSealInPlace(key, iv, aad, data, tag) {
      checkLength('AES-GCM tag', tag, GCM_TAG);
      const cipher = createCipheriv(aesMode(key, 'gcm') as 'aes-128-gcm', key, iv, { authTagLength: GCM_TAG });
      cipher.setAAD(aad);
      // GCM is a stream mode: update returns exactly as many bytes as it is given, final none.
      data.set(cipher.update(data), 0);
      cipher.final();
      tag.set(cipher.getAuthTag(), 0);
    },
    aesGcmOpen(key, iv, aad, sealed) {
      if (sealed.length < GCM_TAG) return null;
      const decipher = createDecipheriv(aesMode(key, 'gcm') as "aes-128-gcm", key, iv, { authTagLength: GCM_TAG });
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG));
      const body = decipher.update(sealed.subarray(0, sealed.length - GCM_TAG));
      try {
        const tail = decipher.final();
        return tail.length === 0 ? bytes(body) : bytes(Buffer.concat([body, tail]));
      } catch {
        return null;
      }
    },
    aesCtr(key, iv): StreamCipher {
      const cipher = createCipheriv(aesMode(key, 'ctr'), key, iv);
      return { update: (data) => bytes(cipher.update(data)) };
    },

    chacha20(key, state, data) {
      checkLength('chacha20 key', key, 32);
      checkLength('chacha20 state', state, 16);
      // OpenSSL's 16-byte IV is exactly state words 12–15 (counter, then nonce).
      return bytes(createCipheriv('chacha20', key, state).update(data));
    },
    poly1305,
  };
}
