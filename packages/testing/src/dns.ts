/**
 * `@morgana/testing/dns`: fast-check arbitraries for DNS messages (every record type the codec
 * knows, unknown types, EDNS), valid by construction for `@morgana/dns`'s codec, and mutators
 * that make near-valid hostile variants (compression loops, forward pointers, count and
 * length lies). Needs the optional peer `@morgana/dns`.
 */
import * as fc from 'fast-check';
import type { Ipv4Address } from '@morgana/core';
import { HEADER_LENGTH, RrType, encodeMessage } from '@morgana/dns';
import type { DnsMessage, DnsName, Edns, Question, Rdata, ResourceRecord } from '@morgana/dns';
import { corruptLength, genericMutators, mutate } from './mutators.js';
import type { Mutant, Mutator } from './mutators.js';

const labelChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)) },
);

/** A label of 1-20 octets: mostly letters, digits, `-` and `_`, sometimes any octet (DNS labels are binary, RFC 2181 §11). */
export function arbDnsLabel(): fc.Arbitrary<string> {
  return fc.array(labelChar, { minLength: 1, maxLength: 20 }).map((chars) => chars.join(''));
}

/** A name of up to 3 labels on top of a suffix from a small pool, so compression has something to share. */
export function arbDnsName(): fc.Arbitrary<DnsName> {
  return fc
    .tuple(fc.array(arbDnsLabel(), { maxLength: 3 }), fc.constantFrom<DnsName>([], ['com'], ['example', 'com'], ['Example', 'ORG'], ['a', 'b', 'c', 'net']))
    .map(([head, tail]) => [...head, ...tail]);
}

const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat().map((n) => n >>> 0);
/**
 * SvcParam keys for private use (RFC 9460 §14.3.2) and EDNS option codes for local or
 * experimental use (RFC 6891 §9): opaque values there are meaningful, where random bytes under
 * a defined key (alpn, port, client subnet...) would be values no peer can read.
 */
const privateSvcKey = fc.integer({ min: 65_280, max: 65_534 });
const localOptionCode = fc.integer({ min: 65_001, max: 65_534 });
const typeList = fc.uniqueArray(fc.integer({ min: 1, max: 0xffff }), { maxLength: 12 }).map((types) => types.sort((a, b) => a - b));

/** Record data of any type the codec knows (A to NSEC3, SVCB/HTTPS) or an unknown type (RFC 3597), with its type number. */
export function arbDnsRdata(): fc.Arbitrary<{ readonly type: number; readonly data: Rdata }> {
  const name = arbDnsName();
  return fc.oneof(
    u32.map((a) => ({ type: RrType.A, data: { type: 'A' as const, address: a as Ipv4Address } })),
    fc.uint8Array({ minLength: 16, maxLength: 16 }).map((address) => ({ type: RrType.AAAA, data: { type: 'AAAA' as const, address } })),
    fc.tuple(fc.constantFrom('NS' as const, 'CNAME' as const, 'PTR' as const), name).map(([kind, target]) => ({ type: RrType[kind], data: { type: kind, target } })),
    fc.tuple(name, name, u32, u32, u32, u32, u32).map(([mname, rname, serial, refresh, retry, expire, minimum]) => ({
      type: RrType.SOA,
      data: { type: 'SOA' as const, mname, rname, serial, refresh, retry, expire, minimum },
    })),
    fc.tuple(u16, name).map(([preference, exchange]) => ({ type: RrType.MX, data: { type: 'MX' as const, preference, exchange } })),
    fc.array(bytes(255), { minLength: 1, maxLength: 4 }).map((strings) => ({ type: RrType.TXT, data: { type: 'TXT' as const, strings } })),
    fc.tuple(u16, u16, u16, name).map(([priority, weight, port, target]) => ({ type: RrType.SRV, data: { type: 'SRV' as const, priority, weight, port, target } })),
    fc.tuple(u16, u16, bytes(10), bytes(20), bytes(40), name).map(([order, preference, flags, services, regexp, replacement]) => ({
      type: RrType.NAPTR,
      data: { type: 'NAPTR' as const, order, preference, flags, services, regexp, replacement },
    })),
    fc.tuple(u8, fc.uint8Array({ minLength: 1, maxLength: 15 }), bytes(40)).map(([flags, tag, value]) => ({ type: RrType.CAA, data: { type: 'CAA' as const, flags, tag, value } })),
    fc.tuple(u8, u8, bytes(32)).map(([algorithm, fingerprintType, fingerprint]) => ({ type: RrType.SSHFP, data: { type: 'SSHFP' as const, algorithm, fingerprintType, fingerprint } })),
    fc.tuple(u8, u8, u8, bytes(64)).map(([usage, selector, matchingType, data]) => ({ type: RrType.TLSA, data: { type: 'TLSA' as const, usage, selector, matchingType, data } })),
    fc
      .tuple(fc.constantFrom('SVCB' as const, 'HTTPS' as const), u16, name, fc.uniqueArray(fc.record({ key: privateSvcKey, value: bytes(20) }, { noNullPrototype: true }), { selector: (p) => p.key, maxLength: 4 }))
      // RFC 9460 §2.2: SvcParams in strictly increasing key order.
      .map(([kind, priority, target, params]) => ({ type: RrType[kind], data: { type: kind, priority, target, params: params.sort((a, b) => a.key - b.key) } })),
    fc.tuple(u16, u8, u8, bytes(48)).map(([keyTag, algorithm, digestType, digest]) => ({ type: RrType.DS, data: { type: 'DS' as const, keyTag, algorithm, digestType, digest } })),
    fc.tuple(u16, u8, u8, bytes(64)).map(([flags, protocol, algorithm, publicKey]) => ({ type: RrType.DNSKEY, data: { type: 'DNSKEY' as const, flags, protocol, algorithm, publicKey } })),
    fc.tuple(u16, u8, u8, u32, u32, u32, u16, name, bytes(64)).map(([typeCovered, algorithm, labels, originalTtl, expiration, inception, keyTag, signerName, signature]) => ({
      type: RrType.RRSIG,
      data: { type: 'RRSIG' as const, typeCovered, algorithm, labels, originalTtl, expiration, inception, keyTag, signerName, signature },
    })),
    fc.tuple(name, typeList).map(([next, types]) => ({ type: RrType.NSEC, data: { type: 'NSEC' as const, next, types } })),
    fc.tuple(u8, u8, u16, bytes(16), bytes(32), typeList).map(([hashAlgorithm, flags, iterations, salt, nextHashed, types]) => ({
      type: RrType.NSEC3,
      data: { type: 'NSEC3' as const, hashAlgorithm, flags, iterations, salt, nextHashed, types },
    })),
    // Unknown types (RFC 3597): a range with no type the codec parses (257 is CAA).
    fc.tuple(fc.integer({ min: 300, max: 0xfeff }), bytes(60)).map(([type, data]) => ({ type, data: { type: 'unknown' as const, data } })),
  );
}

