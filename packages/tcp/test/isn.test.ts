import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '@morgana/testing';
import type { Ipv4Address } from '@morgana/core';
import { sipHash24 } from '../src/index.js';
import { SYN_COOKIE_MSS, cookieMssIndex, createSequenceSecrets, decodeCookieTimestamp, encodeCookieTimestamp } from '../src/isn.js';

const KEY = [0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c] as const;

function hex(length: number): string {
  const out = sipHash24(KEY, new Uint8Array(length).map((_, i) => i));
  let text = '';
  for (const word of [out.low, out.high]) for (let i = 0; i < 4; i++) text += ((word >>> (8 * i)) & 255).toString(16).padStart(2, '0');
  return text;
}

describe('SipHash-2-4', () => {
  it('matches the reference test vectors (key 00..0f, message 00..n-1)', () => {
    expect(hex(0)).toBe('310e0edd47db6f72');
    expect(hex(1)).toBe('fd67dc93c539f874');
    expect(hex(7)).toBe('37d1018bf50002ab');
    expect(hex(8)).toBe('6224939a79f5f593');
    expect(hex(15)).toBe('e545be4961ca29a1');
    expect(hex(63)).toBe('724506eb4c328a95');
  });
});

const address = fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => n as Ipv4Address);
const port = fc.integer({ min: 1, max: 65_535 });

describe('SYN cookies', () => {
  it('give back the MSS index they were made with, within their lifetime', () => {
    const secrets = createSequenceSecrets(createSeededRandom(5));
    fc.assert(
      fc.property(address, port, address, port, fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 127_000 }), (la, lp, ra, rp, isn, index, now, age) => {
        const cookie = secrets.cookie(now, la, lp, ra, rp, isn, index);
        expect(secrets.checkCookie(now + age, la, lp, ra, rp, isn, cookie)).toBe(index);
      }),
    );
  });

  it('are refused for another 4-tuple or peer ISN, or once too old', () => {
    const secrets = createSequenceSecrets(createSeededRandom(6));
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const cookie = secrets.cookie(0, 1 as Ipv4Address, 80, 2 as Ipv4Address, 1000 + i, 42, 2);
      if (secrets.checkCookie(0, 1 as Ipv4Address, 80, 2 as Ipv4Address, 1000 + i, 43, cookie) >= 0) accepted++;
      if (secrets.checkCookie(0, 1 as Ipv4Address, 81, 2 as Ipv4Address, 1000 + i, 42, cookie) >= 0) accepted++;
      expect(secrets.checkCookie(4 * 64_000, 1 as Ipv4Address, 80, 2 as Ipv4Address, 1000 + i, 42, cookie)).toBe(-1);
    }
    // A forged cookie passes with probability 4 / 2^24.
    expect(accepted).toBe(0);
  });

  it('pick the largest table MSS not above the peer MSS', () => {
    expect(SYN_COOKIE_MSS[cookieMssIndex(1460)]).toBe(1460);
    expect(SYN_COOKIE_MSS[cookieMssIndex(1459)]).toBe(1440);
    expect(SYN_COOKIE_MSS[cookieMssIndex(9000)]).toBe(1460);
    expect(SYN_COOKIE_MSS[cookieMssIndex(100)]).toBe(536);
  });

  it('carry window scale and SACK in TSval without running the clock forward', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }), fc.boolean(), (now, scale, sack) => {
        const value = encodeCookieTimestamp(now, scale, sack);
        expect(((value - now) | 0) <= 0).toBe(true);
        expect(((now - value) | 0) < 64).toBe(true);
        expect(decodeCookieTimestamp(value)).toEqual({ windowScale: scale, sackPermitted: sack });
      }),
    );
  });
});

describe('initial sequence numbers (RFC 6528)', () => {
  it('differ between secrets and move with time for the same 4-tuple', () => {
    const one = createSequenceSecrets(createSeededRandom(1));
    const two = createSequenceSecrets(createSeededRandom(2));
    const tuple = [1 as Ipv4Address, 80, 2 as Ipv4Address, 5000] as const;
    expect(one.isn(0, ...tuple)).not.toBe(two.isn(0, ...tuple));
    expect((one.isn(4, ...tuple) - one.isn(0, ...tuple)) >>> 0).toBe(1000);
  });
});
