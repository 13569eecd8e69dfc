import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EtherType, IPV4_ANY, LimitExceeded, MAC_BROADCAST, MAC_ZERO, UnreachableError, parseIpv4, parseMac } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import { ARP_DEFAULTS, ArpOperation, EthernetFrame, createArp, createEthernet } from '../src/index.js';
import type { ArpConfig } from '../src/index.js';
import { arbArpRepr } from '@morgana/testing/ethernet';
import {
  OTHER_IP,
  OTHER_MAC,
  OUR_IP,
  OUR_MAC,
  PEER_IP,
  PEER_MAC,
  ScriptedNetif,
  arpFrame,
  arpPackets,
  arpReply,
  ethernetFrame,
} from './helpers.js';

function setup(config: ArpConfig = {}) {
  const clock = new VirtualClock();
  const netif = new ScriptedNetif();
  const ethernet = createEthernet({ netif });
  const arp = createArp({ ethernet, clock, random: createSeededRandom(7) }, { addresses: [OUR_IP], announceCount: 0, ...config });
  return { clock, netif, ethernet, arp };
}

/** Sends a small IPv4 payload whose first byte is `tag` through ARP. */
function send(arp: ReturnType<typeof setup>['arp'], address: Ipv4Address, tag: number): boolean {
  return arp.output(address, EtherType.ipv4, 20, (buffer) => {
    buffer.fill(tag, 0, 20);
    return 20;
  });
}

/** The first payload byte of each IPv4 frame sent, and where it went. */
function ipFrames(netif: ScriptedNetif): { destination: number; tag: number }[] {
  return netif
    .take()
    .map((frame) => new EthernetFrame(frame.bytes))
    .filter((frame) => frame.ethertype === EtherType.ipv4)
    .map((frame) => ({ destination: frame.destination, tag: frame.payload[0] }));
}

const who = (senderMac = PEER_MAC, senderAddress = PEER_IP, targetAddress = OUR_IP) =>
  arpFrame({ operation: ArpOperation.request, senderMac, senderAddress, targetAddress });

