import {
  IPV4_ANY,
  IPV4_BROADCAST,
  MAC_BROADCAST,
  checksumPartial,
  ipv4PseudoHeaderSum,
  parseMac,
  prefixContains,
  readU16,
  writeU16,
} from '@morgana/core';
import type { IpReceiveInfo, Ipv4Address } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ipv4Field, Ipv4Packet, multicastMac, parseIpv4 } from '../src/index.js';
import { FakeArp, FakeEthernet, datagram, ip4, makeHost } from './fakes.js';
import type { SentFrame } from './fakes.js';
import { createIpv4 } from '../src/index.js';
import { VirtualClock, createSeededRandom } from '@morgana/testing';

const UDP = 17;
const TCP = 6;

function fillWith(bytes: Uint8Array): (buffer: Uint8Array) => number {
  return (buffer) => {
    buffer.set(bytes);
    return bytes.length;
  };
}

/** A host at 10.0.0.1/24 that records what its UDP handler receives. */
function receiving(config: Parameters<typeof makeHost>[0] = {}) {
  const host = makeHost(config);
  const received: { payload: Uint8Array; info: IpReceiveInfo }[] = [];
  host.ip.register(UDP, (payload, info) => received.push({ payload: payload.slice(), info: { ...info, datagram: info.datagram.slice() } }));
  return { ...host, received };
}

function lastSent(frames: readonly SentFrame[]) {
  const frame = frames[frames.length - 1];
  return { frame, ...parseIpv4(frame.bytes) };
}

