import { DecodeError } from '@morgana/core';
import { parseUdp } from '@morgana/udp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbHostileUdp, arbUdpDatagram, emitUdpDatagram } from '../src/udp.js';
import { expectRejected } from './hostile.js';

describe('UDP arbitraries (@morgana/testing/udp)', () => {
  it('yields datagrams that parse back, checksum verified over the pseudo-header', () => {
    fc.assert(
      fc.property(arbUdpDatagram(), (sample) => {
        const parsed = parseUdp(emitUdpDatagram(sample), sample.source, sample.destination);
        expect(parsed.repr).toEqual(sample.repr);
        expect(parsed.payload).toEqual(sample.payload);
      }),
      { numRuns: 200 },
    );
  });

  it('hostile datagrams are rejected with DecodeError when malformed, and never throw anything else', () => {
    fc.assert(
      fc.property(arbHostileUdp(), (mutant) => {
        expectRejected(mutant, () => parseUdp(mutant.bytes, mutant.source, mutant.destination), DecodeError);
      }),
      { numRuns: 500 },
    );
  });
});
