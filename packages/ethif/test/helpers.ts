/** Test helpers: a scripted Netif, a two-port link, and frame builders. */
import { EtherType, MAC_BROADCAST, MAC_ZERO, NO_OFFLOAD, emptyNetifStats, parseIpv4, parseMac } from '@morgana/core';
import type {
  Clock,
  FrameHandler,
  Ipv4Address,
  MacAddress,
  Netif,
  NetifStats,
  OffloadFlags,
  RxOffload,
  TxOffload,
} from '@morgana/core';
import {
  ArpOperation,
  ArpPacket,
  EthernetFrame,
  emitArp,
  emitEthernet,
  ethernetHeaderLength,
  parseArp,
  parseEthernet,
} from '../src/index.js';
import type { ArpOperationCode, ArpRepr, EthernetRepr, VlanTag } from '../src/index.js';

export const OUR_MAC: MacAddress = parseMac('02:00:00:00:00:01');
export const PEER_MAC: MacAddress = parseMac('02:00:00:00:00:02');
export const OTHER_MAC: MacAddress = parseMac('02:00:00:00:00:03');
export const OUR_IP: Ipv4Address = parseIpv4('10.0.0.1');
export const PEER_IP: Ipv4Address = parseIpv4('10.0.0.2');
export const OTHER_IP: Ipv4Address = parseIpv4('10.0.0.3');

/** One frame the device was asked to send. */
export interface SentFrame {
  readonly bytes: Uint8Array;
  readonly offload: TxOffload | undefined;
  /** The `size` the layer asked the device for. */
  readonly requested: number;
}

/** A Netif driven by the test: `inject` delivers a frame, `sent` records what was written. */
export class ScriptedNetif implements Netif {
  readonly mac: MacAddress;
  readonly mtu: number;
  readonly offload: OffloadFlags;
  /** Frames written, oldest first. */
  sent: SentFrame[] = [];
  /** When false, `write` refuses frames as a full device queue would. */
  accepting = true;
  /** Called with each frame written (a link forwards it from here). */
  onWrite: ((frame: Uint8Array) => void) | undefined;
  private handler: FrameHandler | undefined;
  private readonly counters: NetifStats = emptyNetifStats();

  constructor(mac: MacAddress = OUR_MAC, options: { mtu?: number; offload?: OffloadFlags } = {}) {
    this.mac = mac;
    this.mtu = options.mtu ?? 1500;
    this.offload = options.offload ?? NO_OFFLOAD;
  }

  listen(onFrame: FrameHandler): void {
    this.handler = onFrame;
  }

  write(size: number, fill: (buffer: Uint8Array) => number, offload?: TxOffload): boolean {
    if (!this.accepting) {
      this.counters.txDropped++;
      return false;
    }
    // Stale bytes, as a reused ring buffer would hold: padding must not leak them.
    const buffer = new Uint8Array(size).fill(0xee);
    const used = fill(buffer);
    const bytes = buffer.slice(0, used);
    this.sent.push({ bytes, offload, requested: size });
    this.counters.txFrames++;
    this.counters.txBytes += used;
    this.onWrite?.(bytes);
    return true;
  }

  inject(frame: Uint8Array, offload?: RxOffload): void {
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    this.handler?.(frame, offload);
  }

  /** Returns the frames written since the last call. */
  take(): SentFrame[] {
    const frames = this.sent;
    this.sent = [];
    return frames;
  }

  stats(): NetifStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    this.handler = undefined;
    return Promise.resolve();
  }
}

/**
 * Joins two scripted devices: each frame one writes reaches the other after `delayMs`, unless
 * `drop(frame)` says to lose it. With `delayMs` 0 the frame is delivered inside the write
 * call, as a synchronous backend would.
 */
export function link(a: ScriptedNetif, b: ScriptedNetif, clock: Clock, options: { delayMs?: number; drop?: (frame: Uint8Array) => boolean } = {}): void {
  const delay = options.delayMs ?? 1;
  const forward = (to: ScriptedNetif) => (frame: Uint8Array) => {
    if (options.drop?.(frame) === true) return;
    if (delay === 0) to.inject(frame);
    else clock.setTimer(delay, () => to.inject(frame));
  };
  a.onWrite = forward(b);
  b.onWrite = forward(a);
}

/** Builds a frame: header from `repr`, then `payload`, not padded. */
export function ethernetFrame(repr: EthernetRepr, payload: Uint8Array): Uint8Array {
  const headerLength = ethernetHeaderLength(repr);
  const bytes = new Uint8Array(headerLength + payload.length);
  emitEthernet(repr, new EthernetFrame(bytes));
  bytes.set(payload, headerLength);
  return bytes;
}

/** An ARP packet inside an Ethernet frame. */
export function arpFrame(
  fields: {
    operation: ArpOperationCode;
    senderMac: MacAddress;
    senderAddress: Ipv4Address;
    targetMac?: MacAddress;
    targetAddress: Ipv4Address;
    destination?: MacAddress;
    vlan?: VlanTag;
  },
): Uint8Array {
  const payload = new Uint8Array(28);
  emitArp(
    {
      operation: fields.operation,
      senderMac: fields.senderMac,
      senderAddress: fields.senderAddress,
      targetMac: fields.targetMac ?? MAC_ZERO,
      targetAddress: fields.targetAddress,
    },
    new ArpPacket(payload),
  );
  const destination = fields.destination ?? (fields.operation === ArpOperation.request ? MAC_BROADCAST : OUR_MAC);
  return ethernetFrame({ destination, source: fields.senderMac, ethertype: EtherType.arp, vlan: fields.vlan }, payload);
}

/** A reply from `senderMac`/`senderAddress` to us. */
export function arpReply(senderMac: MacAddress, senderAddress: Ipv4Address, targetAddress: Ipv4Address = OUR_IP): Uint8Array {
  return arpFrame({ operation: ArpOperation.reply, senderMac, senderAddress, targetMac: OUR_MAC, targetAddress, destination: OUR_MAC });
}

/** Decodes a frame we sent as Ethernet + ARP. */
export function decodeArpFrame(frame: Uint8Array): { ethernet: EthernetRepr; arp: ArpRepr } {
  const view = new EthernetFrame(frame);
  const ethernet = parseEthernet(view);
  return { ethernet, arp: parseArp(new ArpPacket(view.payload)) };
}

/** The ARP packets among `frames`, decoded. */
export function arpPackets(frames: readonly SentFrame[]): { ethernet: EthernetRepr; arp: ArpRepr }[] {
  return frames.filter((frame) => new EthernetFrame(frame.bytes).ethertype === EtherType.arp).map((frame) => decodeArpFrame(frame.bytes));
}
