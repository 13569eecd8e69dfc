/**
 * The Ethernet layer: Ethernet II framing with optional 802.1Q tagging on top of a Netif,
 * destination filtering, EtherType demultiplexing, MTU enforcement and minimum-size padding.
 */
import { CounterSet, EtherType, MAC_BROADCAST } from '@morgana/core';
import type {
  Counters,
  Ethernet,
  EthernetFrameInfo,
  EthernetHandler,
  Fill,
  MacAddress,
  Netif,
  RxOffload,
  TxOffload,
} from '@morgana/core';
import {
  EthernetFrame,
  ETHERNET_HEADER_LENGTH,
  ETHERNET_MIN_FRAME_LENGTH,
  ETHERTYPE_MIN,
  VLAN_ID_MAX,
  VLAN_TAG_LENGTH,
  emitEthernet,
} from './wire.js';
import type { EthernetRepr, VlanTag } from './wire.js';

/** The VLAN this interface belongs to. */
export interface EthernetVlanConfig {
  /** VLAN id, 1-4094. */
  readonly id: number;
  /** Priority code point (IEEE 802.1p) of every frame sent, 0-7; default 0. */
  readonly priority?: number;
}

/** Configuration of {@link createEthernet}. */
export interface EthernetConfig {
  /**
   * Tag every frame sent with this VLAN and accept only frames tagged with it (untagged frames
   * and other VLANs are counted as `'wrong-vlan'`). Default: untagged; then only untagged and
   * priority-tagged (VLAN id 0) frames are accepted.
   */
  readonly vlan?: EthernetVlanConfig;
  /** Deliver frames sent to group addresses other than broadcast; default true (the IP layer filters groups). */
  readonly acceptMulticast?: boolean;
  /** Deliver frames whatever their destination (a bridge or a capture); default false. */
  readonly promiscuous?: boolean;
}

/** Largest Ethernet payload accepted on send when the device segments TCP itself (the largest IPv4 datagram). */
const TSO_MAX_PAYLOAD = 65535;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The handler's view of the frame being delivered. One instance is reused for every frame:
 * the source address is read from the frame only if a handler asks for it.
 */
class FrameInfo implements EthernetFrameInfo {
  frame: EthernetFrame = new EthernetFrame(new Uint8Array(0));
  destination: MacAddress = MAC_BROADCAST;
  ethertype = 0;
  vlan = -1;
  checksumVerified = false;

  get source(): MacAddress {
    return this.frame.source;
  }
}

function validateVlan(vlan: EthernetVlanConfig): VlanTag {
  if (!Number.isInteger(vlan.id) || vlan.id < 1 || vlan.id > VLAN_ID_MAX) {
    throw new RangeError(`EthernetConfig.vlan.id must be an integer from 1 to ${VLAN_ID_MAX}, got ${vlan.id}`);
  }
  const priority = vlan.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 7) {
    throw new RangeError(`EthernetConfig.vlan.priority must be an integer from 0 to 7, got ${priority}`);
  }
  return { id: vlan.id, priority, dropEligible: false };
}

/**
 * Creates the Ethernet layer over `netif` and starts listening on it.
 *
 * Counters: `rx-frames`, `tx-frames`, and the drop reasons `truncated`, `oversize` (payload
 * over the device MTU), `not-for-us`, `wrong-vlan`, `reserved-vlan`, `not-ethernet-ii` (an
 * 802.3 length field), `unknown-ethertype`, `tx-oversize`, `tx-dropped` (the device refused).
 */
