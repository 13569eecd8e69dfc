/**
 * SASL for XMPP (RFC 6120 §6): PLAIN (RFC 4616) and SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802,
 * RFC 7677) without channel binding; the GS2 flag 'n' or 'y' is sent and checked (RFC 5802 §6).
 * Hashing comes through an injected {@link ScramCrypto} so the package needs no platform crypto.
 */
import { ProtocolError } from '@morgana/core';

/** The hash functions SCRAM uses. */
export type ScramHash = 'sha1' | 'sha256';

/** Hashing provided by the platform (node:crypto, WebCrypto). */
export interface ScramCrypto {
  hmac(hash: ScramHash, key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  digest(hash: ScramHash, data: Uint8Array): Promise<Uint8Array>;
  /** PBKDF2 with HMAC-`hash`, output the hash's length: SCRAM's Hi() (RFC 5802 §2.2). */
  hi(hash: ScramHash, password: Uint8Array, salt: Uint8Array, iterations: number): Promise<Uint8Array>;
}

/** What a server keeps per user and mechanism (RFC 5802 §3): no password needed. */
export interface ScramCredentials {
  readonly salt: Uint8Array;
  readonly iterations: number;
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

/** SCRAM mechanisms by name. */
export const SCRAM_MECHANISMS: Readonly<Record<string, ScramHash>> = { 'SCRAM-SHA-256': 'sha256', 'SCRAM-SHA-1': 'sha1' };

/** A SASL failure with its RFC 6120 §6.5 condition. */
export class SaslError extends ProtocolError {
  readonly condition: string;
  constructor(condition: string, message: string) {
    super(message);
    this.condition = condition;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 (RFC 4648 §4) encoding. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + (i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? BASE64[n & 63] : '=');
  }
  return out;
}

/** Base64 decoding; throws `SaslError('incorrect-encoding')` on bad input (RFC 6120 §6.5.3). */
export function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean === '=') return new Uint8Array(0);
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new SaslError('incorrect-encoding', 'invalid base64');
  const pad = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((clean.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const n = (BASE64.indexOf(clean[i]) << 18) | (BASE64.indexOf(clean[i + 1]) << 12) | (Math.max(0, BASE64.indexOf(clean[i + 2])) << 6) | Math.max(0, BASE64.indexOf(clean[i + 3]));
    if (o < out.length) out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new SaslError('malformed-request', 'SASL message is not UTF-8');
  }
}

/**
 * SASLprep's common subset (RFC 4013): non-ASCII spaces to U+0020, "commonly mapped to nothing"
 * characters removed, NFKC; controls refused.
 */
export function saslPrep(text: string): string {
  const mapped = text
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
  if ([...mapped].some((ch) => ch.charCodeAt(0) < 0x20 || ch === '\u007f')) throw new SaslError('malformed-request', 'SASL string holds a control character (RFC 4013 §2.3)');
  return mapped;
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Escapes a username for SCRAM's `n=` (RFC 5802 §5.1): '=' as '=3D', ',' as '=2C'. */
function escapeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function unescapeSaslName(name: string): string {
  if (/=(?!2C|3D)/.test(name)) throw new SaslError('malformed-request', 'bad escape in SCRAM username');
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** Parses `a=1,b=2` attribute lists of SCRAM messages. */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    if (!/^[a-zA-Z]=/.test(part)) throw new SaslError('malformed-request', `bad SCRAM attribute '${part}'`);
    if (!out.has(part[0])) out.set(part[0], part.slice(2));
  }
  return out;
}

/** Derives what a server stores for a password (RFC 5802 §3). */
export async function deriveScramCredentials(crypto: ScramCrypto, hash: ScramHash, password: string, salt: Uint8Array, iterations: number): Promise<ScramCredentials> {
  const salted = await crypto.hi(hash, utf8(saslPrep(password)), salt, iterations);
  const clientKey = await crypto.hmac(hash, salted, utf8('Client Key'));
  return { salt, iterations, storedKey: await crypto.digest(hash, clientKey), serverKey: await crypto.hmac(hash, salted, utf8('Server Key')) };
}

/** The PLAIN initial response (RFC 4616 §2), no authorization identity. */
export function plainMessage(username: string, password: string): Uint8Array {
  return utf8(`\u0000${username}\u0000${password}`);
}

/** Parses a PLAIN message into its three parts. */
export function parsePlain(message: Uint8Array): { authzid: string; username: string; password: string } {
  const parts = fromUtf8(message).split('\u0000');
  if (parts.length !== 3 || parts[1] === '' || parts[2] === '') throw new SaslError('malformed-request', 'PLAIN message needs authzid NUL authcid NUL passwd');
  return { authzid: parts[0], username: parts[1], password: parts[2] };
}

/** Lowest iteration count a client accepts: RFC 7677 §4 asks for at least 4096. */
export const SCRAM_MIN_ITERATIONS = 4096;

/** The client side of one SCRAM exchange. */
export class ScramClient {
  private readonly clientFirstBare: string;
  private readonly gs2Header: string;
  private expectedServerSignature: Uint8Array | undefined;

