// The switch's packet edits: every set-field leaves the IPv4, TCP, UDP, ICMP and SCTP checksums
// right (RFC 1624 incremental updates, checked by summing the whole packet again), VLAN push/pop
// round-trips, and the TTL decrement stops at 1.
import fc from 'fast-check';
import { type Ipv4Address, internetChecksum, ipv4PseudoHeaderSum } from '@morgana/core';
import { describe, expect, it } from 'vitest';
import { type MatchFieldName, decrementTtl, frameLayout, ipv4HeaderValid, packetFields, popVlan, pushVlan, setField, setTtl } from '@morgana/openflow';

const CRC32C: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index += 1) {
    let crc = index;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[index] = crc >>> 0;
  }
  return table;
})();

function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC32C[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

interface Spec {
  readonly proto: 1 | 6 | 17 | 132;
  readonly tagged: boolean;
  readonly ttl: number;
  readonly payload: Uint8Array;
  readonly udpChecksum: boolean;
}

/** Builds an Ethernet/IPv4 frame with a transport header and every checksum computed from scratch. */
function buildFrame(spec: Spec): Uint8Array {
  const l3 = spec.tagged ? 18 : 14;
  const l4Header = spec.proto === 6 ? 20 : spec.proto === 1 ? 8 : spec.proto === 132 ? 12 : 8;
  const ipLength = 20 + l4Header + spec.payload.length;
  const frame = new Uint8Array(l3 + ipLength);
  const view = new DataView(frame.buffer);
  frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  if (spec.tagged) view.setUint32(12, 0x8100_2005);
  view.setUint16(l3 - 2, 0x0800);
  frame.set([0x45, 0x28], l3);
  view.setUint16(l3 + 2, ipLength);
  frame[l3 + 8] = spec.ttl;
  frame[l3 + 9] = spec.proto;
  view.setUint32(l3 + 12, 0x0a000001);
  view.setUint32(l3 + 16, 0x0a000002);
  view.setUint16(l3 + 10, internetChecksum(frame, l3, l3 + 20));
  const l4 = l3 + 20;
  frame.set(spec.payload, l4 + l4Header);
  if (spec.proto === 1) {
    frame.set([8, 0], l4);
    view.setUint16(l4 + 2, internetChecksum(frame, l4, frame.length));
    return frame;
  }
  view.setUint16(l4, 1234);
  view.setUint16(l4 + 2, 80);
  if (spec.proto === 132) {
    const crc = crc32c(frame.subarray(l4));
    for (let index = 0; index < 4; index += 1) frame[l4 + 8 + index] = (crc >>> (8 * index)) & 0xff;
    return frame;
  }
  if (spec.proto === 6) frame[l4 + 12] = 0x50;
  else view.setUint16(l4 + 4, 8 + spec.payload.length);
  if (spec.proto === 17 && !spec.udpChecksum) return frame;
  const at = l4 + (spec.proto === 6 ? 16 : 6);
  const sum = internetChecksum(frame, l4, frame.length, ipv4PseudoHeaderSum(0x0a000001 as Ipv4Address, 0x0a000002 as Ipv4Address, spec.proto, frame.length - l4));
  view.setUint16(at, spec.proto === 17 && sum === 0 ? 0xffff : sum);
  return frame;
}

/** Whether every checksum of the frame verifies when summed from scratch. */
function checksumsValid(frame: Uint8Array): boolean {
  const layout = frameLayout(frame);
  if (!ipv4HeaderValid(frame)) return false;
  const view = new DataView(frame.buffer, frame.byteOffset);
  const l4 = layout.l4;
  const proto = layout.ipProto;
  if (proto === 1) return internetChecksum(frame, l4, frame.length) === 0;
  if (proto === 132) {
    const copy = frame.slice(l4);
    const stored = copy[8]! | (copy[9]! << 8) | (copy[10]! << 16) | (copy[11]! * 0x1000000);
    copy.fill(0, 8, 12);
    return crc32c(copy) === stored >>> 0;
  }
  if (proto === 17 && view.getUint16(l4 + 6) === 0) return true;
  const source = view.getUint32(layout.l3 + 12) as Ipv4Address;
  const destination = view.getUint32(layout.l3 + 16) as Ipv4Address;
  return internetChecksum(frame, l4, frame.length, ipv4PseudoHeaderSum(source, destination, proto, frame.length - l4)) === 0;
}

const spec: fc.Arbitrary<Spec> = fc.record({
  proto: fc.constantFrom(1 as const, 6 as const, 17 as const, 132 as const),
  tagged: fc.boolean(),
  ttl: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 64 }),
  udpChecksum: fc.boolean(),
});

