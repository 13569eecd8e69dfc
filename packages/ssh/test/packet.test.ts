import { DecodeError, fromHex, readU32, toHex } from '@morgana/core';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CIPHER_NAMES,
  type CipherName,
  MAC_NAMES,
  type MacName,
  NONE_CIPHER,
  cipherKeySizes,
  createPacketCipher,
  emitKexInit,
  framePacket,
  framePacketInto,
  framedLength,
  isAeadCipher,
  macKeySize,
  parseKexInit,
} from '../src/index.js';

const crypto = createNodeSshCrypto();

describe('binary packet protocol (RFC 4253 §6)', () => {
  it('encrypts the worked example of draft-ietf-sshm-chacha20-poly1305 Appendix A', () => {
    const key = fromHex(
      '8bbff6855fc102338c373e73aac0c914f076a905b2444a32eecaffeae22becc5e9b7a7a5825a82493' + '46ec1c28301cf394543fc7569887d76e168f37562ac0740',
    );
    const body = fromHex(
      '065e00000000000000384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e6720656c69744e43e804dc6c',
    );
    const plain = new Uint8Array(4 + body.length);
    plain.set(fromHex('00000048'));
    plain.set(body, 4);
    const cipher = createPacketCipher(crypto, 'chacha20-poly1305@openssh.com', key, new Uint8Array(0));
    const sealed = cipher.seal(7, plain);
    expect(toHex(sealed.subarray(0, 4))).toBe('2c3ecce4');
    expect(toHex(sealed.subarray(4, 76))).toBe(
      'a5bc05895bf07a7ba956b6c68829ac7c83b780b7000ecde745afc705bbc378ce03a280236b87b53bed58396623' + '02b164b6286a48cd1e097138e3cb909b8b2b829dd18d2a35ff82d9',
    );
    expect(toHex(sealed.subarray(76))).toBe('95349e855bf02c298ef775f2d1a7e8b8');
    expect(cipher.packetLength(7, sealed)).toBe(0x48);
    expect(toHex(cipher.open(7, sealed) ?? new Uint8Array(0))).toBe(toHex(body));
    expect(cipher.open(8, sealed)).toBeNull();
  });

  const modes = CIPHER_NAMES.flatMap((name): { name: CipherName; mac: MacName | undefined }[] =>
    isAeadCipher(name) ? [{ name, mac: undefined }] : MAC_NAMES.map((mac) => ({ name, mac })),
  );
  for (const { name, mac } of modes) {
    it(`round-trips any payload through ${name}${mac ? ` + ${mac}` : ''} framing and rejects any flipped bit`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(0xffff_ffff), fc.nat(), (payload, sequence, flip) => {
          const sizes = cipherKeySizes(name);
          const key = crypto.randomBytes(sizes.key);
          const iv = crypto.randomBytes(sizes.iv);
          const macKey = mac === undefined ? undefined : { name: mac, key: crypto.randomBytes(macKeySize(mac)) };
          const sender = createPacketCipher(crypto, name, key, iv, macKey);
          const receiver = createPacketCipher(crypto, name, key, iv, macKey);
          const plain = framePacket(sender, payload, (n) => crypto.randomBytes(n));
          const length = readU32(plain, 0);
          expect((sender.lengthExcluded ? length : length + 4) % sender.blockSize).toBe(0);
          expect(plain[4]).toBeGreaterThanOrEqual(4);
          const sealed = sender.seal(sequence, plain);
          expect(receiver.packetLength(sequence, sealed)).toBe(length);
          const tampered = sealed.slice();
          tampered[flip % tampered.length] ^= 0x80;
          // A fresh receiver per attempt: the aes-ctr keystream is stateful.
          const victim = createPacketCipher(crypto, name, key, iv, macKey);
          const tamperedLength = victim.packetLength(sequence, tampered);
          if (tamperedLength === length) expect(victim.open(sequence, tampered)).toBeNull();
          const body = receiver.open(sequence, sealed);
          expect(toHex(body?.subarray(1, 1 + payload.length) ?? new Uint8Array(0))).toBe(toHex(payload));
        }),
        { numRuns: 40 },
      );
    });
  }

  for (const { name, mac } of modes) {
    it(`seals packets back to back in one buffer exactly as one at a time over ${name}${mac ? ` + ${mac}` : ''}`, () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 5 }), fc.nat(0xffff_fff0), (payloads, first) => {
          const sizes = cipherKeySizes(name);
          const key = crypto.randomBytes(sizes.key);
          const iv = crypto.randomBytes(sizes.iv);
          const macKey = mac === undefined ? undefined : { name: mac, key: crypto.randomBytes(macKeySize(mac)) };
          const together = createPacketCipher(crypto, name, key, iv, macKey);
          const alone = createPacketCipher(crypto, name, key, iv, macKey);
          const zeros = (n: number): Uint8Array => new Uint8Array(n);
          const buffer = new Uint8Array(payloads.reduce((sum, p) => sum + framedLength(together, p.length) + together.tagSize, 0));
          let offset = 0;
          const expected: string[] = [];
          payloads.forEach((payload, i) => {
            const plainLength = framePacketInto(together, payload, zeros, buffer, offset);
            expect(plainLength).toBe(framedLength(together, payload.length));
            together.sealInPlace(first + i, buffer, offset, plainLength);
            offset += plainLength + together.tagSize;
            expected.push(toHex(alone.seal(first + i, framePacket(alone, payload, zeros))));
          });
          expect(toHex(buffer)).toBe(expected.join(''));
        }),
        { numRuns: 20 },
      );
    });
  }

  it('pads unencrypted packets so the whole packet is a multiple of 8 (RFC 4253 §6)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), (payload) => {
        const plain = framePacket(NONE_CIPHER, payload, (n) => new Uint8Array(n));
        expect(plain.length % 8).toBe(0);
        expect(plain[4]).toBeGreaterThanOrEqual(4);
      }),
    );
  });
});

describe('KEXINIT (RFC 4253 §7.1)', () => {
  const names = fc.array(fc.stringMatching(/^[a-z0-9@.-]{1,12}$/), { maxLength: 4 });
  it('round-trips any KEXINIT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(names, { minLength: 8, maxLength: 8 }), fc.boolean(), (cookie, lists, follows) => {
        const repr = {
          cookie,
          kexAlgorithms: lists[0],
          hostKeyAlgorithms: lists[1],
          ciphersClientToServer: lists[2],
          ciphersServerToClient: lists[3],
          macsClientToServer: lists[4],
          macsServerToClient: lists[5],
          compressionClientToServer: lists[6],
          compressionServerToClient: lists[7],
          firstKexPacketFollows: follows,
        };
        expect(parseKexInit(emitKexInit(repr))).toEqual(repr);
      }),
    );
  });

  it('throws only DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const payload = Uint8Array.of(20, ...bytes);
        try {
          parseKexInit(payload);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });
});