describe('IPv4 receive (RFC 791, RFC 1122 §3.2.1)', () => {
  it('delivers a datagram for our address with its addresses, TTL, TOS and the whole datagram', () => {
    const host = receiving();
    const bytes = datagram({ ttl: 9, tos: 0x10 }, new Uint8Array([1, 2, 3]));
    host.ethernet.inject(bytes, { checksumVerified: true });
    expect(host.received.length).toBe(1);
    const [{ payload, info }] = host.received;
    expect(Array.from(payload)).toEqual([1, 2, 3]);
    expect(info).toMatchObject({ source: ip4('10.0.0.2'), destination: ip4('10.0.0.1'), protocol: UDP, ttl: 9, tos: 0x10, broadcast: false, checksumVerified: true });
    expect(info.datagram).toEqual(bytes);
  });

  it('trims Ethernet padding after Total Length', () => {
    const host = receiving();
    const padded = new Uint8Array(46);
    padded.set(datagram({}, new Uint8Array([9])));
    host.ethernet.inject(padded);
    expect(Array.from(host.received[0].payload)).toEqual([9]);
    expect(host.received[0].info.datagram.length).toBe(21);
  });

  it('drops and counts a bad checksum, a bad version, a short header and a bad Total Length', () => {
    const host = receiving();
    const good = datagram({}, new Uint8Array(4));
    const corrupt = (mutate: (bytes: Uint8Array) => void, fix: boolean) => {
      const bytes = good.slice();
      mutate(bytes);
      if (fix) new Ipv4Packet(bytes).fillChecksum();
      host.ethernet.inject(bytes);
    };
    corrupt((bytes) => (bytes[Ipv4Field.ttl] ^= 1), false);
    corrupt((bytes) => (bytes[0] = 0x65), true);
    corrupt((bytes) => (bytes[0] = 0x43), false);
    corrupt((bytes) => writeU16(bytes, Ipv4Field.totalLength, 200), true);
    corrupt((bytes) => writeU16(bytes, Ipv4Field.totalLength, 12), true);
    host.ethernet.inject(good.subarray(0, 10));
    expect(host.received).toEqual([]);
    expect(host.ip.stats()).toMatchObject({ 'bad-checksum': 1, 'bad-version': 1, 'bad-header-length': 1, truncated: 2, 'bad-total-length': 1 });
  });

  it('drops a datagram with TTL 0 (RFC 1122 §3.2.1.7 forbids sending one)', () => {
    const host = receiving();
    host.ethernet.inject(datagram({ ttl: 0 }));
    host.ethernet.inject(datagram({ ttl: 1 }));
    expect(host.received.length).toBe(1);
    expect(host.ip.stats()['ttl-zero']).toBe(1);
  });

  it('skips options safely (IHL > 5) and delivers the payload behind them', () => {
    const host = receiving();
    host.ethernet.inject(datagram({ options: new Uint8Array([0x94, 4, 0, 0, 1, 1, 1, 0]) }, new Uint8Array([5, 6])));
    expect(Array.from(host.received[0].payload)).toEqual([5, 6]);
  });

  it('drops martian sources: broadcast, our subnet broadcast, multicast, loopback (RFC 1122 §3.2.1.3)', () => {
    const host = receiving();
    for (const source of ['255.255.255.255', '10.0.0.255', '224.0.0.1', '239.1.2.3', '127.0.0.1']) {
      host.ethernet.inject(datagram({ source: ip4(source) }));
    }
    expect(host.received).toEqual([]);
    expect(host.ip.stats()['martian-source']).toBe(5);
    host.ethernet.inject(datagram({ source: IPV4_ANY }));
    expect(host.received.length).toBe(1);
  });

  it('drops datagrams for other hosts and unjoined groups: no forwarding (RFC 1122 §3.3.4)', () => {
    const host = receiving();
    host.ethernet.inject(datagram({ destination: ip4('10.0.0.7') }));
    host.ethernet.inject(datagram({ destination: ip4('192.168.1.1') }));
    host.ethernet.inject(datagram({ destination: ip4('224.0.0.251') }), { destination: multicastMac(ip4('224.0.0.251')) });
    expect(host.received).toEqual([]);
    expect(host.ip.stats()['not-for-us']).toBe(3);
  });

  it('accepts the limited broadcast, the subnet broadcast and the obsolete all-zeros forms, marked broadcast (RFC 1122 §3.3.6)', () => {
    const host = receiving();
    for (const destination of ['255.255.255.255', '10.0.0.255', '10.0.0.0', '0.0.0.0']) {
      host.ethernet.inject(datagram({ destination: ip4(destination) }), { destination: MAC_BROADCAST });
    }
    expect(host.received.map(({ info }) => info.broadcast)).toEqual([true, true, true, true]);
  });

  it('discards a unicast datagram that came in a link-layer broadcast (RFC 1122 §3.3.6)', () => {
    const host = receiving();
    host.ethernet.inject(datagram({}), { destination: MAC_BROADCAST });
    expect(host.received).toEqual([]);
    expect(host.ip.stats()['link-broadcast-unicast']).toBe(1);
  });

  it('counts datagrams of a protocol nobody registered', () => {
    const host = receiving();
    host.ethernet.inject(datagram({ protocol: 99 }));
    expect(host.ip.stats()['unknown-protocol']).toBe(1);
  });

  it('never throws on arbitrary bytes or mutated datagrams', () => {
    const host = receiving();
    host.ip.register(TCP, () => undefined);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 120 }),
          fc
            .tuple(fc.uint8Array({ maxLength: 60 }), fc.constantFrom(1, 6, 17, 99), fc.integer({ min: 0, max: 0x3fff }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.boolean())
            .map(([payload, protocol, flags, flips, fix]) => {
              const bytes = datagram({ protocol }, payload);
              writeU16(bytes, Ipv4Field.flagsAndFragmentOffset, flags);
              for (const [at, value] of flips) bytes[at % bytes.length] = value;
              if (fix && bytes.length >= 20 && (bytes[0] & 15) >= 5 && (bytes[0] & 15) * 4 <= bytes.length) new Ipv4Packet(bytes).fillChecksum();
              return bytes;
            }),
        ),
        fc.boolean(),
        (bytes, broadcastFrame) => {
          expect(() => host.ethernet.inject(bytes, broadcastFrame ? { destination: MAC_BROADCAST } : {})).not.toThrow();
        },
      ),
      { numRuns: 3000 },
    );
    host.clock.advance(60_000);
    expect(host.ip.reassembly()).toEqual({ datagrams: 0, bytes: 0 });
  });
});

