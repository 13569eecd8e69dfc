import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Match, type PacketFields, covers, matches } from '@morgana/openflow';

const ipv4 = fc.integer({ min: 0, max: 0xffffffff });
const prefix = fc.integer({ min: 0, max: 32 }).map((bits) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0));
const packet: fc.Arbitrary<PacketFields> = fc.record({
  inPort: fc.integer({ min: 1, max: 4 }), ethType: fc.constantFrom(0x0800, 0x0806), ipv4Src: ipv4, ipv4Dst: ipv4,
  ethDst: fc.integer({ min: 0, max: 3 }),
});

/** A match built from a packet, so it matches that packet, with random wildcards and prefixes. */
function matchFrom(fields: PacketFields): fc.Arbitrary<Match> {
  return fc.record({
    keep: fc.subarray(['inPort', 'ethType', 'ipv4Src', 'ipv4Dst', 'ethDst'] as const),
    srcMask: prefix,
    dstMask: prefix,
  }).map(({ keep, srcMask, dstMask }) => {
    const match: Record<string, unknown> = {};
    for (const name of keep) match[name] = fields[name];
    const masks: Record<string, number> = {};
    if (keep.includes('ipv4Src')) masks.ipv4Src = srcMask;
    if (keep.includes('ipv4Dst')) masks.ipv4Dst = dstMask;
    if (Object.keys(masks).length > 0) match.masks = masks;
    return match as Match;
  });
}

describe('flow matching', () => {
  it('a covering match matches every packet the covered one matches (non-strict modify/delete, 1.3 §6.4)', () => {
    const cases = fc.tuple(packet, packet).chain(([first, second]) => fc.tuple(fc.constant(first), fc.constant(second), matchFrom(first), matchFrom(first)));
    let covering = 0;
    fc.assert(fc.property(cases, ([first, second, wide, narrow]) => {
      expect(matches(narrow, first)).toBe(true);
      expect(covers({}, narrow)).toBe(true);
      expect(covers(narrow, narrow)).toBe(true);
      if (covers(wide, narrow)) {
        covering += 1;
        expect(matches(wide, first)).toBe(true);
        if (matches(narrow, second)) expect(matches(wide, second)).toBe(true);
      }
    }), { numRuns: 500 });
    expect(covering).toBeGreaterThan(0);
  });
});
