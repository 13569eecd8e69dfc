import { MAC_BROADCAST, writeMac, writeU16, type MacAddress, type Netif } from '@morgana/core';
import { describe, expect, it } from 'vitest';
import {
  createLinkPair,
  createSeededRandom,
  DEFAULT_QUEUE_LIMIT,
  resolveLinkConditions,
  SimulatedNetwork,
  VirtualClock,
  type LinkConditions,
} from '../src/index.js';

/** An Ethernet frame of `length` bytes with a marker byte and a sequence number in its payload. */
function frame(destination: MacAddress, source: MacAddress, sequence = 0, length = 60, etherType = 0x88b5): Uint8Array {
  const bytes = new Uint8Array(length);
  writeMac(bytes, 0, destination);
  writeMac(bytes, 6, source);
  writeU16(bytes, 12, etherType);
  if (length >= 18) writeU16(bytes, 14, sequence);
  return bytes;
}

function send(netif: Netif, bytes: Uint8Array): boolean {
  return netif.write(bytes.length, (buffer) => {
    buffer.set(bytes);
    return bytes.length;
  });
}

interface Arrival {
  readonly time: number;
  readonly sequence: number;
  readonly bytes: Uint8Array;
}

function record(netif: Netif, clock: VirtualClock): Arrival[] {
  const arrivals: Arrival[] = [];
  netif.listen((bytes) => arrivals.push({ time: clock.now(), sequence: (bytes[14] << 8) | bytes[15], bytes }));
  return arrivals;
}

function network(seed = 1, options: { macTableSize?: number; macAgeingMs?: number } = {}): { clock: VirtualClock; net: SimulatedNetwork } {
  const clock = new VirtualClock();
  return { clock, net: new SimulatedNetwork({ clock, random: createSeededRandom(seed), ...options }) };
}

