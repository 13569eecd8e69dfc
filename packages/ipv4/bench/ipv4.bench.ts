// IPv4 receive (validate + address checks + protocol demux), send of small datagrams through
// a resolved next hop, fragmentation + reassembly of 8 KiB datagrams, and the ICMP echo path,
// over an Ethernet and an ARP that do nothing but hand one preallocated buffer around.
import Benchmark from 'benchmark';
import { EtherType, IpProtocol, createSystemClock, createSystemRandom, parseIpv4, parseMac } from '@morgana/core';
import type { Arp, ArpEntry, Counters, Ethernet, EthernetFrameInfo, EthernetHandler, Fill, Ipv4Address, MacAddress } from '@morgana/core';
import { createIcmp, createIpv4, emitIcmp, emitIpv4 } from '../src/index.js';
import type { Ipv4Repr } from '../src/index.js';

const OUR_MAC = parseMac('02:00:00:00:00:01');
const PEER_MAC = parseMac('02:00:00:00:00:02');
const OUR_IP = parseIpv4('10.0.0.1');
const PEER_IP = parseIpv4('10.0.0.2');

/** An Ethernet whose write fills one buffer and whose receive handler the benchmark calls directly. */
class NullEthernet implements Ethernet {
  readonly mac: MacAddress = OUR_MAC;
  readonly mtu = 1500;
  readonly txChecksumOffload = false;
  handler: EthernetHandler = () => undefined;
  bytesWritten = 0;
  /** Frames written since the last `take()`, kept only when `keep` is set. */
  kept: Uint8Array[] = [];
  keep = false;
  private readonly buffer = new Uint8Array(1500);

  register(_ethertype: number, handler: EthernetHandler): void {
    this.handler = handler;
  }

  write(_destination: MacAddress, _ethertype: number, size: number, fill: Fill): boolean {
    const buffer = this.keep ? new Uint8Array(size) : this.buffer;
    const used = fill(buffer);
    if (this.keep) this.kept.push(buffer.subarray(0, used));
    this.bytesWritten += used;
    return true;
  }

  stats(): Counters {
    return {};
  }
}

/** An ARP with every next hop resolved. */
class ResolvedArp implements Arp {
  constructor(private readonly ethernet: NullEthernet) {}
  setAddresses(): void {}
  addresses(): readonly Ipv4Address[] {
    return [OUR_IP];
  }
  lookup(): MacAddress | undefined {
    return PEER_MAC;
  }
  query(): Promise<MacAddress> {
    return Promise.resolve(PEER_MAC);
  }
  output(_address: Ipv4Address, ethertype: number, size: number, fill: Fill): boolean {
    return this.ethernet.write(PEER_MAC, ethertype, size, fill);
  }
  onUnreachable(): void {}
  probe(): Promise<boolean> {
    return Promise.resolve(false);
  }
  addStatic(): void {}
  remove(): void {}
  entries(): ArpEntry[] {
    return [];
  }
  stats(): Counters {
    return {};
  }
}

const clock = createSystemClock();
const random = createSystemRandom();
const ethernet = new NullEthernet();
const ip = createIpv4({ ethernet, arp: new ResolvedArp(ethernet), clock, random }, { address: { address: OUR_IP, length: 24 } });
createIcmp({ ip, clock, random });
let delivered = 0;
ip.register(IpProtocol.udp, (payload) => {
  delivered += payload.length;
});

const frameInfo: EthernetFrameInfo = { source: PEER_MAC, destination: OUR_MAC, ethertype: EtherType.ipv4, vlan: -1, checksumVerified: false };

function datagram(repr: Partial<Ipv4Repr>, payload: Uint8Array): Uint8Array {
  const full: Ipv4Repr = {
    tos: 0,
    payloadLength: payload.length,
    identification: 1,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: IpProtocol.udp,
    source: PEER_IP,
    destination: OUR_IP,
    options: new Uint8Array(0),
    ...repr,
  };
  const bytes = new Uint8Array(20 + payload.length);
  emitIpv4(full, bytes);
  bytes.set(payload, 20);
  return bytes;
}

