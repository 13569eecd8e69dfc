/**
 * Hand-built Ethernet/ARP/IPv4/UDP/TCP/ICMP frames for backend tests: enough to talk to the kernel
 * through a device before (and independently of) the protocol packages.
 */
import {
  checksumPartial,
  internetChecksum,
  ipv4PseudoHeaderSum,
  readIpv4,
  readMac,
  readU16,
  readU32,
  writeIpv4,
  writeMac,
  writeU16,
  writeU32,
} from '@morgana/core';
import type { FrameHandler, Ipv4Address, MacAddress, Netif } from '@morgana/core';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const PROTOCOL_ICMP = 1;
export const PROTOCOL_TCP = 6;
export const PROTOCOL_UDP = 17;

export function writeEthernet(frame: Uint8Array, destination: MacAddress, source: MacAddress, ethertype: number): void {
  writeMac(frame, 0, destination);
  writeMac(frame, 6, source);
  writeU16(frame, 12, ethertype);
}

/** An ARP request (op 1) or reply (op 2) for IPv4 over Ethernet (RFC 826), 42 bytes. */
export function arpFrame(
  op: 1 | 2,
  senderMac: MacAddress,
  senderIp: Ipv4Address,
  targetMac: MacAddress,
  targetIp: Ipv4Address,
  destination: MacAddress,
): Uint8Array {
  const frame = new Uint8Array(42);
  writeEthernet(frame, destination, senderMac, ETHERTYPE_ARP);
  writeU16(frame, 14, 1);
  writeU16(frame, 16, ETHERTYPE_IPV4);
  frame[18] = 6;
  frame[19] = 4;
  writeU16(frame, 20, op);
  writeMac(frame, 22, senderMac);
  writeIpv4(frame, 28, senderIp);
  writeMac(frame, 32, targetMac);
  writeIpv4(frame, 38, targetIp);
  return frame;
}

export interface ArpInfo {
  readonly op: number;
  readonly senderMac: MacAddress;
  readonly senderIp: Ipv4Address;
  readonly targetIp: Ipv4Address;
}

export function parseArp(frame: Uint8Array): ArpInfo | undefined {
  if (frame.length < 42 || readU16(frame, 12) !== ETHERTYPE_ARP) return undefined;
  return { op: readU16(frame, 20), senderMac: readMac(frame, 22), senderIp: readIpv4(frame, 28), targetIp: readIpv4(frame, 38) };
}

export interface Ipv4Info {
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly protocol: number;
  readonly headerLength: number;
  readonly totalLength: number;
  /** The IP payload. */
  readonly payload: Uint8Array;
}

export function parseIpv4(frame: Uint8Array): Ipv4Info | undefined {
  if (frame.length < 34 || readU16(frame, 12) !== ETHERTYPE_IPV4) return undefined;
  const headerLength = (frame[14] & 15) * 4;
  const totalLength = readU16(frame, 16);
  return {
    source: readIpv4(frame, 26),
    destination: readIpv4(frame, 30),
    protocol: frame[23],
    headerLength,
    totalLength,
    payload: frame.subarray(14 + headerLength, 14 + totalLength),
  };
}

/** Writes a 20-byte IPv4 header at 14 with a correct header checksum. */
export function writeIpv4Header(frame: Uint8Array, source: Ipv4Address, destination: Ipv4Address, protocol: number, payloadLength: number): void {
  frame[14] = 0x45;
  frame[15] = 0;
  writeU16(frame, 16, 20 + payloadLength);
  writeU16(frame, 18, 0x1234);
  writeU16(frame, 20, 0x4000);
  frame[22] = 64;
  frame[23] = protocol;
  writeU16(frame, 24, 0);
  writeIpv4(frame, 26, source);
  writeIpv4(frame, 30, destination);
  writeU16(frame, 24, internetChecksum(frame, 14, 34));
}

export interface UdpFrameOptions {
  readonly sourceMac: MacAddress;
  readonly destinationMac: MacAddress;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly payload: Uint8Array;
  /** Leave only the pseudo-header sum in the checksum field, for the device to finish (offload). */
  readonly partialChecksum?: boolean;
}

/** Offset of the UDP header in frames made here. */
export const UDP_OFFSET = 34;

export function udpFrame(options: UdpFrameOptions): Uint8Array {
  const udpLength = 8 + options.payload.length;
  const frame = new Uint8Array(14 + 20 + udpLength);
  writeEthernet(frame, options.destinationMac, options.sourceMac, ETHERTYPE_IPV4);
  writeIpv4Header(frame, options.source, options.destination, PROTOCOL_UDP, udpLength);
  writeU16(frame, 34, options.sourcePort);
  writeU16(frame, 36, options.destinationPort);
  writeU16(frame, 38, udpLength);
  frame.set(options.payload, 42);
  const pseudo = ipv4PseudoHeaderSum(options.source, options.destination, PROTOCOL_UDP, udpLength);
  if (options.partialChecksum === true) {
    // What a stack leaves for checksum offload: the folded pseudo-header sum, not complemented.
    writeU16(frame, 40, pseudo);
  } else {
    const checksum = internetChecksum(frame, 34, 34 + udpLength, pseudo);
    writeU16(frame, 40, checksum === 0 ? 0xffff : checksum);
  }
  return frame;
}

