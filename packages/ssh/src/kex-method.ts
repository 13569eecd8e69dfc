/**
 * The key exchange methods: curve25519-sha256 (RFC 8731) and diffie-hellman-group14-sha256
 * (RFC 8268 §3, the exchange of RFC 4253 §8 over the 2048-bit MODP group of RFC 3526 §3).
 * Each supplies its ephemeral key pair, the shared secret K, and how its public values are
 * encoded in KEX(EC)DH_INIT/REPLY and the exchange hash.
 */
import { ProtocolError, fromHex } from '@morgana/core';
import type { SshCrypto } from './crypto.js';

/** Key exchange methods implemented, in our order of preference. */
export const KEX_NAMES = ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group14-sha256'] as const;
/** A key exchange method name we implement. */
export type KexName = (typeof KEX_NAMES)[number];

/** An ephemeral key pair of one exchange. */
export interface KexKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** One key exchange method. */
export interface KexMethod {
  readonly name: KexName;
  /**
   * How the public values travel and enter the exchange hash: ECDH sends Q_C/Q_S as strings
   * (RFC 5656 §4, RFC 8731 §3), finite-field DH sends e/f as mpints (RFC 4253 §8).
   */
  readonly publicEncoding: 'string' | 'mpint';
  generate(crypto: SshCrypto): KexKeyPair;
  /** The shared secret K as a big-endian magnitude; a bad peer value is a {@link ProtocolError}. */
  agree(crypto: SshCrypto, privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array;
}

/** The 2048-bit MODP prime of RFC 3526 §3 (group 14); the generator is 2. */
export const MODP14_PRIME: Uint8Array = fromHex(
  'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74' +
    '020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437' +
    '4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed' +
    'ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05' +
    '98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb' +
    '9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b' +
    'e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718' +
    '3995497cea956ae515d2261898fa051015728e5a8aacaa68ffffffffffffffff',
);

/** p - 1: the prime ends in 0xff, so only its last byte changes. */
const MODP14_PRIME_MINUS_ONE: Uint8Array = MODP14_PRIME.slice();
MODP14_PRIME_MINUS_ONE[MODP14_PRIME_MINUS_ONE.length - 1] -= 1;

/**
 * RFC 4253 §8: e and f must lie in [1, p-1]. We refuse 1 and p-1 as well (1 < value < p-1):
 * their powers are only ±1, so a peer or a man in the middle sending them would fix K to a
 * value anyone knows. `value` is a big-endian magnitude, leading zeros allowed.
 */
export function isValidModp14Public(value: Uint8Array): boolean {
  let start = 0;
  while (start < value.length && value[start] === 0) start++;
  const length = value.length - start;
  if (length === 0) return false;
  if (length === 1 && value[start] === 1) return false;
  if (length !== MODP14_PRIME_MINUS_ONE.length) return length < MODP14_PRIME_MINUS_ONE.length;
  for (let i = 0; i < length; i++) {
    const difference = value[start + i] - MODP14_PRIME_MINUS_ONE[i];
    if (difference !== 0) return difference < 0;
  }
  return false;
}

const CURVE25519: Omit<KexMethod, 'name'> = {
  publicEncoding: 'string',
  generate: (crypto) => crypto.x25519Generate(),
  agree(crypto, privateKey, peerPublic) {
    if (peerPublic.length !== 32) throw new ProtocolError('X25519 public key must be 32 bytes');
    let secret: Uint8Array;
    try {
      secret = crypto.x25519(privateKey, peerPublic);
    } catch {
      throw new ProtocolError('invalid X25519 public key');
    }
    // RFC 8731 §3: an all-zero shared secret means a low-order point; abort.
    if (secret.every((byte) => byte === 0)) throw new ProtocolError('X25519 shared secret is zero');
    return secret;
  },
};

const GROUP14: Omit<KexMethod, 'name'> = {
  publicEncoding: 'mpint',
  generate: (crypto) => crypto.modp14Generate(),
  agree(crypto, privateKey, peerPublic) {
    if (!isValidModp14Public(peerPublic)) throw new ProtocolError('Diffie-Hellman public value is outside 1 < e < p-1 (RFC 4253 §8)');
    try {
      return crypto.modp14(privateKey, peerPublic);
    } catch {
      throw new ProtocolError('invalid Diffie-Hellman public value');
    }
  },
};

/** The method of a negotiated name; an unknown name is a {@link ProtocolError}. */
export function kexMethod(name: string): KexMethod {
  switch (name) {
    case 'curve25519-sha256':
    case 'curve25519-sha256@libssh.org':
      return { name, ...CURVE25519 };
    case 'diffie-hellman-group14-sha256':
      return { name, ...GROUP14 };
    default:
      throw new ProtocolError(`key exchange method ${name} is not implemented`);
  }
}
