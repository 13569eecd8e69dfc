/**
 * The UDP layer (RFC 768, RFC 1122 §4.1): socket table and demultiplexing, checksums, the
 * per-socket receive queue, ephemeral ports, and ICMP errors back to the socket that caused them.
 */
import {
  AddressError,
  ClosedError,
  CounterSet,
  type Counters,
  type Fill,
  type IcmpErrorInfo,
  type Icmp,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ip,
  type IpReceiveInfo,
  IpProtocol,
  type Ipv4,
  type Ipv4Address,
  LimitExceeded,
  type MorganaError,
  type Random,
  type Udp,
  type UdpBindOptions,
  type UdpDatagram,
  type UdpSocket,
  UnreachableCode,
  broadcastAddress,
  isMulticastIpv4,
  readU16,
} from '@morgana/core';
import { type EphemeralRange, PortTable, pickEphemeralPort } from './ports.js';
import { DatagramQueue } from './queue.js';
import { UDP_HEADER_LENGTH, UDP_MAX_PAYLOAD_IPV4, UdpPacket, udpLengthProblem, writeUdpHeader } from './wire.js';

/** Configuration of {@link createUdp}. Every field has a default. */
export interface UdpConfig {
  /** Datagrams each socket queues for `receive()` before dropping the oldest; default 1024 (a bind option overrides it per socket). */
  readonly receiveQueueLimit?: number;
  /** Payload bytes each socket queues for `receive()` before dropping the oldest; default 4 MiB. */
  readonly receiveQueueBytes?: number;
  /** Lowest ephemeral port; default 49152 (RFC 6056 §2.1, the IANA dynamic range). */
  readonly ephemeralPortMin?: number;
  /** Highest ephemeral port; default 65535. */
  readonly ephemeralPortMax?: number;
  /** Sockets bound at once; default 65535. */
  readonly socketLimit?: number;
}

/** Defaults of {@link UdpConfig}. */
export const UDP_DEFAULTS: Required<UdpConfig> = {
  receiveQueueLimit: 1024,
  receiveQueueBytes: 4 * 1024 * 1024,
  ephemeralPortMin: 49152,
  ephemeralPortMax: 65535,
  socketLimit: 65535,
};

/** An ICMP error about a datagram a socket sent (RFC 1122 4.1.3.3). */
export interface UdpSocketError {
  /** What to report: `ConnectionRefused` for port unreachable, `UnreachableError`, ... */
  readonly error: MorganaError;
  /** The remote endpoint of the datagram the error is about. */
  readonly address: Ipv4Address;
  readonly port: number;
  /** ICMP type and code (RFC 792). */
  readonly type: number;
  readonly code: number;
  /** Next-hop MTU of a "fragmentation needed" error (RFC 1191), else 0. */
  readonly nextHopMtu: number;
}

/** A socket of this UDP layer: a {@link UdpSocket} that also reports ICMP errors. */
export interface UdpLayerSocket extends UdpSocket {
  /**
   * Calls `handler` with each ICMP error received about a datagram this socket sent. The
   * errors are counted in `stats()` whether or not a handler is set; they never reject a
   * pending `receive()`, because an unconnected socket talks to many peers and one peer's
   * unreachable port says nothing about the next datagram from another.
   */
  onError(handler: (error: UdpSocketError) => void): void;
}

/** This package's {@link Udp}: bind returns {@link UdpLayerSocket}s, and the layer can be closed. */
export interface UdpLayer extends Udp {
  bind(options?: UdpBindOptions): UdpLayerSocket;
  /** Closes every socket (their pending `receive()` calls reject with `ClosedError`). */
  close(): void;
}

/** What {@link createUdp} is built on. */
export interface UdpDeps {
  readonly ip: Ip;
  /** Sends port unreachable for datagrams to closed ports; without it they are only counted. */
  readonly icmp?: Icmp;
  /** Picks ephemeral ports. */
  readonly random: Random;
}

function isIpv4(ip: Ip): ip is Ipv4 {
  return typeof (ip as Partial<Ipv4>).config === 'function';
}

