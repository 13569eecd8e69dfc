import { describe, expect, it } from 'vitest';
import { MAC_BROADCAST, localMac } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';
import { ArpOperation } from '@morgana/ethif';
import { TcpFlag } from '@morgana/tcp';
import type { TcpRepr } from '@morgana/tcp';
import { VirtualClock, createFrameScript } from '@morgana/testing';
import { Tester, buildArpFrame, buildSegmentFrame, createVirtualTimeline, parseFrame } from '../src/index.js';

const TESTER = 0x0a000002 as Ipv4Address;
const TARGET = 0x0a000001 as Ipv4Address;
const TARGET_MAC = localMac(7);

function segment(seq: number): TcpRepr {
  return {
    sourcePort: 80,
    destinationPort: 4000,
    seq,
    ack: 0,
    flags: TcpFlag.ack,
    window: 1000,
    urgent: 0,
    mss: undefined,
    windowScale: undefined,
    sackPermitted: false,
    sackBlocks: [],
    tsVal: undefined,
    tsEcr: undefined,
    payload: new Uint8Array(0),
  };
}

/** A tester on a scripted device: the script plays the TCP under test's side of the wire. */
function setup(queueLimit?: number) {
  const clock = new VirtualClock();
  const { script, netif } = createFrameScript({ clock, mac: localMac(2) });
  const tester = new Tester({ netif, timeline: createVirtualTimeline(clock), testerAddress: TESTER, targetAddress: TARGET, queueLimit, arpAttempts: 3, arpWaitMs: 100 });
  const fromTarget = (seq: number) => buildSegmentFrame({ repr: segment(seq) }, { sourceMac: TARGET_MAC, destinationMac: netif.mac, source: TARGET, destination: TESTER }, seq);
  return { clock, script, netif, tester, fromTarget };
}

describe('the tester endpoint', () => {
  it('answers ARP requests for its address', () => {
    const { script, tester, netif } = setup();
    script.inject(buildArpFrame({ operation: ArpOperation.request, senderMac: TARGET_MAC, senderAddress: TARGET, targetMac: localMac(0), targetAddress: TESTER }, MAC_BROADCAST));
    const reply = parseFrame(script.expect(() => true));
    expect(reply).toMatchObject({ kind: 'arp', arp: { operation: ArpOperation.reply, senderMac: netif.mac, senderAddress: TESTER, targetMac: TARGET_MAC } });
    expect(tester.resolvedMac).toBe(TARGET_MAC);
    expect(tester.counters()['arp-replies-sent']).toBe(1);
  });

  it('resolves the target with ARP and gives up after its attempts when nobody answers', async () => {
    const { script, tester } = setup();
    await expect(tester.resolve()).rejects.toThrow(/never answered ARP \(3 requests\)/);
    expect(script.takeAll()).toHaveLength(3);
  });

  it('refuses to send before the target is resolved', () => {
    const { tester } = setup();
    expect(() => tester.send({ repr: segment(1) })).toThrow(/resolve/);
  });

  it('queues segments from the target and hands them out by predicate, oldest first', async () => {
    const { script, tester, fromTarget } = setup();
    script.inject(fromTarget(1), fromTarget(2), fromTarget(3));
    expect(tester.take((s) => s.seq === 2)?.seq).toBe(2);
    expect((await tester.next(() => true, 10))?.seq).toBe(1);
    expect((await tester.next(() => true, 10))?.seq).toBe(3);
    expect(await tester.next(() => true, 10)).toBeUndefined();
  });

  it('drops the oldest segment when its queue is full, and counts it', () => {
    const { script, tester, fromTarget } = setup(2);
    script.inject(fromTarget(1), fromTarget(2), fromTarget(3), fromTarget(4));
    expect(tester.counters()['queue-full']).toBe(2);
    expect(tester.take(() => true)?.seq).toBe(3);
  });

  it('counts malformed frames and segments for other hosts instead of queueing or throwing', () => {
    const { script, tester, fromTarget } = setup();
    const bad = fromTarget(1);
    bad[14 + 20 + 16] ^= 0xff;
    const elsewhere = buildSegmentFrame({ repr: segment(5) }, { sourceMac: TARGET_MAC, destinationMac: localMac(2), source: TARGET, destination: 0x0a000009 as Ipv4Address }, 5);
    script.inject(bad, new Uint8Array(5), elsewhere);
    expect(tester.counters()).toMatchObject({ 'bad-frame': 2, 'not-for-us': 1 });
    expect(tester.take(() => true)).toBeUndefined();
  });
});