/** A resource record of class IN, CH or ANY with any TTL. */
export function arbDnsRecord(): fc.Arbitrary<ResourceRecord> {
  return fc
    .tuple(arbDnsName(), arbDnsRdata(), fc.constantFrom(1, 3, 255), u32)
    .map(([name, { type, data }, klass, ttl]) => ({ name, type, class: klass, ttl, data }));
}

/** A question of any type but OPT (41, which only the additional section carries) and any class. */
export function arbDnsQuestion(): fc.Arbitrary<Question> {
  return fc.record({ name: arbDnsName(), type: u16.filter((t) => t !== RrType.OPT), class: u16 }, { noNullPrototype: true });
}

/** EDNS (RFC 6891): payload size, version, DO bit, options with local-use codes. */
export function arbEdns(): fc.Arbitrary<Edns> {
  return fc.record({ udpPayloadSize: u16, version: u8, dnssecOk: fc.boolean(), options: fc.array(fc.record({ code: localOptionCode, data: bytes(20) }, { noNullPrototype: true }), { maxLength: 3 }) }, { noNullPrototype: true });
}

/** Options of {@link arbDnsMessage}. */
export interface DnsMessageArbitraryOptions {
  /** Fewest questions; default 0. */
  readonly minQuestions?: number;
}

/** A whole message: any header flags, opcode and rcode, 0-2 questions, up to 11 records, EDNS or not. */
export function arbDnsMessage(options: DnsMessageArbitraryOptions = {}): fc.Arbitrary<DnsMessage> {
  const record = arbDnsRecord();
  return fc.record({
    id: u16,
    flags: fc.record({ qr: fc.boolean(), opcode: fc.integer({ min: 0, max: 15 }), aa: fc.boolean(), tc: fc.boolean(), rd: fc.boolean(), ra: fc.boolean(), ad: fc.boolean(), cd: fc.boolean() }, { noNullPrototype: true }),
    rcode: fc.integer({ min: 0, max: 15 }),
    questions: fc.array(arbDnsQuestion(), { minLength: options.minQuestions ?? 0, maxLength: Math.max(2, options.minQuestions ?? 0) }),
    answers: fc.array(record, { maxLength: 5 }),
    authorities: fc.array(record, { maxLength: 3 }),
    additionals: fc.array(record, { maxLength: 3 }),
    edns: fc.option(arbEdns(), { nil: undefined }),
  }, { noNullPrototype: true });
}

/** {@link arbDnsMessage} encoded (with name compression). */
export function arbDnsMessageBytes(options: DnsMessageArbitraryOptions = {}): fc.Arbitrary<Uint8Array> {
  return arbDnsMessage(options).map((message) => encodeMessage(message));
}

