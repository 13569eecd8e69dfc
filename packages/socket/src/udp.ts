/** {@link Udp} on `node:dgram`: the host kernel does UDP, this file gives it morgana's interface. */
import dgram from 'node:dgram';
import {
  AddressError,
  ClosedError,
  CounterSet,
  type Counters,
  type Fill,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ipv4Address,
  type Udp,
  type UdpBindOptions,
  type UdpDatagram,
  type UdpSocket,
  formatIpv4,
} from '@morgana/core';
import { ipv4FromNode } from './address.js';
import { positiveInteger } from './config.js';
import { toMorganaError } from './errors.js';

/** Largest UDP payload over IPv4: 65 535 minus the 20-byte IP header and the 8-byte UDP header (RFC 768, RFC 791). */
export const UDP_MAX_PAYLOAD = 65_535 - 20 - 8;

/** Limits of the UDP layer. */
export interface SocketUdpConfig {
  readonly receiveQueueLimit: number;
  readonly receiveQueueBytes: number;
}

type LookupCallback = (error: Error | null, address: string, family: number) => void;

/**
 * Addresses reach dgram already numeric, so the name lookup it insists on is answered at once:
 * this makes `bind()` synchronous (it binds, or emits its error, before returning), which is
 * what lets `Udp.bind` return a bound socket and throw `AddressInUse` like the direct stack.
 */
function numericLookup(hostname: string, options: unknown, callback?: LookupCallback): void {
  const done = typeof options === 'function' ? (options as LookupCallback) : callback;
  done?.(null, hostname, 4);
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new AddressError(`not a UDP ${what}: ${port}`);
}

/**
 * The counters every datagram touches, as plain fields (the hot path), with the rarer ones
 * in a {@link CounterSet}; `snapshot()` shows them together.
 */
class UdpCounters {
  txDatagrams = 0;
  txBytes = 0;
  rxDatagrams = 0;
  rxBytes = 0;
  readonly other = new CounterSet();

  snapshot(): Counters {
    return {
      ...this.other.snapshot(),
      'tx-datagrams': this.txDatagrams,
      'tx-bytes': this.txBytes,
      'rx-datagrams': this.rxDatagrams,
      'rx-bytes': this.rxBytes,
    };
  }
}

interface Waiter {
  readonly resolve: (datagram: UdpDatagram) => void;
  readonly reject: (error: Error) => void;
}

class SocketUdpSocket implements UdpSocket {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  private readonly counters = new UdpCounters();
  private readonly queue: UdpDatagram[] = [];
  // The last peer address seen, parsed: a server mostly hears from the same few peers, and
  // Node gives each datagram's source as text.
  private lastSourceText = '';
  private lastSource = IPV4_ANY;
  private queueHead = 0;
  private queueBytes = 0;
  private readonly waiters: Waiter[] = [];
  private handler: ((datagram: UdpDatagram) => void) | undefined;
  private closed = false;
  private readonly closedPromise: Promise<void>;
  /** One callback for every send, so sending allocates no closure. */
  private readonly onSent = (error: Error | null): void => {
    if (error !== null) this.count('send-errors');
  };

  constructor(
    private readonly socket: dgram.Socket,
    private readonly layer: SocketUdp,
    private readonly broadcast: boolean,
    private readonly queueLimit: number,
    private readonly queueByteLimit: number,
  ) {
    const bound = socket.address();
    this.localAddress = ipv4FromNode(bound.address) ?? IPV4_ANY;
    this.localPort = bound.port;
    this.closedPromise = new Promise((resolve) => socket.once('close', resolve));
    socket.on('message', (message, remote) => this.deliver(message, remote));
    // Asynchronous socket errors (ICMP errors reported by the kernel) must not crash the process.
    socket.on('error', () => this.count('socket-errors'));
  }

