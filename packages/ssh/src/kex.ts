/** KEXINIT (RFC 4253 §7.1), algorithm negotiation, the exchange hash and key derivation (§7.2). */
import { DecodeError, ProtocolError } from '@morgana/core';
import type { SshCrypto } from './crypto.js';
import { MSG } from './messages.js';
import { CIPHER_NAMES, type CipherName, MAC_NAMES, type MacName, isAeadCipher } from './packet.js';
import { SshReader, SshWriter, encode } from './wire.js';

/** The fields of SSH_MSG_KEXINIT. */
export interface KexInitRepr {
  readonly cookie: Uint8Array;
  readonly kexAlgorithms: readonly string[];
  readonly hostKeyAlgorithms: readonly string[];
  readonly ciphersClientToServer: readonly string[];
  readonly ciphersServerToClient: readonly string[];
  readonly macsClientToServer: readonly string[];
  readonly macsServerToClient: readonly string[];
  readonly compressionClientToServer: readonly string[];
  readonly compressionServerToClient: readonly string[];
  readonly firstKexPacketFollows: boolean;
}

/** Parses a KEXINIT payload (message number included). */
export function parseKexInit(payload: Uint8Array): KexInitRepr {
  const reader = new SshReader(payload);
  if (reader.u8() !== MSG.KEXINIT) throw new DecodeError('not-kexinit', 'not a KEXINIT message');
  const cookie = reader.bytesView(16);
  const lists: string[][] = [];
  for (let i = 0; i < 10; i++) lists.push(reader.nameList());
  const firstKexPacketFollows = reader.boolean();
  reader.u32();
  reader.expectEnd();
  return {
    cookie,
    kexAlgorithms: lists[0],
    hostKeyAlgorithms: lists[1],
    ciphersClientToServer: lists[2],
    ciphersServerToClient: lists[3],
    macsClientToServer: lists[4],
    macsServerToClient: lists[5],
    compressionClientToServer: lists[6],
    compressionServerToClient: lists[7],
    firstKexPacketFollows,
  };
}

/** Emits a KEXINIT payload; languages are always empty (RFC 4253 §7.1). */
export function emitKexInit(repr: KexInitRepr): Uint8Array {
  return encode((w) => {
    w.u8(MSG.KEXINIT).bytes(repr.cookie);
    for (const list of [
      repr.kexAlgorithms,
      repr.hostKeyAlgorithms,
      repr.ciphersClientToServer,
      repr.ciphersServerToClient,
      repr.macsClientToServer,
      repr.macsServerToClient,
      repr.compressionClientToServer,
      repr.compressionServerToClient,
      [],
      [],
    ]) {
      w.nameList(list);
    }
    w.boolean(repr.firstKexPacketFollows).u32(0);
  });
}

/** Strict KEX markers (OpenSSH PROTOCOL §1.10, the Terrapin countermeasure). */
export const STRICT_KEX_CLIENT = 'kex-strict-c-v00@openssh.com';
export const STRICT_KEX_SERVER = 'kex-strict-s-v00@openssh.com';
/** RFC 8308 §2.1: the client's signal that it accepts SSH_MSG_EXT_INFO. */
export const EXT_INFO_CLIENT = 'ext-info-c';

/** The algorithms a key exchange settled on. */
export interface Negotiated {
  readonly kex: string;
  readonly hostKey: string;
  readonly cipherClientToServer: CipherName;
  readonly cipherServerToClient: CipherName;
  /** The MACs, for non-AEAD ciphers only (an AEAD cipher ignores the MAC, RFC 5647 §5.1). */
  readonly macClientToServer: MacName | undefined;
  readonly macServerToClient: MacName | undefined;
  /** Both sides announced strict KEX. */
  readonly strict: boolean;
  /** The client announced ext-info-c. */
  readonly clientExtInfo: boolean;
}

/** RFC 4253 §7.1: the first algorithm on the client's list that the server also lists. */
function choose(what: string, client: readonly string[], server: readonly string[]): string {
  const match = client.find((name) => server.includes(name));
  if (match === undefined) throw new ProtocolError(`no matching ${what} (client: ${client.join(',')}; server: ${server.join(',')})`);
  return match;
}

