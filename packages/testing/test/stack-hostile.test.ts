// The hostile arbitraries against a whole receive path, not only a codec: Ethernet, ARP, IPv4,
// ICMP, UDP and TCP layers composed as a stack does, fed hostile frames through a scripted
// device. Nothing may throw out of the receive path, and the stack must still answer ARP and
// ping afterwards.
import { EtherType, IpProtocol, parseIpv4 } from '@morgana/core';
import type { Ipv4Address, MacAddress } from '@morgana/core';
import { ArpOperation, createArp, createEthernet } from '@morgana/ethif';
import { createIcmp, createIpv4 } from '@morgana/ipv4';
import { createTcp } from '@morgana/tcp';
import { createUdp } from '@morgana/udp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { arbHostileArp, arbHostileEthernetFrame, emitArpPacket, emitEthernetFrame } from '../src/ethernet.js';
import { arbHostileIcmp, arbHostileIpv4, arbIcmpRepr, emitIcmpMessage, emitIpv4Datagram } from '../src/ipv4.js';
import { genericMutators, mutate } from '../src/mutators.js';
import type { Mutant } from '../src/mutators.js';
import { createFrameScript } from '../src/packet-script.js';
import { createSeededRandom } from '../src/random.js';
import { arbTcpSegment, emitTcpSegment, tcpMutators } from '../src/tcp.js';
import { arbUdpDatagram, emitUdpDatagram, udpMutators } from '../src/udp.js';

const OURS = parseIpv4('10.0.0.1');
const PEER = parseIpv4('10.0.0.2');
const OUR_MAC = 0x02_00_00_00_00_01 as MacAddress;
const PEER_MAC = 0x02_00_00_00_00_02 as MacAddress;

function frame(ethertype: number, payload: Uint8Array): Uint8Array {
  return emitEthernetFrame({ repr: { destination: OUR_MAC, source: PEER_MAC, ethertype, vlan: undefined }, payload });
}

function datagram(protocol: number, payload: Uint8Array, source: Ipv4Address = PEER): Uint8Array {
  const repr = { tos: 0, payloadLength: payload.length, identification: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol, source, destination: OURS, options: new Uint8Array(0) };
  return frame(EtherType.ipv4, emitIpv4Datagram({ repr, payload }));
}

/** A stack on a scripted device, with a UDP socket and a TCP listener for hostile traffic to reach. */
function createStack(seed: number) {
  const clock = new VirtualClock();
  const random = createSeededRandom(seed);
  const { script, netif } = createFrameScript({ clock, mac: OUR_MAC });
  const ethernet = createEthernet({ netif });
  const arp = createArp({ ethernet, clock, random });
  const ip = createIpv4({ ethernet, arp, clock, random }, { address: { address: OURS, length: 24 } });
  const icmp = createIcmp({ ip, clock, random });
  const udp = createUdp({ ip, icmp, random });
  const tcp = createTcp({ ip, clock, random });
  udp.bind({ port: 9 }).onMessage(() => undefined);
  tcp.listen(80);
  return { clock, script, ip, udp, tcp };
}

/** Moves the clock a millisecond at a time until the stack sends a frame `wanted` accepts. */
function expectFrame(stack: ReturnType<typeof createStack>, wanted: (frame: Uint8Array) => boolean, description: string): void {
  for (let waited = 0; waited < 10; waited++) {
    if (stack.script.takeAll().some(wanted)) return;
    stack.script.advance(1);
  }
  throw new Error(`no ${description} within 10 ms`);
}