describe('IPv4 send (RFC 791 §3.1, RFC 1122 §3.2.1)', () => {
  it('writes a header with TTL 64, our source and a valid checksum, through ARP to the destination', () => {
    const host = makeHost();
    expect(host.ip.write(ip4('10.0.0.9'), UDP, 3, fillWith(new Uint8Array([1, 2, 3])))).toBe(true);
    const { frame, repr, payload } = lastSent(host.arp.sent);
    expect(frame.nextHop).toBe(ip4('10.0.0.9'));
    expect(repr).toMatchObject({ ttl: 64, protocol: UDP, source: ip4('10.0.0.1'), destination: ip4('10.0.0.9'), dontFragment: false, moreFragments: false, fragmentOffset: 0, tos: 0 });
    expect(Array.from(payload)).toEqual([1, 2, 3]);
  });

  it('builds the payload in the frame buffer behind the header, without a copy', () => {
    const host = makeHost();
    let seen: Uint8Array | undefined;
    host.ip.write(ip4('10.0.0.9'), UDP, 100, (buffer) => {
      seen = buffer;
      return 10;
    });
    const { frame } = lastSent(host.arp.sent);
    expect(seen?.buffer).toBe(frame.buffer.buffer);
    expect(seen?.byteOffset).toBe(frame.buffer.byteOffset + 20);
    expect(frame.bytes.length).toBe(30);
  });

  it('applies per-datagram TTL, TOS, DF and source options', () => {
    const host = makeHost();
    host.ip.write(ip4('10.0.0.9'), UDP, 0, () => 0, { ttl: 5, tos: 0xb8, dontFragment: true, source: ip4('10.0.0.77') });
    expect(lastSent(host.arp.sent).repr).toMatchObject({ ttl: 5, tos: 0xb8, dontFragment: true, source: ip4('10.0.0.77') });
  });

  it('refuses TTL 0 (RFC 1122 §3.2.1.7), 0.0.0.0 and loopback destinations, our own address and a bad protocol number', () => {
    const host = makeHost();
    expect(host.ip.write(ip4('10.0.0.9'), UDP, 0, () => 0, { ttl: 0 })).toBe(false);
    expect(host.ip.write(IPV4_ANY, UDP, 0, () => 0)).toBe(false);
    expect(host.ip.write(ip4('127.0.0.1'), UDP, 0, () => 0)).toBe(false);
    expect(host.ip.write(ip4('10.0.0.1'), UDP, 0, () => 0)).toBe(false);
    expect(host.ip.write(ip4('10.0.0.9'), 256, 0, () => 0)).toBe(false);
    expect(host.ip.stats()).toMatchObject({ 'bad-ttl': 1, 'bad-destination': 2, 'to-self': 1, 'bad-protocol': 1 });
    expect(host.arp.sent).toEqual([]);
  });

  it('gives consecutive datagrams to one destination distinct identifications', () => {
    const host = makeHost();
    for (let i = 0; i < 1000; i++) host.ip.write(ip4('10.0.0.9'), UDP, 0, () => 0);
    const ids = new Set(host.arp.sent.map((frame) => new Ipv4Packet(frame.bytes).identification));
    expect(ids.size).toBe(1000);
  });

  it('drops a DF datagram larger than the MTU and returns false', () => {
    const host = makeHost();
    expect(host.ip.write(ip4('10.0.0.9'), UDP, 1481, fillWith(new Uint8Array(1481)), { dontFragment: true })).toBe(false);
    expect(host.ip.stats()['too-big-df']).toBe(1);
    expect(host.arp.sent).toEqual([]);
    expect(host.ip.write(ip4('10.0.0.9'), UDP, 1480, fillWith(new Uint8Array(1480)), { dontFragment: true })).toBe(true);
  });

  it('sends a payload that turned out to fit in one datagram unfragmented', () => {
    const host = makeHost();
    expect(host.ip.write(ip4('10.0.0.9'), UDP, 4000, fillWith(new Uint8Array(100)))).toBe(true);
    expect(host.arp.sent.length).toBe(1);
    expect(lastSent(host.arp.sent).payload.length).toBe(100);
  });

  it('returns false and counts when the link refuses the frame', () => {
    const host = makeHost();
    host.arp.refuse = true;
    expect(host.ip.write(ip4('10.0.0.9'), UDP, 0, () => 0)).toBe(false);
    expect(host.ip.write(ip4('10.0.0.9'), UDP, 3000, fillWith(new Uint8Array(3000)))).toBe(false);
    expect(host.ip.stats()['tx-dropped']).toBe(2);
  });

  it('keeps fragment headers intact when a synchronous link makes the layer send in between', () => {
    const host = makeHost();
    let nested = 0;
    host.ethernet.onWrite = () => {
      // A reply sent from inside the delivery of each fragment, as a synchronous peer could.
      if (nested++ < 3) host.ip.write(ip4('10.0.0.7'), TCP, 1, fillWith(new Uint8Array([9])), { ttl: 9, tos: 4 });
    };
    const payload = new Uint8Array(4000).map((_, index) => index);
    expect(host.ip.write(IPV4_BROADCAST, UDP, payload.length, fillWith(payload))).toBe(true);
    const fragments = host.ethernet.sent.map((frame) => new Ipv4Packet(frame.bytes));
    expect(fragments.map((packet) => [packet.protocol, packet.ttl, packet.destination])).toEqual([
      [UDP, 64, IPV4_BROADCAST],
      [UDP, 64, IPV4_BROADCAST],
      [UDP, 64, IPV4_BROADCAST],
    ]);
    expect(new Set(fragments.map((packet) => packet.identification)).size).toBe(1);
    expect(host.arp.sent.map((frame) => new Ipv4Packet(frame.bytes).protocol)).toEqual([TCP, TCP, TCP]);
  });

  it('sends broadcasts to the MAC broadcast address without ARP', () => {
    const host = makeHost();
    host.ip.write(IPV4_BROADCAST, UDP, 0, () => 0);
    host.ip.write(ip4('10.0.0.255'), UDP, 0, () => 0);
    expect(host.ethernet.sent.map((frame) => frame.mac)).toEqual([MAC_BROADCAST, MAC_BROADCAST]);
    expect(host.arp.sent).toEqual([]);
  });

  it('maps multicast groups to 01:00:5e MACs and sends them with TTL 1 (RFC 1112 §6.1, §6.4)', () => {
    const host = makeHost();
    host.ip.write(ip4('239.129.2.3'), UDP, 0, () => 0);
    const { frame, repr } = lastSent(host.ethernet.sent);
    expect(frame.mac).toBe(parseMac('01:00:5e:01:02:03'));
    expect(repr.ttl).toBe(1);
  });

  it('reports the route MTU less the header and the source it would use', () => {
    const host = makeHost({}, {}, 9000);
    expect(host.ip.mtu(ip4('8.8.8.8'))).toBe(8980);
    expect(host.ip.sourceFor(ip4('8.8.8.8'))).toBe(ip4('10.0.0.1'));
  });
});

