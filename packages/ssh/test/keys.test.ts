import { DecodeError, fromHex, toHex, utf8Encode } from '@morgana/core';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveKey, formatPublicKey, generateEd25519Key, isAuthorizedKey, parseAuthorizedKeys, parseOpenSshPrivateKey, verifySignature } from '../src/index.js';
import { SshWriter } from '../src/wire.js';

const crypto = createNodeSshCrypto();

// A throwaway test key made by ssh-keygen for these fixtures.
const KEY_FILE = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACAGB//suhxGRkTBIwFQf10yJVfsFGR88ngCYT17a/quhgAAAJBXDdM/Vw3T
PwAAAAtzc2gtZWQyNTUxOQAAACAGB//suhxGRkTBIwFQf10yJVfsFGR88ngCYT17a/quhg
AAAEBFTy86CtKDoHbLv1e09luO0RCBk+auaO4fQelhOq1FOQYH/+y6HEZGRMEjAVB/XTIl
V+wUZHzyeAJhPXtr+q6GAAAADG1vcmdhbmEtdGVzdAE=
-----END OPENSSH PRIVATE KEY-----
`;
const PUBLIC_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAYH/+y6HEZGRMEjAVB/XTIlV+wUZHzyeAJhPXtr+q6G morgana-test';
const ENCRYPTED_KEY_FILE = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABB0kHB+dI
jmRXc7EXET69pfAAAAAgAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIENX+OwOMeCMekRu
jrsaK5enQQwv2DkXjNMsKmptNi5kAAAAkIE2HfcRhCnQOrVVu8jJ6lrVWA1M3Vb1QhLLAx
CNeeaA0PRNYT2hS70ZyF75YOAEw5TlOBSToriVjSBf0qzdrYOgS4ST9NH8rtARdNlWH/vW
rdtn/yUM7BRhSZA1le3O/O/EOl12FSuDUWPH5Wm1OVIEmXcTtbwjDUspme53A459q2fjTZ
yGKYLFqC3g08683w==
-----END OPENSSH PRIVATE KEY-----
`;

describe('key files and authorized_keys', () => {
  it('reads an unencrypted openssh-key-v1 ed25519 key and signs verifiably', () => {
    const key = parseOpenSshPrivateKey(crypto, KEY_FILE);
    expect(formatPublicKey(key, 'morgana-test')).toBe(PUBLIC_LINE);
    const signature = key.sign(utf8Encode('data'));
    expect(verifySignature(crypto, 'ssh-ed25519', key.publicBlob, utf8Encode('data'), signature)).toBe(true);
    expect(verifySignature(crypto, 'ssh-ed25519', key.publicBlob, utf8Encode('other'), signature)).toBe(false);
  });

  it('refuses encrypted key files with a DecodeError', () => {
    expect(() => parseOpenSshPrivateKey(crypto, ENCRYPTED_KEY_FILE)).toThrow(DecodeError);
    expect(() => parseOpenSshPrivateKey(crypto, 'not a key')).toThrow(DecodeError);
  });

  it('parses authorized_keys, skipping comments, options, unknown types and bad base64', () => {
    const text = [
      '# comment',
      '',
      PUBLIC_LINE,
      `command="x" ${PUBLIC_LINE}`,
      'ssh-rsa AAAAB3NzaC1yc2E= rsa',
      'ssh-ed25519 !!!notbase64 bad',
      'ssh-ed25519 AAAAB3NzaC1yc2E= mismatched-type',
    ].join('\n');
    const keys = parseAuthorizedKeys(text);
    expect(keys).toHaveLength(1);
    expect(keys[0].comment).toBe('morgana-test');
    const key = parseOpenSshPrivateKey(crypto, KEY_FILE);
    expect(isAuthorizedKey(keys, 'ssh-ed25519', key.publicBlob)).toBe(true);
    expect(isAuthorizedKey(keys, 'ssh-ed25519', generateEd25519Key(crypto).publicBlob)).toBe(false);
  });

  it('never throws anything but DecodeError on arbitrary key files and authorized_keys text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.base64String({ maxLength: 400 }), (text, b64) => {
        expect(() => parseAuthorizedKeys(text)).not.toThrow();
        expect(() => parseAuthorizedKeys(`ssh-ed25519 ${b64}`)).not.toThrow();
        try {
          parseOpenSshPrivateKey(crypto, `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----`);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });
});

describe('key derivation (RFC 4253 §7.2)', () => {
  it('hashes K as an mpint, then H, the letter and the session id, and extends with K1', () => {
    const secret = fromHex('80' + '11'.repeat(31));
    const hash = crypto.sha256(utf8Encode('H'));
    const session = crypto.sha256(utf8Encode('session'));
    const mpint = new SshWriter().mpint(secret).finish();
    expect(toHex(mpint.subarray(0, 5))).toBe('0000002100');
    const k1 = crypto.sha256(Uint8Array.from([...mpint, ...hash, 0x43, ...session]));
    const k2 = crypto.sha256(Uint8Array.from([...mpint, ...hash, ...k1]));
    expect(toHex(deriveKey(crypto, secret, hash, 'C', session, 64))).toBe(toHex(k1) + toHex(k2));
    expect(toHex(deriveKey(crypto, secret, hash, 'C', session, 16))).toBe(toHex(k1).slice(0, 32));
  });

  it('encodes mpints minimally (RFC 4251 §5)', () => {
    expect(toHex(new SshWriter().mpint(fromHex('000000')).finish())).toBe('00000000');
    expect(toHex(new SshWriter().mpint(fromHex('0009a378f9b2e332a7')).finish())).toBe('0000000809a378f9b2e332a7');
    expect(toHex(new SshWriter().mpint(fromHex('80')).finish())).toBe('000000020080');
  });
});
