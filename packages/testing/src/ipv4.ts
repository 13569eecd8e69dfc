/**
 * `@morgana/testing/ipv4`: fast-check arbitraries for IPv4 datagrams (options and fragments
 * included) and ICMPv4 messages, valid by construction for `@morgana/ipv4`'s codec, and
 * mutators that make near-valid hostile variants. Needs the optional peer `@morgana/ipv4`.
 */
import * as fc from 'fast-check';
import { checksumPartial, writeU16 } from '@morgana/core';
import { FRAGMENT_UNIT, ICMP_HEADER_LENGTH, IPV4_HEADER_LENGTH, IcmpField, IcmpType, Ipv4Field, emitIcmp, emitIpv4, icmpLength, ipv4HeaderLength } from '@morgana/ipv4';
import type { IcmpRepr, Ipv4Repr } from '@morgana/ipv4';
import { arbIpv4Address } from './arbitraries.js';
import { corruptChecksum, genericMutators, mutate } from './mutators.js';
import type { Mutant, Mutator } from './mutators.js';

/** Options of {@link arbIpv4Datagram}. */
export interface Ipv4ArbitraryOptions {
  /** Longest payload; default 1480 (one Ethernet MTU less the header). */
  readonly maxPayload?: number;
  /** Fixes the protocol number (e.g. 17 for UDP); default any. */
  readonly protocol?: number;
}

/** A datagram's header and payload. */
export interface Ipv4Sample {
  /** The header; `payloadLength` is `payload.length`. */
  readonly repr: Ipv4Repr;
  /** The bytes behind the header. */
  readonly payload: Uint8Array;
}

/**
 * Raw IPv4 options: 0-40 bytes, a multiple of 4 (RFC 791 §3.1: the header is padded to a
 * 32-bit boundary). The package carries them without interpreting them.
 */
export function arbIpv4Options(): fc.Arbitrary<Uint8Array> {
  return fc.integer({ min: 0, max: 10 }).chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 }));
}

/** An IPv4 header and payload: any addresses, TTL, TOS, options, fragment fields that fit in 65535 bytes. */
export function arbIpv4Datagram(options: Ipv4ArbitraryOptions = {}): fc.Arbitrary<Ipv4Sample> {
  const maxPayload = options.maxPayload ?? 1480;
  return fc
    .record({
      tos: fc.integer({ min: 0, max: 0xff }),
      identification: fc.integer({ min: 0, max: 0xffff }),
      dontFragment: fc.boolean(),
      moreFragments: fc.boolean(),
      // The offset field is 13 bits of 8-byte units (RFC 791 §3.1).
      fragmentUnits: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0x1fff })),
      ttl: fc.integer({ min: 0, max: 0xff }),
      protocol: options.protocol === undefined ? fc.integer({ min: 0, max: 0xff }) : fc.constant(options.protocol),
      source: arbIpv4Address(),
      destination: arbIpv4Address(),
      options: arbIpv4Options(),
      payload: fc.uint8Array({ maxLength: maxPayload }),
    })
    .map(({ fragmentUnits, payload, ...fields }) => ({
      repr: { ...fields, fragmentOffset: fragmentUnits * FRAGMENT_UNIT, payloadLength: payload.length },
      payload,
    }));
}

/** Emits a whole datagram (header with checksum, then the payload) into new bytes. */
export function emitIpv4Datagram(sample: Ipv4Sample): Uint8Array {
  const header = ipv4HeaderLength(sample.repr);
  const bytes = new Uint8Array(header + sample.payload.length);
  emitIpv4(sample.repr, bytes);
  bytes.set(sample.payload, header);
  return bytes;
}

/** {@link arbIpv4Datagram} emitted. */
export function arbIpv4DatagramBytes(options: Ipv4ArbitraryOptions = {}): fc.Arbitrary<Uint8Array> {
  return arbIpv4Datagram(options).map(emitIpv4Datagram);
}

