import { checksumPartial, readU16 } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbHostileDnsMessage, dnsCountMutators, dnsMutators } from '../src/dns.js';
import { arbHostileArp, arbHostileEthernetFrame, arpMutators, ethernetMutators } from '../src/ethernet.js';
import { arbHostileHttpRequest } from '../src/http.js';
import { arbHostileIcmp, arbHostileIpv4, arbIpv4DatagramBytes, icmpMutators, ipv4Mutators } from '../src/ipv4.js';
import {
  corruptChecksum,
  corruptLength,
  deleteBytes,
  extend,
  flipBits,
  genericMutators,
  insertBytes,
  mutate,
  mutateRepeatedly,
  readField,
  replaceByte,
  truncate,
  writeField,
} from '../src/mutators.js';
import type { Mutant, Mutator } from '../src/mutators.js';
import { arbHostileOpenFlowMessage, openFlowMutators } from '../src/openflow.js';
import { arbHostileSshPacket, sshPacketMutators } from '../src/ssh.js';
import { arbHostileTcp, tcpMutators } from '../src/tcp.js';
import { arbHostileUdp, udpMutators } from '../src/udp.js';
import { arbHostileXmppStanza } from '../src/xmpp.js';

const sample = fc.uint8Array({ minLength: 1, maxLength: 64 });

function differingBits(a: Uint8Array, b: Uint8Array): number {
  let count = 0;
  for (let index = 0; index < a.length; index++) for (let bit = 0; bit < 8; bit++) if (((a[index] ^ b[index]) >> bit) & 1) count++;
  return count;
}