  /**
   * `channelBindingSupported`: true when this client could do channel binding but the server
   * offered no -PLUS mechanism; it then sends 'y' so a downgrade is detectable (RFC 5802 §6).
   */
  constructor(
    private readonly crypto: ScramCrypto,
    private readonly hash: ScramHash,
    username: string,
    private readonly password: string,
    private readonly nonce: string,
    channelBindingSupported = false,
    private readonly minIterations = SCRAM_MIN_ITERATIONS,
  ) {
    this.gs2Header = `${channelBindingSupported ? 'y' : 'n'},,`;
    this.clientFirstBare = `n=${escapeSaslName(saslPrep(username))},r=${nonce}`;
  }

  first(): Uint8Array {
    return utf8(this.gs2Header + this.clientFirstBare);
  }

  /** Answers the server-first message with the client-final one. */
  async final(serverFirstBytes: Uint8Array): Promise<Uint8Array> {
    const serverFirst = fromUtf8(serverFirstBytes);
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (attrs.has('m')) throw new SaslError('malformed-request', 'SCRAM extension not supported');
    if (nonce === undefined || !nonce.startsWith(this.nonce) || nonce.length === this.nonce.length) throw new SaslError('malformed-request', 'server nonce does not extend ours');
    if (salt === undefined || !Number.isInteger(iterations) || iterations < this.minIterations) throw new SaslError('malformed-request', `bad salt or iteration count below ${this.minIterations}`);
    const salted = await this.crypto.hi(this.hash, utf8(saslPrep(this.password)), fromBase64(salt), iterations);
    const clientKey = await this.crypto.hmac(this.hash, salted, utf8('Client Key'));
    const storedKey = await this.crypto.digest(this.hash, clientKey);
    const withoutProof = `c=${toBase64(utf8(this.gs2Header))},r=${nonce}`;
    const authMessage = utf8(`${this.clientFirstBare},${serverFirst},${withoutProof}`);
    const signature = await this.crypto.hmac(this.hash, storedKey, authMessage);
    const serverKey = await this.crypto.hmac(this.hash, salted, utf8('Server Key'));
    this.expectedServerSignature = await this.crypto.hmac(this.hash, serverKey, authMessage);
    return utf8(`${withoutProof},p=${toBase64(xor(clientKey, signature))}`);
  }

  /** Checks the server-final message: the server proves it knew our credentials too. */
  verify(serverFinalBytes: Uint8Array): void {
    const attrs = attributes(fromUtf8(serverFinalBytes));
    const error = attrs.get('e');
    if (error !== undefined) throw new SaslError('not-authorized', `server refused: ${error}`);
    const signature = attrs.get('v');
    if (signature === undefined || this.expectedServerSignature === undefined || !constantTimeEqual(fromBase64(signature), this.expectedServerSignature)) {
      throw new SaslError('not-authorized', 'the server signature is wrong: the server does not know the password');
    }
  }
}

/** The server side of one SCRAM exchange. */
export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';
  private username = '';
  private credentials: ScramCredentials | undefined;

  constructor(
    private readonly crypto: ScramCrypto,
    private readonly hash: ScramHash,
    private readonly lookup: (username: string) => Promise<ScramCredentials | undefined>,
    private readonly serverNonce: string,
  ) {}

  /** The client's GS2 channel-binding flag ('n' or 'y'), once the client-first message is read. */
  get channelBindingFlag(): string {
    return this.gs2Header.slice(0, 1);
  }

