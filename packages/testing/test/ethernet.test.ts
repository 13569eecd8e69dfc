import { DecodeError } from '@morgana/core';
import { ArpPacket, EthernetFrame, parseArp, parseEthernet } from '@morgana/ethif';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbArpBytes, arbArpRepr, arbEthernetFrame, arbHostileArp, arbHostileEthernetFrame, emitArpPacket, emitEthernetFrame } from '../src/ethernet.js';
import { expectRejected } from './hostile.js';

describe('Ethernet and ARP arbitraries (@morgana/testing/ethernet)', () => {
  it('yields frames that parse back to their header and payload', () => {
    fc.assert(
      fc.property(arbEthernetFrame(), (sample) => {
        const frame = new EthernetFrame(emitEthernetFrame(sample));
        expect(parseEthernet(frame)).toEqual(sample.repr);
        expect(frame.payload.subarray(0, sample.payload.length)).toEqual(sample.payload);
        expect(frame.bytes.length).toBeGreaterThanOrEqual(60);
      }),
      { numRuns: 200 },
    );
  });

  it('yields ARP packets that parse back to their repr', () => {
    fc.assert(
      fc.property(arbArpRepr(), (repr) => {
        expect(parseArp(new ArpPacket(emitArpPacket(repr)))).toEqual(repr);
      }),
      { numRuns: 200 },
    );
    fc.assert(fc.property(arbArpBytes(), (bytes) => {
      expect(bytes.length).toBe(28);
    }), { numRuns: 20 });
  });

  it('hostile frames are rejected with DecodeError when malformed, and never throw anything else', () => {
    fc.assert(
      fc.property(arbHostileEthernetFrame(), (mutant) => {
        expectRejected(mutant, () => parseEthernet(new EthernetFrame(mutant.bytes)), DecodeError);
      }),
      { numRuns: 400 },
    );
  });

  it('hostile ARP packets are rejected with DecodeError when malformed, and never throw anything else', () => {
    fc.assert(
      fc.property(arbHostileArp(), (mutant) => {
        expectRejected(mutant, () => parseArp(new ArpPacket(mutant.bytes)), DecodeError);
      }),
      { numRuns: 400 },
    );
  });
});
