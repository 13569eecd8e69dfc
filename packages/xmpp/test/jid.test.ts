import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressError } from '@morgana/core';
import { bareJid, formatJid, jidEquals, parseJid } from '../src/jid.js';

const localChar = fc.constantFrom(...'abcdefgXYZ019._-é'.split(''), 'Ä', 'ж');
const local = fc.string({ unit: localChar, minLength: 1, maxLength: 12 });
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
const resource = fc.string({ unit: fc.constantFrom(...'abc XYZ/@:é'.split(''), '😀'), minLength: 1, maxLength: 10 });

describe('JIDs (RFC 7622)', () => {
  it('splits at the first slash, then at the first @ (RFC 7622 §3.1)', () => {
    expect(parseJid('juliet@example.com/foo@bar/baz')).toEqual({ local: 'juliet', domain: 'example.com', resource: 'foo@bar/baz' });
    expect(parseJid('example.com')).toEqual({ local: '', domain: 'example.com', resource: '' });
    expect(parseJid('example.com/r')).toEqual({ local: '', domain: 'example.com', resource: 'r' });
  });

  it('case-maps localpart and domain but preserves the resource (RFC 8265 §3.3, §4.2)', () => {
    expect(formatJid(parseJid('Juliet@Example.COM./Balcony'))).toBe('juliet@example.com/Balcony');
    expect(parseJid('ＪＵＬＩＥＴ@example.com').local).toBe('juliet');
    expect(parseJid('a@b/x\u00A0y').resource).toBe('x y');
  });

  it('refuses forbidden characters and empty parts', () => {
    for (const bad of ['a"b@x', "a'b@x", 'a:b@x', 'a<b@x', 'a b@x', '@x', 'a@', 'a@x/', 'a@b c', 'a@x/\u0001', '', 'a\u0000@x']) {
      expect(() => parseJid(bad), bad).toThrow(AddressError);
    }
  });

  it('enforces 1023 bytes per part (RFC 7622 §3.2-3.4)', () => {
    expect(() => parseJid(`${'a'.repeat(1023)}@x`)).not.toThrow();
    expect(() => parseJid(`${'a'.repeat(1024)}@x`)).toThrow(AddressError);
    expect(() => parseJid(`${'é'.repeat(512)}@x`)).toThrow(AddressError);
    expect(() => parseJid(`a@x/${'r'.repeat(1024)}`)).toThrow(AddressError);
  });

  it('preparation is idempotent and format→parse round-trips', () => {
    fc.assert(
      fc.property(fc.option(local, { nil: undefined }), domain, fc.option(resource, { nil: undefined }), (l, d, r) => {
        const text = `${l !== undefined ? `${l}@` : ''}${d}${r !== undefined ? `/${r}` : ''}`;
        const jid = parseJid(text);
        expect(parseJid(formatJid(jid))).toEqual(jid);
        expect(jid.local).toBe(jid.local.toLowerCase());
        expect(jidEquals(parseJid(text.toUpperCase().replace(/\/.*$/, r !== undefined ? `/${r}` : '')), jid)).toBe(true);
        expect(bareJid(jid).resource).toBe('');
      }),
      { numRuns: 200 },
    );
  });

  it('throws only AddressError on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        try {
          parseJid(text);
        } catch (e) {
          expect(e).toBeInstanceOf(AddressError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