/** Recomputes the header checksum of a (mutated) datagram, when its IHL fits, so the lie reaches the length checks. */
export function refillIpv4Checksum(bytes: Uint8Array): Uint8Array {
  const headerLength = (bytes[0] & 0x0f) * 4;
  if (bytes.length < IPV4_HEADER_LENGTH || headerLength < IPV4_HEADER_LENGTH || headerLength > bytes.length) return bytes;
  writeU16(bytes, Ipv4Field.checksum, 0);
  writeU16(bytes, Ipv4Field.checksum, ~checksumPartial(bytes, 0, headerLength) & 0xffff);
  return bytes;
}

function withChecksum(mutator: Mutator): Mutator {
  return (bytes) => mutator(bytes).map((mutant) => ({ ...mutant, bytes: refillIpv4Checksum(mutant.bytes) }));
}

/**
 * IPv4-aware mutations, each guaranteed malformed and with a correct header checksum where
 * the header still fits, so the decoder's length checks (RFC 1122 §3.2.1.1) are what reject
 * them: Total Length shorter than the header or longer than the bytes, IHL below 5 or past
 * the end, a version other than 4, a cut header, a corrupted checksum.
 */
export function ipv4Mutators(): Mutator[] {
  return [
    withChecksum((bytes) => {
      if (bytes.length < IPV4_HEADER_LENGTH) return fc.constant({ bytes, mutation: 'unchanged (no header)', invalid: false });
      const headerLength = (bytes[0] & 0x0f) * 4;
      return fc
        .oneof(fc.integer({ min: 0, max: headerLength - 1 }), fc.integer({ min: bytes.length + 1, max: 0xffff }))
        .filter((value) => value < headerLength || value > bytes.length)
        .map((value): Mutant => {
          const out = bytes.slice();
          writeU16(out, Ipv4Field.totalLength, value);
          return { bytes: out, mutation: `total length ${value} (header ${headerLength}, ${bytes.length} bytes)`, invalid: true };
        });
    }),
    withChecksum((bytes) =>
      fc.integer({ min: 0, max: 15 }).filter((ihl) => ihl < 5 || ihl * 4 > bytes.length).map((ihl): Mutant => {
        const out = bytes.slice();
        out[0] = 0x40 | ihl;
        return { bytes: out, mutation: `IHL ${ihl} (${bytes.length} bytes)`, invalid: true };
      }),
    ),
    withChecksum((bytes) =>
      fc.integer({ min: 0, max: 15 }).filter((version) => version !== 4).map((version): Mutant => {
        const out = bytes.slice();
        out[0] = (version << 4) | (out[0] & 0x0f);
        return { bytes: out, mutation: `version ${version}`, invalid: true };
      }),
    ),
    (bytes) => fc.nat({ max: IPV4_HEADER_LENGTH - 1 }).map((length): Mutant => ({ bytes: bytes.slice(0, length), mutation: `cut to ${length} bytes`, invalid: true })),
    corruptChecksum({ name: 'ipv4.checksum', offset: Ipv4Field.checksum, size: 2 }),
  ];
}

/** Hostile IPv4 datagrams: {@link ipv4Mutators} and the generic mutators over valid datagrams. */
export function arbHostileIpv4(): fc.Arbitrary<Mutant> {
  return mutate(arbIpv4DatagramBytes({ maxPayload: 200 }), [...ipv4Mutators(), ...genericMutators()]);
}

/** Errors with a repr of their own: an `other` repr never has these types. */
const NAMED_ERRORS: readonly number[] = [IcmpType.destinationUnreachable, IcmpType.timeExceeded, IcmpType.parameterProblem];

/** True for a type and code the codec reads as `other`: echo with a code but 0 is not an echo (RFC 792). */
function isOther(type: number, code: number): boolean {
  if (NAMED_ERRORS.includes(type)) return false;
  return !((type === IcmpType.echoReply || type === IcmpType.echoRequest) && code === 0);
}

/**
 * What an ICMP error quotes (RFC 792; RFC 1812 §4.3.2.3): the start of a real datagram, its
 * header and at least 8 bytes of its payload.
 */
