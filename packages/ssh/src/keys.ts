/**
 * Public keys and signatures (RFC 4253 §6.6, RFC 8709 ssh-ed25519), authorized_keys lines and
 * unencrypted openssh-key-v1 private key files.
 */
import { DecodeError, utf8Decode } from '@morgana/core';
import type { RsaPrivateKey, SshCrypto } from './crypto.js';
import { constantTimeEqual } from './crypto.js';
import { SshReader, encode } from './wire.js';

/** ssh-ed25519 (RFC 8709): key type and signature algorithm share the name. */
export const ED25519 = 'ssh-ed25519';
/** The RSA key type; its signature algorithms are rsa-sha2-256 and rsa-sha2-512 (RFC 8332). */
export const SSH_RSA = 'ssh-rsa';
/** Signature algorithms implemented, in our order of preference. */
export const SIGNATURE_ALGORITHMS = [ED25519, 'rsa-sha2-512', 'rsa-sha2-256'] as const;
/** OpenSSH refuses RSA moduli below 1024 bits; so do we (weak keys are forgeable). */
const RSA_MIN_BITS = 1024;

/** The key type (blob name) a signature algorithm uses. */
export function keyTypeOf(algorithm: string): string {
  return algorithm === 'rsa-sha2-256' || algorithm === 'rsa-sha2-512' ? SSH_RSA : algorithm;
}

/** A private key that signs as one SSH public-key algorithm. */
export interface SshPrivateKey {
  readonly algorithm: string;
  /** The public key blob (RFC 4253 §6.6). */
  readonly publicBlob: Uint8Array;
  /** The signature blob (string algorithm ‖ string signature) of `data`. */
  sign(data: Uint8Array): Uint8Array;
}

/** An Ed25519 private key from its 32-byte seed. */
export function ed25519Key(crypto: SshCrypto, seed: Uint8Array): SshPrivateKey {
  const publicKey = crypto.ed25519PublicKey(seed);
  return {
    algorithm: ED25519,
    publicBlob: encode((w) => w.string(ED25519).string(publicKey)),
    sign: (data) => encode((w) => w.string(ED25519).string(crypto.ed25519Sign(seed, data))),
  };
}

/** An RSA private key signing as rsa-sha2-512 (default) or rsa-sha2-256 (RFC 8332). */
export function rsaKey(crypto: SshCrypto, key: RsaPrivateKey, algorithm: 'rsa-sha2-256' | 'rsa-sha2-512' = 'rsa-sha2-512'): SshPrivateKey {
  const hash = algorithm === 'rsa-sha2-256' ? 'sha256' : 'sha512';
  return {
    algorithm,
    publicBlob: encode((w) => w.string(SSH_RSA).mpint(key.e).mpint(key.n)),
    sign: (data) => encode((w) => w.string(algorithm).string(crypto.rsaSign(hash, key, data))),
  };
}

/** A fresh random Ed25519 key. */
export function generateEd25519Key(crypto: SshCrypto): SshPrivateKey {
  return ed25519Key(crypto, crypto.randomBytes(32));
}

/** The algorithm name at the start of a public key blob, or throws {@link DecodeError}. */
export function blobAlgorithm(blob: Uint8Array): string {
  return new SshReader(blob).text();
}

/**
 * Whether `signatureBlob` is `algorithm`'s valid signature of `data` by the key in
 * `publicBlob`. Malformed blobs are simply invalid: this never throws.
 */
export function verifySignature(crypto: SshCrypto, algorithm: string, publicBlob: Uint8Array, data: Uint8Array, signatureBlob: Uint8Array): boolean {
  try {
    const key = new SshReader(publicBlob);
    const signature = new SshReader(signatureBlob);
    if (key.text() !== keyTypeOf(algorithm) || signature.text() !== algorithm) return false;
    if (algorithm === ED25519) {
      const publicKey = key.string();
      key.expectEnd();
      const raw = signature.string();
      signature.expectEnd();
      return crypto.ed25519Verify(publicKey, data, raw);
    }
    if (keyTypeOf(algorithm) !== SSH_RSA) return false;
    const e = key.mpint();
    const n = key.mpint();
    key.expectEnd();
    const raw = signature.string();
    signature.expectEnd();
    if (n.length * 8 < RSA_MIN_BITS) return false;
    return crypto.rsaVerify(algorithm === 'rsa-sha2-256' ? 'sha256' : 'sha512', { n, e }, data, raw);
  } catch (error) {
    if (error instanceof DecodeError) return false;
    throw error;
  }
}

/** One authorized_keys entry: its algorithm, key blob and comment (options are not supported). */
export interface AuthorizedKey {
  readonly algorithm: string;
  readonly blob: Uint8Array;
  readonly comment: string;
}

