// The codec's arbitraries live in @morgana/testing/openflow, for users too; the tests here use
// them under short names. Only table features, which the switch tests alone need, stay here.
import fc from 'fast-check';
import type { TableFeatureProperty, TableFeatures } from '@morgana/openflow';

export {
  arbOpenFlowAction as actionArb,
  arbOpenFlowInstructions as instructionsArb,
  arbOpenFlowMatch as matchArb,
  arbOpenFlowMessage as messageArb,
  arbOpenFlowMessagesByType as messageArbs,
} from '@morgana/testing/openflow';

const u8 = fc.integer({ min: 0, max: 0xff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });

const featureIds: fc.Arbitrary<{ type: number; experimenter?: number }[]> = fc.array(fc.oneof(
  fc.integer({ min: 0, max: 0xfffe }).map((type) => ({ type })),
  u32.map((experimenter) => ({ type: 0xffff, experimenter })),
), { maxLength: 5 });

/** Table features (1.3.x §7.3.5.5) with every property type. */
export function tableFeaturesArb(): fc.Arbitrary<TableFeatures[]> {
  const property: fc.Arbitrary<TableFeatureProperty> = fc.oneof(
    fc.record({ type: fc.constantFrom('instructions' as const, 'instructions-miss' as const), instructionIds: featureIds }),
    fc.record({ type: fc.constantFrom('next-tables' as const, 'next-tables-miss' as const), tableIds: fc.array(u8, { maxLength: 9 }) }),
    fc.record({ type: fc.constantFrom('write-actions' as const, 'write-actions-miss' as const, 'apply-actions' as const, 'apply-actions-miss' as const), actionIds: featureIds }),
    fc.record({
      type: fc.constantFrom('match' as const, 'wildcards' as const, 'write-setfield' as const, 'write-setfield-miss' as const, 'apply-setfield' as const, 'apply-setfield-miss' as const),
      oxmIds: fc.array(u32, { maxLength: 5 }),
    }),
    fc.record({ type: fc.constantFrom('experimenter' as const, 'experimenter-miss' as const), experimenter: u32, expType: u32, data: bytes(12) }),
  );
  return fc.array(fc.record({
    tableId: u8, name: fc.stringMatching(/^[ -~]{0,31}$/), metadataMatch: u64, metadataWrite: u64, config: u32, maxEntries: u32,
    properties: fc.array(property, { maxLength: 6 }),
  }), { maxLength: 3 });
}