describe('ARP replies (RFC 826)', () => {
  it('answers a request for our address with a unicast reply carrying our MAC', () => {
    const { netif, arp } = setup();
    netif.inject(who());
    const [reply] = arpPackets(netif.take());
    expect(reply.ethernet.destination).toBe(PEER_MAC);
    expect(reply.arp).toEqual({ operation: ArpOperation.reply, senderMac: OUR_MAC, senderAddress: OUR_IP, targetMac: PEER_MAC, targetAddress: PEER_IP });
    expect(arp.stats()['replies-sent']).toBe(1);
  });

  it('answers for every one of our addresses and for no other', () => {
    const second = parseIpv4('10.0.0.9');
    const { netif, arp } = setup({ addresses: [OUR_IP, second] });
    netif.inject(who(PEER_MAC, PEER_IP, second));
    netif.inject(who(PEER_MAC, PEER_IP, OTHER_IP));
    expect(arpPackets(netif.take()).map((p) => p.arp.senderAddress)).toEqual([second]);
    arp.setAddresses([second]);
    netif.inject(who(PEER_MAC, PEER_IP, OUR_IP));
    expect(netif.take()).toEqual([]);
  });

  it('learns the sender of a request for us (RFC 826 merge rule)', () => {
    const { netif, arp } = setup();
    netif.inject(who());
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
  });

  it('does not learn the sender of a request for someone else, but updates an entry it holds', () => {
    const { netif, arp } = setup();
    netif.inject(who(PEER_MAC, PEER_IP, OTHER_IP));
    expect(arp.lookup(PEER_IP)).toBeUndefined();
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    netif.inject(who(OTHER_MAC, PEER_IP, OTHER_IP));
    expect(arp.lookup(PEER_IP)).toBe(OTHER_MAC);
  });

  it('answers an RFC 5227 probe for our address without learning its 0.0.0.0 sender', () => {
    const { netif, arp } = setup();
    netif.inject(who(PEER_MAC, IPV4_ANY, OUR_IP));
    const [reply] = arpPackets(netif.take());
    expect(reply.ethernet.destination).toBe(PEER_MAC);
    expect(reply.arp.targetAddress).toBe(IPV4_ANY);
    expect(arp.entries()).toEqual([]);
  });

  it('never believes a group MAC or a broadcast or multicast sender address', () => {
    const { netif, arp } = setup();
    netif.inject(who(parseMac('01:00:5e:00:00:01'), PEER_IP));
    netif.inject(who(PEER_MAC, parseIpv4('255.255.255.255')));
    netif.inject(who(PEER_MAC, parseIpv4('224.0.0.1')));
    expect(netif.take()).toEqual([]);
    expect(arp.entries()).toEqual([]);
    expect(arp.stats()['bad-sender']).toBe(3);
  });

  it('ignores its own packets reflected back by the network', () => {
    const { netif, arp } = setup();
    netif.inject(who(OUR_MAC, OUR_IP, PEER_IP));
    expect(arp.stats().looped).toBe(1);
    expect(arp.stats()['address-conflict']).toBeUndefined();
  });

  it('counts malformed packets by reason and never throws on arbitrary bytes, with the cache bounded', () => {
    const { netif, arp } = setup({ cacheLimit: 16 });
    // Live state for hostile packets to hit: a resolution waiting and a probe running.
    send(arp, OTHER_IP, 1);
    void arp.probe(parseIpv4('10.0.0.77'));
    const forUs = fc.tuple(arbArpRepr(), fc.boolean()).map(([repr, toUs]) => arpFrame({ ...repr, targetAddress: toUs ? OUR_IP : repr.targetAddress, destination: MAC_BROADCAST }).subarray(14));
    const malformed = fc.oneof(
      fc.uint8Array({ maxLength: 46 }),
      forUs,
      fc.tuple(fc.uint8Array({ minLength: 28, maxLength: 28 }), fc.integer({ min: 0, max: 7 })).map(([bytes, field]) => {
        bytes.set([0, 1, 8, 0, 6, 4].slice(0, field));
        return bytes;
      }),
    );
    let packets = 0;
    fc.assert(
      fc.property(malformed, (payload) => {
        netif.inject(ethernetFrame({ destination: MAC_BROADCAST, source: PEER_MAC, ethertype: EtherType.arp, vlan: undefined }, payload));
        packets++;
      }),
      { numRuns: 1000 },
    );
    const stats = arp.stats();
    expect(stats['rx-packets']).toBe(packets);
    const decodeDrops = ['truncated', 'bad-hardware-type', 'bad-protocol-type', 'bad-address-length', 'bad-operation'].reduce((sum, reason) => sum + (stats[reason] ?? 0), 0);
    expect(decodeDrops + (stats['requests-received'] ?? 0) + (stats['replies-received'] ?? 0)).toBe(packets);
    expect(decodeDrops).toBeGreaterThan(0);
    expect(stats.evicted).toBeGreaterThan(0);
    expect(arp.entries().filter((entry) => entry.kind === 'dynamic').length).toBe(16);
  });
});