describe('generic mutators', () => {
  it('flipBits changes 1 to maxBits bits (pairs may cancel) and keeps the length', () => {
    fc.assert(
      fc.property(sample.chain((bytes) => flipBits(3)(bytes).map((mutant) => [bytes, mutant] as const)), ([bytes, mutant]) => {
        expect(mutant.bytes.length).toBe(bytes.length);
        expect(differingBits(bytes, mutant.bytes)).toBeLessThanOrEqual(3);
      }),
    );
  });

  it('truncate keeps a strict prefix, extend and insertBytes add bytes, deleteBytes removes some', () => {
    fc.assert(
      fc.property(sample.chain((bytes) => fc.tuple(fc.constant(bytes), truncate()(bytes), extend(8)(bytes), insertBytes(4)(bytes), deleteBytes(4)(bytes))), ([bytes, cut, longer, inserted, deleted]) => {
        expect(cut.bytes.length).toBeLessThan(bytes.length);
        expect(cut.bytes).toEqual(bytes.subarray(0, cut.bytes.length));
        expect(longer.bytes.subarray(0, bytes.length)).toEqual(bytes);
        expect(longer.bytes.length - bytes.length).toBeGreaterThanOrEqual(1);
        expect(inserted.bytes.length - bytes.length).toBeGreaterThanOrEqual(1);
        expect(bytes.length - deleted.bytes.length).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('replaceByte changes exactly one byte', () => {
    fc.assert(
      fc.property(sample.chain((bytes) => replaceByte()(bytes).map((mutant) => [bytes, mutant] as const)), ([bytes, mutant]) => {
        expect(mutant.bytes.filter((value, index) => value !== bytes[index]).length).toBe(1);
      }),
    );
  });

  it('corruptLength writes a different value into the field and nothing else', () => {
    const field = { name: 'length', offset: 2, size: 2 } as const;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 40 }).chain((bytes) => corruptLength(field, { direction: 'longer' })(bytes).map((mutant) => [bytes, mutant] as const)), ([bytes, mutant]) => {
        const before = readField(bytes, 2, 2);
        if (before === 0xffff) return;
        expect(readField(mutant.bytes, 2, 2)).toBeGreaterThan(before);
        expect([...mutant.bytes.subarray(0, 2), ...mutant.bytes.subarray(4)]).toEqual([...bytes.subarray(0, 2), ...bytes.subarray(4)]);
      }),
    );
  });

  it('corruptLength skips samples without the field', () => {
    const field = { name: 'far', offset: () => undefined, size: 4 } as const;
    fc.assert(
      fc.property(sample.chain((bytes) => corruptLength(field)(bytes)), (mutant) => {
        expect(mutant.invalid).toBe(false);
        expect(mutant.mutation).toMatch(/^unchanged/);
      }),
      { numRuns: 20 },
    );
  });

  it('corruptChecksum always breaks an Internet checksum (RFC 1071), even where 0 and 0xffff alias', () => {
    const field = { name: 'ipv4.checksum', offset: 10, size: 2 } as const;
    fc.assert(
      fc.property(arbIpv4DatagramBytes({ maxPayload: 0 }).chain((bytes) => corruptChecksum(field)(bytes)), (mutant) => {
        const headerLength = (mutant.bytes[0] & 0x0f) * 4;
        expect(checksumPartial(mutant.bytes, 0, headerLength)).not.toBe(0xffff);
        expect(readU16(mutant.bytes, 10)).not.toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('readField and writeField agree for every width', () => {
    fc.assert(
      fc.property(fc.constantFrom(1 as const, 2 as const, 4 as const), fc.nat(), (size, raw) => {
        const value = raw % 2 ** (8 * size);
        const bytes = new Uint8Array(6);
        writeField(bytes, 1, size, value);
        expect(readField(bytes, 1, size)).toBe(value);
      }),
    );
  });

  it('mutate and mutateRepeatedly describe every mutation they apply', () => {
    fc.assert(
      fc.property(mutateRepeatedly(sample, [truncate(), extend()], 3), (mutant) => {
        expect(mutant.mutation.length).toBeGreaterThan(0);
      }),
      { numRuns: 50 },
    );
    expect(() => mutate(sample, [])).toThrow(RangeError);
  });
});

describe('hostile arbitraries', () => {
  const hostile: Record<string, fc.Arbitrary<Mutant>> = {
    ethernet: arbHostileEthernetFrame(),
    arp: arbHostileArp(),
    ipv4: arbHostileIpv4(),
    icmp: arbHostileIcmp(),
    udp: arbHostileUdp(),
    tcp: arbHostileTcp(),
    dns: arbHostileDnsMessage(),
    http: arbHostileHttpRequest(),
    ssh: arbHostileSshPacket(),
    xmpp: arbHostileXmppStanza(),
    'openflow 1.0': arbHostileOpenFlowMessage(1),
    'openflow 1.3': arbHostileOpenFlowMessage(4),
  };
  for (const [format, arbitrary] of Object.entries(hostile)) {
    it(`${format}: a good share of samples is guaranteed malformed, so the rejection checks run`, () => {
      const samples = fc.sample(arbitrary, { numRuns: 300, seed: 7 });
      const invalid = samples.filter((mutant) => mutant.invalid).length;
      expect(invalid).toBeGreaterThan(samples.length / 4);
      expect(new Set(samples.map((mutant) => mutant.mutation.split(/[ :]/)[0])).size).toBeGreaterThan(3);
    });
  }
});

describe('format-aware mutators', () => {
  const sets: Record<string, Mutator[]> = {
    ethernet: ethernetMutators(),
    arp: arpMutators(),
    ipv4: ipv4Mutators(),
    icmp: icmpMutators(),
    udp: udpMutators(),
    tcp: tcpMutators({ source: 0x0a000001 as Ipv4Address, destination: 0x0a000002 as Ipv4Address }),
    dns: [...dnsMutators(), ...dnsCountMutators()],
    ssh: sshPacketMutators(),
    openflow: openFlowMutators(),
  };
  for (const [format, mutators] of Object.entries(sets)) {
    it(`${format}: accept any bytes, even empty or already mutated ones, without throwing`, () => {
      fc.assert(
        fc.property(mutateRepeatedly(fc.uint8Array({ maxLength: 80 }), [...mutators, ...genericMutators()], 3), (mutant) => {
          expect(mutant.bytes).toBeInstanceOf(Uint8Array);
        }),
        { numRuns: 300 },
      );
    });
  }
});