/** Fields and value ranges a set-field may write on such a frame. */
const edit: fc.Arbitrary<{ field: MatchFieldName; value: number }> = fc.oneof(
  fc.record({ field: fc.constantFrom<MatchFieldName>('ipv4Src', 'ipv4Dst'), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ field: fc.constantFrom<MatchFieldName>('tcpSrc', 'tcpDst', 'udpSrc', 'udpDst', 'sctpSrc', 'sctpDst'), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ field: fc.constantFrom<MatchFieldName>('icmpv4Type', 'icmpv4Code', 'ipProto'), value: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ field: fc.constant<MatchFieldName>('ipDscp'), value: fc.integer({ min: 0, max: 63 }) }),
  fc.record({ field: fc.constant<MatchFieldName>('ipEcn'), value: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ field: fc.constantFrom<MatchFieldName>('ethSrc', 'ethDst'), value: fc.integer({ min: 0, max: 0xffffffffffff }) }),
  fc.record({ field: fc.constant<MatchFieldName>('vlanPcp'), value: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ field: fc.constant<MatchFieldName>('vlanVid'), value: fc.integer({ min: 0, max: 0xfff }) }),
);

describe('packet edits', () => {
  it('set-field writes the field and keeps every checksum valid (RFC 1624), or refuses a field the packet lacks', () => {
    fc.assert(fc.property(spec, fc.array(edit, { minLength: 1, maxLength: 4 }), (frameSpec, edits) => {
      let frame = buildFrame(frameSpec);
      expect(checksumsValid(frame)).toBe(true);
      for (const { field, value } of edits) {
        // Changing the protocol number would reinterpret the transport header: checked on its own below.
        if (field === 'ipProto') continue;
        const before = packetFields(frame, 1);
        const edited = setField(frame, field, value);
        const applies = field === 'vlanVid' || field === 'vlanPcp' ? true : before[field] !== undefined;
        if (!applies) {
          expect(edited).toBeUndefined();
          continue;
        }
        expect(edited).toBeDefined();
        frame = edited as Uint8Array;
        const after = packetFields(frame, 1);
        expect(after[field]).toBe(field === 'vlanVid' ? value | 0x1000 : value);
        expect(checksumsValid(frame)).toBe(true);
      }
    }), { numRuns: 400 });
  });

  it('set-field of the IP protocol keeps the IPv4 header checksum valid', () => {
    fc.assert(fc.property(spec, fc.integer({ min: 0, max: 255 }), (frameSpec, proto) => {
      const frame = setField(buildFrame(frameSpec), 'ipProto', proto) as Uint8Array;
      expect(packetFields(frame, 1).ipProto).toBe(proto);
      expect(ipv4HeaderValid(frame)).toBe(true);
    }), { numRuns: 100 });
  });

  it('push-vlan copies the outer tag (or zero), pop-vlan removes it, and the pair round-trips (1.3.x §5.12.1)', () => {
    fc.assert(fc.property(spec, fc.constantFrom(0x8100, 0x88a8), (frameSpec, tpid) => {
      const frame = buildFrame(frameSpec);
      const pushed = pushVlan(frame, tpid) as Uint8Array;
      expect(pushed.length).toBe(frame.length + 4);
      expect((pushed[12]! << 8) | pushed[13]!).toBe(tpid);
      expect(packetFields(pushed, 1).vlanVid).toBe(frameSpec.tagged ? 0x1005 : 0x1000);
      expect(popVlan(pushed)).toEqual(frame);
      if (!frameSpec.tagged) expect(popVlan(frame)).toBeUndefined();
    }), { numRuns: 100 });
  });

  it('dec-nw-ttl decrements with a valid header checksum and refuses a TTL of 0 or 1; set-nw-ttl writes it', () => {
    fc.assert(fc.property(spec, fc.integer({ min: 0, max: 255 }), (frameSpec, ttl) => {
      const frame = buildFrame(frameSpec);
      const l3 = frameLayout(frame).l3;
      const result = decrementTtl(frame);
      if (frameSpec.ttl <= 1) {
        expect(result).toBe('invalid');
        expect(frame[l3 + 8]).toBe(frameSpec.ttl);
      } else {
        expect(result).toBe('ok');
        expect(frame[l3 + 8]).toBe(frameSpec.ttl - 1);
      }
      expect(ipv4HeaderValid(frame)).toBe(true);
      expect(setTtl(frame, ttl)).toBe(true);
      expect(frame[l3 + 8]).toBe(ttl);
      expect(ipv4HeaderValid(frame)).toBe(true);
    }), { numRuns: 100 });
  });

  it('edits never throw on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), edit, (bytes, { field, value }) => {
      const frame = bytes.slice();
      setField(frame, field, value);
      decrementTtl(frame);
      popVlan(frame);
      pushVlan(frame, 0x8100);
      packetFields(frame, 1);
    }), { numRuns: 300 });
  });
});
