/**
 * The IPv4 layer of a host (RFC 791, RFC 1122 §3.2-3.3): receive validation and demultiplexing,
 * reassembly, routing, fragmentation on send, and the unconfigured mode a DHCP client needs.
 * It does not forward (RFC 1122 §3.3.4: a host is not a gateway).
 */
import {
  AddressError,
  CounterSet,
  EtherType,
  IPV4_ANY,
  IPV4_BROADCAST,
  IpProtocol,
  MAC_BROADCAST,
  broadcastAddress,
  checksumPartial,
  formatIpv4Prefix,
  ipv4PseudoHeaderSum,
  isLoopbackIpv4,
  isMulticastIpv4,
  isMulticastMac,
  networkAddress,
  writeU16,
} from '@morgana/core';
import type {
  Arp,
  Clock,
  Counters,
  Ethernet,
  EthernetFrameInfo,
  Fill,
  IcmpErrorInfo,
  IpHandler,
  IpReceiveInfo,
  IpRoute,
  IpWriteOptions,
  Ipv4,
  Ipv4Address,
  Ipv4Config,
  Ipv4Prefix,
  MacAddress,
  Random,
  TxOffload,
} from '@morgana/core';
import { type Ipv4ErrorReporter, attachIcmpHooks } from './hooks.js';
import { IdentificationGenerator } from './identification.js';
import { REASSEMBLY_DEFAULTS, Reassembler } from './reassembly.js';
import { RoutingTable } from './routing.js';
import { FRAGMENT_UNIT, IPV4_HEADER_LENGTH, IPV4_MAX_PAYLOAD, Ipv4Packet, fragmentWord, writeIpv4Header } from './wire.js';

/** Configuration of {@link createIpv4}. Every field is optional. */
export interface Ipv4LayerConfig {
  /** Our address and prefix length. Default 0.0.0.0/0: unconfigured, as a DHCP client starts. */
  readonly address?: Ipv4Prefix;
  /** Default gateway. */
  readonly gateway?: Ipv4Address;
  /** Static routes. */
  readonly routes?: readonly IpRoute[];
  /** TTL of unicast and broadcast datagrams; default 64 (RFC 1700 "Default TTL", RFC 1122 §3.2.1.7). */
  readonly ttl?: number;
  /** TTL of multicast datagrams; default 1, so they stay on the link (RFC 1112 §6.1). */
  readonly multicastTtl?: number;
  /** Milliseconds a partial datagram waits for its missing fragments; default 30 000 (see {@link ReassemblyConfig}). */
  readonly reassemblyTimeout?: number;
  /** Partial datagrams held at once, the oldest evicted first; default 64. */
  readonly maxReassemblies?: number;
  /** Bytes held by partial datagrams, the oldest evicted first; default 1 MiB. */
  readonly maxReassemblyBytes?: number;
  /** Identification counters, each shared by the flows that hash to it; default 2048 (4 KiB). */
  readonly identificationBuckets?: number;
}

/** The defaults of {@link Ipv4LayerConfig}. */
export const IPV4_DEFAULTS = {
  ttl: 64,
  multicastTtl: 1,
  reassemblyTimeout: REASSEMBLY_DEFAULTS.timeout,
  maxReassemblies: REASSEMBLY_DEFAULTS.maxDatagrams,
  maxReassemblyBytes: REASSEMBLY_DEFAULTS.maxBytes,
  identificationBuckets: 2048,
} as const;

/** What the reassembly buffer holds now. */
export interface ReassemblyUsage {
  /** Partial datagrams (including discarded ones waiting for their timer). */
  readonly datagrams: number;
  /** Bytes charged against `maxReassemblyBytes`. */
  readonly bytes: number;
}

/** The IPv4 layer made by {@link createIpv4}: an {@link Ipv4} that also reports its reassembly buffer. */
export interface Ipv4Layer extends Ipv4 {
  /** What the reassembly buffer holds now. */
  reassembly(): ReassemblyUsage;
}

/** Dependencies of {@link createIpv4}. */
export interface Ipv4Deps {
  readonly ethernet: Ethernet;
  readonly arp: Arp;
  readonly clock: Clock;
  readonly random: Random;
}