/** Negotiates every algorithm from both KEXINITs (client's preference wins). */
export function negotiate(client: KexInitRepr, server: KexInitRepr): Negotiated {
  const kex = choose('key exchange method', client.kexAlgorithms, server.kexAlgorithms);
  const hostKey = choose('host key algorithm', client.hostKeyAlgorithms, server.hostKeyAlgorithms);
  const cipherClientToServer = choose('cipher', client.ciphersClientToServer, server.ciphersClientToServer) as CipherName;
  const cipherServerToClient = choose('cipher', client.ciphersServerToClient, server.ciphersServerToClient) as CipherName;
  choose('compression', client.compressionClientToServer, server.compressionClientToServer);
  choose('compression', client.compressionServerToClient, server.compressionServerToClient);
  if (!CIPHER_NAMES.includes(cipherClientToServer) || !CIPHER_NAMES.includes(cipherServerToClient)) {
    throw new ProtocolError('negotiated a cipher this implementation does not offer');
  }
  const macClientToServer = isAeadCipher(cipherClientToServer) ? undefined : (choose('MAC', client.macsClientToServer, server.macsClientToServer) as MacName);
  const macServerToClient = isAeadCipher(cipherServerToClient) ? undefined : (choose('MAC', client.macsServerToClient, server.macsServerToClient) as MacName);
  for (const mac of [macClientToServer, macServerToClient]) {
    if (mac !== undefined && !MAC_NAMES.includes(mac)) throw new ProtocolError('negotiated a MAC this implementation does not offer');
  }
  return {
    kex,
    hostKey,
    cipherClientToServer,
    cipherServerToClient,
    macClientToServer,
    macServerToClient,
    strict: client.kexAlgorithms.includes(STRICT_KEX_CLIENT) && server.kexAlgorithms.includes(STRICT_KEX_SERVER),
    clientExtInfo: client.kexAlgorithms.includes(EXT_INFO_CLIENT),
  };
}

/** The inputs of the exchange hash (RFC 8731 §3 and RFC 5656 §4 for ECDH, RFC 4253 §8 for DH). */
export interface ExchangeHashInput {
  readonly clientVersion: string;
  readonly serverVersion: string;
  readonly clientKexInit: Uint8Array;
  readonly serverKexInit: Uint8Array;
  readonly hostKeyBlob: Uint8Array;
  readonly clientPublic: Uint8Array;
  readonly serverPublic: Uint8Array;
  /**
   * How the public values are hashed: strings Q_C/Q_S (ECDH, the default) or mpints e/f
   * (finite-field DH, RFC 4253 §8).
   */
  readonly publicEncoding?: 'string' | 'mpint';
  /** K as a big-endian integer (the raw X25519 output for curve25519, RFC 8731 §3.1). */
  readonly sharedSecret: Uint8Array;
}

/** H = SHA-256(V_C ‖ V_S ‖ I_C ‖ I_S ‖ K_S ‖ Q_C ‖ Q_S ‖ K), or with mpints e ‖ f for DH. */
export function exchangeHash(crypto: SshCrypto, input: ExchangeHashInput): Uint8Array {
  const asMpint = input.publicEncoding === 'mpint';
  return crypto.sha256(
    encode((w) => {
      w.string(input.clientVersion).string(input.serverVersion).string(input.clientKexInit).string(input.serverKexInit).string(input.hostKeyBlob);
      if (asMpint) w.mpint(input.clientPublic).mpint(input.serverPublic);
      else w.string(input.clientPublic).string(input.serverPublic);
      w.mpint(input.sharedSecret);
    }, 1024),
  );
}

/**
 * RFC 4253 §7.2: HASH(K ‖ H ‖ letter ‖ session_id), extended by HASH(K ‖ H ‖ K1 ‖ … ) until
 * `length` bytes.
 */
export function deriveKey(crypto: SshCrypto, sharedSecret: Uint8Array, hash: Uint8Array, letter: string, sessionId: Uint8Array, length: number): Uint8Array {
  const prefix = new SshWriter(96).mpint(sharedSecret).bytes(hash);
  const first = new SshWriter(160).bytes(prefix.view()).u8(letter.charCodeAt(0)).bytes(sessionId);
  let key = crypto.sha256(first.view());
  while (key.length < length) {
    const more = crypto.sha256(new SshWriter(256).bytes(prefix.view()).bytes(key).view());
    const grown = new Uint8Array(key.length + more.length);
    grown.set(key);
    grown.set(more, key.length);
    key = grown;
  }
  return key.slice(0, length);
}