describe('SimulatedNetwork (learning switch)', () => {
  it('delivers a frame between two devices through the clock, never inside write', () => {
    const { clock, net } = network();
    const a = net.attach({ name: 'a' });
    const b = net.attach({ name: 'b' });
    const got = record(b, clock);
    expect(send(a, frame(b.mac, a.mac, 7))).toBe(true);
    expect(got).toHaveLength(0);
    clock.tick();
    expect(got.map((x) => x.sequence)).toEqual([7]);
    expect(got[0].time).toBe(0);
    expect(a.stats()).toMatchObject({ txFrames: 1, txBytes: 60 });
    expect(b.stats()).toMatchObject({ rxFrames: 1, rxBytes: 60 });
  });

  it('numbers default MACs in attach order (02:00:00:00:00:NN)', () => {
    const { net } = network();
    expect(net.attach().mac).toBe(0x02_00_00_00_00_01);
    expect(net.attach().mac).toBe(0x02_00_00_00_00_02);
  });

  it('floods unknown unicast, then forwards only to the learned port', () => {
    const { clock, net } = network();
    const [a, b, c] = [net.attach({ name: 'a' }), net.attach({ name: 'b' }), net.attach({ name: 'c' })];
    const [gotA, gotB, gotC] = [record(a, clock), record(b, clock), record(c, clock)];
    send(a, frame(b.mac, a.mac, 1));
    clock.tick();
    expect(gotB).toHaveLength(1);
    expect(gotC).toHaveLength(1);
    send(b, frame(a.mac, b.mac, 2));
    send(a, frame(b.mac, a.mac, 3));
    clock.tick();
    expect(gotA.map((x) => x.sequence)).toEqual([2]);
    expect(gotB.map((x) => x.sequence)).toEqual([1, 3]);
    expect(gotC.map((x) => x.sequence)).toEqual([1]);
    expect(net.counters()).toMatchObject({ flooded: 1, forwarded: 2 });
    expect([...net.macTable().values()].sort()).toEqual(['a', 'b']);
  });

  it('floods broadcast to every other port and never back to the sender', () => {
    const { clock, net } = network();
    const devices = [0, 1, 2, 3].map(() => net.attach());
    const got = devices.map((d) => record(d, clock));
    send(devices[0], frame(MAC_BROADCAST, devices[0].mac));
    clock.tick();
    expect(got.map((g) => g.length)).toEqual([0, 1, 1, 1]);
  });

  it('gives every receiver its own copy of a flooded frame', () => {
    const { clock, net } = network();
    const [a, b, c] = [net.attach(), net.attach(), net.attach()];
    b.listen((bytes) => bytes.fill(0xee));
    const got = record(c, clock);
    send(a, frame(MAC_BROADCAST, a.mac, 9));
    clock.tick();
    expect(got[0].sequence).toBe(9);
  });

  it('filters a frame whose destination was learned on the ingress port', () => {
    const { clock, net } = network();
    const a = net.attach();
    const b = net.attach();
    const got = record(b, clock);
    send(a, frame(MAC_BROADCAST, a.mac));
    clock.tick();
    send(a, frame(a.mac, a.mac));
    clock.tick();
    expect(net.counters().filtered).toBe(1);
    expect(got).toHaveLength(1);
  });

  it('stops learning when the MAC table is full and floods instead (macTableSize)', () => {
    const { clock, net } = network(1, { macTableSize: 1 });
    const [a, b, c] = [net.attach(), net.attach(), net.attach()];
    const gotC = record(c, clock);
    send(a, frame(b.mac, a.mac, 1));
    send(b, frame(a.mac, b.mac, 2));
    send(a, frame(b.mac, a.mac, 3));
    clock.tick();
    expect(net.counters()['mac-table-full']).toBe(1);
    expect(net.macTable().size).toBe(1);
    expect(gotC.map((x) => x.sequence)).toEqual([1, 3]);
  });

  it('forgets a learned address after macAgeingMs and floods again', () => {
    const { clock, net } = network(1, { macAgeingMs: 1000 });
    const [a, b, c] = [net.attach(), net.attach(), net.attach()];
    const gotC = record(c, clock);
    send(b, frame(MAC_BROADCAST, b.mac, 1));
    clock.tick();
    send(a, frame(b.mac, a.mac, 2));
    clock.advance(1000);
    send(a, frame(b.mac, a.mac, 3));
    clock.tick();
    expect(gotC.map((x) => x.sequence)).toEqual([1, 3]);
  });

  it('counts runt frames shorter than an Ethernet header', () => {
    const { clock, net } = network();
    const a = net.attach();
    net.attach();
    send(a, new Uint8Array(10));
    clock.tick();
    expect(net.counters().runt).toBe(1);
  });

  it('detaches a closed device: writes fail and frames to it are dropped', async () => {
    const { clock, net } = network();
    const a = net.attach();
    const b = net.attach({ link: { delay: 10 } });
    send(a, frame(b.mac, a.mac));
    clock.advance(5);
    await b.close();
    await b.close();
    expect(send(b, frame(a.mac, b.mac))).toBe(false);
    clock.advance(10);
    expect(b.stats()).toMatchObject({ rxFrames: 0, txDropped: 1, rxDropped: 1 });
    expect(b.counters()).toMatchObject({ 'tx-closed': 1, 'rx-closed': 1 });
  });

  it('ends each receive batch (frames arriving at one instant) with one onBatchEnd', () => {
    const { clock, net } = network();
    const a = net.attach();
    const b = net.attach();
    const events: string[] = [];
    b.listen(
      () => events.push('frame'),
      () => events.push('end'),
    );
    send(a, frame(b.mac, a.mac));
    send(a, frame(b.mac, a.mac));
    clock.tick();
    send(a, frame(b.mac, a.mac));
    clock.advance(1);
    expect(events).toEqual(['frame', 'frame', 'end', 'frame', 'end']);
  });

  it('drops frames beyond rxQueueLimit in one receive batch', () => {
    const { clock, net } = network();
    const a = net.attach();
    const b = net.attach({ rxQueueLimit: 2 });
    const got = record(b, clock);
    for (let i = 0; i < 5; i++) send(a, frame(b.mac, a.mac, i));
    clock.tick();
    expect(got.map((x) => x.sequence)).toEqual([0, 1]);
    expect(b.counters()['rx-queue-full']).toBe(3);
    expect(b.stats().rxDropped).toBe(3);
  });

  it('counts frames that arrive with no listener', () => {
    const { clock, net } = network();
    const a = net.attach();
    const b = net.attach();
    send(a, frame(b.mac, a.mac));
    clock.tick();
    expect(b.counters()['rx-no-listener']).toBe(1);
  });

  it('lets a handler write from inside onFrame without re-entering itself', () => {
    const { clock, net } = network();
    const a = net.attach();
    const b = net.attach();
    let depth = 0;
    let maxDepth = 0;
    let pongs = 0;
    b.listen((bytes) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      const sequence = (bytes[14] << 8) | bytes[15];
      if (sequence < 200) send(b, frame(a.mac, b.mac, sequence + 1));
      depth--;
    });
    a.listen((bytes) => {
      pongs++;
      send(a, frame(b.mac, a.mac, ((bytes[14] << 8) | bytes[15]) + 1));
    });
    send(a, frame(b.mac, a.mac, 0));
    clock.advance(0);
    expect(maxDepth).toBe(1);
    expect(pongs).toBe(100);
  });
});

