/**
 * The binary packet protocol (RFC 4253 §6) and its ciphers: none (before the first NEWKEYS),
 * chacha20-poly1305@openssh.com and aes{128,256}-gcm@openssh.com (RFC 5647).
 */
import { readU32, writeU32 } from '@morgana/core';
import type { SshCrypto } from './crypto.js';
import { constantTimeEqual } from './crypto.js';

/** The packet_length field: 4 bytes, before everything else. */
export const LENGTH_SIZE = 4;
/** RFC 4253 §6: at least four bytes of random padding. */
export const MIN_PADDING = 4;

/** One direction's packet encryption. */
export interface PacketCipher {
  readonly name: string;
  /** The padding alignment (RFC 4253 §6: the cipher block size or 8). */
  readonly blockSize: number;
  /** Bytes needed before the packet length can be read (a whole block when it is encrypted with the body). */
  readonly headSize: number;
  /** Bytes of MAC/tag after each packet. */
  readonly tagSize: number;
  /**
   * True when the length field is outside the alignment (AEAD modes: the length is
   * authenticated but not part of the encrypted, block-aligned body).
   */
  readonly lengthExcluded: boolean;
  /** Recovers packet_length from the first four bytes of a packet. */
  packetLength(sequence: number, head: Uint8Array): number;
  /** Encrypts a plaintext packet (length ‖ padding_length ‖ payload ‖ padding) and appends the tag. */
  seal(sequence: number, plain: Uint8Array): Uint8Array;
  /**
   * Encrypts the plaintext packet at `buffer[offset, offset + plainLength)` in place and writes
   * the tag right after it (the buffer must have `tagSize` bytes of room there): several
   * packets can be sealed into one buffer and sent with one write.
   */
  sealInPlace(sequence: number, buffer: Uint8Array, offset: number, plainLength: number): void;
  /**
   * Authenticates and decrypts a whole packet (length ‖ body ‖ tag); returns the plaintext
   * body (padding_length ‖ payload ‖ padding), or `null` when authentication fails.
   */
  open(sequence: number, packet: Uint8Array): Uint8Array | null;
}

/** `seal` from `sealInPlace`: a copy of the plaintext with room for the tag, sealed in place. */
function withSeal(cipher: Omit<PacketCipher, 'seal'>): PacketCipher {
  return {
    ...cipher,
    seal(sequence, plain) {
      const out = new Uint8Array(plain.length + cipher.tagSize);
      out.set(plain, 0);
      cipher.sealInPlace(sequence, out, 0, plain.length);
      return out;
    },
  };
}

/** The cipher in force before the first NEWKEYS: no encryption, no MAC. */
export const NONE_CIPHER: PacketCipher = withSeal({
  name: 'none',
  blockSize: 8,
  headSize: LENGTH_SIZE,
  tagSize: 0,
  lengthExcluded: false,
  packetLength: (_sequence, head) => readU32(head, 0),
  sealInPlace: () => undefined,
  open: (_sequence, packet) => packet.subarray(LENGTH_SIZE),
});

/** Cipher names we negotiate, in our order of preference. */
export const CIPHER_NAMES = [
  'chacha20-poly1305@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
  'aes256-ctr',
  'aes128-ctr',
] as const;
/** MAC names we negotiate for the aes-ctr ciphers, in our order of preference (RFC 6668, OpenSSH -etm). */
export const MAC_NAMES = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'] as const;
/** A MAC name we implement. */
export type MacName = (typeof MAC_NAMES)[number];

/** Whether a cipher authenticates by itself, leaving no MAC to negotiate (RFC 5647 §5.1). */
export function isAeadCipher(name: CipherName): boolean {
  return name !== 'aes128-ctr' && name !== 'aes256-ctr';
}

/** The key length of a MAC: its hash output size (RFC 6668 §2). */
export function macKeySize(name: MacName): number {
  return name.includes('512') ? 64 : 32;
}
/** A cipher name we implement. */
export type CipherName = (typeof CIPHER_NAMES)[number];

/** Key and IV lengths the key derivation must produce for a cipher (RFC 4253 §7.2). */
export function cipherKeySizes(name: CipherName): { readonly key: number; readonly iv: number } {
  switch (name) {
    case 'chacha20-poly1305@openssh.com':
      return { key: 64, iv: 0 };
    case 'aes256-gcm@openssh.com':
      return { key: 32, iv: 12 };
    case 'aes128-gcm@openssh.com':
      return { key: 16, iv: 12 };
    case 'aes256-ctr':
      return { key: 32, iv: 16 };
    case 'aes128-ctr':
      return { key: 16, iv: 16 };
  }
}

/** A negotiated MAC and its derived key (for the non-AEAD ciphers). */
export interface MacKey {
  readonly name: MacName;
  readonly key: Uint8Array;
}

