// Small fakes of the layers below IPv4, and a helper to build datagrams, for this package's tests.
import { CounterSet, EtherType, MAC_BROADCAST, parseIpv4, parseMac } from '@morgana/core';
import type {
  Arp,
  ArpEntry,
  Counters,
  Ethernet,
  EthernetFrameInfo,
  EthernetHandler,
  Fill,
  Ipv4Address,
  MacAddress,
  TxOffload,
} from '@morgana/core';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import type { SeededRandom } from '@morgana/testing';
import { createIcmp, createIpv4, emitIpv4, ipv4HeaderLength } from '../src/index.js';
import type { Icmp } from '@morgana/core';
import type { Ipv4Layer, Ipv4LayerConfig, Ipv4Repr, IcmpConfig } from '../src/index.js';

/** One frame handed to the fake Ethernet or the fake ARP. */
export interface SentFrame {
  /** Link destination for `ethernet.write`, undefined for `arp.output`. */
  readonly mac: MacAddress | undefined;
  /** IPv4 next hop for `arp.output`, undefined for `ethernet.write`. */
  readonly nextHop: Ipv4Address | undefined;
  readonly ethertype: number;
  readonly bytes: Uint8Array;
  readonly offload: TxOffload | undefined;
  /** The buffer the layer above filled (to check that nothing was copied). */
  readonly buffer: Uint8Array;
}

/** An Ethernet that records what is written and delivers what a test injects. */
export class FakeEthernet implements Ethernet {
  readonly handlers = new Map<number, EthernetHandler>();
  readonly sent: SentFrame[] = [];
  /** Makes `write` refuse frames, as a full device queue would. */
  refuse = false;
  /** Called with each frame written (the link of the simulation test). */
  onWrite: ((frame: SentFrame) => void) | undefined;
  txChecksumOffload = false;

  constructor(
    readonly mac: MacAddress = parseMac('02:00:00:00:00:01'),
    readonly mtu = 1500,
  ) {}

  register(ethertype: number, handler: EthernetHandler): void {
    this.handlers.set(ethertype, handler);
  }

  write(destination: MacAddress, ethertype: number, size: number, fill: Fill, offload?: TxOffload): boolean {
    if (this.refuse || size > this.mtu) return false;
    const buffer = new Uint8Array(size);
    const used = fill(buffer);
    const frame: SentFrame = { mac: destination, nextHop: undefined, ethertype, bytes: buffer.subarray(0, used), offload, buffer };
    this.sent.push(frame);
    this.onWrite?.(frame);
    return true;
  }

  /** Delivers an IPv4 payload as if it arrived in a frame to `destination` (our MAC by default). */
  inject(payload: Uint8Array, options: { destination?: MacAddress; checksumVerified?: boolean; source?: MacAddress } = {}): void {
    const info: EthernetFrameInfo = {
      source: options.source ?? parseMac('02:00:00:00:00:99'),
      destination: options.destination ?? this.mac,
      ethertype: EtherType.ipv4,
      vlan: -1,
      checksumVerified: options.checksumVerified ?? false,
    };
    this.handlers.get(EtherType.ipv4)?.(payload, info);
  }

  stats(): Counters {
    return {};
  }
}

/** An ARP that records `output` calls (or resolves through a table onto an Ethernet) and `setAddresses`. */
export class FakeArp implements Arp {
  readonly sent: SentFrame[] = [];
  readonly addressCalls: (readonly Ipv4Address[])[] = [];
  private own: readonly Ipv4Address[] = [];
  /** Makes `output` refuse, as a full pending queue would. */
  refuse = false;
  private readonly counters = new CounterSet();

  /** With `ethernet` and `table`, `output` resolves the next hop and writes the frame there. */
  constructor(
    private readonly ethernet?: Ethernet,
    private readonly table?: Map<Ipv4Address, MacAddress>,
  ) {}

  setAddresses(addresses: readonly Ipv4Address[]): void {
    this.addressCalls.push(addresses.slice());
    this.own = addresses.slice();
  }

  addresses(): readonly Ipv4Address[] {
    return this.own;
  }

  lookup(address: Ipv4Address): MacAddress | undefined {
    return this.table?.get(address);
  }

  query(address: Ipv4Address): Promise<MacAddress> {
    const mac = this.table?.get(address);
    return mac === undefined ? Promise.reject(new Error('unresolved')) : Promise.resolve(mac);
  }

  output(address: Ipv4Address, ethertype: number, size: number, fill: Fill, offload?: TxOffload): boolean {
    if (this.refuse) return false;
    if (this.ethernet !== undefined && this.table !== undefined) {
      const mac = this.table.get(address);
      if (mac === undefined) {
        this.counters.add('unresolved');
        return false;
      }
      return this.ethernet.write(mac, ethertype, size, fill, offload);
    }
    const buffer = new Uint8Array(size);
    const used = fill(buffer);
    this.sent.push({ mac: undefined, nextHop: address, ethertype, bytes: buffer.subarray(0, used), offload, buffer });
    return true;
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
    return this.counters.snapshot();
  }
}

/** A host: IPv4 and ICMP over the fakes, with a virtual clock and a seeded random. */
export interface TestHost {
  readonly ethernet: FakeEthernet;
  readonly arp: FakeArp;
  readonly ip: Ipv4Layer;
  readonly icmp: Icmp;
  readonly clock: VirtualClock;
  readonly random: SeededRandom;
}

export const ip4 = parseIpv4;

/** 10.0.0.1/24 with gateway 10.0.0.254, unless `config` says otherwise. */
export function makeHost(config: Ipv4LayerConfig = {}, icmpConfig: IcmpConfig = {}, mtu = 1500, clock = new VirtualClock()): TestHost {
  const ethernet = new FakeEthernet(parseMac('02:00:00:00:00:01'), mtu);
  const arp = new FakeArp();
  const random = createSeededRandom(7);
  const ip = createIpv4(
    { ethernet, arp, clock, random },
    { address: { address: ip4('10.0.0.1'), length: 24 }, gateway: ip4('10.0.0.254'), ...config },
  );
  const icmp = createIcmp({ ip, clock, random }, icmpConfig);
  return { ethernet, arp, ip, icmp, clock, random };
}

/** A header with sensible defaults: from 10.0.0.2 to 10.0.0.1, UDP, TTL 64, not fragmented. */
export function header(fields: Partial<Ipv4Repr> = {}): Ipv4Repr {
  return {
    tos: 0,
    payloadLength: 0,
    identification: 1,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 17,
    source: ip4('10.0.0.2'),
    destination: ip4('10.0.0.1'),
    options: new Uint8Array(0),
    ...fields,
  };
}

/** A whole datagram: `repr`'s header (its payload length set from `payload`) and `payload`. */
export function datagram(repr: Partial<Ipv4Repr>, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const full = header({ ...repr, payloadLength: payload.length });
  const bytes = new Uint8Array(ipv4HeaderLength(full) + payload.length);
  const headerLength = emitIpv4(full, bytes);
  bytes.set(payload, headerLength);
  return bytes;
}

/** Is this MAC the one frames to `address` would carry when broadcast? */
export function isBroadcastFrame(frame: SentFrame): boolean {
  return frame.mac === MAC_BROADCAST;
}