describe('link conditions', () => {
  function pair(conditions: LinkConditions, seed = 1, mtu?: number) {
    const clock = new VirtualClock();
    const [a, b] = createLinkPair(clock, createSeededRandom(seed), conditions, { mtu });
    return { clock, a, b, got: record(b, clock) };
  }

  it('delays every frame by the propagation delay', () => {
    const { clock, a, b, got } = pair({ delay: 25 });
    send(a, frame(b.mac, a.mac));
    clock.advance(24.999);
    expect(got).toHaveLength(0);
    clock.advance(0.001);
    expect(got.map((x) => x.time)).toEqual([25]);
  });

  it('adds jitter within [delay, delay + jitter)', () => {
    const { clock, a, b, got } = pair({ delay: 10, jitter: 5 });
    for (let i = 0; i < 200; i++) send(a, frame(b.mac, a.mac, i));
    clock.advance(100);
    expect(got).toHaveLength(200);
    for (const arrival of got) {
      expect(arrival.time).toBeGreaterThanOrEqual(10);
      expect(arrival.time).toBeLessThan(15);
    }
  });

  it('serialises frames at the link bandwidth', () => {
    // 1250 bytes at 1 Mbit/s take 10 ms on the wire.
    const { clock, a, b, got } = pair({ bandwidth: 1_000_000, delay: 5 });
    for (let i = 0; i < 3; i++) send(a, frame(b.mac, a.mac, i, 1250, 0x88b5));
    clock.advance(100);
    expect(got.map((x) => x.time)).toEqual([15, 25, 35]);
  });

  it('tail-drops frames beyond queueLimit on a bandwidth-limited link and counts them', () => {
    const { clock, a, b, got } = pair({ bandwidth: 1_000_000, queueLimit: 2 });
    for (let i = 0; i < 5; i++) send(a, frame(b.mac, a.mac, i, 1250));
    expect(a.counters()['tx-link-queue-full']).toBe(3);
    clock.advance(10);
    expect(send(a, frame(b.mac, a.mac, 5, 1250))).toBe(true);
    clock.advance(100);
    expect(got.map((x) => x.sequence)).toEqual([0, 1, 5]);
    expect(b.counters()['rx-link-queue-full']).toBe(3);
  });

  it('holds the default queue limit when none is given', () => {
    const { a, b } = pair({ bandwidth: 8 });
    for (let i = 0; i < DEFAULT_QUEUE_LIMIT + 7; i++) send(a, frame(b.mac, a.mac, i));
    expect(a.counters()['tx-link-queue-full']).toBe(7);
  });

  it('drops every frame at loss 1 and about the given fraction otherwise', () => {
    const lossy = pair({ loss: 1 });
    send(lossy.a, frame(lossy.b.mac, lossy.a.mac));
    lossy.clock.tick();
    expect(lossy.got).toHaveLength(0);
    expect(lossy.a.counters()['tx-link-lost']).toBe(1);

    const { clock, a, b, got } = pair({ loss: 0.3 });
    for (let i = 0; i < 2000; i++) {
      send(a, frame(b.mac, a.mac, i));
      clock.advance(1);
    }
    // Binomial(2000, 0.7): mean 1400, standard deviation about 20.5.
    expect(got.length).toBeGreaterThan(1400 - 100);
    expect(got.length).toBeLessThan(1400 + 100);
    expect(got.length + a.counters()['tx-link-lost']).toBe(2000);
  });

  it('delivers a duplicated frame twice', () => {
    const { clock, a, b, got } = pair({ duplicate: 1 });
    send(a, frame(b.mac, a.mac, 4));
    clock.tick();
    expect(got.map((x) => x.sequence)).toEqual([4, 4]);
    expect(got[0].bytes).not.toBe(got[1].bytes);
    expect(a.counters()['tx-link-duplicated']).toBe(1);
  });

  it('reorders frames held back by reorderDelay but loses none', () => {
    const { clock, a, b, got } = pair({ reorder: 0.3, reorderDelay: 5 });
    for (let i = 0; i < 100; i++) {
      send(a, frame(b.mac, a.mac, i));
      clock.advance(1);
    }
    clock.advance(10);
    const sequences = got.map((x) => x.sequence);
    expect([...sequences].sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect(sequences).not.toEqual([...Array(100).keys()]);
    expect(a.counters()['tx-link-reordered']).toBeGreaterThan(0);
  });

  it('keeps frames in order when neither jitter nor reordering is set', () => {
    const { clock, a, b, got } = pair({ delay: 3, bandwidth: 10_000_000, loss: 0.2 });
    for (let i = 0; i < 300; i++) send(a, frame(b.mac, a.mac, i, 60 + (i % 1400)));
    clock.advance(1000);
    const sequences = got.map((x) => x.sequence);
    expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
  });

  it('loses frames in flight and frames sent while cut, and carries them again after restore', () => {
    const { clock, a, b, got } = pair({ delay: 10 });
    send(a, frame(b.mac, a.mac, 1));
    clock.advance(5);
    b.cut();
    send(a, frame(b.mac, a.mac, 2));
    clock.advance(20);
    b.restore();
    send(a, frame(b.mac, a.mac, 3));
    clock.advance(20);
    expect(got.map((x) => x.sequence)).toEqual([3]);
    expect(a.counters()['tx-link-cut']).toBe(2);
  });

  it('cuts one direction only when asked', () => {
    const { clock, a, b, got } = pair({});
    const gotA = record(a, clock);
    a.cut('transmit');
    send(a, frame(b.mac, a.mac));
    send(b, frame(a.mac, b.mac));
    clock.tick();
    expect(got).toHaveLength(0);
    expect(gotA).toHaveLength(1);
  });

  it('changes conditions with setLink for one direction', () => {
    const { clock, a, b, got } = pair({});
    a.setLink({ delay: 7 }, 'transmit');
    send(a, frame(b.mac, a.mac));
    const gotA = record(a, clock);
    send(b, frame(a.mac, b.mac));
    clock.advance(10);
    expect(got.map((x) => x.time)).toEqual([7]);
    expect(gotA.map((x) => x.time)).toEqual([0]);
  });

  it('drops oversize frames on transmit and counts them (MTU)', () => {
    const { clock, a, b, got } = pair({}, 1, 100);
    expect(send(a, frame(b.mac, a.mac, 0, 115))).toBe(false);
    expect(send(a, frame(b.mac, a.mac, 1, 114))).toBe(true);
    // An 802.1Q tag may add four bytes.
    expect(send(a, frame(b.mac, a.mac, 2, 118, 0x8100))).toBe(true);
    clock.tick();
    expect(got).toHaveLength(2);
    expect(a.stats().txDropped).toBe(1);
    expect(a.counters()['tx-oversize']).toBe(1);
  });

  it('drops frames larger than the receiver MTU on arrival', () => {
    const { clock, net } = network();
    const big = net.attach({ mtu: 9000 });
    const small = net.attach({ mtu: 1500 });
    const got = record(small, clock);
    send(big, frame(small.mac, big.mac, 0, 3000));
    clock.tick();
    expect(got).toHaveLength(0);
    expect(small.counters()['rx-oversize']).toBe(1);
    expect(small.stats().rxDropped).toBe(1);
  });

  it('drops a write whose fill returns a bad length', () => {
    const { a } = pair({});
    expect(a.write(10, () => 11)).toBe(false);
    expect(a.write(10, () => -1)).toBe(false);
    expect(a.counters()['tx-bad-fill']).toBe(2);
  });

  it('rejects conditions no wire can have', () => {
    expect(() => resolveLinkConditions({ loss: 1.5 })).toThrow(RangeError);
    expect(() => resolveLinkConditions({ delay: -1 })).toThrow(RangeError);
    expect(() => resolveLinkConditions({ queueLimit: 0 })).toThrow(RangeError);
    expect(() => resolveLinkConditions({ jitter: Number.NaN })).toThrow(RangeError);
  });

  it('repeats the same arrivals for the same seed and differs for another', () => {
    const run = (seed: number): string => {
      const { clock, a, b, got } = pair({ loss: 0.2, duplicate: 0.1, reorder: 0.1, jitter: 3, delay: 1 }, seed);
      for (let i = 0; i < 200; i++) {
        send(a, frame(b.mac, a.mac, i));
        clock.advance(0.5);
      }
      clock.advance(100);
      return got.map((x) => `${x.time}:${x.sequence}`).join(',');
    };
    expect(run(42)).toBe(run(42));
    expect(run(42)).not.toBe(run(43));
  });
});
