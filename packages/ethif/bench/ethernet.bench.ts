// Ethernet receive (parse + destination filter + EtherType demux) and send paths, direct and
// through a resolved ARP entry, over a device that does nothing but hand buffers around.
import Benchmark from 'benchmark';
import { EtherType, NO_OFFLOAD, createSystemClock, createSystemRandom, emptyNetifStats, parseIpv4, parseMac } from '@morgana/core';
import type { Fill, FrameHandler, MacAddress, Netif, NetifStats, OffloadFlags } from '@morgana/core';
import { ArpOperation, ArpPacket, EthernetFrame, createArp, createEthernet, emitArp, emitEthernet } from '../src/index.js';

const OUR_MAC = parseMac('02:00:00:00:00:01');
const PEER_MAC = parseMac('02:00:00:00:00:02');
const OUR_IP = parseIpv4('10.0.0.1');
const PEER_IP = parseIpv4('10.0.0.2');

/** A device whose write fills one preallocated buffer and whose receive path is called directly. */
class NullNetif implements Netif {
  readonly mac: MacAddress = OUR_MAC;
  readonly mtu = 1500;
  readonly offload: OffloadFlags = NO_OFFLOAD;
  handler: FrameHandler = () => undefined;
  bytesWritten = 0;
  private readonly buffer = new Uint8Array(1514);

  listen(onFrame: FrameHandler): void {
    this.handler = onFrame;
  }

  write(_size: number, fill: Fill): boolean {
    this.bytesWritten += fill(this.buffer);
    return true;
  }

  stats(): NetifStats {
    return emptyNetifStats();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function ipv4Frame(length: number): Uint8Array {
  const frame = new Uint8Array(length);
  emitEthernet({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, new EthernetFrame(frame));
  frame[14] = 0x45;
  return frame;
}

const netif = new NullNetif();
const ethernet = createEthernet({ netif });
let payloadBytes = 0;
ethernet.register(EtherType.ipv4, (payload) => {
  payloadBytes += payload.length;
});
const arp = createArp(
  { ethernet, clock: createSystemClock(), random: createSystemRandom() },
  // Long enough that no refresh or expiry happens during the run.
  { addresses: [OUR_IP], announceCount: 0, entryLifetime: 24 * 3600_000 },
);

// Teach the ARP layer the peer with a reply, as the network would.
const replyFrame = new Uint8Array(60);
emitEthernet({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.arp, vlan: undefined }, new EthernetFrame(replyFrame));
emitArp(
  { operation: ArpOperation.reply, senderMac: PEER_MAC, senderAddress: PEER_IP, targetMac: OUR_MAC, targetAddress: OUR_IP },
  new ArpPacket(replyFrame.subarray(14)),
);
netif.handler(replyFrame);
if (arp.lookup(PEER_IP) !== PEER_MAC) throw new Error('benchmark set-up: the ARP reply was not learned');

const small = ipv4Frame(60);
const large = ipv4Frame(1514);
const fillSmall: Fill = (buffer) => {
  buffer[0] = 0x45;
  return 46;
};
const fillLarge: Fill = (buffer) => {
  buffer[0] = 0x45;
  return 1500;
};

/** Frame size on the wire (without preamble, FCS and gap) for each benchmark, for Gbit/s. */
const frameBytes = new Map<string, number>([
  ['receive 60-byte frames', 60],
  ['receive 1514-byte frames', 1514],
  ['ethernet.write 60-byte frames', 60],
  ['arp.output 60-byte frames (resolved)', 60],
  ['arp.output 1514-byte frames (resolved)', 1514],
]);

const suite = new Benchmark.Suite('ethif');
suite
  .add('receive 60-byte frames', () => netif.handler(small))
  .add('receive 1514-byte frames', () => netif.handler(large))
  .add('ethernet.write 60-byte frames', () => ethernet.write(PEER_MAC, EtherType.ipv4, 46, fillSmall))
  .add('arp.output 60-byte frames (resolved)', () => arp.output(PEER_IP, EtherType.ipv4, 46, fillSmall))
  .add('arp.output 1514-byte frames (resolved)', () => arp.output(PEER_IP, EtherType.ipv4, 1500, fillLarge))
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target as Benchmark.Target & { name: string; hz: number };
    const bytes = frameBytes.get(bench.name) ?? 0;
    const gbits = (bench.hz * bytes * 8) / 1e9;
    console.log(`${String(event.target)}\n    ${Math.round(bench.hz).toLocaleString('en-US')} frames/s, ${gbits.toFixed(2)} Gbit/s of frames`);
  })
  .on('complete', () => {
    const stats = ethernet.stats();
    if ((stats['rx-frames'] ?? 0) === 0 || payloadBytes === 0 || netif.bytesWritten === 0) throw new Error('benchmark moved no frames');
    if (Object.keys(stats).some((name) => !['rx-frames', 'tx-frames'].includes(name))) throw new Error(`frames were dropped: ${JSON.stringify(stats)}`);
  })
  .run();
