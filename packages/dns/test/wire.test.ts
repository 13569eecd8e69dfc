import { DecodeError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, formatName, nameEquals, parseName, Rcode, RrType } from '../src/index.js';
import type { DnsMessage } from '../src/index.js';
import { arbDnsMessage, arbDnsName } from '@morgana/testing/dns';

const query = (id: number): DnsMessage => ({
  id,
  flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false },
  rcode: 0,
  questions: [{ name: ['www', 'example', 'com'], type: RrType.A, class: 1 }],
  answers: [],
  authorities: [],
  additionals: [],
  edns: undefined,
});

describe('DNS message codec (RFC 1035 §4)', () => {
  it('decodes what it encodes, for every record type and EDNS', () => {
    fc.assert(
      fc.property(arbDnsMessage(), (original) => {
        const decoded = decodeMessage(encodeMessage(original));
        expect(decoded).toEqual(original);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but DecodeError on mutated valid messages', () => {
    fc.assert(
      fc.property(arbDnsMessage(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (original, flips) => {
        const bytes = encodeMessage(original);
        for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
        try {
          decodeMessage(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('compresses repeated names (RFC 1035 §4.1.4)', () => {
    const response: DnsMessage = {
      ...query(1),
      flags: { ...query(1).flags, qr: true, aa: true },
      answers: [1, 2, 3].map((n) => ({ name: ['www', 'example', 'com'], type: RrType.A, class: 1, ttl: 60, data: { type: 'A' as const, address: n as never } })),
    };
    const bytes = encodeMessage(response);
    // 12 header + 21 question name + 4 + three answers of (2 pointer + 10 + 4).
    expect(bytes.length).toBe(12 + 17 + 4 + 3 * 16);
    expect(decodeMessage(bytes)).toEqual(response);
  });

  it('rejects compression pointer loops and forward pointers', () => {
    const loop = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(() => decodeMessage(loop)).toThrow(DecodeError);
    const forward = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 3, 0x77, 0x77, 0x77, 0, 0, 1, 0, 1]);
    expect(() => decodeMessage(forward)).toThrow(/backwards/);
    // Two pointers that point at each other (each backwards from the other is impossible).
    const mutual = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0xc0, 12, 0, 1, 0, 1]);
    expect(() => decodeMessage(mutual)).toThrow(DecodeError);
  });

  it('rejects over-long names and labels', () => {
    const longLabel = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64, ...new Array(64).fill(0x61), 0, 0, 1, 0, 1]);
    expect(() => decodeMessage(longLabel)).toThrow(DecodeError);
    const labels: number[] = [];
    for (let i = 0; i < 50; i++) labels.push(5, 0x61, 0x61, 0x61, 0x61, 0x61);
    const longName = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
    expect(() => decodeMessage(longName)).toThrow(/too long|longer/);
  });

  it('sets TC when answers do not fit, keeps OPT, and never sets it for dropped additionals (RFC 2181 §9)', () => {
    const answers = Array.from({ length: 60 }, (_, n) => ({ name: ['host' + n, 'example', 'com'], type: RrType.TXT, class: 1, ttl: 60, data: { type: 'TXT' as const, strings: [new Uint8Array(20)] } }));
    const big: DnsMessage = { ...query(7), flags: { ...query(7).flags, qr: true }, answers, edns: { udpPayloadSize: 1232, version: 0, dnssecOk: false, options: [] } };
    const small = encodeMessage(big, { maxSize: 512 });
    expect(small.length).toBeLessThanOrEqual(512);
    const decoded = decodeMessage(small);
    expect(decoded.flags.tc).toBe(true);
    expect(decoded.edns?.udpPayloadSize).toBe(1232);
    expect(decoded.answers.length).toBeLessThan(60);
    const additionalOnly: DnsMessage = { ...query(8), flags: { ...query(8).flags, qr: true }, additionals: answers };
    expect(decodeMessage(encodeMessage(additionalOnly, { maxSize: 512 })).flags.tc).toBe(false);
  });

  it('carries extended rcodes in the OPT record (RFC 6891 §6.1.3)', () => {
    const badvers: DnsMessage = { ...query(9), rcode: Rcode.BADVERS, edns: { udpPayloadSize: 512, version: 0, dnssecOk: true, options: [] } };
    expect(decodeMessage(encodeMessage(badvers)).rcode).toBe(Rcode.BADVERS);
    expect(() => encodeMessage({ ...badvers, edns: undefined })).toThrow(DecodeError);
  });
});

describe('names', () => {
  it('parse their own presentation form', () => {
    fc.assert(
      fc.property(arbDnsName(), (name) => {
        expect(parseName(formatName(name))).toEqual(name);
      }),
    );
  });

  it('compare case-insensitively (RFC 4343)', () => {
    expect(nameEquals(parseName('WWW.Example.COM.'), parseName('www.example.com.'))).toBe(true);
    expect(nameEquals(parseName('a\\.b.c.'), parseName('a.b.c.'))).toBe(false);
  });

  it('complete relative names with the origin', () => {
    expect(parseName('www', ['example', 'com'])).toEqual(['www', 'example', 'com']);
    expect(parseName('@', ['example', 'com'])).toEqual(['example', 'com']);
    expect(() => parseName('a..b.')).toThrow(DecodeError);
  });
});