describe('transport checksums left to the IP layer (IpWriteOptions.checksumOffset)', () => {
  const segment = new Uint8Array([0x30, 0x39, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, 0x61, 0x62, 0x63]);
  const verifies = (repr: { source: Ipv4Address; destination: Ipv4Address; protocol: number }, payload: Uint8Array) =>
    checksumPartial(payload, 0, payload.length, ipv4PseudoHeaderSum(repr.source, repr.destination, repr.protocol, payload.length)) === 0xffff;

  it('asks an offloading device to finish it, seeding the field with the pseudo-header sum', () => {
    const host = makeHost();
    host.ethernet.txChecksumOffload = true;
    expect(host.ip.txChecksumOffload).toBe(true);
    host.ip.write(ip4('10.0.0.9'), UDP, segment.length, fillWith(segment), { checksumOffset: 6 });
    const { frame, repr, payload } = lastSent(host.arp.sent);
    expect(frame.offload).toEqual({ checksumStart: 20, checksumOffset: 6, segmentSize: 0 });
    expect(readU16(payload, 6)).toBe(ipv4PseudoHeaderSum(repr.source, repr.destination, UDP, segment.length));
  });

  it('computes it in software when the device cannot', () => {
    const host = makeHost();
    host.ip.write(ip4('10.0.0.9'), UDP, segment.length, fillWith(segment), { checksumOffset: 6 });
    const { frame, repr, payload } = lastSent(host.arp.sent);
    expect(frame.offload).toBeUndefined();
    expect(verifies(repr, payload)).toBe(true);
  });

  it('computes it in software before fragmenting, even with an offloading device', () => {
    const host = makeHost();
    host.ethernet.txChecksumOffload = true;
    const big = new Uint8Array(3000);
    big.set(segment);
    host.ip.write(ip4('10.0.0.9'), UDP, big.length, fillWith(big), { checksumOffset: 6 });
    expect(host.arp.sent.length).toBe(3);
    const receiver = receiving({ address: { address: ip4('10.0.0.9'), length: 24 } });
    for (const frame of host.arp.sent) receiver.ethernet.inject(frame.bytes);
    const [{ payload, info }] = receiver.received;
    expect(verifies({ source: info.source, destination: info.destination, protocol: UDP }, payload)).toBe(true);
  });
});

