import { isLoopbackIpv4, isMulticastIpv4, isMulticastMac, networkAddress, prefixMask } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arbEphemeralPort,
  arbIpv4Address,
  arbIpv4Prefix,
  arbMacAddress,
  arbPayload,
  arbPort,
  arbUnicastIpv4,
  arbUnicastMac,
} from '../src/index.js';

describe('arbitraries', () => {
  it('makes 48-bit MAC addresses, and unicast ones with the I/G bit clear', () => {
    fc.assert(
      fc.property(arbMacAddress(), arbUnicastMac(), (any, unicast) => {
        expect(Number.isInteger(any) && any >= 0 && any < 2 ** 48).toBe(true);
        expect(Number.isInteger(unicast) && unicast >= 0 && unicast < 2 ** 48).toBe(true);
        expect(isMulticastMac(unicast)).toBe(false);
      }),
    );
  });

  it('reaches group MACs and both ends of the unicast range', () => {
    const samples = fc.sample(arbMacAddress(), 2000);
    expect(samples.some((mac) => isMulticastMac(mac))).toBe(true);
    expect(samples.some((mac) => !isMulticastMac(mac))).toBe(true);
    expect(fc.sample(arbUnicastMac(), 2000).some((mac) => mac >= 2 ** 47)).toBe(true);
  });

  it('makes 32-bit IPv4 addresses, and host unicast ones outside 0/8, 127/8 and 224/3', () => {
    fc.assert(
      fc.property(arbIpv4Address(), arbUnicastIpv4(), (any, unicast) => {
        expect(Number.isInteger(any) && any >= 0 && any <= 0xffff_ffff).toBe(true);
        expect(unicast >>> 24).not.toBe(0);
        expect(isLoopbackIpv4(unicast)).toBe(false);
        expect(isMulticastIpv4(unicast)).toBe(false);
        expect(unicast >>> 28).not.toBe(0xf);
      }),
    );
  });

  it('makes prefixes within the length bounds, network-aligned when asked', () => {
    fc.assert(
      fc.property(arbIpv4Prefix({ minLength: 8, maxLength: 30 }), arbIpv4Prefix({ network: true }), (bounded, network) => {
        expect(bounded.length).toBeGreaterThanOrEqual(8);
        expect(bounded.length).toBeLessThanOrEqual(30);
        expect(network.address).toBe(networkAddress(network));
        expect((network.address & ~prefixMask(network.length)) >>> 0).toBe(0);
      }),
    );
  });

  it('makes ports in range (1-65535 by default; 49152-65535 ephemeral)', () => {
    fc.assert(
      fc.property(arbPort(), arbPort({ min: 0, max: 10 }), arbEphemeralPort(), (port, small, ephemeral) => {
        expect(port >= 1 && port <= 65535).toBe(true);
        expect(small >= 0 && small <= 10).toBe(true);
        expect(ephemeral >= 49152 && ephemeral <= 65535).toBe(true);
      }),
    );
  });

  it('makes payloads within the length bounds', () => {
    fc.assert(
      fc.property(arbPayload(), arbPayload({ minLength: 3, maxLength: 5 }), (payload, bounded) => {
        expect(payload).toBeInstanceOf(Uint8Array);
        expect(payload.length).toBeLessThanOrEqual(1500);
        expect(bounded.length >= 3 && bounded.length <= 5).toBe(true);
      }),
    );
  });
});
