import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AddressError,
  broadcastAddress,
  formatIpv4,
  formatMac,
  type Ipv4Address,
  type MacAddress,
  maskLength,
  networkAddress,
  parseIpv4,
  parseIpv4Prefix,
  parseMac,
  prefixContains,
  prefixMask,
  readIpv4,
  readMac,
  writeIpv4,
  writeMac,
} from '../src/index.js';

const ipv4 = fc.nat().map((n) => (n >>> 0) as Ipv4Address).chain((a) => fc.constantFrom(a, (a | 0x8000_0000) >>> 0 as Ipv4Address));
const mac = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.nat()).map(([h, l]) => (h * 2 ** 32 + (l >>> 0)) as MacAddress);

describe('addresses', () => {
  it('formats and parses IPv4 addresses back to the same value', () => {
    fc.assert(fc.property(ipv4, (a) => {
      expect(parseIpv4(formatIpv4(a))).toBe(a);
    }));
  });

  it('formats and parses MAC addresses back to the same value', () => {
    fc.assert(fc.property(mac, (m) => {
      expect(parseMac(formatMac(m))).toBe(m);
    }));
  });

  it('reads back what it writes, for both address kinds', () => {
    fc.assert(
      fc.property(ipv4, mac, (a, m) => {
        const bytes = new Uint8Array(10);
        writeIpv4(bytes, 0, a);
        writeMac(bytes, 4, m);
        expect(readIpv4(bytes, 0)).toBe(a);
        expect(readMac(bytes, 4)).toBe(m);
      }),
    );
  });

  it('rejects malformed text with AddressError, never another exception', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', 'a.b.c.d', ' 1.2.3.4']) {
      expect(() => parseIpv4(bad)).toThrow(AddressError);
    }
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseIpv4(text);
          parseMac(text);
          parseIpv4Prefix(text);
        } catch (error) {
          expect(error).toBeInstanceOf(AddressError);
        }
      }),
    );
  });

  it('computes masks, networks and broadcasts of prefixes', () => {
    const prefix = parseIpv4Prefix('10.1.2.3/24');
    expect(formatIpv4(prefixMask(24))).toBe('255.255.255.0');
    expect(formatIpv4(networkAddress(prefix))).toBe('10.1.2.0');
    expect(formatIpv4(broadcastAddress(prefix))).toBe('10.1.2.255');
    expect(prefixContains(prefix, parseIpv4('10.1.2.200'))).toBe(true);
    expect(prefixContains(prefix, parseIpv4('10.1.3.1'))).toBe(false);
    fc.assert(fc.property(fc.integer({ min: 0, max: 32 }), (length) => {
      expect(maskLength(prefixMask(length))).toBe(length);
    }));
    expect(() => maskLength(parseIpv4('255.0.255.0'))).toThrow(AddressError);
  });
});