function checkPort(port: number, what: string, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 0xffff) {
    throw new AddressError(`not a UDP ${what}: ${port}`);
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, not ${value}`);
  return value;
}

/** Counter names of the ICMP error types a socket may receive (RFC 792). */
function icmpErrorCounter(type: number): string {
  switch (type) {
    case 3:
      return 'icmp-unreachable';
    case 11:
      return 'icmp-time-exceeded';
    case 12:
      return 'icmp-parameter-problem';
    default:
      return 'icmp-other';
  }
}

/**
 * The per-datagram counters, kept as plain fields: they change on every datagram, and a
 * string-keyed increment there costs more than the rest of the demultiplexing. Drop reasons,
 * which are rare, stay in a {@link CounterSet}.
 */
class Traffic {
  rxDatagrams = 0;
  rxBytes = 0;
  rxDelivered = 0;
  txDatagrams = 0;
  txBytes = 0;

  /** `counters` plus the non-zero traffic counters under their kebab-case names. */
  snapshot(counters: CounterSet): Counters {
    const result: Record<string, number> = { ...counters.snapshot() };
    if (this.rxDatagrams > 0) result['rx-datagrams'] = this.rxDatagrams;
    if (this.rxBytes > 0) result['rx-bytes'] = this.rxBytes;
    if (this.rxDelivered > 0) result['rx-delivered'] = this.rxDelivered;
    if (this.txDatagrams > 0) result['tx-datagrams'] = this.txDatagrams;
    if (this.txBytes > 0) result['tx-bytes'] = this.txBytes;
    return result;
  }
}

/** Pending `receive()` call. */
interface Waiter {
  readonly resolve: (datagram: UdpDatagram) => void;
  readonly reject: (error: Error) => void;
}

class Socket implements UdpLayerSocket {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  readonly broadcast: boolean;
  closed = false;
  readonly counters = new CounterSet();
  readonly traffic = new Traffic();
  private readonly queue: DatagramQueue;
  private readonly waiters: Waiter[] = [];
  private messageHandler: ((datagram: UdpDatagram) => void) | undefined;
  private errorHandler: ((error: UdpSocketError) => void) | undefined;

  constructor(
    private readonly layer: UdpLayerImpl,
    localAddress: Ipv4Address,
    localPort: number,
    broadcast: boolean,
    queueLimit: number,
    queueBytes: number,
  ) {
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.broadcast = broadcast;
    this.queue = new DatagramQueue(queueLimit, queueBytes);
  }

  send(data: Uint8Array, address: Ipv4Address, port: number): boolean {
    return this.layer.output(this, data.length, data, undefined, address, port);
  }

  sendWith(size: number, fill: Fill, address: Ipv4Address, port: number): boolean {
    return this.layer.output(this, size, undefined, fill, address, port);
  }

  onMessage(handler: (datagram: UdpDatagram) => void): void {
    this.messageHandler = handler;
    // Datagrams queued before the handler was set go to it first, in order.
    for (let datagram = this.queue.shift(); datagram !== undefined; datagram = this.queue.shift()) {
      this.layer.callHandler(this, handler, datagram);
      if (this.closed) return;
    }
  }

  onError(handler: (error: UdpSocketError) => void): void {
    this.errorHandler = handler;
  }

  receive(): Promise<UdpDatagram> {
    if (this.closed) return Promise.reject(new ClosedError('UDP socket is closed'));
    const datagram = this.queue.shift();
    if (datagram !== undefined) return Promise.resolve(datagram);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.layer.unbind(this);
    this.queue.clear();
    this.messageHandler = undefined;
    this.errorHandler = undefined;
    const error = new ClosedError('UDP socket closed');
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  stats(): Counters {
    return this.traffic.snapshot(this.counters);
  }

  /** A datagram for this socket (payload a view valid only during the call). */
  deliver(payload: Uint8Array, info: IpReceiveInfo, sourcePort: number): void {
    this.traffic.rxDatagrams++;
    this.traffic.rxBytes += payload.length;
    const handler = this.messageHandler;
    if (handler !== undefined) {
      this.layer.callHandler(this, handler, { data: payload, address: info.source, port: sourcePort, localAddress: info.destination });
      return;
    }
    const datagram: UdpDatagram = { data: payload.slice(), address: info.source, port: sourcePort, localAddress: info.destination };
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(datagram);
      return;
    }
    const dropped = this.queue.push(datagram);
    if (dropped > 0) {
      this.counters.add('queue-full', dropped);
      this.layer.counters.add('queue-full', dropped);
    }
  }

  icmpError(info: IcmpErrorInfo, remotePort: number): void {
    this.counters.add('icmp-errors');
    this.counters.add(icmpErrorCounter(info.type));
    this.errorHandler?.({
      error: info.error,
      address: info.destination,
      port: remotePort,
      type: info.type,
      code: info.code,
      nextHopMtu: info.nextHopMtu,
    });
  }
}

class UdpLayerImpl implements UdpLayer {
  readonly counters = new CounterSet();
  private readonly traffic = new Traffic();
  private readonly table = new PortTable<Socket>();
  private readonly range: EphemeralRange;
  private readonly queueLimit: number;
  private readonly queueBytes: number;
  private readonly socketLimit: number;
  private sockets = 0;

  // The datagram being sent. `ip.write` calls `fillDatagram` synchronously, so one set of
  // fields and one fill function serve every send without a closure per datagram.
  private txSize = 0;
  private txData: Uint8Array | undefined;
  private txFill: Fill | undefined;
  private txSourcePort = 0;
  private txDestinationPort = 0;
  private txSource = IPV4_ANY;
  private txDestination = IPV4_ANY;
  private txLength = 0;
  private readonly fillDatagram: Fill = (buffer) => this.writeDatagram(buffer);

  constructor(
    private readonly ip: Ip,
    private readonly icmp: Icmp | undefined,
    private readonly random: Random,
    config: UdpConfig,
  ) {
    const merged = { ...UDP_DEFAULTS, ...config };
    checkPort(merged.ephemeralPortMin, 'ephemeral port minimum', false);
    checkPort(merged.ephemeralPortMax, 'ephemeral port maximum', false);
    if (merged.ephemeralPortMin > merged.ephemeralPortMax) {
      throw new RangeError(`ephemeralPortMin ${merged.ephemeralPortMin} is above ephemeralPortMax ${merged.ephemeralPortMax}`);
    }
    this.range = { min: merged.ephemeralPortMin, max: merged.ephemeralPortMax };
    this.queueLimit = positiveInteger(merged.receiveQueueLimit, 'receiveQueueLimit');
    this.queueBytes = positiveInteger(merged.receiveQueueBytes, 'receiveQueueBytes');
    this.socketLimit = positiveInteger(merged.socketLimit, 'socketLimit');
    ip.register(IpProtocol.udp, (payload, info) => this.input(payload, info));
    ip.onIcmpError(IpProtocol.udp, (error) => this.inputIcmpError(error));
  }

  bind(options: UdpBindOptions = {}): UdpLayerSocket {
    const address = options.address ?? IPV4_ANY;
    const requested = options.port ?? 0;
    checkPort(requested, 'port', true);
    if (!Number.isInteger(address) || address < 0 || address > IPV4_BROADCAST) throw new AddressError(`not an IPv4 address: ${address}`);
    if (this.sockets >= this.socketLimit) throw new LimitExceeded('socketLimit', `${this.socketLimit} UDP sockets are already bound`);
    const port = requested !== 0 ? requested : pickEphemeralPort(this.range, this.random, (candidate) => this.table.isUnused(candidate));
    const queueLimit = options.receiveQueueLimit === undefined ? this.queueLimit : positiveInteger(options.receiveQueueLimit, 'receiveQueueLimit');
    const socket = new Socket(this, address, port, options.broadcast === true, queueLimit, this.queueBytes);
    this.table.add(socket);
    this.sockets++;
    return socket;
  }

  close(): void {
    for (const socket of this.table.all()) socket.close();
  }

  stats(): Counters {
    return this.traffic.snapshot(this.counters);
  }

  unbind(socket: Socket): void {
    this.table.remove(socket);
    this.sockets--;
  }

  /**
   * Calls a user's message handler. A handler that throws must not unwind into the device's
   * receive loop: the error is counted and rethrown from a fresh task, where it surfaces as an
   * uncaught error the way an exception in any event handler does.
   */
  callHandler(socket: Socket, handler: (datagram: UdpDatagram) => void, datagram: UdpDatagram): void {
    try {
      handler(datagram);
    } catch (error) {
      socket.counters.add('handler-errors');
      this.counters.add('handler-errors');
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** True for addresses that reach every host of a link: they need the socket's `broadcast` option. */
  private isBroadcast(address: Ipv4Address): boolean {
    if (address === IPV4_BROADCAST) return true;
    if (!isIpv4(this.ip)) return false;
    const prefix = this.ip.config().address;
    // /31 and /32 have no broadcast address (RFC 3021).
    return prefix.address !== IPV4_ANY && prefix.length < 31 && address === broadcastAddress(prefix);
  }

  output(socket: Socket, size: number, data: Uint8Array | undefined, fill: Fill | undefined, address: Ipv4Address, port: number): boolean {
    if (socket.closed) return this.dropOutput(socket, 'socket-closed');
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) return this.dropOutput(socket, 'bad-port');
    if (!Number.isInteger(size) || size < 0 || size > UDP_MAX_PAYLOAD_IPV4) return this.dropOutput(socket, 'too-large');
    if (!socket.broadcast && this.isBroadcast(address)) return this.dropOutput(socket, 'broadcast-not-allowed');
    this.txSize = size;
    this.txData = data;
    this.txFill = fill;
    this.txSourcePort = socket.localPort;
    this.txDestinationPort = port;
    this.txSource = socket.localAddress !== IPV4_ANY ? socket.localAddress : this.ip.sourceFor(address);
    this.txDestination = address;
    this.txLength = 0;
    let sent: boolean;
    try {
      sent = this.ip.write(address, IpProtocol.udp, UDP_HEADER_LENGTH + size, this.fillDatagram, { source: this.txSource });
    } finally {
      this.txData = undefined;
      this.txFill = undefined;
    }
    if (!sent) return this.dropOutput(socket, 'ip-dropped');
    const payloadLength = this.txLength - UDP_HEADER_LENGTH;
    socket.traffic.txDatagrams++;
    socket.traffic.txBytes += payloadLength;
    this.traffic.txDatagrams++;
    this.traffic.txBytes += payloadLength;
    return true;
  }

  private dropOutput(socket: Socket, reason: string): boolean {
    socket.counters.add(reason);
    this.counters.add(reason);
    return false;
  }

  private writeDatagram(buffer: Uint8Array): number {
    let payloadLength: number;
    if (this.txData !== undefined) {
      buffer.set(this.txData, UDP_HEADER_LENGTH);
      payloadLength = this.txData.length;
    } else if (this.txFill !== undefined) {
      payloadLength = this.txFill(buffer.subarray(UDP_HEADER_LENGTH, UDP_HEADER_LENGTH + this.txSize));
      if (!Number.isInteger(payloadLength) || payloadLength < 0 || payloadLength > this.txSize) {
        throw new RangeError(`UDP fill returned ${payloadLength}, outside 0..${this.txSize}`);
      }
    } else {
      throw new RangeError('UDP fill called outside a send');
    }
    // Always computed in software: cheap next to the copy, and correct on every backend.
    this.txLength = writeUdpHeader(buffer, this.txSourcePort, this.txDestinationPort, payloadLength, this.txSource, this.txDestination);
    return this.txLength;
  }

  private input(payload: Uint8Array, info: IpReceiveInfo): void {
    this.traffic.rxDatagrams++;
    const problem = udpLengthProblem(payload);
    if (problem !== undefined) {
      this.counters.add(problem);
      return;
    }
    const packet = new UdpPacket(payload);
    // A checksum of zero means none was computed; the IPv4 datagram is then accepted (RFC 768).
    if (!info.checksumVerified && !packet.verifyChecksum(info.source, info.destination)) {
      this.counters.add('bad-checksum');
      return;
    }
    // RFC 1122 4.1.3.6: a datagram from a broadcast or multicast source is discarded.
    if (info.source === IPV4_BROADCAST || isMulticastIpv4(info.source)) {
      this.counters.add('bad-source');
      return;
    }
    const length = packet.length;
    if (length < payload.length) this.counters.add('trimmed');
    const destinationPort = packet.destinationPort;
    const socket = this.table.lookup(info.destination, destinationPort);
    if (socket === undefined) {
      this.counters.add('no-socket');
      // RFC 1122 4.1.3.1: answer with port unreachable; icmp leaves out broadcasts and
      // non-first fragments itself (RFC 1122 3.2.2).
      this.icmp?.destinationUnreachable(UnreachableCode.port, info);
      return;
    }
    this.traffic.rxDelivered++;
    socket.deliver(payload.subarray(UDP_HEADER_LENGTH, length), info, packet.sourcePort);
  }

  private inputIcmpError(error: IcmpErrorInfo): void {
    if (error.transportHeader.length < 4) {
      this.counters.add('icmp-error-truncated');
      return;
    }
    const localPort = readU16(error.transportHeader, 0);
    const remotePort = readU16(error.transportHeader, 2);
    const socket = this.table.lookup(error.source, localPort);
    if (socket === undefined) {
      this.counters.add('icmp-error-no-socket');
      return;
    }
    this.counters.add('icmp-errors');
    socket.icmpError(error, remotePort);
  }
}

/**
 * Creates a UDP layer on `deps.ip` and registers it for IP protocol 17.
 *
 * ```ts
 * const udp = createUdp({ ip, icmp, random });
 * const socket = udp.bind({ port: 7 });
 * socket.onMessage((d) => socket.send(d.data, d.address, d.port));
 * ```
 */
export function createUdp(deps: UdpDeps, config: UdpConfig = {}): UdpLayer {
  return new UdpLayerImpl(deps.ip, deps.icmp, deps.random, config);
}
