/**
 * `@morgana/testing/ssh`: fast-check arbitraries for SSH binary packets (RFC 4253 §6) and the
 * transport messages a peer may send before keys are exchanged (KEXINIT, IGNORE, DEBUG,
 * UNIMPLEMENTED, DISCONNECT), valid by construction for `@morgana/ssh`'s codec, and mutators
 * that make packets whose length and padding fields lie. Needs the optional peer `@morgana/ssh`.
 */
import * as fc from 'fast-check';
import { readU32, writeU32 } from '@morgana/core';
import { MSG, encode } from '@morgana/ssh';
import type { KexInitRepr } from '@morgana/ssh';
import { genericMutators, mutate } from './mutators.js';
import type { Mutant, Mutator } from './mutators.js';

/** The packet_length field's size. */
const LENGTH_SIZE = 4;
/** RFC 4253 §6: at least four bytes of padding. */
const MIN_PADDING = 4;
/** Alignment of unencrypted packets (RFC 4253 §6: 8 when the cipher's block is smaller). */
const BLOCK_SIZE = 8;

/** A name of a name-list (RFC 4251 §5): printable US-ASCII but comma, 1-24 characters. */
export function arbSshName(): fc.Arbitrary<string> {
  const printable = fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x2c).map((c) => String.fromCharCode(c));
  return fc.oneof(
    fc.constantFrom('curve25519-sha256', 'ssh-ed25519', 'rsa-sha2-256', 'aes128-ctr', 'chacha20-poly1305@openssh.com', 'hmac-sha2-256', 'none', 'zlib@openssh.com'),
    fc.array(printable, { minLength: 1, maxLength: 24 }).map((chars) => chars.join('')),
  );
}

/** A KEXINIT message (RFC 4253 §7.1): any cookie, name-lists of 0-5 names. */
export function arbSshKexInit(): fc.Arbitrary<KexInitRepr> {
  const list = fc.array(arbSshName(), { maxLength: 5 });
  return fc.record({
    cookie: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    kexAlgorithms: list,
    hostKeyAlgorithms: list,
    ciphersClientToServer: list,
    ciphersServerToClient: list,
    macsClientToServer: list,
    macsServerToClient: list,
    compressionClientToServer: list,
    compressionServerToClient: list,
    firstKexPacketFollows: fc.boolean(),
  }, { noNullPrototype: true });
}

/** A message every implementation must accept at any time and then ignore: IGNORE, DEBUG or UNIMPLEMENTED (RFC 4253 §11.2-11.4). */
export function arbSshIgnorableMessage(maxData = 200): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: maxData }).map((data) => encode((w) => w.u8(MSG.IGNORE).string(data))),
    fc
      .tuple(fc.boolean(), fc.string({ maxLength: 40 }), fc.constantFrom('', 'en'))
      .map(([display, message, language]) => encode((w) => w.u8(MSG.DEBUG).boolean(display).string(message).string(language))),
    fc.integer({ min: 0, max: 0xffff_ffff }).map((sequence) => encode((w) => w.u8(MSG.UNIMPLEMENTED).u32(sequence))),
  );
}

/** An unencrypted binary packet: its payload (message number first) and its random padding. */
export interface SshPacketRepr {
  /** The message, its number first. */
  readonly payload: Uint8Array;
  /** 4-255 bytes, so that the whole packet is a multiple of 8 bytes (RFC 4253 §6). */
  readonly padding: Uint8Array;
}

/** Options of {@link arbSshPacket}. */
export interface SshPacketArbitraryOptions {
  /** Payloads to frame; default {@link arbSshIgnorableMessage}. */
  readonly payload?: fc.Arbitrary<Uint8Array>;
}

/**
 * A packet around a payload, with any legal amount of padding: the least that aligns it, or
 * more whole blocks up to 255 bytes (RFC 4253 §6 allows arbitrary amounts, to hide lengths).
 */
