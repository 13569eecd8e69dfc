import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EtherType, MAC_BROADCAST, parseMac } from '@morgana/core';
import type { EthernetFrameInfo, MacAddress } from '@morgana/core';
import { EthernetFrame, createEthernet, parseEthernet } from '../src/index.js';
import type { EthernetConfig } from '../src/index.js';
import { arbEthernetRepr } from '@morgana/testing/ethernet';
import { OTHER_MAC, OUR_MAC, PEER_MAC, ScriptedNetif, ethernetFrame } from './helpers.js';

interface Delivery {
  payload: Uint8Array;
  source: MacAddress;
  destination: MacAddress;
  ethertype: number;
  vlan: number;
  checksumVerified: boolean;
}

function setup(config?: EthernetConfig, netifOptions?: ConstructorParameters<typeof ScriptedNetif>[1]) {
  const netif = new ScriptedNetif(OUR_MAC, netifOptions);
  const ethernet = createEthernet({ netif }, config);
  const delivered: Delivery[] = [];
  const record = (payload: Uint8Array, info: EthernetFrameInfo): void => {
    delivered.push({ payload: payload.slice(), ...copyInfo(info) });
  };
  ethernet.register(EtherType.ipv4, record);
  ethernet.register(EtherType.arp, record);
  return { netif, ethernet, delivered };
}

function copyInfo(info: EthernetFrameInfo): Omit<Delivery, 'payload'> {
  return {
    source: info.source,
    destination: info.destination,
    ethertype: info.ethertype,
    vlan: info.vlan,
    checksumVerified: info.checksumVerified,
  };
}

const payload = new Uint8Array([0x45, 0, 0, 20, 1, 2, 3, 4]);

describe('Ethernet receive', () => {
  it('demultiplexes by EtherType to the registered handler', () => {
    const { netif, ethernet, delivered } = setup();
    const arp: Uint8Array[] = [];
    ethernet.register(EtherType.arp, (bytes) => arp.push(bytes.slice()));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.arp, vlan: undefined }, payload));
    expect(delivered).toEqual([
      { payload, source: PEER_MAC, destination: OUR_MAC, ethertype: EtherType.ipv4, vlan: -1, checksumVerified: false },
    ]);
    expect(arp).toEqual([payload]);
  });

  it('counts frames of an EtherType nobody registered as unknown-ethertype', () => {
    const { netif, ethernet, delivered } = setup();
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv6, vlan: undefined }, payload));
    expect(delivered).toEqual([]);
    expect(ethernet.stats()['unknown-ethertype']).toBe(1);
  });

  it('drops frames for other hosts as not-for-us, and takes broadcast and multicast', () => {
    const { netif, ethernet, delivered } = setup();
    const multicast = parseMac('01:00:5e:00:00:fb');
    for (const destination of [OTHER_MAC, MAC_BROADCAST, multicast, OUR_MAC]) {
      netif.inject(ethernetFrame({ destination, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    }
    expect(delivered.map((d) => d.destination)).toEqual([MAC_BROADCAST, multicast, OUR_MAC]);
    expect(ethernet.stats()['not-for-us']).toBe(1);
  });

  it('drops multicast when acceptMulticast is false, but still takes broadcast', () => {
    const { netif, ethernet, delivered } = setup({ acceptMulticast: false });
    netif.inject(ethernetFrame({ destination: parseMac('01:00:5e:00:00:fb'), source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    netif.inject(ethernetFrame({ destination: MAC_BROADCAST, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    expect(delivered.map((d) => d.destination)).toEqual([MAC_BROADCAST]);
    expect(ethernet.stats()['not-for-us']).toBe(1);
  });

  it('delivers frames for any destination when promiscuous', () => {
    const { netif, delivered } = setup({ promiscuous: true });
    netif.inject(ethernetFrame({ destination: OTHER_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    expect(delivered.map((d) => d.destination)).toEqual([OTHER_MAC]);
  });

  it('counts frames shorter than a header as truncated', () => {
    const { netif, ethernet, delivered } = setup();
    netif.inject(new Uint8Array(13));
    const tagged = ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: { id: 5, priority: 0, dropEligible: false } }, payload);
    netif.inject(tagged.subarray(0, 16));
    expect(delivered).toEqual([]);
    expect(ethernet.stats().truncated).toBe(2);
  });

  it('drops payloads larger than the device MTU as oversize', () => {
    const { netif, ethernet, delivered } = setup(undefined, { mtu: 100 });
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, new Uint8Array(100)));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, new Uint8Array(101)));
    expect(delivered.map((d) => d.payload.length)).toEqual([100]);
    expect(ethernet.stats().oversize).toBe(1);
  });

  it('drops IEEE 802.3 frames (a length where the EtherType belongs) as not-ethernet-ii', () => {
    const { netif, ethernet } = setup();
    const frame = ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: 0x0800, vlan: undefined }, payload);
    frame[12] = 0x00;
    frame[13] = 0x2e;
    netif.inject(frame);
    expect(ethernet.stats()['not-ethernet-ii']).toBe(1);
  });

  it('passes the backend checksum verification through to the handler', () => {
    const { netif, delivered } = setup();
    const frame = ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload);
    netif.inject(frame, { checksumVerified: true });
    netif.inject(frame, { checksumVerified: false });
    netif.inject(frame);
    expect(delivered.map((d) => d.checksumVerified)).toEqual([true, false, false]);
  });

  it('reuses one info object, valid during the call only', () => {
    const { netif, ethernet } = setup();
    const seen: EthernetFrameInfo[] = [];
    ethernet.register(EtherType.ipv4, (_bytes, info) => seen.push(info));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: OTHER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    expect(seen[0]).toBe(seen[1]);
  });

  it('arbitrary bytes never throw out of the receive path, and every frame is delivered or counted', () => {
    const { netif, ethernet, delivered } = setup({ vlan: { id: 7 } }, { mtu: 64 });
    const framed = fc.tuple(arbEthernetRepr(), fc.uint8Array({ maxLength: 80 })).map(([repr, bytes]) => ethernetFrame(repr, bytes));
    const { netif: plainNetif, ethernet: plain, delivered: plainDelivered } = setup();
    let frames = 0;
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 90 }), framed), (bytes) => {
        netif.inject(bytes);
        plainNetif.inject(bytes);
        frames++;
      }),
      { numRuns: 1000 },
    );
    for (const [layer, deliveries] of [
      [ethernet, delivered],
      [plain, plainDelivered],
    ] as const) {
      const stats = layer.stats();
      const drops = Object.entries(stats)
        .filter(([name]) => name !== 'rx-frames')
        .reduce((sum, [, count]) => sum + count, 0);
      expect(stats['rx-frames']).toBe(frames);
      expect(drops + deliveries.length).toBe(frames);
    }
  });
});