/** Creates one direction's cipher from derived keys; `mac` is required for aes-ctr. */
export function createPacketCipher(crypto: SshCrypto, name: CipherName, key: Uint8Array, iv: Uint8Array, mac?: MacKey): PacketCipher {
  if (name === 'chacha20-poly1305@openssh.com') return chachaPoly(crypto, key);
  if (isAeadCipher(name)) return aesGcm(crypto, name, key, iv);
  if (mac === undefined) throw new RangeError(`${name} needs a MAC`);
  return mac.name.endsWith('-etm@openssh.com') ? aesCtrEtm(crypto, name, key, iv, mac) : aesCtrMac(crypto, name, key, iv, mac);
}

/** MAC = HMAC(key, uint32 sequence ‖ data) (RFC 4253 §6.4). */
function computeMac(crypto: SshCrypto, mac: MacKey, sequence: number, data: Uint8Array): Uint8Array {
  const input = new Uint8Array(4 + data.length);
  writeU32(input, 0, sequence >>> 0);
  input.set(data, 4);
  return crypto.hmac(mac.name.includes('512') ? 'sha512' : 'sha256', mac.key, input);
}

/**
 * aes-ctr (RFC 4344 §4) with encrypt-and-MAC (RFC 4253 §6.4): the length is inside the
 * first encrypted block, so a whole block is decrypted before the length is known.
 */
function aesCtrMac(crypto: SshCrypto, name: CipherName, key: Uint8Array, iv: Uint8Array, mac: MacKey): PacketCipher {
  const encrypt = crypto.aesCtr(key, iv);
  const decrypt = crypto.aesCtr(key, iv);
  const tagSize = macKeySize(mac.name);
  let firstBlock: Uint8Array = new Uint8Array(0);
  return withSeal({
    name,
    blockSize: 16,
    headSize: 16,
    tagSize,
    lengthExcluded: false,
    packetLength(_sequence, head) {
      firstBlock = decrypt.update(head.subarray(0, 16));
      return readU32(firstBlock, 0);
    },
    sealInPlace(sequence, buffer, offset, plainLength) {
      const plain = buffer.subarray(offset, offset + plainLength);
      // Encrypt-and-MAC: the MAC covers the plaintext, so it is computed first.
      const tag = computeMac(crypto, mac, sequence, plain);
      buffer.set(encrypt.update(plain), offset);
      buffer.set(tag, offset + plainLength);
    },
    open(sequence, packet) {
      const end = packet.length - tagSize;
      const plain = new Uint8Array(end);
      plain.set(firstBlock, 0);
      plain.set(decrypt.update(packet.subarray(16, end)), 16);
      if (!constantTimeEqual(computeMac(crypto, mac, sequence, plain), packet.subarray(end))) return null;
      return plain.subarray(LENGTH_SIZE);
    },
  });
}

/**
 * aes-ctr with encrypt-then-MAC (OpenSSH PROTOCOL §1.5): the length stays in clear, the MAC
 * covers length and ciphertext and is checked before anything is decrypted.
 */
function aesCtrEtm(crypto: SshCrypto, name: CipherName, key: Uint8Array, iv: Uint8Array, mac: MacKey): PacketCipher {
  const encrypt = crypto.aesCtr(key, iv);
  const decrypt = crypto.aesCtr(key, iv);
  const tagSize = macKeySize(mac.name);
  return withSeal({
    name,
    blockSize: 16,
    headSize: LENGTH_SIZE,
    tagSize,
    lengthExcluded: true,
    packetLength: (_sequence, head) => readU32(head, 0),
    sealInPlace(sequence, buffer, offset, plainLength) {
      buffer.set(encrypt.update(buffer.subarray(offset + LENGTH_SIZE, offset + plainLength)), offset + LENGTH_SIZE);
      buffer.set(computeMac(crypto, mac, sequence, buffer.subarray(offset, offset + plainLength)), offset + plainLength);
    },
    open(sequence, packet) {
      const end = packet.length - tagSize;
      if (!constantTimeEqual(computeMac(crypto, mac, sequence, packet.subarray(0, end)), packet.subarray(end))) return null;
      return decrypt.update(packet.subarray(LENGTH_SIZE, end));
    },
  });
}

/**
 * chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305): the second 32 key bytes
 * (K_1) encrypt the length, the first 32 (K_2) the body and the Poly1305 key; the nonce is the
 * sequence number as a 64-bit big-endian integer. The tag covers the encrypted length and body.
 */