/** The stack still works: it answers an ARP request and then a ping (other frames, such as its own ARP requests, are skipped). */
function expectAlive(stack: ReturnType<typeof createStack>): void {
  stack.script.takeAll();
  const request = emitArpPacket({ operation: ArpOperation.request, senderMac: PEER_MAC, senderAddress: PEER, targetMac: 0 as MacAddress, targetAddress: OURS });
  stack.script.inject(frame(EtherType.arp, request));
  expectFrame(stack, (reply) => reply[12] === 0x08 && reply[13] === 0x06 && reply[21] === ArpOperation.reply, 'ARP reply');
  const ping = emitIcmpMessage({ kind: 'echo-request', identifier: 1, sequence: 2, data: Uint8Array.of(1, 2, 3) });
  stack.script.inject(datagram(IpProtocol.icmp, ping));
  expectFrame(stack, (reply) => reply[12] === 0x08 && reply[13] === 0x00 && reply[23] === IpProtocol.icmp && reply[34] === 0, 'echo reply');
}

function hostileTransport(protocol: 'tcp' | 'udp'): fc.Arbitrary<Mutant & { readonly source: Ipv4Address }> {
  if (protocol === 'tcp') {
    return fc.tuple(arbTcpSegment({ maxPayload: 60 }), fc.boolean()).chain(([sample, toListener]) => {
      const repr = toListener ? { ...sample.repr, destinationPort: 80 } : sample.repr;
      const valid = emitTcpSegment({ repr, source: PEER, destination: OURS });
      return mutate(fc.constant(valid), [...tcpMutators({ source: PEER, destination: OURS }), ...genericMutators()]).map((mutant) => ({ ...mutant, source: PEER }));
    });
  }
  return fc.tuple(arbUdpDatagram(60), fc.boolean()).chain(([sample, toSocket]) => {
    const repr = toSocket ? { ...sample.repr, destinationPort: 9 } : sample.repr;
    const valid = emitUdpDatagram({ ...sample, repr, source: PEER, destination: OURS });
    return mutate(fc.constant(valid), [...udpMutators(), ...genericMutators()]).map((mutant) => ({ ...mutant, source: PEER }));
  });
}

describe('a stack fed hostile frames', () => {
  const cases: Record<string, fc.Arbitrary<Uint8Array[]>> = {
    'Ethernet frames': fc.array(arbHostileEthernetFrame(), { minLength: 1, maxLength: 5 }).map((mutants) => mutants.map((mutant) => mutant.bytes)),
    'ARP packets': fc.array(arbHostileArp(), { minLength: 1, maxLength: 5 }).map((mutants) => mutants.map((mutant) => frame(EtherType.arp, mutant.bytes))),
    'IPv4 datagrams': fc.array(arbHostileIpv4(), { minLength: 1, maxLength: 5 }).map((mutants) => mutants.map((mutant) => frame(EtherType.ipv4, mutant.bytes))),
    'ICMP messages': fc.array(fc.oneof(arbHostileIcmp(), arbIcmpRepr(32).map((repr): Mutant => ({ bytes: emitIcmpMessage(repr), mutation: 'valid', invalid: false }))), { minLength: 1, maxLength: 5 }).map((mutants) => mutants.map((mutant) => datagram(IpProtocol.icmp, mutant.bytes))),
    'UDP datagrams': fc.array(hostileTransport('udp'), { minLength: 1, maxLength: 5 }).map((mutants) => mutants.map((mutant) => datagram(IpProtocol.udp, mutant.bytes, mutant.source))),
    'TCP segments': fc.array(hostileTransport('tcp'), { minLength: 1, maxLength: 5 }).map((mutants) => mutants.map((mutant) => datagram(IpProtocol.tcp, mutant.bytes, mutant.source))),
  };
  for (const [what, arbitrary] of Object.entries(cases)) {
    it(`drops or handles hostile ${what} without throwing, and still answers ARP and ping`, () => {
      fc.assert(
        fc.property(fc.integer(), arbitrary, (seed, frames) => {
          const stack = createStack(seed);
          stack.script.inject(...frames);
          stack.script.advance(1000);
          expectAlive(stack);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('counts what it drops', () => {
    const stack = createStack(1);
    const short = frame(EtherType.ipv4, Uint8Array.of(0x45, 0, 0));
    stack.script.inject(short);
    stack.script.advance(1);
    expect(Object.values(stack.ip.stats()).reduce((sum, value) => sum + value, 0)).toBeGreaterThan(0);
  });
});