describe('Ethernet 802.1Q VLANs', () => {
  const vlan = { id: 42, priority: 5 };

  it('tags every frame sent with the configured VLAN and priority, and lowers the MTU by 4', () => {
    const { netif, ethernet } = setup({ vlan });
    expect(ethernet.mtu).toBe(1496);
    ethernet.write(PEER_MAC, EtherType.ipv4, payload.length, (buffer) => {
      buffer.set(payload);
      return payload.length;
    });
    const [frame] = netif.take();
    const view = new EthernetFrame(frame.bytes);
    expect(parseEthernet(view)).toEqual({
      destination: PEER_MAC,
      source: OUR_MAC,
      ethertype: EtherType.ipv4,
      vlan: { id: 42, priority: 5, dropEligible: false },
    });
    expect(view.payload.subarray(0, payload.length)).toEqual(payload);
  });

  it('accepts only frames of its VLAN and counts the others as wrong-vlan', () => {
    const { netif, ethernet, delivered } = setup({ vlan });
    const tag = (id: number) => ({ id, priority: 0, dropEligible: false });
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: tag(42) }, payload));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: tag(43) }, payload));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: undefined }, payload));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: tag(0) }, payload));
    expect(delivered.map((d) => [d.vlan, d.payload])).toEqual([[42, payload]]);
    expect(ethernet.stats()['wrong-vlan']).toBe(3);
  });

  it('without a VLAN, takes untagged and priority-tagged frames and drops tagged ones (IEEE 802.1Q §9.6)', () => {
    const { netif, ethernet, delivered } = setup();
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: { id: 0, priority: 6, dropEligible: false } }, payload));
    netif.inject(ethernetFrame({ destination: OUR_MAC, source: PEER_MAC, ethertype: EtherType.ipv4, vlan: { id: 9, priority: 0, dropEligible: false } }, payload));
    expect(delivered.map((d) => d.vlan)).toEqual([0]);
    expect(ethernet.stats()['wrong-vlan']).toBe(1);
  });

  it('delivers any tagged repr of its VLAN with the payload intact', () => {
    const { netif, delivered } = setup({ vlan: { id: 100 } });
    fc.assert(
      fc.property(arbEthernetRepr(), fc.uint8Array({ maxLength: 64 }), (repr, bytes) => {
        delivered.length = 0;
        const frame = ethernetFrame({ ...repr, destination: OUR_MAC, ethertype: EtherType.ipv4, vlan: repr.vlan && { ...repr.vlan, id: 100 } }, bytes);
        netif.inject(frame);
        if (repr.vlan === undefined) {
          expect(delivered).toEqual([]);
        } else {
          expect(delivered).toEqual([{ payload: bytes, source: repr.source, destination: OUR_MAC, ethertype: EtherType.ipv4, vlan: 100, checksumVerified: false }]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rejects VLAN ids outside 1-4094 and priorities outside 0-7', () => {
    const netif = new ScriptedNetif();
    expect(() => createEthernet({ netif }, { vlan: { id: 0 } })).toThrow(RangeError);
    expect(() => createEthernet({ netif }, { vlan: { id: 4095 } })).toThrow(RangeError);
    expect(() => createEthernet({ netif }, { vlan: { id: 1, priority: 8 } })).toThrow(RangeError);
  });
});

describe('Ethernet send', () => {
  it('writes the header into the same buffer as the payload and pads to 60 bytes with zeros', () => {
    const { netif, ethernet } = setup();
    let filled: Uint8Array | undefined;
    expect(
      ethernet.write(PEER_MAC, EtherType.arp, 28, (buffer) => {
        filled = buffer;
        buffer.fill(0xab, 0, 28);
        return 28;
      }),
    ).toBe(true);
    const [frame] = netif.take();
    expect(frame.requested).toBe(60);
    expect(frame.bytes.length).toBe(60);
    expect(filled?.length).toBe(28);
    expect(filled?.byteOffset).toBe(14);
    expect(parseEthernet(new EthernetFrame(frame.bytes))).toEqual({ destination: PEER_MAC, source: OUR_MAC, ethertype: EtherType.arp, vlan: undefined });
    expect([...frame.bytes.subarray(14, 42)].every((b) => b === 0xab)).toBe(true);
    expect([...frame.bytes.subarray(42)].every((b) => b === 0)).toBe(true);
  });

  it('sends exactly the bytes the fill used when the frame is longer than the minimum', () => {
    const { netif, ethernet } = setup();
    ethernet.write(PEER_MAC, EtherType.ipv4, 1500, (buffer) => {
      buffer.fill(7, 0, 100);
      return 100;
    });
    const [frame] = netif.take();
    expect(frame.requested).toBe(1514);
    expect(frame.bytes.length).toBe(114);
  });

  it('refuses payloads over the MTU and counts tx-oversize', () => {
    const { netif, ethernet } = setup();
    expect(ethernet.write(PEER_MAC, EtherType.ipv4, 1501, () => 0)).toBe(false);
    expect(netif.take()).toEqual([]);
    expect(ethernet.stats()['tx-oversize']).toBe(1);
  });

  it('counts tx-dropped when the device refuses the frame', () => {
    const { netif, ethernet } = setup();
    netif.accepting = false;
    expect(ethernet.write(PEER_MAC, EtherType.ipv4, 20, () => 20)).toBe(false);
    expect(ethernet.stats()['tx-dropped']).toBe(1);
    expect(ethernet.stats()['tx-frames']).toBeUndefined();
  });

  it('passes transmit offload through with offsets shifted by the header length', () => {
    const { netif, ethernet } = setup({ vlan: { id: 3 } }, { offload: { txChecksum: true, rxChecksum: true, tsoMaxSize: 65000 } });
    expect(ethernet.txChecksumOffload).toBe(true);
    ethernet.write(PEER_MAC, EtherType.ipv4, 40, () => 40, { checksumStart: 20, checksumOffset: 16, segmentSize: 0 });
    expect(netif.take()[0].offload).toEqual({ checksumStart: 38, checksumOffset: 16, segmentSize: 0 });
  });

  it('lets a TSO payload exceed the MTU only when the device segments', () => {
    const tso = setup(undefined, { offload: { txChecksum: true, rxChecksum: false, tsoMaxSize: 65000 } });
    expect(tso.ethernet.write(PEER_MAC, EtherType.ipv4, 30000, () => 30000, { checksumStart: 20, checksumOffset: 16, segmentSize: 1460 })).toBe(true);
    const plain = setup();
    expect(plain.ethernet.write(PEER_MAC, EtherType.ipv4, 30000, () => 30000, { checksumStart: 20, checksumOffset: 16, segmentSize: 1460 })).toBe(false);
  });

  it('throws on a fill that reports more bytes than it was given', () => {
    const { ethernet } = setup();
    expect(() => ethernet.write(PEER_MAC, EtherType.ipv4, 10, () => 11)).toThrow(RangeError);
  });

  it('round-trips a frame between two layers on one link', () => {
    const a = setup();
    const b = new ScriptedNetif(PEER_MAC);
    const peer = createEthernet({ netif: b });
    const got: Uint8Array[] = [];
    peer.register(EtherType.ipv4, (bytes) => got.push(bytes.slice(0, payload.length)));
    a.ethernet.write(PEER_MAC, EtherType.ipv4, payload.length, (buffer) => {
      buffer.set(payload);
      return payload.length;
    });
    b.inject(a.netif.take()[0].bytes);
    expect(got).toEqual([payload]);
  });
});