function chachaPoly(crypto: SshCrypto, key: Uint8Array): PacketCipher {
  const mainKey = key.slice(0, 32);
  const headerKey = key.slice(32, 64);
  const state = new Uint8Array(16);
  const zeros = new Uint8Array(32);
  const setState = (sequence: number, counter: number): Uint8Array => {
    state.fill(0);
    state[0] = counter;
    writeU32(state, 12, sequence >>> 0);
    return state;
  };
  return withSeal({
    name: 'chacha20-poly1305@openssh.com',
    blockSize: 8,
    headSize: LENGTH_SIZE,
    tagSize: 16,
    lengthExcluded: true,
    packetLength(sequence, head) {
      return readU32(crypto.chacha20(headerKey, setState(sequence, 0), head.subarray(0, LENGTH_SIZE)), 0);
    },
    sealInPlace(sequence, buffer, offset, plainLength) {
      const end = offset + plainLength;
      buffer.set(crypto.chacha20(headerKey, setState(sequence, 0), buffer.subarray(offset, offset + LENGTH_SIZE)), offset);
      buffer.set(crypto.chacha20(mainKey, setState(sequence, 1), buffer.subarray(offset + LENGTH_SIZE, end)), offset + LENGTH_SIZE);
      const polyKey = crypto.chacha20(mainKey, setState(sequence, 0), zeros);
      buffer.set(crypto.poly1305(polyKey, buffer.subarray(offset, end)), end);
    },
    open(sequence, packet) {
      const bodyEnd = packet.length - 16;
      const polyKey = crypto.chacha20(mainKey, setState(sequence, 0), zeros);
      const expected = crypto.poly1305(polyKey, packet.subarray(0, bodyEnd));
      if (!constantTimeEqual(expected, packet.subarray(bodyEnd))) return null;
      return crypto.chacha20(mainKey, setState(sequence, 1), packet.subarray(LENGTH_SIZE, bodyEnd));
    },
  });
}

/**
 * AES-GCM (RFC 5647 §7): the packet length is the AAD, the 12-byte nonce is a 4-byte fixed
 * field and a 64-bit invocation counter that increments once per packet (§7.1).
 */
function aesGcm(crypto: SshCrypto, name: CipherName, key: Uint8Array, initialIv: Uint8Array): PacketCipher {
  const iv = initialIv.slice();
  const next = (): void => {
    for (let i = 11; i >= 4; i--) {
      iv[i] = (iv[i] + 1) & 0xff;
      if (iv[i] !== 0) break;
    }
  };
  return withSeal({
    name,
    blockSize: 16,
    headSize: LENGTH_SIZE,
    tagSize: 16,
    lengthExcluded: true,
    packetLength: (_sequence, head) => readU32(head, 0),
    sealInPlace(_sequence, buffer, offset, plainLength) {
      const end = offset + plainLength;
      crypto.aesGcmSealInPlace(key, iv, buffer.subarray(offset, offset + LENGTH_SIZE), buffer.subarray(offset + LENGTH_SIZE, end), buffer.subarray(end, end + 16));
      next();
    },
    open(_sequence, packet) {
      const body = crypto.aesGcmOpen(key, iv, packet.subarray(0, LENGTH_SIZE), packet.subarray(LENGTH_SIZE));
      if (body !== null) next();
      return body;
    },
  });
}

/**
 * Frames a payload as a plaintext packet (RFC 4253 §6): length ‖ padding_length ‖ payload ‖
 * random padding, padded to the cipher's alignment with at least {@link MIN_PADDING} bytes.
 */
export function framePacket(cipher: PacketCipher, payload: Uint8Array, random: (count: number) => Uint8Array): Uint8Array {
  const plain = new Uint8Array(framedLength(cipher, payload.length));
  framePacketInto(cipher, payload, random, plain, 0);
  return plain;
}

/** The padding a payload of `payloadLength` bytes gets (RFC 4253 §6: to the alignment, at least 4). */
function paddingLength(cipher: PacketCipher, payloadLength: number): number {
  const aligned = 1 + payloadLength + (cipher.lengthExcluded ? 0 : LENGTH_SIZE);
  const padding = cipher.blockSize - (aligned % cipher.blockSize);
  return padding < MIN_PADDING ? padding + cipher.blockSize : padding;
}

/** The plaintext packet length {@link framePacket} gives a payload (tag not included). */
export function framedLength(cipher: PacketCipher, payloadLength: number): number {
  return LENGTH_SIZE + 1 + payloadLength + paddingLength(cipher, payloadLength);
}

/**
 * {@link framePacket} into `into` at `offset`; returns the plaintext packet length. The
 * payload is `payload` followed by `rest` when given (a message header and the data it
 * carries, framed without first joining them).
 */
export function framePacketInto(
  cipher: PacketCipher,
  payload: Uint8Array,
  random: (count: number) => Uint8Array,
  into: Uint8Array,
  offset: number,
  rest?: Uint8Array,
): number {
  const payloadLength = payload.length + (rest === undefined ? 0 : rest.length);
  const padding = paddingLength(cipher, payloadLength);
  const packetLength = 1 + payloadLength + padding;
  writeU32(into, offset, packetLength);
  into[offset + 4] = padding;
  into.set(payload, offset + 5);
  if (rest !== undefined) into.set(rest, offset + 5 + payload.length);
  into.set(random(padding), offset + 5 + payloadLength);
  return LENGTH_SIZE + packetLength;
}
