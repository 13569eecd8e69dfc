import { DecodeError } from '@morgana/core';
import { parseTcp } from '@morgana/tcp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbHostileTcp, arbTcpOptions, arbTcpSegment, emitTcpSegment, encodeTcpOptions, tcpOptionsMeaning, withTcpOptions } from '../src/tcp.js';
import { expectRejected } from './hostile.js';

describe('TCP arbitraries (@morgana/testing/tcp)', () => {
  it('yields segments with options that parse back to their repr, checksum verified', () => {
    fc.assert(
      fc.property(arbTcpSegment(), (sample) => {
        const context = { source: sample.source, destination: sample.destination };
        expect(parseTcp(emitTcpSegment(sample), context)).toEqual(sample.repr);
      }),
      { numRuns: 300 },
    );
  });

  it('yields option lists in any order whose meaning the codec reads (last occurrence wins, unknown kinds skipped)', () => {
    fc.assert(
      fc.property(arbTcpSegment({ maxPayload: 40 }), arbTcpOptions(), (sample, options) => {
        const encoded = encodeTcpOptions(options);
        expect(encoded.length).toBeLessThanOrEqual(40);
        const parsed = parseTcp(withTcpOptions(emitTcpSegment(sample), encoded));
        expect({ ...parsed, payload: parsed.payload.slice() }).toEqual({ ...sample.repr, ...tcpOptionsMeaning(options) });
      }),
      { numRuns: 300 },
    );
  });

  it('hostile segments are rejected with DecodeError when malformed, and never throw anything else', () => {
    fc.assert(
      fc.property(arbHostileTcp(), (mutant) => {
        expectRejected(mutant, () => parseTcp(mutant.bytes, { source: mutant.source, destination: mutant.destination }), DecodeError);
      }),
      { numRuns: 600 },
    );
  });
});