/** `linkDestination` value that means "resolve the next hop through ARP". */
const VIA_ARP = -1;
/** The UDP checksum field; RFC 768: a computed 0 is sent as all ones, 0 meaning "none". */
const UDP_NO_CHECKSUM_REPLACEMENT = 0xffff;

/** The header fields every fragment of one datagram shares. */
interface FragmentHeader {
  readonly tos: number;
  readonly ttl: number;
  readonly identification: number;
  readonly protocol: number;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
}

/** How a received datagram's destination relates to us. */
const NOT_OURS = 0;
const UNICAST = 1;
const BROADCAST = 2;

class Ipv4LayerImpl implements Ipv4Layer {
  private readonly counters = new CounterSet();
  private readonly handlers: (IpHandler | undefined)[] = new Array<IpHandler | undefined>(256).fill(undefined);
  private readonly errorHandlers: ((error: IcmpErrorInfo) => void)[] = [];
  private readonly table = new RoutingTable();
  private readonly reassembler: Reassembler;
  private readonly identifications: IdentificationGenerator;
  private readonly ttl: number;
  private readonly multicastTtl: number;
  private reporter: Ipv4ErrorReporter | undefined;

  // The interface address, kept in the forms the per-packet checks need.
  private prefix: Ipv4Prefix = { address: IPV4_ANY, length: 0 };
  private gateway: Ipv4Address | undefined;
  private local: Ipv4Address = IPV4_ANY;
  /** Directed broadcast and network address of the subnet; both -1 when it has none (/31, /32, unconfigured). */
  private subnetBroadcast = -1;
  private subnetNetwork = -1;

  // The datagram being sent: `write` sets these, and the lower layer calls `fillDatagram` or
  // `fillFragment` synchronously, so no closure is made per datagram.
  private txFill: Fill | undefined;
  private txSize = 0;
  private txProtocol = 0;
  private txTos = 0;
  private txTtl = 0;
  private txIdentification = 0;
  private txFlags = 0;
  private txSource: Ipv4Address = IPV4_ANY;
  private txDestination: Ipv4Address = IPV4_ANY;
  private txChecksumOffset = -1;
  private txSoftwareChecksum = false;
  private txPayload: Uint8Array = new Uint8Array(0);
  private txFragment: FragmentHeader = { tos: 0, ttl: 0, identification: 0, protocol: 0, source: IPV4_ANY, destination: IPV4_ANY };

  constructor(
    private readonly ethernet: Ethernet,
    private readonly arp: Arp,
    clock: Clock,
    random: Random,
    config: Ipv4LayerConfig,
  ) {
    this.ttl = config.ttl ?? IPV4_DEFAULTS.ttl;
    this.multicastTtl = config.multicastTtl ?? IPV4_DEFAULTS.multicastTtl;
    checkTtl('ttl', this.ttl);
    checkTtl('multicastTtl', this.multicastTtl);
    this.reassembler = new Reassembler(
      clock,
      {
        timeout: config.reassemblyTimeout ?? IPV4_DEFAULTS.reassemblyTimeout,
        maxDatagrams: Math.max(1, config.maxReassemblies ?? IPV4_DEFAULTS.maxReassemblies),
        maxBytes: config.maxReassemblyBytes ?? IPV4_DEFAULTS.maxReassemblyBytes,
      },
      this.counters,
      (first) => this.reporter?.reassemblyTimeExceeded(first),
    );
    this.identifications = new IdentificationGenerator(random, config.identificationBuckets ?? IPV4_DEFAULTS.identificationBuckets);
    this.applyConfig({ address: config.address ?? { address: IPV4_ANY, length: 0 }, gateway: config.gateway });
    for (const route of config.routes ?? []) this.addRoute(route);
    const current = arp.addresses();
    const wanted = this.local === IPV4_ANY ? [] : [this.local];
    if (current.length !== wanted.length || current.some((address, index) => address !== wanted[index])) arp.setAddresses(wanted);
    ethernet.register(EtherType.ipv4, this.input);
    attachIcmpHooks(this, {
      deliverIcmpError: (error) => this.deliverIcmpError(error),
      setErrorReporter: (reporter) => {
        this.reporter = reporter;
      },
    });
  }