export function arbSshPacket(options: SshPacketArbitraryOptions = {}): fc.Arbitrary<SshPacketRepr> {
  return (options.payload ?? arbSshIgnorableMessage()).chain((payload) => {
    let least = BLOCK_SIZE - ((LENGTH_SIZE + 1 + payload.length) % BLOCK_SIZE);
    if (least < MIN_PADDING) least += BLOCK_SIZE;
    const extraBlocks = Math.floor((255 - least) / BLOCK_SIZE);
    return fc
      .integer({ min: 0, max: extraBlocks })
      .chain((blocks) => fc.uint8Array({ minLength: least + blocks * BLOCK_SIZE, maxLength: least + blocks * BLOCK_SIZE }))
      .map((padding) => ({ payload, padding }));
  });
}

/** Emits packet_length ‖ padding_length ‖ payload ‖ padding. */
export function emitSshPacket(packet: SshPacketRepr): Uint8Array {
  const packetLength = 1 + packet.payload.length + packet.padding.length;
  const bytes = new Uint8Array(LENGTH_SIZE + packetLength);
  writeU32(bytes, 0, packetLength);
  bytes[LENGTH_SIZE] = packet.padding.length;
  bytes.set(packet.payload, LENGTH_SIZE + 1);
  bytes.set(packet.padding, LENGTH_SIZE + 1 + packet.payload.length);
  return bytes;
}

/** {@link arbSshPacket} emitted. */
export function arbSshPacketBytes(options: SshPacketArbitraryOptions = {}): fc.Arbitrary<Uint8Array> {
  return arbSshPacket(options).map(emitSshPacket);
}

function withLength(bytes: Uint8Array, length: number): Uint8Array {
  const out = bytes.slice();
  writeU32(out, 0, length);
  return out;
}

/**
 * Packets that lie, each guaranteed malformed for a receiver with the default 256 KiB packet
 * limit (RFC 4253 §6.1 requires at least 35 000): packet_length below the minimum (a padding
 * byte, one payload byte and 4 bytes of padding), not aligned to the block size, or above the
 * limit; padding_length below 4 or at least the rest of the packet; no payload at all.
 */
export function sshPacketMutators(): Mutator[] {
  return [
    (bytes) => fc.integer({ min: 0, max: MIN_PADDING + 1 }).map((length): Mutant => ({ bytes: withLength(bytes, length), mutation: `packet_length ${length}`, invalid: true })),
    (bytes) =>
      fc
        .integer({ min: MIN_PADDING + 2, max: 35_000 })
        .filter((length) => (length + LENGTH_SIZE) % BLOCK_SIZE !== 0)
        .map((length): Mutant => ({ bytes: withLength(bytes, length), mutation: `packet_length ${length} (not a multiple of ${BLOCK_SIZE} with the length field)`, invalid: true })),
    (bytes) =>
      fc.integer({ min: 256 * 1024 + 1, max: 0xffff_ffff }).map((length): Mutant => ({ bytes: withLength(bytes, length), mutation: `packet_length ${length} (over 256 KiB)`, invalid: true })),
    (bytes) =>
      fc.integer({ min: 0, max: MIN_PADDING - 1 }).map((padding): Mutant => {
        const out = bytes.slice();
        out[LENGTH_SIZE] = padding;
        return { bytes: out, mutation: `padding_length ${padding}`, invalid: true };
      }),
    (bytes) => {
      const packetLength = bytes.length - LENGTH_SIZE;
      if (packetLength < 2 || readU32(bytes, 0) !== packetLength) return fc.constant({ bytes, mutation: 'unchanged (packet_length does not match the bytes)', invalid: false });
      // padding_length >= packet_length - 1 leaves no payload (or runs past the packet).
      return fc.integer({ min: Math.min(255, packetLength - 1), max: 255 }).map((padding): Mutant => {
        const out = bytes.slice();
        out[LENGTH_SIZE] = padding;
        return { bytes: out, mutation: `padding_length ${padding} in a ${packetLength}-byte packet`, invalid: packetLength - 1 <= 255 };
      });
    },
  ];
}

/** Hostile packets: {@link sshPacketMutators} and the generic mutators over valid packets. */
export function arbHostileSshPacket(): fc.Arbitrary<Mutant> {
  return mutate(arbSshPacketBytes(), [...sshPacketMutators(), ...genericMutators()]);
}
