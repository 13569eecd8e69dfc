import { DecodeError } from '@morgana/core';
import { parseIcmp, parseIpv4 } from '@morgana/ipv4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbHostileIcmp, arbHostileIpv4, arbIcmpRepr, arbIpv4Datagram, emitIcmpMessage, emitIpv4Datagram } from '../src/ipv4.js';
import { expectRejected } from './hostile.js';

describe('IPv4 and ICMP arbitraries (@morgana/testing/ipv4)', () => {
  it('yields datagrams that parse back to their header and payload', () => {
    fc.assert(
      fc.property(arbIpv4Datagram(), (sample) => {
        const parsed = parseIpv4(emitIpv4Datagram(sample));
        expect(parsed.repr).toEqual(sample.repr);
        expect(parsed.payload).toEqual(sample.payload);
      }),
      { numRuns: 200 },
    );
  });

  it('yields ICMP messages that parse back to their repr', () => {
    fc.assert(
      fc.property(arbIcmpRepr(), (repr) => {
        expect(parseIcmp(emitIcmpMessage(repr))).toEqual(repr);
      }),
      { numRuns: 300 },
    );
  });

  it('hostile datagrams are rejected with DecodeError when malformed, and never throw anything else', () => {
    fc.assert(
      fc.property(arbHostileIpv4(), (mutant) => {
        expectRejected(mutant, () => parseIpv4(mutant.bytes), DecodeError);
      }),
      { numRuns: 500 },
    );
  });

  it('hostile ICMP messages are rejected with DecodeError when malformed, and never throw anything else', () => {
    fc.assert(
      fc.property(arbHostileIcmp(), (mutant) => {
        expectRejected(mutant, () => parseIcmp(mutant.bytes), DecodeError);
      }),
      { numRuns: 400 },
    );
  });
});
