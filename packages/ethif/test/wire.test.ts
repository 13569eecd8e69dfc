import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EtherType, fromHex, parseIpv4, parseMac } from '@morgana/core';
import {
  ARP_PACKET_LENGTH,
  ArpOperation,
  ArpPacket,
  ETHERNET_HEADER_LENGTH,
  EthernetFrame,
  emitArp,
  emitEthernet,
  ethernetHeaderLength,
  parseArp,
  parseEthernet,
} from '../src/index.js';
import { arbMacAddress } from '@morgana/testing';
import { arbArpRepr, arbEthernetRepr, arbEthertype, arbVlanTag } from '@morgana/testing/ethernet';

function decodeOrTypedError(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
  }
}

describe('Ethernet II header', () => {
  it('parse(emit(repr)) gives back the repr, tagged or not', () => {
    fc.assert(
      fc.property(arbEthernetRepr(), fc.uint8Array({ maxLength: 64 }), (repr, payload) => {
        const length = ethernetHeaderLength(repr);
        const bytes = new Uint8Array(length + payload.length);
        expect(emitEthernet(repr, new EthernetFrame(bytes))).toBe(length);
        bytes.set(payload, length);
        const frame = EthernetFrame.checked(bytes);
        expect(parseEthernet(frame)).toEqual(repr);
        expect(frame.headerLength).toBe(length);
        expect(frame.payload).toEqual(payload);
      }),
      { numRuns: 300 },
    );
  });

  it('places the 802.1Q tag after the source address (IEEE 802.1Q §9.3)', () => {
    fc.assert(
      fc.property(arbMacAddress(), arbMacAddress(), arbEthertype(), arbVlanTag(), (destination, source, ethertype, vlan) => {
        const bytes = new Uint8Array(18);
        emitEthernet({ destination, source, ethertype, vlan }, new EthernetFrame(bytes));
        expect((bytes[12] << 8) | bytes[13]).toBe(0x8100);
        const control = (bytes[14] << 8) | bytes[15];
        expect(control >>> 13).toBe(vlan.priority);
        expect((control >>> 12) & 1).toBe(vlan.dropEligible ? 1 : 0);
        expect(control & 0xfff).toBe(vlan.id);
        expect((bytes[16] << 8) | bytes[17]).toBe(ethertype);
      }),
      { numRuns: 100 },
    );
  });

  it('decodes a captured IPv4 frame header', () => {
    const bytes = fromHex('ffffffffffff 525400123456 0800 4500');
    expect(parseEthernet(EthernetFrame.checked(bytes))).toEqual({
      destination: parseMac('ff:ff:ff:ff:ff:ff'),
      source: parseMac('52:54:00:12:34:56'),
      ethertype: EtherType.ipv4,
      vlan: undefined,
    });
  });

  it('rejects short frames, 802.3 length fields and VLAN id 4095 with typed errors', () => {
    expect(() => EthernetFrame.checked(new Uint8Array(13))).toThrow(DecodeError);
    const tagged = fromHex('ffffffffffff 525400123456 8100 0005');
    expect(() => parseEthernet(new EthernetFrame(tagged))).toThrow(expect.objectContaining({ reason: 'truncated' }));
    const llc = fromHex('ffffffffffff 525400123456 05dc');
    expect(() => parseEthernet(new EthernetFrame(llc))).toThrow(expect.objectContaining({ reason: 'not-ethernet-ii' }));
    const reserved = fromHex('ffffffffffff 525400123456 8100 0fff 0800');
    expect(() => parseEthernet(new EthernetFrame(reserved))).toThrow(expect.objectContaining({ reason: 'reserved-vlan' }));
  });

  it('parsing arbitrary bytes throws nothing but DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        decodeOrTypedError(() => parseEthernet(new EthernetFrame(bytes)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('ARP packet (RFC 826)', () => {
  it('parse(emit(repr)) gives back the repr', () => {
    fc.assert(
      fc.property(arbArpRepr(), fc.integer({ min: 0, max: 18 }), (repr, padding) => {
        const bytes = new Uint8Array(ARP_PACKET_LENGTH + padding);
        expect(emitArp(repr, new ArpPacket(bytes))).toBe(ARP_PACKET_LENGTH);
        expect(parseArp(ArpPacket.checked(bytes))).toEqual(repr);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes a captured who-has request', () => {
    // who-has 192.168.1.1 tell 192.168.1.10
    const bytes = fromHex('0001 0800 06 04 0001 525400123456 c0a8010a 000000000000 c0a80101');
    expect(parseArp(ArpPacket.checked(bytes))).toEqual({
      operation: ArpOperation.request,
      senderMac: parseMac('52:54:00:12:34:56'),
      senderAddress: parseIpv4('192.168.1.10'),
      targetMac: parseMac('00:00:00:00:00:00'),
      targetAddress: parseIpv4('192.168.1.1'),
    });
  });

  it('rejects other hardware and protocol types, address lengths and operations with their reasons', () => {
    const cases: [string, string][] = [
      ['0006 0800 06 04 0001', 'bad-hardware-type'],
      ['0001 86dd 06 04 0001', 'bad-protocol-type'],
      ['0001 0800 06 10 0001', 'bad-address-length'],
      ['0001 0800 08 04 0001', 'bad-address-length'],
      ['0001 0800 06 04 0003', 'bad-operation'],
    ];
    for (const [header, reason] of cases) {
      const bytes = new Uint8Array(ARP_PACKET_LENGTH);
      bytes.set(fromHex(header));
      expect(() => parseArp(new ArpPacket(bytes)), reason).toThrow(expect.objectContaining({ reason }));
    }
    expect(() => parseArp(new ArpPacket(new Uint8Array(27)))).toThrow(expect.objectContaining({ reason: 'truncated' }));
    expect(() => ArpPacket.checked(new Uint8Array(27))).toThrow(DecodeError);
  });

  it('parsing arbitrary bytes throws nothing but DecodeError', () => {
    const nearlyValid = fc
      .tuple(fc.uint8Array({ minLength: 28, maxLength: 46 }), fc.boolean())
      .map(([bytes, fixHeader]) => {
        if (fixHeader) bytes.set([0, 1, 8, 0, 6, 4]);
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 46 }), nearlyValid), (bytes) => {
        decodeOrTypedError(() => parseArp(new ArpPacket(bytes)));
      }),
      { numRuns: 500 },
    );
  });

  it('has the RFC 826 field layout for IPv4 over Ethernet', () => {
    expect(ETHERNET_HEADER_LENGTH).toBe(14);
    const bytes = new Uint8Array(ARP_PACKET_LENGTH);
    emitArp(
      {
        operation: ArpOperation.reply,
        senderMac: parseMac('02:00:00:00:00:01'),
        senderAddress: parseIpv4('10.0.0.1'),
        targetMac: parseMac('02:00:00:00:00:02'),
        targetAddress: parseIpv4('10.0.0.2'),
      },
      new ArpPacket(bytes),
    );
    expect(bytes).toEqual(fromHex('0001 0800 06 04 0002 020000000001 0a000001 020000000002 0a000002'));
  });
});
