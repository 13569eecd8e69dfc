/**
 * `@morgana/testing/udp`: fast-check arbitraries for UDP datagrams, valid by construction for
 * `@morgana/udp`'s codec (checksum over the IPv4 pseudo-header included), and mutators that
 * make near-valid hostile variants. Needs the optional peer `@morgana/udp`.
 */
import * as fc from 'fast-check';
import type { Ipv4Address } from '@morgana/core';
import { UDP_HEADER_LENGTH, emitUdp } from '@morgana/udp';
import type { UdpRepr } from '@morgana/udp';
import { arbIpv4Address, arbPort } from './arbitraries.js';
import { corruptChecksum, corruptLength, genericMutators, mutate } from './mutators.js';
import type { Mutant, Mutator } from './mutators.js';

/** A datagram with the addresses of the IP header that carries it (the checksum covers them). */
export interface UdpSample {
  /** The ports. */
  readonly repr: UdpRepr;
  /** The datagram's data. */
  readonly payload: Uint8Array;
  /** Source address of the carrying IP header (checksummed). */
  readonly source: Ipv4Address;
  /** Destination address of the carrying IP header (checksummed). */
  readonly destination: Ipv4Address;
}

/** A hostile datagram with the addresses its checksum is verified against. */
export interface UdpMutant extends Mutant {
  /** Source address of the carrying IP header (checksummed). */
  readonly source: Ipv4Address;
  /** Destination address of the carrying IP header (checksummed). */
  readonly destination: Ipv4Address;
}

/** Ports 0-65535 (0 included: a source port of 0 means "no reply expected", RFC 768), any addresses, payload up to `maxPayload` (default 1472). */
export function arbUdpDatagram(maxPayload = 1472): fc.Arbitrary<UdpSample> {
  return fc.record({
    repr: fc.record({ sourcePort: arbPort({ min: 0 }), destinationPort: arbPort({ min: 0 }) }, { noNullPrototype: true }),
    payload: fc.uint8Array({ maxLength: maxPayload }),
    source: arbIpv4Address(),
    destination: arbIpv4Address(),
  }, { noNullPrototype: true });
}

/** Emits a datagram with its checksum. */
export function emitUdpDatagram(sample: UdpSample): Uint8Array {
  return emitUdp(sample.repr, sample.payload, sample.source, sample.destination);
}

/** {@link arbUdpDatagram} emitted (the addresses are lost: use {@link arbUdpDatagram} when the checksum matters). */
export function arbUdpDatagramBytes(maxPayload = 1472): fc.Arbitrary<Uint8Array> {
  return arbUdpDatagram(maxPayload).map(emitUdpDatagram);
}

const LENGTH_FIELD = { name: 'udp.length', offset: 4, size: 2 } as const;

/**
 * UDP-aware mutations, each guaranteed malformed: a length field below 8 or beyond the bytes
 * (RFC 768; RFC 1122 §4.1.3.4 says to discard), a cut header, a corrupted checksum.
 */
export function udpMutators(): Mutator[] {
  return [
    corruptLength(LENGTH_FIELD, { direction: 'longer', invalid: true }),
    (bytes) =>
      fc.integer({ min: 0, max: UDP_HEADER_LENGTH - 1 }).map((value): Mutant => {
        const out = bytes.slice();
        out[4] = 0;
        out[5] = value;
        return { bytes: out, mutation: `udp.length ${value}`, invalid: true };
      }),
    (bytes) => fc.nat({ max: UDP_HEADER_LENGTH - 1 }).map((length): Mutant => ({ bytes: bytes.slice(0, length), mutation: `cut to ${length} bytes`, invalid: true })),
    corruptChecksum({ name: 'udp.checksum', offset: 6, size: 2 }),
  ];
}

/** Hostile datagrams: {@link udpMutators} and the generic mutators over valid datagrams. */
export function arbHostileUdp(): fc.Arbitrary<UdpMutant> {
  const mutators = [...udpMutators(), ...genericMutators()];
  return arbUdpDatagram(200).chain((sample) =>
    mutate(fc.constant(emitUdpDatagram(sample)), mutators).map((mutant) => ({ ...mutant, source: sample.source, destination: sample.destination })),
  );
}