describe('ARP resolution', () => {
  it('queues output while resolving, sends a broadcast request, and flushes the queue when the reply fills the cache', () => {
    const { netif, arp, clock } = setup();
    expect(send(arp, PEER_IP, 1)).toBe(true);
    expect(send(arp, PEER_IP, 2)).toBe(true);
    const [request] = arpPackets(netif.take());
    expect(request.ethernet.destination).toBe(MAC_BROADCAST);
    expect(request.arp).toEqual({ operation: ArpOperation.request, senderMac: OUR_MAC, senderAddress: OUR_IP, targetMac: MAC_ZERO, targetAddress: PEER_IP });
    expect(arp.entries()).toEqual([{ address: PEER_IP, mac: undefined, kind: 'pending', expiresAt: undefined }]);
    clock.advance(300);
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    expect(ipFrames(netif)).toEqual([
      { destination: PEER_MAC, tag: 1 },
      { destination: PEER_MAC, tag: 2 },
    ]);
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
    expect(arp.entries()).toEqual([{ address: PEER_IP, mac: PEER_MAC, kind: 'dynamic', expiresAt: 300 + ARP_DEFAULTS.entryLifetime }]);
    expect(send(arp, PEER_IP, 3)).toBe(true);
    expect(ipFrames(netif)).toEqual([{ destination: PEER_MAC, tag: 3 }]);
    // Only the expiry timer is left.
    expect(clock.pendingTimers()).toBe(1);
  });

  it('resolves query() from a reply and from the cache', async () => {
    const { netif, arp } = setup();
    const answer = arp.query(PEER_IP);
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    await expect(answer).resolves.toBe(PEER_MAC);
    await expect(arp.query(PEER_IP)).resolves.toBe(PEER_MAC);
    expect(arp.stats()['requests-sent']).toBe(1);
  });

  it('retries with exponential backoff, then declares the address unreachable', async () => {
    const { netif, arp, clock } = setup({ requestInterval: 1000, requestBackoff: 2, maxRequests: 3 });
    const unreachable: Ipv4Address[] = [];
    arp.onUnreachable((address) => unreachable.push(address));
    const requestTimes: number[] = [];
    netif.onWrite = () => requestTimes.push(clock.now());
    send(arp, PEER_IP, 1);
    const answer = arp.query(PEER_IP);
    const rejected = expect(answer).rejects.toBeInstanceOf(UnreachableError);
    clock.advance(6999);
    expect(requestTimes).toEqual([0, 1000, 3000]);
    expect(unreachable).toEqual([]);
    clock.advance(1);
    expect(unreachable).toEqual([PEER_IP]);
    await rejected;
    expect(arp.stats()['unreachable-dropped']).toBe(1);
    expect(arp.stats().unreachable).toBe(1);
    expect(arp.entries()).toEqual([]);
  });

  it('drops output to an unreachable address at once, without new requests, until the negative cache expires', async () => {
    const { netif, arp, clock } = setup({ maxRequests: 2, negativeLifetime: 20_000 });
    send(arp, PEER_IP, 1);
    clock.advance(3000);
    netif.take();
    expect(send(arp, PEER_IP, 2)).toBe(false);
    await expect(arp.query(PEER_IP)).rejects.toBeInstanceOf(UnreachableError);
    expect(netif.take()).toEqual([]);
    expect(arp.stats()['negative-cache-dropped']).toBe(1);
    // The negative entry's expiry is the only timer.
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(20_000);
    expect(clock.pendingTimers()).toBe(0);
    expect(send(arp, PEER_IP, 3)).toBe(true);
    expect(arpPackets(netif.take()).map((p) => p.arp.targetAddress)).toEqual([PEER_IP]);
  });

  it('learns a host that was unreachable when it speaks again', () => {
    const { netif, arp, clock } = setup({ maxRequests: 1 });
    send(arp, PEER_IP, 1);
    clock.advance(1000);
    netif.inject(who(PEER_MAC, PEER_IP, OTHER_IP));
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
    expect(send(arp, PEER_IP, 2)).toBe(true);
  });

  it('keeps at most pendingPerAddress packets per address, dropping the oldest', () => {
    const { netif, arp } = setup({ pendingPerAddress: 3 });
    for (let tag = 1; tag <= 5; tag++) expect(send(arp, PEER_IP, tag)).toBe(true);
    expect(arp.stats()['pending-overflow']).toBe(2);
    netif.take();
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    expect(ipFrames(netif).map((f) => f.tag)).toEqual([3, 4, 5]);
  });

  it('queues nothing with pendingPerAddress 0 but still resolves', () => {
    const { netif, arp } = setup({ pendingPerAddress: 0 });
    expect(send(arp, PEER_IP, 1)).toBe(false);
    expect(arpPackets(netif.take()).length).toBe(1);
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    expect(ipFrames(netif)).toEqual([]);
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
  });

  it('resolves at most pendingAddressLimit addresses at once, making room by forgetting the oldest failure', async () => {
    const { arp, clock } = setup({ pendingAddressLimit: 2, maxRequests: 1 });
    const third = parseIpv4('10.0.0.4');
    expect(send(arp, PEER_IP, 1)).toBe(true);
    expect(send(arp, OTHER_IP, 1)).toBe(true);
    expect(send(arp, third, 1)).toBe(false);
    expect(arp.stats()['pending-full']).toBe(1);
    await expect(arp.query(third)).rejects.toBeInstanceOf(LimitExceeded);
    clock.advance(1000);
    // Both failed; a new address takes the place of the oldest failure (PEER_IP).
    expect(send(arp, third, 1)).toBe(true);
    expect(send(arp, OTHER_IP, 2)).toBe(false);
    expect(arp.stats()['negative-cache-dropped']).toBe(1);
    // PEER_IP's failure was forgotten: it is asked for again, in place of OTHER_IP's failure.
    expect(send(arp, PEER_IP, 2)).toBe(true);
    expect(send(arp, parseIpv4('10.0.0.5'), 1)).toBe(false);
    expect(arp.stats()['pending-full']).toBe(3);
    expect(arp.entries().map((entry) => entry.kind)).toEqual(['pending', 'pending']);
  });

  it('leaves no pending entry behind when an output fill throws', () => {
    const { arp, clock } = setup();
    expect(() =>
      arp.output(PEER_IP, EtherType.ipv4, 20, () => {
        throw new Error('fill failed');
      }),
    ).toThrow('fill failed');
    expect(() => arp.output(PEER_IP, EtherType.ipv4, 20, () => 21)).toThrow(RangeError);
    expect(arp.entries()).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('refuses to queue payloads larger than the MTU', () => {
    const { arp } = setup();
    expect(arp.output(PEER_IP, EtherType.ipv4, 1501, () => 0)).toBe(false);
    expect(arp.stats()['tx-oversize']).toBe(1);
  });

  it('maps broadcast and multicast addresses without asking (RFC 1112 §6.4)', () => {
    const { netif, arp } = setup();
    expect(send(arp, parseIpv4('255.255.255.255'), 1)).toBe(true);
    expect(send(arp, parseIpv4('239.129.2.3'), 2)).toBe(true);
    expect(ipFrames(netif)).toEqual([
      { destination: MAC_BROADCAST, tag: 1 },
      { destination: parseMac('01:00:5e:01:02:03'), tag: 2 },
    ]);
    expect(arp.lookup(parseIpv4('224.0.0.251'))).toBe(parseMac('01:00:5e:00:00:fb'));
  });

  it('refuses to resolve 0.0.0.0', async () => {
    const { arp, netif } = setup();
    expect(send(arp, IPV4_ANY, 1)).toBe(false);
    await expect(arp.query(IPV4_ANY)).rejects.toBeInstanceOf(UnreachableError);
    expect(netif.take()).toEqual([]);
    expect(arp.stats()['bad-address']).toBe(1);
  });

  it('leaves no timer behind once resolution fails and the negative cache is off', () => {
    const { arp, clock } = setup({ maxRequests: 2, negativeLifetime: 0 });
    send(arp, PEER_IP, 1);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(10_000);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('ARP cache', () => {
  it('evicts the least recently used entry past cacheLimit', () => {
    const { netif, arp } = setup({ cacheLimit: 2 });
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    netif.inject(arpReply(OTHER_MAC, OTHER_IP));
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
    netif.inject(arpReply(parseMac('02:00:00:00:00:04'), parseIpv4('10.0.0.4')));
    expect(arp.lookup(OTHER_IP)).toBeUndefined();
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
    expect(arp.stats().evicted).toBe(1);
    expect(arp.entries().length).toBe(2);
  });

  it('expires an entry entryLifetime after it was learned and leaves no timer', () => {
    const { netif, arp, clock } = setup({ entryLifetime: 30_000 });
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    clock.advance(29_999);
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
    clock.advance(1);
    expect(arp.lookup(PEER_IP)).toBeUndefined();
    expect(arp.entries()).toEqual([]);
    expect(arp.stats().expired).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('re-requests an entry in use near expiry by unicast, and the answer keeps it', () => {
    const { netif, arp, clock } = setup({ entryLifetime: 30_000, refreshWindow: 5_000, requestInterval: 1_000 });
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    clock.advance(24_000);
    send(arp, PEER_IP, 1);
    expect(arpPackets(netif.take())).toEqual([]);
    clock.advance(1_000);
    send(arp, PEER_IP, 2);
    send(arp, PEER_IP, 3);
    const refresh = arpPackets(netif.sent);
    expect(refresh.length).toBe(1);
    expect(refresh[0].ethernet.destination).toBe(PEER_MAC);
    expect(refresh[0].arp).toMatchObject({ operation: ArpOperation.request, senderAddress: OUR_IP, targetAddress: PEER_IP });
    expect(ipFrames(netif).map((f) => f.tag)).toEqual([2, 3]);
    clock.advance(1_000);
    send(arp, PEER_IP, 4);
    expect(arpPackets(netif.take()).length).toBe(1);
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    clock.advance(20_000);
    expect(arp.lookup(PEER_IP)).toBe(PEER_MAC);
    expect(arp.stats()['refresh-requests-sent']).toBe(2);
  });

  it('lets an unused entry lapse without refreshing it', () => {
    const { netif, arp, clock } = setup({ entryLifetime: 30_000 });
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    clock.advance(30_000);
    expect(netif.take().length).toBe(0);
    expect(arp.lookup(PEER_IP)).toBeUndefined();
  });

  it('keeps static entries: never updated, expired or evicted, until removed', () => {
    const { netif, arp, clock } = setup({ cacheLimit: 1 });
    arp.addStatic(PEER_IP, OTHER_MAC);
    netif.inject(arpReply(PEER_MAC, PEER_IP));
    netif.inject(arpReply(OTHER_MAC, OTHER_IP));
    netif.inject(arpReply(parseMac('02:00:00:00:00:04'), parseIpv4('10.0.0.4')));
    clock.advance(10 * ARP_DEFAULTS.entryLifetime);
    expect(arp.lookup(PEER_IP)).toBe(OTHER_MAC);
    expect(arp.entries()).toEqual([{ address: PEER_IP, mac: OTHER_MAC, kind: 'static', expiresAt: undefined }]);
    arp.remove(PEER_IP);
    expect(arp.lookup(PEER_IP)).toBeUndefined();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('sends what waits for an address when a static entry is added for it', () => {
    const { netif, arp, clock } = setup();
    send(arp, PEER_IP, 9);
    netif.take();
    arp.addStatic(PEER_IP, PEER_MAC);
    expect(ipFrames(netif)).toEqual([{ destination: PEER_MAC, tag: 9 }]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('cancels a resolution when its entry is removed, rejecting queries', async () => {
    const { arp, clock } = setup();
    send(arp, PEER_IP, 1);
    const answer = arp.query(PEER_IP);
    arp.remove(PEER_IP);
    await expect(answer).rejects.toBeInstanceOf(UnreachableError);
    expect(arp.stats()['pending-cancelled']).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('ARP announcements and probes (RFC 5227)', () => {
  it('announces its address twice, 2 s apart, at start (§2.3), then leaves no timer', () => {
    const clock = new VirtualClock();
    const netif = new ScriptedNetif();
    const times: number[] = [];
    netif.onWrite = () => times.push(clock.now());
    createArp({ ethernet: createEthernet({ netif }), clock, random: createSeededRandom(1) }, { addresses: [OUR_IP] });
    clock.advance(10_000);
    const announcements = arpPackets(netif.take());
    expect(times).toEqual([0, 2000]);
    for (const { ethernet, arp } of announcements) {
      expect(ethernet.destination).toBe(MAC_BROADCAST);
      expect(arp).toEqual({ operation: ArpOperation.request, senderMac: OUR_MAC, senderAddress: OUR_IP, targetMac: MAC_ZERO, targetAddress: OUR_IP });
    }
    expect(clock.pendingTimers()).toBe(0);
  });

  it('announces only addresses that are new when the addresses change', () => {
    const { netif, arp, clock } = setup({ announceCount: 2 });
    clock.advance(5000);
    netif.take();
    arp.setAddresses([OUR_IP, OTHER_IP]);
    clock.advance(5000);
    expect(arpPackets(netif.take()).map((p) => p.arp.targetAddress)).toEqual([OTHER_IP, OTHER_IP]);
    expect(arp.addresses()).toEqual([OUR_IP, OTHER_IP]);
  });

  it('stops announcing an address that is removed', () => {
    const { netif, arp, clock } = setup({ announceCount: 2 });
    arp.setAddresses([OUR_IP, OTHER_IP]);
    arp.setAddresses([OUR_IP]);
    clock.advance(5000);
    expect(arpPackets(netif.take()).filter((p) => p.arp.targetAddress === OTHER_IP).length).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('probes PROBE_NUM times from 0.0.0.0 and reports the address free after ANNOUNCE_WAIT of silence (§2.1.1)', async () => {
    const { netif, arp, clock } = setup();
    const times: number[] = [];
    netif.onWrite = () => times.push(clock.now());
    let result: boolean | undefined;
    void arp.probe(OTHER_IP).then((taken) => (result = taken));
    await clock.runUntil(() => result !== undefined);
    expect(result).toBe(false);
    const probes = arpPackets(netif.take());
    expect(probes.length).toBe(3);
    for (const { ethernet, arp: packet } of probes) {
      expect(ethernet.destination).toBe(MAC_BROADCAST);
      expect(packet).toEqual({ operation: ArpOperation.request, senderMac: OUR_MAC, senderAddress: IPV4_ANY, targetMac: MAC_ZERO, targetAddress: OTHER_IP });
    }
    expect(times[0]).toBeLessThanOrEqual(1000);
    for (let i = 1; i < times.length; i++) {
      expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(1000);
      expect(times[i] - times[i - 1]).toBeLessThanOrEqual(2000);
    }
    expect(clock.now() - times[2]).toBe(2000);
    expect(clock.pendingTimers()).toBe(0);
    expect(arp.entries()).toEqual([]);
  });

  it('reports the address taken when its owner answers a probe', async () => {
    const { netif, arp, clock } = setup();
    netif.onWrite = (frame) => {
      const [probe] = arpPackets([{ bytes: frame, offload: undefined, requested: frame.length }]);
      if (probe?.arp.targetAddress === OTHER_IP) {
        clock.setTimer(5, () => netif.inject(arpFrame({ operation: ArpOperation.reply, senderMac: OTHER_MAC, senderAddress: OTHER_IP, targetMac: OUR_MAC, targetAddress: IPV4_ANY, destination: OUR_MAC })));
      }
    };
    const taken = arp.probe(OTHER_IP);
    await clock.run(1100);
    await expect(taken).resolves.toBe(true);
    expect(arp.stats()['probes-sent']).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reports the address taken when another host probes for it at the same time', async () => {
    const { netif, arp, clock } = setup();
    const taken = arp.probe(OTHER_IP);
    const again = arp.probe(OTHER_IP);
    await clock.run(500);
    netif.inject(who(PEER_MAC, IPV4_ANY, OTHER_IP));
    await expect(taken).resolves.toBe(true);
    await expect(again).resolves.toBe(true);
  });

  it('counts a conflict on our own address and defends it at most once per DEFEND_INTERVAL (§2.4)', () => {
    const { netif, arp, clock } = setup();
    netif.inject(who(PEER_MAC, OUR_IP, OTHER_IP));
    clock.advance(5000);
    netif.inject(arpFrame({ operation: ArpOperation.reply, senderMac: PEER_MAC, senderAddress: OUR_IP, targetMac: OUR_MAC, targetAddress: OUR_IP, destination: OUR_MAC }));
    clock.advance(5000);
    netif.inject(who(PEER_MAC, OUR_IP, OTHER_IP));
    const defends = arpPackets(netif.take());
    expect(defends.map((p) => p.arp.senderAddress)).toEqual([OUR_IP, OUR_IP]);
    expect(defends.every((p) => p.arp.targetAddress === OUR_IP && p.ethernet.destination === MAC_BROADCAST)).toBe(true);
    expect(arp.stats()['address-conflict']).toBe(3);
    expect(arp.lookup(OUR_IP)).toBeUndefined();
  });
});
