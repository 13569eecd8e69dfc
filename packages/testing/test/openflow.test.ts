import { DecodeError } from '@morgana/core';
import { emitMessage, parseMessage } from '@morgana/openflow';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutate } from '../src/mutators.js';
import { arbHostileOpenFlowMessage, arbOpenFlowMessage, arbOpenFlowMessageBytes, openFlowMutators } from '../src/openflow.js';
import { expectRejected } from './hostile.js';

describe('OpenFlow arbitraries (@morgana/testing/openflow)', () => {
  for (const version of [1, 4] as const) {
    const name = version === 1 ? '1.0' : '1.3';

    it(`yields OpenFlow ${name} messages that parse back to themselves`, () => {
      fc.assert(
        fc.property(arbOpenFlowMessage(version), (message) => {
          expect(parseMessage(emitMessage(message))).toEqual(message);
        }),
        { numRuns: 200 },
      );
    });

    it(`rejects OpenFlow ${name} length, version and type lies with DecodeError`, () => {
      fc.assert(
        fc.property(mutate(arbOpenFlowMessageBytes(version), openFlowMutators()), (mutant) => {
          expectRejected(mutant, () => parseMessage(mutant.bytes), DecodeError);
        }),
        { numRuns: 300 },
      );
    });

    it(`hostile OpenFlow ${name} messages never throw anything but DecodeError`, () => {
      fc.assert(
        fc.property(arbHostileOpenFlowMessage(version), (mutant) => {
          expectRejected(mutant, () => parseMessage(mutant.bytes), DecodeError);
        }),
        { numRuns: 300 },
      );
    });
  }
});
