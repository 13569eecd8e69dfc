// Builds realistic Ethernet + IPv4 + UDP frames with correct checksums, for tests that hand
// frames to an independent decoder.
import {
  internetChecksum,
  ipv4PseudoHeaderSum,
  writeIpv4,
  writeMac,
  writeU16,
  type Ipv4Address,
  type MacAddress,
} from '@morgana/core';

/** A UDP datagram in an IPv4 packet in an Ethernet II frame. */
export interface UdpFrameSpec {
  readonly sourceMac: MacAddress;
  readonly destinationMac: MacAddress;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly payload: Uint8Array;
  readonly identification?: number;
  readonly ttl?: number;
}

const ETHERNET = 14;
const IPV4 = 20;
const UDP = 8;

/** The frame's bytes (RFC 791 header without options, RFC 768 UDP with its checksum). */
export function udpFrame(spec: UdpFrameSpec): Uint8Array {
  const udpLength = UDP + spec.payload.length;
  const frame = new Uint8Array(ETHERNET + IPV4 + udpLength);
  writeMac(frame, 0, spec.destinationMac);
  writeMac(frame, 6, spec.sourceMac);
  writeU16(frame, 12, 0x0800);
  const ip = ETHERNET;
  frame[ip] = 0x45;
  writeU16(frame, ip + 2, IPV4 + udpLength);
  writeU16(frame, ip + 4, spec.identification ?? 0);
  writeU16(frame, ip + 6, 0x4000); // DF
  frame[ip + 8] = spec.ttl ?? 64;
  frame[ip + 9] = 17;
  writeIpv4(frame, ip + 12, spec.source);
  writeIpv4(frame, ip + 16, spec.destination);
  writeU16(frame, ip + 10, internetChecksum(frame, ip, ip + IPV4));
  const udp = ip + IPV4;
  writeU16(frame, udp, spec.sourcePort);
  writeU16(frame, udp + 2, spec.destinationPort);
  writeU16(frame, udp + 4, udpLength);
  frame.set(spec.payload, udp + UDP);
  const checksum = internetChecksum(frame, udp, udp + udpLength, ipv4PseudoHeaderSum(spec.source, spec.destination, 17, udpLength));
  // RFC 768: a computed zero is sent as all ones, zero meaning "no checksum".
  writeU16(frame, udp + 6, checksum === 0 ? 0xffff : checksum);
  return frame;
}