export function arbIcmpQuote(): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(arbIpv4Datagram({ maxPayload: 64 }), fc.uint8Array({ minLength: 8, maxLength: 8 }))
    .map(([sample, first]) => {
      const payload = sample.payload.length >= 8 ? sample.payload : first;
      return emitIpv4Datagram({ repr: { ...sample.repr, options: new Uint8Array(0), payloadLength: payload.length }, payload });
    });
}

/** Data lengths RFC 792 and RFC 950 fix for the query types an `other` repr may have. */
const QUERY_DATA_LENGTH: Readonly<Record<number, number>> = {
  [IcmpType.timestamp]: 12,
  [IcmpType.timestampReply]: 12,
  [IcmpType.informationRequest]: 0,
  [IcmpType.informationReply]: 0,
  [IcmpType.addressMaskRequest]: 4,
  [IcmpType.addressMaskReply]: 4,
};

/**
 * Any ICMPv4 message: echo, destination unreachable (with next-hop MTU for code 4, RFC 1191),
 * time exceeded, parameter problem (errors quote a real datagram, {@link arbIcmpQuote}), or
 * another type (echo types with a non-zero code included; query types with their fixed data
 * length).
 */
export function arbIcmpRepr(maxData = 128): fc.Arbitrary<IcmpRepr> {
  const data = fc.uint8Array({ maxLength: maxData });
  const quoted = arbIcmpQuote();
  const u8 = fc.integer({ min: 0, max: 0xff });
  const u16 = fc.integer({ min: 0, max: 0xffff });
  return fc.oneof(
    fc.record({ kind: fc.constantFrom('echo-request' as const, 'echo-reply' as const), identifier: u16, sequence: u16, data }, { noNullPrototype: true }),
    fc.record({ kind: fc.constant('destination-unreachable' as const), code: u8, nextHopMtu: u16, quoted }, { noNullPrototype: true }).map((repr) => (repr.code === 4 ? repr : { ...repr, nextHopMtu: 0 })),
    fc.record({ kind: fc.constant('time-exceeded' as const), code: u8, quoted }, { noNullPrototype: true }),
    fc.record({ kind: fc.constant('parameter-problem' as const), code: u8, pointer: u8, quoted }, { noNullPrototype: true }),
    fc
      .record({ kind: fc.constant('other' as const), type: u8, code: u8, rest: fc.integer({ min: 0, max: 0xffff_ffff }), data }, { noNullPrototype: true })
      .filter((repr) => isOther(repr.type, repr.code))
      .map((repr) => {
        const length = QUERY_DATA_LENGTH[repr.type];
        if (length === undefined) return repr;
        const fixed = new Uint8Array(length);
        fixed.set(repr.data.subarray(0, length));
        return { ...repr, data: fixed };
      }),
  );
}

/** Emits an ICMP message (checksum filled) into new bytes. */
export function emitIcmpMessage(repr: IcmpRepr): Uint8Array {
  const bytes = new Uint8Array(icmpLength(repr));
  emitIcmp(repr, bytes);
  return bytes;
}

/** {@link arbIcmpRepr} emitted. */
export function arbIcmpBytes(maxData = 128): fc.Arbitrary<Uint8Array> {
  return arbIcmpRepr(maxData).map(emitIcmpMessage);
}

/** ICMP-aware mutations, each guaranteed malformed: a message shorter than its 8-byte header, a corrupted checksum. */
export function icmpMutators(): Mutator[] {
  return [
    (bytes) => fc.nat({ max: ICMP_HEADER_LENGTH - 1 }).map((length): Mutant => ({ bytes: bytes.slice(0, length), mutation: `cut to ${length} bytes`, invalid: true })),
    corruptChecksum({ name: 'icmp.checksum', offset: IcmpField.checksum, size: 2 }),
  ];
}

/** Hostile ICMP messages: {@link icmpMutators} and the generic mutators over valid messages. */
export function arbHostileIcmp(): fc.Arbitrary<Mutant> {
  return mutate(arbIcmpBytes(64), [...icmpMutators(), ...genericMutators()]);
}