  get txChecksumOffload(): boolean {
    return this.ethernet.txChecksumOffload;
  }

  address(): Ipv4Address {
    return this.local;
  }

  config(): Ipv4Config {
    return this.gateway === undefined ? { address: this.prefix } : { address: this.prefix, gateway: this.gateway };
  }

  configure(config: Ipv4Config): void {
    this.applyConfig(config);
    this.arp.setAddresses(this.local === IPV4_ANY ? [] : [this.local]);
  }

  addRoute(route: IpRoute): void {
    checkPrefix(route.destination);
    this.table.addStatic(route);
  }

  removeRoute(destination: Ipv4Prefix): void {
    checkPrefix(destination);
    this.table.removeStatic(destination);
  }

  routes(): IpRoute[] {
    return this.table.list().map((route) => ({ destination: route.destination, gateway: route.gateway }));
  }

  register(protocol: number, handler: IpHandler): void {
    checkProtocol(protocol);
    this.handlers[protocol] = handler;
  }

  onIcmpError(protocol: number, handler: (error: IcmpErrorInfo) => void): void {
    checkProtocol(protocol);
    this.errorHandlers[protocol] = handler;
  }

  mtu(_destination: Ipv4Address): number {
    return this.ethernet.mtu - IPV4_HEADER_LENGTH;
  }