/** `message`, zero-padded to a whole header when it is shorter (mutations may be stacked). */
function withHeader(message: Uint8Array): Uint8Array {
  if (message.length >= HEADER_LENGTH) return message;
  const out = new Uint8Array(HEADER_LENGTH);
  out.set(message);
  return out;
}

/** Inserts `name` as a first question at the start of the question section and counts it. */
function withFirstQuestion(original: Uint8Array, name: readonly number[]): Uint8Array {
  const message = withHeader(original);
  const question = [...name, 0, 1, 0, 1];
  const out = new Uint8Array(message.length + question.length);
  out.set(message.subarray(0, HEADER_LENGTH));
  out.set(question, HEADER_LENGTH);
  out.set(message.subarray(HEADER_LENGTH), HEADER_LENGTH + question.length);
  const count = ((out[4] << 8) | out[5]) + 1;
  out[4] = (count >>> 8) & 0xff;
  out[5] = count & 0xff;
  return out;
}

const COUNT_FIELDS = ['qdcount', 'ancount', 'nscount', 'arcount'].map((name, index) => ({ name: `dns.${name}`, offset: 4 + 2 * index, size: 2 as const }));

/**
 * DNS-aware mutations, each guaranteed malformed:
 * - a compression loop: a label, then a pointer back to it (RFC 1035 §4.1.4 allows only
 *   pointers to a prior occurrence; a decoder must stop at the 255-octet name limit);
 * - a pointer to itself or forward;
 * - a label of a reserved type (0x40, 0x80: RFC 6891 §5 retired the extended label types);
 * - a label longer than the message;
 * - a message shorter than its header;
 * - record counts larger than the message holds (generic count lies, which may be harmless
 *   when they shrink a section, are in {@link dnsCountMutators}).
 */
export function dnsMutators(): Mutator[] {
  return [
    (message) =>
      fc.integer({ min: 1, max: 63 }).map((length): Mutant => ({
        bytes: withFirstQuestion(message, [length, ...new Array<number>(length).fill(0x61), 0xc0, HEADER_LENGTH]),
        mutation: `compression loop: ${length}-octet label, then a pointer back to it`,
        invalid: true,
      })),
    (message) =>
      fc.integer({ min: HEADER_LENGTH, max: 0x3fff }).map((target): Mutant => ({
        bytes: withFirstQuestion(message, [0xc0 | (target >>> 8), target & 0xff]),
        mutation: `pointer at ${HEADER_LENGTH} to ${target} (not backwards)`,
        invalid: true,
      })),
    (message) =>
      fc.tuple(fc.constantFrom(0x40, 0x80), fc.integer({ min: 0, max: 0x3f })).map(([kind, low]): Mutant => ({
        bytes: withFirstQuestion(message, [kind | low, 0]),
        mutation: `label type 0x${kind.toString(16)}`,
        invalid: true,
      })),
    (message) =>
      fc.integer({ min: 1, max: 63 }).map((length): Mutant => {
        const cut = message.slice(0, HEADER_LENGTH);
        cut.fill(0, 4);
        cut[5] = 1;
        const out = new Uint8Array(HEADER_LENGTH + 1 + Math.max(0, length - 1 - 1));
        out.set(cut);
        out[HEADER_LENGTH] = length;
        return { bytes: out, mutation: `label of ${length} octets in a ${out.length}-byte message`, invalid: true };
      }),
    (message) => fc.nat({ max: HEADER_LENGTH - 1 }).map((length): Mutant => ({ bytes: message.slice(0, length), mutation: `cut to ${length} bytes`, invalid: true })),
    ...COUNT_FIELDS.map((field) => (original: Uint8Array): fc.Arbitrary<Mutant> => {
      const message = withHeader(original);
      // More entries than the bytes after the header could hold: each takes at least 5 octets.
      const least = Math.floor((message.length - HEADER_LENGTH) / 5) + 1 + ((message[field.offset] << 8) | message[field.offset + 1]);
      if (least > 0xffff) return fc.constant({ bytes: message, mutation: `unchanged (${field.name} cannot grow)`, invalid: false });
      return fc.integer({ min: least, max: 0xffff }).map((value): Mutant => {
        const out = message.slice();
        out[field.offset] = value >>> 8;
        out[field.offset + 1] = value & 0xff;
        return { bytes: out, mutation: `${field.name} ${value}`, invalid: true };
      });
    }),
  ];
}

/** Count fields set to any other value (may be harmless, e.g. fewer additional records). */
export function dnsCountMutators(): Mutator[] {
  return COUNT_FIELDS.map((field) => corruptLength(field));
}

/** Hostile messages: {@link dnsMutators}, {@link dnsCountMutators} and the generic mutators over valid messages. */
export function arbHostileDnsMessage(): fc.Arbitrary<Mutant> {
  return mutate(arbDnsMessageBytes(), [...dnsMutators(), ...dnsCountMutators(), ...genericMutators()]);
}