/** Turns an ICMP echo request frame into the matching echo reply frame (RFC 792). */
export function echoReplyFrom(request: Uint8Array, ourMac: MacAddress): Uint8Array | undefined {
  const ip = parseIpv4(request);
  if (ip === undefined || ip.protocol !== PROTOCOL_ICMP || ip.payload[0] !== 8) return undefined;
  const icmpLength = ip.payload.length;
  const frame = new Uint8Array(14 + 20 + icmpLength);
  writeEthernet(frame, readMac(request, 6), ourMac, ETHERTYPE_IPV4);
  writeIpv4Header(frame, ip.destination, ip.source, PROTOCOL_ICMP, icmpLength);
  frame.set(ip.payload, 34);
  frame[34] = 0;
  writeU16(frame, 36, 0);
  writeU16(frame, 36, ~checksumPartial(frame, 34, 34 + icmpLength) & 0xffff);
  return frame;
}

/** Sends a prepared frame through a netif. */
export function send(netif: Netif, frame: Uint8Array): boolean {
  return netif.write(frame.length, (buffer) => {
    buffer.set(frame);
    return frame.length;
  });
}

/** Collects received frames (copied) and lets a test wait for one that matches. */
export class FrameLog {
  readonly frames: Uint8Array[] = [];
  batches = 0;
  readonly batchSizes: number[] = [];
  private inBatch = 0;
  private waiters: { match: (frame: Uint8Array) => boolean; resolve: (frame: Uint8Array) => void }[] = [];

  readonly onFrame: FrameHandler = (frame) => {
    const copy = frame.slice();
    this.frames.push(copy);
    this.inBatch++;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(copy)) return true;
      waiter.resolve(copy);
      return false;
    });
  };

  readonly onBatchEnd = (): void => {
    this.batches++;
    this.batchSizes.push(this.inBatch);
    this.inBatch = 0;
  };

  /** The first frame (already received or coming) that matches, or a rejection after `timeoutMs`. */
  waitFor(match: (frame: Uint8Array) => boolean, timeoutMs = 5000, what = 'a matching frame'): Promise<Uint8Array> {
    const found = this.frames.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      });
    });
  }
}

export const TCP_FLAG = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

export interface TcpFrameOptions {
  readonly sourceMac: MacAddress;
  readonly destinationMac: MacAddress;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window?: number;
  /** MSS option (SYN only). */
  readonly mss?: number;
  readonly payload?: Uint8Array;
  /** Leave only the pseudo-header sum in the checksum field, for the device to finish (offload). */
  readonly partialChecksum?: boolean;
}

/** Offset of the TCP header in frames made here. */
export const TCP_OFFSET = 34;

export function tcpFrame(options: TcpFrameOptions): Uint8Array {
  const payload = options.payload ?? new Uint8Array(0);
  const headerLength = options.mss === undefined ? 20 : 24;
  const tcpLength = headerLength + payload.length;
  const frame = new Uint8Array(14 + 20 + tcpLength);
  writeEthernet(frame, options.destinationMac, options.sourceMac, ETHERTYPE_IPV4);
  writeIpv4Header(frame, options.source, options.destination, PROTOCOL_TCP, tcpLength);
  const t = TCP_OFFSET;
  writeU16(frame, t, options.sourcePort);
  writeU16(frame, t + 2, options.destinationPort);
  writeU32(frame, t + 4, options.seq >>> 0);
  writeU32(frame, t + 8, options.ack >>> 0);
  frame[t + 12] = (headerLength / 4) << 4;
  frame[t + 13] = options.flags;
  writeU16(frame, t + 14, options.window ?? 65535);
  if (options.mss !== undefined) {
    frame[t + 20] = 2;
    frame[t + 21] = 4;
    writeU16(frame, t + 22, options.mss);
  }
  frame.set(payload, t + headerLength);
  const pseudo = ipv4PseudoHeaderSum(options.source, options.destination, PROTOCOL_TCP, tcpLength);
  writeU16(frame, t + 16, options.partialChecksum === true ? pseudo : internetChecksum(frame, t, t + tcpLength, pseudo));
  return frame;
}

export interface TcpInfo {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
}

export function parseTcp(frame: Uint8Array): TcpInfo | undefined {
  const ip = parseIpv4(frame);
  if (ip === undefined || ip.protocol !== PROTOCOL_TCP || ip.payload.length < 20) return undefined;
  const tcp = ip.payload;
  return { sourcePort: readU16(tcp, 0), destinationPort: readU16(tcp, 2), seq: readU32(tcp, 4), ack: readU32(tcp, 8), flags: tcp[13] };
}
