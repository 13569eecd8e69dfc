/** fast-check arbitraries for this package's wire formats. */
import fc from 'fast-check';
import type { Ipv4Address, MacAddress } from '@morgana/core';
import { ArpOperation, ETHERTYPE_MIN, VLAN_ID_MAX } from '../src/index.js';
import type { ArpRepr, EthernetRepr, VlanTag } from '../src/index.js';

export const macArb: fc.Arbitrary<MacAddress> = fc.integer({ min: 0, max: 2 ** 48 - 1 }).map((value) => value as MacAddress);
export const ipv4Arb: fc.Arbitrary<Ipv4Address> = fc.integer({ min: 0, max: 0xffff_ffff }).map((value) => value as Ipv4Address);

export const vlanTagArb: fc.Arbitrary<VlanTag> = fc.record({
  id: fc.integer({ min: 0, max: VLAN_ID_MAX }),
  priority: fc.integer({ min: 0, max: 7 }),
  dropEligible: fc.boolean(),
});

/** EtherTypes of Ethernet II payloads (not the VLAN tag itself, which would read as a second tag). */
export const ethertypeArb: fc.Arbitrary<number> = fc.integer({ min: ETHERTYPE_MIN, max: 0xffff }).filter((value) => value !== 0x8100);

export const ethernetReprArb: fc.Arbitrary<EthernetRepr> = fc.record({
  destination: macArb,
  source: macArb,
  ethertype: ethertypeArb,
  vlan: fc.option(vlanTagArb, { nil: undefined }),
});

export const arpReprArb: fc.Arbitrary<ArpRepr> = fc.record({
  operation: fc.constantFrom(ArpOperation.request, ArpOperation.reply),
  senderMac: macArb,
  senderAddress: ipv4Arb,
  targetMac: macArb,
  targetAddress: ipv4Arb,
});
