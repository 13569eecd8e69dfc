import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Match, OFPBMC_BAD_MASK, OFPBMC_BAD_PREREQ, OFPBMC_BAD_WILDCARDS, checkMatch13 } from '@morgana/openflow';

const IPV6_SOURCE = { oxmClass: 0x8000, field: 26, hasMask: false, payload: new Uint8Array(16).fill(1) };

/** Matches whose every field has its prerequisite (1.3.x §7.2.3.7), one protocol stack each. */
const validMatches: Record<string, Match> = {
  empty: {},
  'in_port and in_phy_port': { inPort: 1, inPhyPort: 1 },
  'tagged frame': { vlanVid: 0x1005, vlanPcp: 3 },
  'IPv4 TCP': { ethType: 0x0800, ipDscp: 10, ipProto: 6, ipv4Dst: 0x0a000000, masks: { ipv4Dst: 0xffffff00 }, tcpDst: 80 },
  'IPv4 UDP': { ethType: 0x0800, ipProto: 17, udpSrc: 53 },
  'IPv4 SCTP': { ethType: 0x0800, ipProto: 132, sctpDst: 9 },
  'ICMPv4': { ethType: 0x0800, ipProto: 1, icmpv4Type: 8, icmpv4Code: 0 },
  ARP: { ethType: 0x0806, arpOp: 1, arpSpa: 0x0a000001, arpTha: 0x0200_0000_0001 },
  'IPv6 neighbour solicitation': { ethType: 0x86dd, ipProto: 58, icmpv6Type: 135, ipv6NdSll: 0x0200_0000_0001, ipv6Flabel: 5, other: [IPV6_SOURCE] },
  MPLS: { ethType: 0x8847, mplsLabel: 16, mplsTc: 1, mplsBos: 1 },
  PBB: { ethType: 0x88e7, pbbIsid: 0x123400, masks: { pbbIsid: 0xffff00 } },
  'masked Ethernet destination': { ethDst: 0x0100_0000_0000, masks: { ethDst: 0x0100_0000_0000 } },
};

describe('1.3 match checks (1.3.x §7.2.3.5-7)', () => {
  it('accepts every field with its prerequisites', () => {
    for (const [name, match] of Object.entries(validMatches)) expect(checkMatch13(match), name).toBeUndefined();
  });

  it('refuses a field whose prerequisite is missing or has another value (OFPBMC_BAD_PREREQ)', () => {
    const cases: [Match, string][] = [
      [{ tcpDst: 80 }, 'tcpDst'],
      [{ ethType: 0x0800, ipProto: 17, tcpDst: 80 }, 'tcpDst'],
      [{ ethType: 0x86dd, ipv4Src: 1 }, 'ipv4Src'],
      [{ ipProto: 6 }, 'ipProto'],
      [{ vlanPcp: 3 }, 'vlanPcp'],
      [{ vlanVid: 0x0005, vlanPcp: 3 }, 'vlanPcp'],
      [{ vlanVid: 0x0005, vlanPcp: 3, masks: { vlanVid: 0x0fff } }, 'vlanPcp'],
      [{ ethType: 0x86dd, ipProto: 58, icmpv6Type: 136, ipv6NdSll: 1 }, 'ipv6NdSll'],
      [{ ethType: 0x0800, mplsLabel: 1 }, 'mplsLabel'],
      [{ inPhyPort: 1 }, 'inPhyPort'],
      [{ ethType: 0x0800, other: [IPV6_SOURCE] }, 'ipv6Src'],
    ];
    for (const [match, field] of cases) expect(checkMatch13(match), JSON.stringify(match)).toEqual({ code: OFPBMC_BAD_PREREQ, field });
  });

  it('refuses a mask on a field that takes none (OFPBMC_BAD_MASK) and value bits outside the mask (OFPBMC_BAD_WILDCARDS)', () => {
    expect(checkMatch13({ inPort: 1, masks: { inPort: 0xff } })).toEqual({ code: OFPBMC_BAD_MASK, field: 'inPort' });
    expect(checkMatch13({ ethType: 0x0800, ipProto: 6, masks: { ipProto: 0xf0 } })).toEqual({ code: OFPBMC_BAD_MASK, field: 'ipProto' });
    expect(checkMatch13({ ethType: 0x0800, ipv4Dst: 0x0a000001, masks: { ipv4Dst: 0xffffff00 } })).toEqual({ code: OFPBMC_BAD_WILDCARDS, field: 'ipv4Dst' });
    expect(checkMatch13({ ethSrc: 0x0200_0000_0001, masks: { ethSrc: 0xffff_0000_0000 } })).toEqual({ code: OFPBMC_BAD_WILDCARDS, field: 'ethSrc' });
    const maskedTarget = { oxmClass: 0x8000, field: 31, hasMask: true, payload: new Uint8Array(32) };
    expect(checkMatch13({ ethType: 0x86dd, ipProto: 58, icmpv6Type: 135, other: [maskedTarget] })).toEqual({ code: OFPBMC_BAD_MASK, field: 'ipv6NdTarget' });
    const masked = { oxmClass: 0x8000, field: 27, hasMask: true, payload: Uint8Array.from([...new Array<number>(16).fill(0xff), ...new Array<number>(16).fill(0xf0)]) };
    expect(checkMatch13({ ethType: 0x86dd, other: [masked] })).toEqual({ code: OFPBMC_BAD_WILDCARDS, field: 'ipv6Dst' });
  });

  it('accepts any value under any mask once the value is cut to the mask', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff_ffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff_ffff }), (value, mask) => {
      const high = (Math.floor(value / 0x1_0000_0000) & Math.floor(mask / 0x1_0000_0000)) >>> 0;
      const low = ((value % 0x1_0000_0000) & (mask % 0x1_0000_0000)) >>> 0;
      expect(checkMatch13({ ethDst: high * 0x1_0000_0000 + low, masks: { ethDst: mask } })).toBeUndefined();
    }), { numRuns: 300 });
  });

  it('refuses every valid match once one of its prerequisite fields is removed', () => {
    for (const [name, match] of Object.entries(validMatches)) {
      for (const prerequisite of ['ethType', 'ipProto', 'icmpv6Type', 'inPort', 'vlanVid'] as const) {
        if (match[prerequisite] === undefined) continue;
        const { [prerequisite]: removed, ...rest } = match;
        expect(removed).toBeDefined();
        const dependents = Object.keys(rest).filter((key) => key !== 'masks' && key !== 'other');
        if (dependents.length === 0 && (rest.other ?? []).length === 0) continue;
        expect(checkMatch13(rest)?.code, `${name} without ${prerequisite}`).toBe(OFPBMC_BAD_PREREQ);
      }
    }
  });
});