  send(data: Uint8Array, address: Ipv4Address, port: number): boolean {
    if (!this.admit(data.length, address, port)) return false;
    // dgram keeps a reference to the buffer until the kernel has it; the caller may reuse
    // `data` as soon as we return, so the kernel gets a copy.
    const copy = Buffer.allocUnsafe(data.length);
    copy.set(data);
    return this.transmit(copy, address, port);
  }

  sendWith(size: number, fill: Fill, address: Ipv4Address, port: number): boolean {
    if (!this.admit(size, address, port)) return false;
    const buffer = Buffer.allocUnsafe(size);
    const used = fill(buffer);
    if (!Number.isInteger(used) || used < 0 || used > size) throw new RangeError(`UDP fill returned ${used}, outside 0..${size}`);
    return this.transmit(used === size ? buffer : buffer.subarray(0, used), address, port);
  }

  onMessage(handler: (datagram: UdpDatagram) => void): void {
    this.handler = handler;
    // Datagrams queued before the handler was set go to it first, in order.
    for (let datagram = this.shift(); datagram !== undefined; datagram = this.shift()) {
      this.callHandler(handler, datagram);
      if (this.closed) return;
    }
  }

  receive(): Promise<UdpDatagram> {
    if (this.closed) return Promise.reject(new ClosedError('UDP socket is closed'));
    const datagram = this.shift();
    if (datagram !== undefined) return Promise.resolve(datagram);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queueBytes = 0;
    // Closing the descriptor frees the port at once; dgram only reports it a tick later.
    this.socket.close();
    this.layer.forget(this);
    const error = new ClosedError('UDP socket closed');
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** Closes the socket and resolves once Node has released it. */
  closeAndWait(): Promise<void> {
    this.close();
    return this.closedPromise;
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  /** Checks what the kernel would refuse only asynchronously, so that `send` can say false now. */
  private admit(size: number, address: Ipv4Address, port: number): boolean {
    if (this.closed) return this.drop('socket-closed');
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) return this.drop('bad-port');
    if (!Number.isInteger(size) || size < 0 || size > UDP_MAX_PAYLOAD) return this.drop('too-large');
    // The kernel knows every directed broadcast address; the limited one we can refuse here
    // as the direct stack does (its others fail later with EACCES, counted in send-errors).
    if (!this.broadcast && address === IPV4_BROADCAST) return this.drop('broadcast-not-allowed');
    return true;
  }

  private transmit(buffer: Buffer, address: Ipv4Address, port: number): boolean {
    try {
      this.socket.send(buffer, port, this.layer.addressText(address), this.onSent);
    } catch (error) {
      this.count(`send-${toMorganaError(error).code.toLowerCase()}`);
      return false;
    }
    const socketCounters = this.counters;
    const layerCounters = this.layer.counters;
    socketCounters.txDatagrams++;
    socketCounters.txBytes += buffer.length;
    layerCounters.txDatagrams++;
    layerCounters.txBytes += buffer.length;
    return true;
  }

  private deliver(message: Buffer, remote: dgram.RemoteInfo): void {
    if (this.closed) return;
    let address = this.lastSource;
    if (remote.address !== this.lastSourceText) {
      const parsed = ipv4FromNode(remote.address);
      if (parsed === undefined) {
        this.count('bad-source');
        return;
      }
      address = parsed;
      this.lastSource = parsed;
      this.lastSourceText = remote.address;
    }
    const socketCounters = this.counters;
    const layerCounters = this.layer.counters;
    socketCounters.rxDatagrams++;
    socketCounters.rxBytes += message.length;
    layerCounters.rxDatagrams++;
    layerCounters.rxBytes += message.length;
    // Node allocates a fresh buffer per datagram, so it is already the caller's own copy.
    // Node does not report a datagram's destination address (no IP_PKTINFO): the bound
    // address stands in for it, 0.0.0.0 for a socket bound to every address.
    const datagram: UdpDatagram = { data: message, address, port: remote.port, localAddress: this.localAddress };
    const handler = this.handler;
    if (handler !== undefined) {
      this.callHandler(handler, datagram);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(datagram);
      return;
    }
    this.push(datagram);
  }

  /** Queues a datagram, dropping the oldest ones until it fits both limits. */
  private push(datagram: UdpDatagram): void {
    const size = datagram.data.length;
    if (size > this.queueByteLimit) {
      this.count('queue-full');
      return;
    }
    while (this.queue.length - this.queueHead >= this.queueLimit || this.queueBytes + size > this.queueByteLimit) {
      this.shift();
      this.count('queue-full');
    }
    this.queue.push(datagram);
    this.queueBytes += size;
  }

  private shift(): UdpDatagram | undefined {
    if (this.queueHead === this.queue.length) return undefined;
    const datagram = this.queue[this.queueHead];
    this.queueHead++;
    this.queueBytes -= datagram.data.length;
    // Compact once the consumed prefix dominates, so shifting stays O(1) amortised.
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 64 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return datagram;
  }

  /**
   * A handler that throws must not unwind into dgram's receive loop: the error is counted
   * and rethrown from a fresh task, where it surfaces like an exception in any event handler.
   */
  private callHandler(handler: (datagram: UdpDatagram) => void, datagram: UdpDatagram): void {
    try {
      handler(datagram);
    } catch (error) {
      this.count('handler-errors');
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  private drop(reason: string): boolean {
    this.count(reason);
    return false;
  }

  private count(name: string, by = 1): void {
    this.counters.other.add(name, by);
    this.layer.counters.other.add(name, by);
  }
}

/** The socket stack's UDP layer. */
export class SocketUdp implements Udp {
  readonly counters = new UdpCounters();
  // The last destination formatted for Node: replies mostly go to the same few peers.
  private lastAddress = -1;
  private lastAddressText = '';
  private readonly sockets = new Set<SocketUdpSocket>();
  private closed = false;

  constructor(private readonly config: SocketUdpConfig) {}

  bind(options: UdpBindOptions = {}): UdpSocket {
    if (this.closed) throw new ClosedError('the socket stack is closed');
    const port = options.port ?? 0;
    checkPort(port, 'port');
    const address = options.address ?? IPV4_ANY;
    if (!Number.isInteger(address) || address < 0 || address > IPV4_BROADCAST) throw new AddressError(`not an IPv4 address: ${address}`);
    const queueLimit = options.receiveQueueLimit === undefined ? this.config.receiveQueueLimit : positiveInteger(options.receiveQueueLimit, 'receiveQueueLimit');
    const socket = dgram.createSocket({ type: 'udp4', lookup: numericLookup });
    let failure: unknown;
    const onError = (error: unknown): void => {
      failure = error;
    };
    socket.once('error', onError);
    // exclusive: never share the port with cluster workers; the bind completes synchronously (see numericLookup).
    socket.bind({ port, address: formatIpv4(address), exclusive: true });
    socket.off('error', onError);
    if (failure !== undefined) {
      socket.close();
      this.counters.other.add('bind-errors');
      throw toMorganaError(failure);
    }
    if (options.broadcast === true) socket.setBroadcast(true);
    const bound = new SocketUdpSocket(socket, this, options.broadcast === true, queueLimit, this.config.receiveQueueBytes);
    this.sockets.add(bound);
    return bound;
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  /** `address` as Node wants it, dotted-quad text. */
  addressText(address: Ipv4Address): string {
    if (address !== this.lastAddress) {
      this.lastAddress = address;
      this.lastAddressText = formatIpv4(address);
    }
    return this.lastAddressText;
  }

  /** Called by a socket as it closes. */
  forget(socket: SocketUdpSocket): void {
    this.sockets.delete(socket);
  }

  /** Closes every socket; later binds throw `ClosedError`. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sockets].map((socket) => socket.closeAndWait()));
  }
}