  /** Answers the client-first message. */
  async first(clientFirstBytes: Uint8Array): Promise<Uint8Array> {
    const clientFirst = fromUtf8(clientFirstBytes);
    const match = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/.exec(clientFirst);
    if (match === null) throw new SaslError('malformed-request', 'bad GS2 header');
    // We offer no -PLUS mechanism, so 'n' and 'y' are both honest answers; 'p' asks for
    // binding we never offered (RFC 5802 §6).
    if (match[1].startsWith('p=')) throw new SaslError('malformed-request', 'channel binding was not offered');
    if (match[2] !== undefined) throw new SaslError('invalid-authzid', 'authorization identities are not supported');
    this.gs2Header = `${match[1]},${match[2] ?? ''},`;
    this.clientFirstBare = match[3];
    const attrs = attributes(this.clientFirstBare);
    const name = attrs.get('n');
    const clientNonce = attrs.get('r');
    if (attrs.has('m')) throw new SaslError('malformed-request', 'SCRAM extension not supported');
    if (name === undefined || clientNonce === undefined || clientNonce === '' || clientNonce.includes(',')) throw new SaslError('malformed-request', 'client-first needs n= and r=');
    this.username = saslPrep(unescapeSaslName(name));
    this.credentials = await this.lookup(this.username);
    this.nonce = clientNonce + this.serverNonce;
    // An unknown user gets a plausible challenge so timing and answers do not reveal which
    // accounts exist (RFC 5802 §9); the proof then fails.
    const salt = this.credentials?.salt ?? utf8(this.serverNonce.slice(0, 16));
    const iterations = this.credentials?.iterations ?? SCRAM_MIN_ITERATIONS;
    this.serverFirst = `r=${this.nonce},s=${toBase64(salt)},i=${iterations}`;
    return utf8(this.serverFirst);
  }

  /** Checks the client proof; returns the server-final message and the authenticated user. */
  async final(clientFinalBytes: Uint8Array): Promise<{ message: Uint8Array; username: string }> {
    const clientFinal = fromUtf8(clientFinalBytes);
    const attrs = attributes(clientFinal);
    const proofAt = clientFinal.lastIndexOf(',p=');
    const proof = attrs.get('p');
    if (proofAt < 0 || proof === undefined) throw new SaslError('malformed-request', 'client-final needs p=');
    if (attrs.get('c') !== toBase64(utf8(this.gs2Header))) throw new SaslError('not-authorized', 'channel binding data does not match the GS2 header');
    if (attrs.get('r') !== this.nonce) throw new SaslError('not-authorized', 'nonce mismatch');
    if (this.credentials === undefined) throw new SaslError('not-authorized', 'authentication failed');
    const authMessage = utf8(`${this.clientFirstBare},${this.serverFirst},${clientFinal.slice(0, proofAt)}`);
    const signature = await this.crypto.hmac(this.hash, this.credentials.storedKey, authMessage);
    const clientKey = xor(fromBase64(proof), signature);
    if (clientKey.length !== signature.length || !constantTimeEqual(await this.crypto.digest(this.hash, clientKey), this.credentials.storedKey)) {
      throw new SaslError('not-authorized', 'authentication failed');
    }
    const serverSignature = await this.crypto.hmac(this.hash, this.credentials.serverKey, authMessage);
    return { message: utf8(`v=${toBase64(serverSignature)}`), username: this.username };
  }
}

/** Checks a PLAIN password against stored SCRAM credentials, so the server needs no plaintext. */
export async function checkPassword(crypto: ScramCrypto, hash: ScramHash, credentials: ScramCredentials, password: string): Promise<boolean> {
  const derived = await deriveScramCredentials(crypto, hash, password, credentials.salt, credentials.iterations);
  return constantTimeEqual(derived.storedKey, credentials.storedKey);
}

/** A printable nonce of `length` characters from random bytes (RFC 5802 §5.1: no ','). */
export function makeNonce(random: { fill(bytes: Uint8Array): void }, length = 24): string {
  const bytes = new Uint8Array(length);
  random.fill(bytes);
  return toBase64(bytes).slice(0, length).replace(/[+/]/g, 'x');
}
