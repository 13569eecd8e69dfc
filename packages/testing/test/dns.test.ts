import { DecodeError } from '@morgana/core';
import { decodeMessage, encodeMessage } from '@morgana/dns';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbDnsMessage, arbDnsMessageBytes, arbHostileDnsMessage, dnsMutators } from '../src/dns.js';
import { mutate } from '../src/mutators.js';
import { expectRejected } from './hostile.js';

describe('DNS arbitraries (@morgana/testing/dns)', () => {
  it('yields messages that decode back to themselves', () => {
    fc.assert(
      fc.property(arbDnsMessage(), (message) => {
        expect(decodeMessage(encodeMessage(message))).toEqual(message);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects compression loops, forward pointers, reserved label types and count lies (RFC 1035 §4.1.4)', () => {
    fc.assert(
      fc.property(mutate(arbDnsMessageBytes(), dnsMutators()), (mutant) => {
        expect(mutant.invalid).toBe(true);
        expectRejected(mutant, () => decodeMessage(mutant.bytes), DecodeError);
      }),
      { numRuns: 400 },
    );
  });

  it('hostile messages never throw anything but DecodeError', () => {
    fc.assert(
      fc.property(arbHostileDnsMessage(), (mutant) => {
        expectRejected(mutant, () => decodeMessage(mutant.bytes), DecodeError);
      }),
      { numRuns: 400 },
    );
  });
});