function base64Decode(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new DecodeError('bad-base64', 'key is not base64');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const char of clean) {
    value = (value << 6) | alphabet.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Base64 of bytes (for writing authorized_keys lines). */
export function base64Encode(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += alphabet[(n >> 18) & 63] + alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.length ? alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? alphabet[n & 63] : '=';
  }
  return out;
}

/**
 * Parses an authorized_keys file (sshd(8) AUTHORIZED_KEYS FILE FORMAT): one key per line,
 * `#` comments and blank lines skipped. Lines with options or unknown key types are skipped
 * (never trusted), since this checker enforces no options.
 */
export function parseAuthorizedKeys(text: string): AuthorizedKey[] {
  const keys: AuthorizedKey[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const [algorithm, data, ...comment] = line.split(/\s+/);
    if ((algorithm !== ED25519 && algorithm !== SSH_RSA) || data === undefined) continue;
    try {
      const blob = base64Decode(data);
      if (!wellFormedBlob(blob, algorithm)) continue;
      keys.push({ algorithm, blob, comment: comment.join(' ') });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
    }
  }
  return keys;
}

/** Whether a public key blob has exactly the fields of its key type (RFC 4253 §6.6, RFC 8709 §4). */
function wellFormedBlob(blob: Uint8Array, type: string): boolean {
  const reader = new SshReader(blob);
  if (reader.text() !== type) return false;
  if (type === ED25519) {
    if (reader.string().length !== 32) return false;
  } else {
    reader.mpint();
    if (reader.mpint().length * 8 < RSA_MIN_BITS) return false;
  }
  return reader.remaining === 0;
}

/** Whether `blob` is one of `keys`, for signature `algorithm` (constant-time per comparison). */
export function isAuthorizedKey(keys: readonly AuthorizedKey[], algorithm: string, blob: Uint8Array): boolean {
  let found = false;
  const type = keyTypeOf(algorithm);
  for (const key of keys) if (key.algorithm === type && constantTimeEqual(key.blob, blob)) found = true;
  return found;
}

/** An authorized_keys / .pub line for a key. */
export function formatPublicKey(key: SshPrivateKey, comment = ''): string {
  return `${keyTypeOf(key.algorithm)} ${base64Encode(key.publicBlob)}${comment ? ` ${comment}` : ''}`;
}

const KEY_V1_MAGIC = 'openssh-key-v1\0';

/**
 * Reads an unencrypted OpenSSH private key file (OpenSSH PROTOCOL.key, "openssh-key-v1")
 * holding one ssh-ed25519 or ssh-rsa key (RSA keys sign as `rsaAlgorithm`). Encrypted keys
 * and other key types throw {@link DecodeError}.
 */
export function parseOpenSshPrivateKey(crypto: SshCrypto, text: string, rsaAlgorithm: 'rsa-sha2-256' | 'rsa-sha2-512' = 'rsa-sha2-512'): SshPrivateKey {
  const match = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!match) throw new DecodeError('not-openssh-key', 'no OPENSSH PRIVATE KEY block');
  const data = base64Decode(match[1].replace(/\s+/g, ''));
  if (utf8Decode(data.subarray(0, KEY_V1_MAGIC.length)) !== KEY_V1_MAGIC) throw new DecodeError('not-openssh-key', 'bad magic');
  const reader = new SshReader(data, KEY_V1_MAGIC.length);
  const cipher = reader.text();
  const kdf = reader.text();
  reader.string();
  if (cipher !== 'none' || kdf !== 'none') throw new DecodeError('encrypted-key', 'encrypted private keys are not supported');
  if (reader.u32() !== 1) throw new DecodeError('bad-key-count', 'only files holding one key are supported');
  const publicBlob = reader.string();
  const secret = new SshReader(reader.string());
  if (secret.u32() !== secret.u32()) throw new DecodeError('bad-check', 'check integers differ (wrong passphrase or corrupt file)');
  const algorithm = secret.text();
  if (algorithm === SSH_RSA) {
    const n = secret.mpint();
    const e = secret.mpint();
    const d = secret.mpint();
    const iqmp = secret.mpint();
    const p = secret.mpint();
    const q = secret.mpint();
    const key = rsaKey(crypto, { n, e, d, iqmp, p, q }, rsaAlgorithm);
    if (!constantTimeEqual(key.publicBlob, publicBlob)) throw new DecodeError('bad-key', 'public and private halves differ');
    return key;
  }
  if (algorithm !== ED25519) throw new DecodeError('unsupported-key', `key type ${algorithm} is not supported`);
  const publicKey = secret.string();
  const privateKey = secret.string();
  if (publicKey.length !== 32 || privateKey.length !== 64) throw new DecodeError('bad-key', 'bad ed25519 key lengths');
  const key = ed25519Key(crypto, privateKey.slice(0, 32));
  if (!constantTimeEqual(key.publicBlob, publicBlob)) throw new DecodeError('bad-key', 'public and private halves differ');
  return key;
}