// A minimum-size frame's datagram (46 bytes: UDP header and 18 bytes of data), and a full one.
const small = datagram({}, new Uint8Array(26));
const large = datagram({}, new Uint8Array(1480));
const echoMessage = new Uint8Array(64);
emitIcmp({ kind: 'echo-request', identifier: 1, sequence: 1, data: new Uint8Array(56) }, echoMessage);
const echo = datagram({ protocol: IpProtocol.icmp }, echoMessage);

const payload18 = new Uint8Array(26);
const fillSmall: Fill = (buffer) => {
  buffer.set(payload18);
  return 26;
};
const payload8k = new Uint8Array(8192);
const fill8k: Fill = (buffer) => {
  buffer.set(payload8k);
  return 8192;
};

/** Fragments of one 8 KiB datagram as this layer sends them, to feed back in. */
function fragments8k(identification: number): Uint8Array[] {
  ethernet.keep = true;
  ethernet.kept = [];
  ip.write(PEER_IP, IpProtocol.udp, 8192, fill8k);
  ethernet.keep = false;
  return ethernet.kept.map((frame) => {
    const copy = frame.slice();
    // Turn them around: from the peer to us, with a fresh identification each round.
    copy.set(frame.subarray(16, 20), 12);
    copy.set(frame.subarray(12, 16), 16);
    copy[4] = identification >>> 8;
    copy[5] = identification;
    copy[10] = 0;
    copy[11] = 0;
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (copy[i] << 8) | copy[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const checksum = ~sum & 0xffff;
    copy[10] = checksum >>> 8;
    copy[11] = checksum;
    return copy;
  });
}
const rounds = Array.from({ length: 256 }, (_, index) => fragments8k(index));
let round = 0;

/** Bytes per operation for the derived rate, and what one operation is. */
const units = new Map<string, { bytes: number; unit: string }>([
  ['receive 46-byte datagrams (parse, validate, demux)', { bytes: 46, unit: 'datagrams' }],
  ['receive 1500-byte datagrams (parse, validate, demux)', { bytes: 1500, unit: 'datagrams' }],
  ['send 46-byte datagrams (route, header, resolved next hop)', { bytes: 46, unit: 'datagrams' }],
  ['send 8 KiB datagrams (6 fragments each)', { bytes: 8192, unit: 'datagrams' }],
  ['receive + reassemble 8 KiB datagrams (6 fragments each)', { bytes: 8192, unit: 'datagrams' }],
  ['echo request in, echo reply out (64-byte ICMP)', { bytes: 84, unit: 'echoes' }],
]);

new Benchmark.Suite('ipv4')
  .add('receive 46-byte datagrams (parse, validate, demux)', () => ethernet.handler(small, frameInfo))
  .add('receive 1500-byte datagrams (parse, validate, demux)', () => ethernet.handler(large, frameInfo))
  .add('send 46-byte datagrams (route, header, resolved next hop)', () => ip.write(PEER_IP, IpProtocol.udp, 26, fillSmall))
  .add('send 8 KiB datagrams (6 fragments each)', () => ip.write(PEER_IP, IpProtocol.udp, 8192, fill8k))
  .add('receive + reassemble 8 KiB datagrams (6 fragments each)', () => {
    const fragments = rounds[round++ & 255];
    for (let i = fragments.length - 1; i >= 0; i--) ethernet.handler(fragments[i], frameInfo);
  })
  .add('echo request in, echo reply out (64-byte ICMP)', () => ethernet.handler(echo, frameInfo))
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target as Benchmark.Target & { name: string; hz: number };
    const { bytes, unit } = units.get(bench.name) ?? { bytes: 0, unit: 'ops' };
    const gbits = (bench.hz * bytes * 8) / 1e9;
    console.log(`${String(event.target)}\n    ${Math.round(bench.hz).toLocaleString('en-US')} ${unit}/s, ${gbits.toFixed(2)} Gbit/s of IP datagrams`);
  })
  .on('complete', () => {
    const stats = ip.stats();
    const drops = Object.keys(stats).filter((name) => !['rx-datagrams', 'rx-delivered', 'tx-datagrams', 'tx-fragments', 'fragmented', 'rx-fragments', 'reassembled'].includes(name));
    if (delivered === 0 || ethernet.bytesWritten === 0 || (stats['reassembled'] ?? 0) === 0) throw new Error('benchmark moved no datagrams');
    if (drops.length > 0) throw new Error(`datagrams were dropped: ${JSON.stringify(stats)}`);
  })
  .run();