export function createEthernet(deps: { netif: Netif }, config: EthernetConfig = {}): Ethernet {
  const { netif } = deps;
  const mac = netif.mac;
  const vlan = config.vlan === undefined ? undefined : validateVlan(config.vlan);
  const acceptMulticast = config.acceptMulticast ?? true;
  const promiscuous = config.promiscuous ?? false;
  const headerLength = vlan === undefined ? ETHERNET_HEADER_LENGTH : ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH;
  const mtu = netif.mtu - (headerLength - ETHERNET_HEADER_LENGTH);
  const tsoEnabled = netif.offload.tsoMaxSize > 0;
  const counters = new CounterSet();
  const handlers = new Map<number, EthernetHandler>();

  const rxFrame = new EthernetFrame(new Uint8Array(0));
  const info = new FrameInfo();

  function receive(bytes: Uint8Array, offload?: RxOffload): void {
    counters.add('rx-frames');
    rxFrame.bytes = bytes;
    const problem = rxFrame.check();
    if (problem !== undefined) {
      counters.add(problem);
      return;
    }
    const rxHeaderLength = rxFrame.headerLength;
    // The device MTU bounds the payload whatever the tagging: an 802.1Q frame may be 4 bytes
    // longer than an untagged one (IEEE 802.3 §3.2.7), its payload may not.
    if (bytes.length - rxHeaderLength > netif.mtu) {
      counters.add('oversize');
      return;
    }
    const destination = rxFrame.destination;
    // Group addresses have the I/G bit, the least significant bit of the first octet, set.
    const group = (bytes[0] & 1) === 1;
    if (destination !== mac && !promiscuous && !(group && (destination === MAC_BROADCAST || acceptMulticast))) {
      counters.add('not-for-us');
      return;
    }
    let vlanId = -1;
    if (rxFrame.tagged) {
      vlanId = rxFrame.vlanId;
      if (vlanId > VLAN_ID_MAX) {
        counters.add('reserved-vlan');
        return;
      }
    }
    // Without a configured VLAN, VLAN id 0 is a priority tag on an untagged frame (IEEE 802.1Q §9.6).
    if (vlan === undefined ? vlanId > 0 : vlanId !== vlan.id) {
      counters.add('wrong-vlan');
      return;
    }
    const ethertype = rxFrame.ethertype;
    if (ethertype < ETHERTYPE_MIN) {
      counters.add('not-ethernet-ii');
      return;
    }
    const handler = handlers.get(ethertype);
    if (handler === undefined) {
      counters.add('unknown-ethertype');
      return;
    }
    info.frame = rxFrame;
    info.destination = destination;
    info.ethertype = ethertype;
    info.vlan = vlanId;
    info.checksumVerified = offload?.checksumVerified ?? false;
    handler(bytes.subarray(rxHeaderLength), info);
  }

  // The frame being sent, kept in fields so that sending allocates no closure per frame.
  const txRepr: Mutable<EthernetRepr> = { destination: MAC_BROADCAST, source: mac, ethertype: EtherType.ipv4, vlan };
  const txFrame = new EthernetFrame(new Uint8Array(0));
  let txSize = 0;
  let txFill: Fill | undefined;

  function fillFrame(buffer: Uint8Array): number {
    const size = txSize;
    const fill = txFill as Fill;
    txFill = undefined;
    txFrame.bytes = buffer;
    emitEthernet(txRepr, txFrame);
    const used = fill(buffer.subarray(headerLength, headerLength + size));
    if (!(used >= 0 && used <= size)) throw new RangeError(`Ethernet fill returned ${used} for a payload of at most ${size} bytes`);
    let length = headerLength + used;
    if (length < ETHERNET_MIN_FRAME_LENGTH) {
      // Zero the padding: the device buffer may hold an earlier frame's bytes.
      buffer.fill(0, length, ETHERNET_MIN_FRAME_LENGTH);
      length = ETHERNET_MIN_FRAME_LENGTH;
    }
    return length;
  }

  netif.listen(receive);

  return {
    mac,
    mtu,
    txChecksumOffload: netif.offload.txChecksum,

    register(ethertype: number, handler: EthernetHandler): void {
      if (!Number.isInteger(ethertype) || ethertype < ETHERTYPE_MIN || ethertype > 0xffff || ethertype === EtherType.vlan) {
        throw new RangeError(`cannot register EtherType ${ethertype}: Ethernet II types are 0x0600-0xffff, 0x8100 is the VLAN tag`);
      }
      handlers.set(ethertype, handler);
    },

    write(destination: MacAddress, ethertype: number, size: number, fill: Fill, offload?: TxOffload): boolean {
      if (!(ethertype >= ETHERTYPE_MIN && ethertype <= 0xffff)) {
        throw new RangeError(`cannot send EtherType ${ethertype}: Ethernet II types are 0x0600-0xffff`);
      }
      // With TSO the device cuts the payload into MTU-sized frames itself.
      const limit = tsoEnabled && offload !== undefined && offload.segmentSize > 0 ? TSO_MAX_PAYLOAD : mtu;
      if (!(size >= 0 && size <= limit)) {
        counters.add('tx-oversize');
        return false;
      }
      txRepr.destination = destination;
      txRepr.ethertype = ethertype;
      txSize = size;
      txFill = fill;
      const frameSize = Math.max(headerLength + size, ETHERNET_MIN_FRAME_LENGTH);
      const sent =
        offload === undefined
          ? netif.write(frameSize, fillFrame)
          : netif.write(frameSize, fillFrame, {
              checksumStart: offload.checksumStart + headerLength,
              checksumOffset: offload.checksumOffset,
              segmentSize: offload.segmentSize,
            });
      txFill = undefined;
      if (!sent) {
        counters.add('tx-dropped');
        return false;
      }
      counters.add('tx-frames');
      return true;
    },

    stats(): Counters {
      return counters.snapshot();
    },
  };
}