describe('routing (RFC 1122 §3.3.1)', () => {
  it('sends on-link destinations directly and others to the default gateway', () => {
    const host = makeHost();
    host.ip.write(ip4('10.0.0.9'), UDP, 0, () => 0);
    host.ip.write(ip4('8.8.8.8'), UDP, 0, () => 0);
    expect(host.arp.sent.map((frame) => frame.nextHop)).toEqual([ip4('10.0.0.9'), ip4('10.0.0.254')]);
    expect(parseIpv4(host.arp.sent[1].bytes).repr.destination).toBe(ip4('8.8.8.8'));
  });

  it('prefers the longest matching static route, and the connected subnet on a tie', () => {
    const host = makeHost();
    host.ip.addRoute({ destination: { address: ip4('192.168.0.0'), length: 16 }, gateway: ip4('10.0.0.2') });
    host.ip.addRoute({ destination: { address: ip4('192.168.7.0'), length: 24 }, gateway: ip4('10.0.0.3') });
    host.ip.addRoute({ destination: { address: ip4('10.0.0.0'), length: 24 }, gateway: ip4('10.0.0.4') });
    host.ip.addRoute({ destination: { address: ip4('172.16.5.0'), length: 24 }, gateway: undefined });
    for (const destination of ['192.168.1.1', '192.168.7.7', '10.0.0.9', '172.16.5.5', '1.1.1.1']) host.ip.write(ip4(destination), UDP, 0, () => 0);
    expect(host.arp.sent.map((frame) => frame.nextHop)).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.9', '172.16.5.5', '10.0.0.254'].map(ip4));
    host.ip.removeRoute({ address: ip4('192.168.7.99'), length: 24 });
    host.ip.write(ip4('192.168.7.7'), UDP, 0, () => 0);
    expect(host.arp.sent[5].nextHop).toBe(ip4('10.0.0.2'));
  });

  it('chooses the same next hop as a naive longest-prefix match over any table', () => {
    const route = fc.record({
      address: fc.integer({ min: 0, max: 0xffff_ffff }),
      length: fc.integer({ min: 0, max: 32 }),
      gateway: fc.option(fc.integer({ min: 0x0a00_0002, max: 0x0a00_00fe }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(route, { maxLength: 12 }), fc.integer({ min: 0x0100_0000, max: 0xdfff_ffff }), (routes, target) => {
        const host = makeHost({ gateway: undefined });
        const destination = target as Ipv4Address;
        for (const r of routes) host.ip.addRoute({ destination: { address: r.address as Ipv4Address, length: r.length }, gateway: r.gateway as Ipv4Address | undefined });
        // Reference: the connected /24 first, then static routes (the last one added for a prefix wins), longest first.
        const table = [{ address: ip4('10.0.0.0'), length: 24, gateway: undefined as number | undefined, rank: 0 }];
        routes.forEach((r, index) => table.push({ address: r.address as Ipv4Address, length: r.length, gateway: r.gateway, rank: 1 + index }));
        const matches = table.filter((r) => prefixContains({ address: r.address as Ipv4Address, length: r.length }, destination));
        matches.sort((a, b) => b.length - a.length || (a.rank === 0 ? -1 : b.rank === 0 ? 1 : b.rank - a.rank));
        // Our own address, our subnet broadcast and loopback never take a route.
        if (destination === ip4('10.0.0.1') || destination === ip4('10.0.0.255') || destination >>> 24 === 127) return;
        const sent = host.ip.write(destination, UDP, 0, () => 0);
        expect(sent).toBe(matches.length > 0);
        if (matches.length > 0) expect(host.arp.sent[0].nextHop).toBe(matches[0].gateway ?? destination);
      }),
      { numRuns: 300 },
    );
  });

  it('lists connected, static and default routes, and counts a destination with no route', () => {
    const host = makeHost({ gateway: undefined });
    expect(host.ip.write(ip4('8.8.8.8'), UDP, 0, () => 0)).toBe(false);
    expect(host.ip.stats()['no-route']).toBe(1);
    host.ip.configure({ address: { address: ip4('10.0.0.1'), length: 24 }, gateway: ip4('10.0.0.254') });
    host.ip.addRoute({ destination: { address: ip4('172.16.0.0'), length: 12 }, gateway: ip4('10.0.0.3') });
    expect(host.ip.routes()).toEqual([
      { destination: { address: ip4('10.0.0.0'), length: 24 }, gateway: undefined },
      { destination: { address: ip4('172.16.0.0'), length: 12 }, gateway: ip4('10.0.0.3') },
      { destination: { address: IPV4_ANY, length: 0 }, gateway: ip4('10.0.0.254') },
    ]);
  });
});

describe('unconfigured operation for a DHCP client (RFC 2131 §4.1)', () => {
  function unconfigured() {
    const ethernet = new FakeEthernet();
    const arp = new FakeArp();
    const clock = new VirtualClock();
    const ip = createIpv4({ ethernet, arp, clock, random: createSeededRandom(1) }, {});
    const received: IpReceiveInfo[] = [];
    ip.register(UDP, (_payload, info) => received.push(info));
    return { ethernet, arp, ip, received };
  }

  it('sends from 0.0.0.0 to 255.255.255.255 in a MAC broadcast', () => {
    const { ethernet, ip } = unconfigured();
    expect(ip.address()).toBe(IPV4_ANY);
    expect(ip.write(IPV4_BROADCAST, UDP, 4, fillWith(new Uint8Array(4)))).toBe(true);
    const { frame, repr } = lastSent(ethernet.sent);
    expect(frame.mac).toBe(MAC_BROADCAST);
    expect(repr.source).toBe(IPV4_ANY);
    expect(repr.destination).toBe(IPV4_BROADCAST);
    expect(ip.write(ip4('10.0.0.9'), UDP, 0, () => 0)).toBe(false);
  });

  it('delivers broadcasts and unicasts to any address (a DHCP offer), the broadcast-framed ones marked broadcast', () => {
    const { ethernet, received } = unconfigured();
    ethernet.inject(datagram({ destination: IPV4_BROADCAST }), { destination: MAC_BROADCAST });
    ethernet.inject(datagram({ destination: ip4('192.168.1.50') }));
    ethernet.inject(datagram({ destination: ip4('192.168.1.50') }), { destination: MAC_BROADCAST });
    expect(received.map((info) => info.broadcast)).toEqual([true, false, true]);
  });

  it('takes an address at run time, tells ARP, and stops accepting other unicasts', () => {
    const { ethernet, arp, ip, received } = unconfigured();
    expect(arp.addressCalls).toEqual([]);
    ip.configure({ address: { address: ip4('192.168.1.50'), length: 24 }, gateway: ip4('192.168.1.1') });
    expect(arp.addressCalls).toEqual([[ip4('192.168.1.50')]]);
    expect(ip.address()).toBe(ip4('192.168.1.50'));
    expect(ip.config()).toEqual({ address: { address: ip4('192.168.1.50'), length: 24 }, gateway: ip4('192.168.1.1') });
    ethernet.inject(datagram({ destination: ip4('192.168.1.77') }));
    ethernet.inject(datagram({ destination: ip4('192.168.1.50') }));
    expect(received.length).toBe(1);
    ip.write(ip4('8.8.8.8'), UDP, 0, () => 0);
    expect(arp.sent[0].nextHop).toBe(ip4('192.168.1.1'));
    ip.configure({ address: { address: IPV4_ANY, length: 0 } });
    expect(arp.addressCalls[1]).toEqual([]);
    expect(ip.routes()).toEqual([]);
  });

  it('does not re-announce an address ARP already has', () => {
    const ethernet = new FakeEthernet();
    const arp = new FakeArp();
    arp.setAddresses([ip4('10.0.0.1')]);
    createIpv4({ ethernet, arp, clock: new VirtualClock(), random: createSeededRandom(1) }, { address: { address: ip4('10.0.0.1'), length: 24 } });
    expect(arp.addressCalls.length).toBe(1);
  });

  it('rejects a broadcast, multicast or loopback interface address', () => {
    const { ip } = unconfigured();
    for (const address of ['255.255.255.255', '224.0.0.1', '127.0.0.1']) {
      expect(() => ip.configure({ address: { address: ip4(address), length: 8 } })).toThrow(/not a usable interface address/);
    }
    expect(() => ip.configure({ address: { address: ip4('10.0.0.1'), length: 33 } })).toThrow(/prefix length/);
  });
});
