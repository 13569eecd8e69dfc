import type { Ipv4Address } from '@morgana/core';
import fc from 'fast-check';
import type { DnsMessage, DnsName, Question, Rdata, ResourceRecord } from '../src/index.js';
import { RrType } from '../src/index.js';

const labelChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)) },
);
export const label = fc.array(labelChar, { minLength: 1, maxLength: 20 }).map((chars) => chars.join(''));
/** Names drawn from a small pool of suffixes, so compression has something to do. */
export const dnsName: fc.Arbitrary<DnsName> = fc
  .tuple(fc.array(label, { maxLength: 3 }), fc.constantFrom<DnsName>([], ['com'], ['example', 'com'], ['Example', 'ORG'], ['a', 'b', 'c', 'net']))
  .map(([head, tail]) => [...head, ...tail]);
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat().map((n) => n >>> 0);
const typeList = fc.uniqueArray(fc.integer({ min: 1, max: 0xffff }), { maxLength: 12 }).map((types) => types.sort((a, b) => a - b));

export const rdataRecord: fc.Arbitrary<{ type: number; data: Rdata }> = fc.oneof(
  u32.map((a) => ({ type: RrType.A, data: { type: 'A' as const, address: a as Ipv4Address } })),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((address) => ({ type: RrType.AAAA, data: { type: 'AAAA' as const, address } })),
  fc.tuple(fc.constantFrom('NS' as const, 'CNAME' as const, 'PTR' as const), dnsName).map(([kind, target]) => ({ type: RrType[kind], data: { type: kind, target } })),
  fc.tuple(dnsName, dnsName, u32, u32, u32, u32, u32).map(([mname, rname, serial, refresh, retry, expire, minimum]) => ({
    type: RrType.SOA,
    data: { type: 'SOA' as const, mname, rname, serial, refresh, retry, expire, minimum },
  })),
  fc.tuple(u16, dnsName).map(([preference, exchange]) => ({ type: RrType.MX, data: { type: 'MX' as const, preference, exchange } })),
  fc.array(bytes(255), { minLength: 1, maxLength: 4 }).map((strings) => ({ type: RrType.TXT, data: { type: 'TXT' as const, strings } })),
  fc.tuple(u16, u16, u16, dnsName).map(([priority, weight, port, target]) => ({ type: RrType.SRV, data: { type: 'SRV' as const, priority, weight, port, target } })),
  fc.tuple(u16, u16, bytes(10), bytes(20), bytes(40), dnsName).map(([order, preference, flags, services, regexp, replacement]) => ({
    type: RrType.NAPTR,
    data: { type: 'NAPTR' as const, order, preference, flags, services, regexp, replacement },
  })),
  fc.tuple(u8, fc.uint8Array({ minLength: 1, maxLength: 15 }), bytes(40)).map(([flags, tag, value]) => ({ type: RrType.CAA, data: { type: 'CAA' as const, flags, tag, value } })),
  fc.tuple(u8, u8, bytes(32)).map(([algorithm, fingerprintType, fingerprint]) => ({ type: RrType.SSHFP, data: { type: 'SSHFP' as const, algorithm, fingerprintType, fingerprint } })),
  fc.tuple(u8, u8, u8, bytes(64)).map(([usage, selector, matchingType, data]) => ({ type: RrType.TLSA, data: { type: 'TLSA' as const, usage, selector, matchingType, data } })),
  fc
    .tuple(fc.constantFrom('SVCB' as const, 'HTTPS' as const), u16, dnsName, fc.uniqueArray(fc.record({ key: u16, value: bytes(20) }), { selector: (p) => p.key, maxLength: 4 }))
    .map(([kind, priority, target, params]) => ({ type: RrType[kind], data: { type: kind, priority, target, params: params.sort((a, b) => a.key - b.key) } })),
  fc.tuple(u16, u8, u8, bytes(48)).map(([keyTag, algorithm, digestType, digest]) => ({ type: RrType.DS, data: { type: 'DS' as const, keyTag, algorithm, digestType, digest } })),
  fc.tuple(u16, u8, u8, bytes(64)).map(([flags, protocol, algorithm, publicKey]) => ({ type: RrType.DNSKEY, data: { type: 'DNSKEY' as const, flags, protocol, algorithm, publicKey } })),
  fc.tuple(u16, u8, u8, u32, u32, u32, u16, dnsName, bytes(64)).map(([typeCovered, algorithm, labels, originalTtl, expiration, inception, keyTag, signerName, signature]) => ({
    type: RrType.RRSIG,
    data: { type: 'RRSIG' as const, typeCovered, algorithm, labels, originalTtl, expiration, inception, keyTag, signerName, signature },
  })),
  fc.tuple(dnsName, typeList).map(([next, types]) => ({ type: RrType.NSEC, data: { type: 'NSEC' as const, next, types } })),
  fc.tuple(u8, u8, u16, bytes(16), bytes(32), typeList).map(([hashAlgorithm, flags, iterations, salt, nextHashed, types]) => ({
    type: RrType.NSEC3,
    data: { type: 'NSEC3' as const, hashAlgorithm, flags, iterations, salt, nextHashed, types },
  })),
  fc.tuple(fc.integer({ min: 300, max: 0xfeff }).filter((t) => ![257].includes(t)), bytes(60)).map(([type, data]) => ({ type, data: { type: 'unknown' as const, data } })),
);

export const record: fc.Arbitrary<ResourceRecord> = fc
  .tuple(dnsName, rdataRecord, fc.constantFrom(1, 3, 255), u32)
  .map(([name, { type, data }, klass, ttl]) => ({ name, type, class: klass, ttl, data }));

export const question: fc.Arbitrary<Question> = fc.record({ name: dnsName, type: u16.filter((t) => t !== RrType.OPT), class: u16 });

export const message: fc.Arbitrary<DnsMessage> = fc.record({
  id: u16,
  flags: fc.record({ qr: fc.boolean(), opcode: fc.integer({ min: 0, max: 15 }), aa: fc.boolean(), tc: fc.boolean(), rd: fc.boolean(), ra: fc.boolean(), ad: fc.boolean(), cd: fc.boolean() }),
  rcode: fc.integer({ min: 0, max: 15 }),
  questions: fc.array(question, { maxLength: 2 }),
  answers: fc.array(record, { maxLength: 5 }),
  authorities: fc.array(record, { maxLength: 3 }),
  additionals: fc.array(record, { maxLength: 3 }),
  edns: fc.option(
    fc.record({ udpPayloadSize: u16, version: u8, dnssecOk: fc.boolean(), options: fc.array(fc.record({ code: u16, data: bytes(20) }), { maxLength: 3 }) }),
    { nil: undefined },
  ),
});