  sourceFor(_destination: Ipv4Address): Ipv4Address {
    return this.local;
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  reassembly(): ReassemblyUsage {
    return { datagrams: this.reassembler.datagrams(), bytes: this.reassembler.bufferedBytes() };
  }

  // ------------------------------------------------------------------------------ receive

  private readonly input = (frame: Uint8Array, link: EthernetFrameInfo): void => {
    this.counters.add('rx-datagrams');
    let packet = new Ipv4Packet(frame);
    const problem = packet.check();
    if (problem !== undefined) {
      this.counters.add(problem);
      return;
    }
    // Ethernet pads frames to 60 bytes: whatever follows Total Length is not ours.
    const totalLength = packet.totalLength;
    if (totalLength !== frame.length) packet = new Ipv4Packet(frame.subarray(0, totalLength));
    // RFC 1122 §3.2.1.7 forbids sending TTL 0 and no router forwards it: only a broken or
    // hostile sender produces one.
    if (packet.ttl === 0) {
      this.counters.add('ttl-zero');
      return;
    }
    const source = packet.source;
    if (this.isMartianSource(source)) {
      this.counters.add('martian-source');
      return;
    }
    const destination = this.classifyDestination(packet.destination);
    if (destination === NOT_OURS) {
      this.counters.add('not-for-us');
      return;
    }
    let broadcast = destination === BROADCAST;
    if (!broadcast && isMulticastMac(link.destination)) {
      // RFC 1122 §3.3.6: a unicast datagram in a link-layer broadcast SHOULD be discarded.
      // While unconfigured it is kept (a DHCP server may broadcast an offer to the offered
      // address) but marked broadcast, so nothing answers it with an ICMP error.
      if (this.local !== IPV4_ANY) {
        this.counters.add('link-broadcast-unicast');
        return;
      }
      broadcast = true;
    }
    if (packet.isFragment) {
      this.counters.add('rx-fragments');
      const whole = this.reassembler.add(packet);
      if (whole !== undefined) this.deliver(new Ipv4Packet(whole), broadcast, false);
      return;
    }
    this.deliver(packet, broadcast, link.checksumVerified);
  };

  private deliver(packet: Ipv4Packet, broadcast: boolean, checksumVerified: boolean): void {
    const protocol = packet.protocol;
    const info: IpReceiveInfo = {
      source: packet.source,
      destination: packet.destination,
      protocol,
      ttl: packet.ttl,
      tos: packet.tos,
      broadcast,
      datagram: packet.bytes,
      checksumVerified,
    };
    const handler = this.handlers[protocol];
    if (handler === undefined) {
      this.counters.add('unknown-protocol');
      // RFC 1122 §3.2.2.1: a host SHOULD answer an unknown protocol with Protocol Unreachable.
      this.reporter?.protocolUnreachable(info);
      return;
    }
    this.counters.add('rx-delivered');
    handler(packet.payload, info);
  }

  /**
   * RFC 1122 §3.2.1.3: a host MUST silently discard a datagram whose source is a broadcast
   * (limited or our subnet's), a multicast address (RFC 1112 §7.2) or a loopback address.
   * 0.0.0.0 is allowed: hosts use it while they learn their address.
   */
  private isMartianSource(source: Ipv4Address): boolean {
    return source === IPV4_BROADCAST || isMulticastIpv4(source) || isLoopbackIpv4(source) || source === this.subnetBroadcast;
  }

  /**
   * Ours: our address, the limited broadcast, our subnet's directed broadcast, and the
   * obsolete all-zeros forms {net, 0} and {0, 0} that RFC 1122 §3.3.6 says hosts SHOULD
   * accept. While unconfigured, any unicast address is ours: a DHCP server may unicast its
   * offer to the address it offers (RFC 2131 §4.1).
   */
  private classifyDestination(destination: Ipv4Address): number {
    if (destination === this.local && this.local !== IPV4_ANY) return UNICAST;
    if (destination === IPV4_BROADCAST || destination === IPV4_ANY) return BROADCAST;
    if (destination === this.subnetBroadcast || destination === this.subnetNetwork) return BROADCAST;
    if (this.local === IPV4_ANY && !isMulticastIpv4(destination)) return UNICAST;
    return NOT_OURS;
  }

  private deliverIcmpError(error: IcmpErrorInfo): boolean {
    const handler = this.errorHandlers[error.protocol];
    if (handler === undefined) return false;
    handler(error);
    return true;
  }

  // --------------------------------------------------------------------------------- send

  write(destination: Ipv4Address, protocol: number, size: number, fill: Fill, options?: IpWriteOptions): boolean {
    const multicast = isMulticastIpv4(destination);
    const ttl = options?.ttl ?? (multicast ? this.multicastTtl : this.ttl);
    // RFC 1122 §3.2.1.7: a host MUST NOT send a datagram with TTL 0.
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) return this.dropTx('bad-ttl');
    if (!Number.isInteger(size) || size < 0 || size > IPV4_MAX_PAYLOAD) return this.dropTx('too-large');
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) return this.dropTx('bad-protocol');
    let linkDestination: number = VIA_ARP;
    let nextHop = destination;
    if (destination === IPV4_BROADCAST || destination === this.subnetBroadcast) {
      linkDestination = MAC_BROADCAST;
    } else if (multicast) {
      linkDestination = multicastMac(destination);
    } else if (destination === IPV4_ANY || isLoopbackIpv4(destination)) {
      // RFC 1122 §3.2.1.3: 0.0.0.0 is never a destination and 127/8 never leaves the host.
      return this.dropTx('bad-destination');
    } else if (destination === this.local) {
      return this.dropTx('to-self');
    } else {
      const route = this.table.lookup(destination);
      if (route === undefined) return this.dropTx('no-route');
      if (route.gateway !== undefined) nextHop = route.gateway;
    }

    const source = options?.source ?? this.local;
    const dontFragment = options?.dontFragment === true;
    this.txFill = fill;
    this.txSize = size;
    this.txProtocol = protocol;
    this.txTos = options?.tos ?? 0;
    this.txTtl = ttl;
    this.txIdentification = this.identifications.next(source, destination, protocol);
    this.txFlags = fragmentWord(dontFragment, false, 0);
    this.txSource = source;
    this.txDestination = destination;
    this.txChecksumOffset = options?.checksumOffset ?? -1;

