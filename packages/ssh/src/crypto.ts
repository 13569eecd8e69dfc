/**
 * The cryptography SSH needs, as an interface: the protocol code stays free of any platform
 * API, and a provider (such as `@morgana/ssh-crypto-node`) implements it.
 */

/** A hash SSH uses for exchange hashes, key derivation, MACs and RSA signatures. */
export type SshHash = 'sha256' | 'sha512';

/** An X25519 key pair (RFC 7748), both halves 32 bytes. */
export interface X25519KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * A Diffie-Hellman key pair in the 2048-bit MODP group 14 (RFC 3526 §3, generator 2): the
 * private exponent x and the public value 2^x mod p, both big-endian unsigned integers.
 */
export interface Modp14KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** An RSA public key as big-endian unsigned integers. */
export interface RsaPublicKey {
  readonly n: Uint8Array;
  readonly e: Uint8Array;
}

/** An RSA private key as big-endian unsigned integers (the fields of RFC 8017 A.1.2). */
export interface RsaPrivateKey extends RsaPublicKey {
  readonly d: Uint8Array;
  readonly p: Uint8Array;
  readonly q: Uint8Array;
  readonly iqmp: Uint8Array;
}

/** A running AES-CTR keystream: each call continues where the previous one stopped. */
export interface StreamCipher {
  /** XORs `data` with the next keystream bytes and returns the result (a new array). */
  update(data: Uint8Array): Uint8Array;
}

/** Every primitive the SSH transport, authentication and key files use. */
export interface SshCrypto {
  /** `count` cryptographically strong random bytes. */
  randomBytes(count: number): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
  sha512(data: Uint8Array): Uint8Array;
  /** HMAC (RFC 2104) with SHA-256 or SHA-512. */
  hmac(hash: SshHash, key: Uint8Array, data: Uint8Array): Uint8Array;

  /** A fresh X25519 key pair. */
  x25519Generate(): X25519KeyPair;
  /** The X25519 shared secret (RFC 7748 §5); throws on an invalid peer key. */
  x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;

  /** A fresh group 14 key pair (RFC 3526 §3) with a random private exponent. */
  modp14Generate(): Modp14KeyPair;
  /**
   * The group 14 shared secret peerPublic^privateKey mod p, big-endian (leading zeros allowed).
   * The caller checks 1 < peerPublic < p-1 first (RFC 4253 §8); a provider may throw too.
   */
  modp14(privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array;

  /** The 32-byte Ed25519 public key of a 32-byte seed (RFC 8032 §5.1.5). */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  /** A 64-byte Ed25519 signature (RFC 8032 §5.1.6). */
  ed25519Sign(seed: Uint8Array, data: Uint8Array): Uint8Array;
  /** Whether `signature` is a valid Ed25519 signature of `data`; never throws. */
  ed25519Verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;

  /** An RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2), as rsa-sha2-256/512 (RFC 8332). */
  rsaSign(hash: SshHash, key: RsaPrivateKey, data: Uint8Array): Uint8Array;
  /** Whether `signature` is a valid RSASSA-PKCS1-v1_5 signature; never throws. */
  rsaVerify(hash: SshHash, key: RsaPublicKey, data: Uint8Array, signature: Uint8Array): boolean;

  /** AES-GCM encryption (NIST SP 800-38D): ciphertext followed by the 16-byte tag. */
  aesGcmSeal(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * AES-GCM encryption in place: `data` is overwritten by its ciphertext and the 16-byte tag
   * goes to `tag` (lets a packet be sealed inside the buffer it is sent from).
   */
  aesGcmSealInPlace(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array): void;
  /** AES-GCM decryption of ciphertext‖tag; `null` when the tag does not verify. */
  aesGcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
  /** An AES-CTR keystream (128/192/256-bit key by its length) from a 16-byte counter block. */
  aesCtr(key: Uint8Array, iv: Uint8Array): StreamCipher;

  /**
   * The ChaCha20 stream (the original 64-bit-nonce variant used by
   * chacha20-poly1305@openssh.com): `state` is the 16 bytes of state words 12–15, i.e. the
   * block counter (little-endian) followed by the nonce. Returns `data` XOR keystream.
   */
  chacha20(key: Uint8Array, state: Uint8Array, data: Uint8Array): Uint8Array;
  /** The 16-byte Poly1305 tag of `data` under a one-time 32-byte key (RFC 8439 §2.5). */
  poly1305(key: Uint8Array, data: Uint8Array): Uint8Array;
}

/**
 * Compares two byte arrays in time that depends only on their lengths, so a MAC or
 * authenticator check leaks nothing about where the first difference is.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