    const room = this.ethernet.mtu - IPV4_HEADER_LENGTH;
    if (size <= room) {
      // The common case: the transport builds its payload in the frame buffer, behind the
      // header we write, and nothing is copied.
      let offload: TxOffload | undefined;
      this.txSoftwareChecksum = false;
      if (this.txChecksumOffset >= 0) {
        if (this.ethernet.txChecksumOffload) {
          offload = { checksumStart: IPV4_HEADER_LENGTH, checksumOffset: this.txChecksumOffset, segmentSize: 0 };
        } else {
          this.txSoftwareChecksum = true;
        }
      }
      const sent = this.output(linkDestination, nextHop, IPV4_HEADER_LENGTH + size, this.fillDatagram, offload);
      this.txFill = undefined;
      if (!sent) return this.dropTx('tx-dropped');
      this.counters.add('tx-datagrams');
      return true;
    }
    return this.writeLarge(linkDestination, nextHop, room, dontFragment);
  }

  /**
   * A payload that may not fit one frame: built in a buffer of its own first, since only
   * then is its real length known, then sent whole if it fits after all, else fragmented
   * (RFC 791 §3.2, "Fragmentation") unless DF forbids it.
   */
  private writeLarge(linkDestination: number, nextHop: Ipv4Address, room: number, dontFragment: boolean): boolean {
    // Kept apart from the tx fields: a synchronous link may deliver a fragment, and the
    // answer may send another datagram through this layer, before the next fragment goes.
    const header: FragmentHeader = {
      tos: this.txTos,
      ttl: this.txTtl,
      identification: this.txIdentification,
      protocol: this.txProtocol,
      source: this.txSource,
      destination: this.txDestination,
    };
    const buffer = new Uint8Array(this.txSize);
    const used = (this.txFill as Fill)(buffer);
    this.txFill = undefined;
    const payload = buffer.subarray(0, used);
    if (this.txChecksumOffset >= 0) this.completeChecksum(payload, header.source, header.destination, header.protocol, this.txChecksumOffset);
    const unit = Math.floor(room / FRAGMENT_UNIT) * FRAGMENT_UNIT;
    if (used > room) {
      if (dontFragment) return this.dropTx('too-big-df');
      // RFC 791 §3.2 requires a link MTU of at least 68; a smaller one cannot carry fragments.
      if (unit === 0) return this.dropTx('mtu-too-small');
    }
    const pieces = used <= room ? 1 : Math.ceil(used / unit);
    for (let index = 0; index < pieces; index++) {
      const offset = index * unit;
      const piece = pieces === 1 ? payload : payload.subarray(offset, Math.min(used, offset + unit));
      this.txFragment = header;
      this.txPayload = piece;
      this.txFlags = fragmentWord(dontFragment, index < pieces - 1, offset);
      const sent = this.output(linkDestination, nextHop, IPV4_HEADER_LENGTH + piece.length, this.fillFragment, undefined);
      this.txPayload = EMPTY;
      if (!sent) return this.dropTx('tx-dropped');
      if (pieces > 1) this.counters.add('tx-fragments');
    }
    if (pieces > 1) this.counters.add('fragmented');
    this.counters.add('tx-datagrams');
    return true;
  }

  private output(linkDestination: number, nextHop: Ipv4Address, size: number, fill: Fill, offload: TxOffload | undefined): boolean {
    if (linkDestination === VIA_ARP) return this.arp.output(nextHop, EtherType.ipv4, size, fill, offload);
    return this.ethernet.write(linkDestination as MacAddress, EtherType.ipv4, size, fill, offload);
  }

  private readonly fillDatagram = (buffer: Uint8Array): number => {
    // Copied to locals first: the transport's fill runs in between and must not be able to
    // disturb the header of this datagram, even by sending another one.
    const fill = this.txFill as Fill;
    const size = this.txSize;
    const protocol = this.txProtocol;
    const tos = this.txTos;
    const ttl = this.txTtl;
    const identification = this.txIdentification;
    const flags = this.txFlags;
    const source = this.txSource;
    const destination = this.txDestination;
    const checksumOffset = this.txChecksumOffset;
    const softwareChecksum = this.txSoftwareChecksum;
    const used = fill(buffer.subarray(IPV4_HEADER_LENGTH, IPV4_HEADER_LENGTH + size));
    if (checksumOffset >= 0 && checksumOffset + 2 <= used) {
      const payload = buffer.subarray(IPV4_HEADER_LENGTH, IPV4_HEADER_LENGTH + used);
      if (softwareChecksum) {
        this.completeChecksum(payload, source, destination, protocol, checksumOffset);
      } else {
        // The device sums from the transport header on and adds what the field holds
        // (the virtio-net / Linux CHECKSUM_PARTIAL convention): seed it with the pseudo-header.
        writeU16(payload, checksumOffset, ipv4PseudoHeaderSum(source, destination, protocol, used));
      }
    }
    writeIpv4Header(buffer, IPV4_HEADER_LENGTH, IPV4_HEADER_LENGTH + used, tos, identification, flags, ttl, protocol, source, destination);
    return IPV4_HEADER_LENGTH + used;
  };

  private readonly fillFragment = (buffer: Uint8Array): number => {
    const piece = this.txPayload;
    const header = this.txFragment;
    buffer.set(piece, IPV4_HEADER_LENGTH);
    const total = IPV4_HEADER_LENGTH + piece.length;
    writeIpv4Header(buffer, IPV4_HEADER_LENGTH, total, header.tos, header.identification, this.txFlags, header.ttl, header.protocol, header.source, header.destination);
    return total;
  };

  /** Computes a transport checksum the transport left to us (see `IpWriteOptions.checksumOffset`). */
  private completeChecksum(payload: Uint8Array, source: Ipv4Address, destination: Ipv4Address, protocol: number, offset: number): void {
    if (offset + 2 > payload.length) return;
    writeU16(payload, offset, 0);
    let checksum = ~checksumPartial(payload, 0, payload.length, ipv4PseudoHeaderSum(source, destination, protocol, payload.length)) & 0xffff;
    if (checksum === 0 && protocol === IpProtocol.udp) checksum = UDP_NO_CHECKSUM_REPLACEMENT;
    writeU16(payload, offset, checksum);
  }

  private dropTx(reason: string): false {
    this.txFill = undefined;
    this.counters.add(reason);
    return false;
  }

  // ------------------------------------------------------------------------ configuration

  private applyConfig(config: Ipv4Config): void {
    const prefix = config.address;
    checkPrefix(prefix);
    const address = prefix.address;
    if (address !== IPV4_ANY && (address === IPV4_BROADCAST || isMulticastIpv4(address) || isLoopbackIpv4(address))) {
      throw new AddressError(`not a usable interface address: ${formatIpv4Prefix(prefix)}`);
    }
    this.local = address;
    this.prefix = address === IPV4_ANY ? { address: IPV4_ANY, length: 0 } : { address, length: prefix.length };
    this.gateway = config.gateway;
    // RFC 3021: a /31 has no broadcast address, and a /32 no subnet at all.
    const hasBroadcast = address !== IPV4_ANY && prefix.length <= 30;
    this.subnetBroadcast = hasBroadcast ? broadcastAddress(prefix) : -1;
    this.subnetNetwork = hasBroadcast ? networkAddress(prefix) : -1;
    this.table.setInterface(address === IPV4_ANY ? undefined : this.prefix, config.gateway);
  }
}

const EMPTY = new Uint8Array(0);

/** The MAC of an IPv4 multicast group: 01:00:5e and the low 23 bits of the group (RFC 1112 §6.4). */
export function multicastMac(group: Ipv4Address): MacAddress {
  return (0x01005e000000 + (group & 0x7fffff)) as MacAddress;
}

function checkPrefix(prefix: Ipv4Prefix): void {
  if (!Number.isInteger(prefix.length) || prefix.length < 0 || prefix.length > 32) {
    throw new AddressError(`not a prefix length: ${prefix.length}`);
  }
}

function checkProtocol(protocol: number): void {
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) throw new RangeError(`not an IP protocol number: ${protocol}`);
}

function checkTtl(name: string, ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError(`${name} must be an integer from 1 to 255, not ${ttl}`);
}

/**
 * Makes an IPv4 layer over `ethernet` and `arp`. Pass it to `createIcmp` to get echo,
 * ICMP errors to and from transports, and the errors this layer reports itself.
 */
export function createIpv4(deps: Ipv4Deps, config: Ipv4LayerConfig = {}): Ipv4Layer {
  return new Ipv4LayerImpl(deps.ethernet, deps.arp, deps.clock, deps.random, config);
}
