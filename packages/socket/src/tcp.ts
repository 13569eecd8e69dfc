/** {@link Tcp} on `node:net`: listeners with a bounded accept queue, connects with a timeout. */
import net from 'node:net';
import {
  AddressError,
  AddressInUse,
  ClosedError,
  ConnectionReset,
  CounterSet,
  type Counters,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ipv4Address,
  type Tcp,
  type TcpConnectOptions,
  type TcpFlow,
  type TcpListenOptions,
  type TcpListener,
  TimeoutError,
  UnsupportedError,
  formatIpv4,
} from '@morgana/core';
import { ipv4FromNode } from './address.js';
import { type SocketStackConfig, positiveInteger, timeoutMs } from './config.js';
import { toMorganaError } from './errors.js';
import { discardSocket } from './reset.js';
import { SocketTcpFlow } from './tcp-flow.js';

/** Ports below this need privilege on Unix hosts. */
const FIRST_UNPRIVILEGED_PORT = 1024;

function checkPort(port: number, what: string, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 0xffff) throw new AddressError(`not a TCP ${what}: ${port}`);
}

function checkAddress(address: Ipv4Address): void {
  if (!Number.isInteger(address) || address < 0 || address > IPV4_BROADCAST) throw new AddressError(`not an IPv4 address: ${address}`);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

interface Acceptor {
  readonly resolve: (flow: TcpFlow) => void;
  readonly reject: (error: Error) => void;
}

class SocketTcpListener implements TcpListener {
  private readonly queue: SocketTcpFlow[] = [];
  private readonly acceptors: Acceptor[] = [];
  private closed = false;
  private failure: Error | undefined;

  constructor(
    private readonly tcp: SocketTcp,
    private readonly server: net.Server,
    private requestedPort: number,
    private readonly backlog: number,
    private readonly onConnection: ((flow: TcpFlow) => void) | undefined,
  ) {
    server.on('connection', (socket: net.Socket) => this.incoming(socket));
    server.on('error', (error: Error) => this.serverError(error));
  }

  get port(): number {
    const bound = this.server.address();
    return bound !== null && typeof bound === 'object' ? bound.port : this.requestedPort;
  }

  accept(): Promise<TcpFlow> {
    const flow = this.queue.shift();
    if (flow !== undefined) return Promise.resolve(flow);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ClosedError('the listener is closed'));
    return new Promise((resolve, reject) => this.acceptors.push({ resolve, reject }));
  }

  close(): void {
    if (this.closed) return;
    this.requestedPort = this.port;
    this.closed = true;
    // Closes the listening descriptor now; established connections are not the server's to close.
    this.server.close();
    this.tcp.forgetListener(this);
    const error = new ClosedError('the listener was closed');
    for (const acceptor of this.acceptors.splice(0)) acceptor.reject(error);
    // The kernel resets connections still waiting in a closed listener's queue; so do we.
    for (const flow of this.queue.splice(0)) flow.abort();
  }

  private incoming(socket: net.Socket): void {
    if (this.closed) {
      discardSocket(socket);
      return;
    }
    const flow = this.tcp.adopt(socket);
    if (flow === undefined) return;
    this.tcp.counters.add('accepted');
    if (this.onConnection !== undefined) {
      try {
        this.onConnection(flow);
      } catch (error) {
        // Counted, then rethrown from a fresh task so that it surfaces without unwinding into Node's accept loop.
        this.tcp.counters.add('handler-errors');
        queueMicrotask(() => {
          throw error;
        });
      }
      return;
    }
    const acceptor = this.acceptors.shift();
    if (acceptor !== undefined) {
      acceptor.resolve(flow);
      return;
    }
    if (this.queue.length >= this.backlog) {
      // Node has already accepted it from the kernel, so refusing means resetting it.
      this.tcp.counters.add('accept-queue-full');
      flow.abort();
      return;
    }
    this.queue.push(flow);
  }

  private serverError(error: Error): void {
    if (this.server.listening) {
      // accept(2) failed (out of descriptors, ...): the listener goes on.
      this.tcp.counters.add('accept-errors');
      return;
    }
    // listen(2) failed on a listener bound to one address, whose bind completes a tick late.
    this.tcp.counters.add('listen-errors');
    this.failure = toMorganaError(error);
    this.closed = true;
    this.tcp.forgetListener(this);
    for (const acceptor of this.acceptors.splice(0)) acceptor.reject(this.failure);
  }
}

/** The socket stack's TCP layer. */
export class SocketTcp implements Tcp {
  readonly counters = new CounterSet();
  private readonly flows = new Set<SocketTcpFlow>();
  private readonly listeners = new Set<SocketTcpListener>();
  private readonly connecting = new Set<net.Socket>();
  private closed = false;
  private readonly forgetFlow = (flow: SocketTcpFlow): void => {
    this.flows.delete(flow);
  };

  constructor(private readonly config: SocketStackConfig) {}

  /**
   * Listens on `port`. Without an address (or 0.0.0.0) the bind is synchronous, so a taken
   * port throws `AddressInUse` here, as on the direct stack. With an address, Node binds a tick
   * later: `port` (when 0 was asked for) is known from then on, and a bind failure rejects
   * `accept()` instead.
   */
  listen(port: number, options: TcpListenOptions = {}): TcpListener {
    if (this.closed) throw new ClosedError('the socket stack is closed');
    checkPort(port, 'port', true);
    const address = options.address ?? IPV4_ANY;
    checkAddress(address);
    const backlog = options.backlog === undefined ? this.config.backlog : positiveInteger(options.backlog, 'backlog');
    const server = net.createServer({ allowHalfOpen: true });
    const listener = new SocketTcpListener(this, server, port, backlog, options.onConnection);
    if (address === IPV4_ANY) {
      // Node binds only a host-less listen synchronously (on ::, which also takes IPv4).
      server.listen({ port, backlog, exclusive: true });
      if (!server.listening) {
        // Node reports why a tick later; a synchronous failure of a wildcard bind is a taken
        // port, or a privileged port without privilege.
        this.counters.add('listen-errors');
        if (port !== 0 && port < FIRST_UNPRIVILEGED_PORT && !isRoot()) throw new UnsupportedError(`TCP port ${port} needs privilege to listen on`);
        throw new AddressInUse(`TCP port ${port} is already in use`);
      }
    } else {
      server.listen({ port, host: formatIpv4(address), backlog, exclusive: true });
    }
    this.listeners.add(listener);
    return listener;
  }

  connect(address: Ipv4Address, port: number, options: TcpConnectOptions = {}): Promise<TcpFlow> {
    if (this.closed) return Promise.reject(new ClosedError('the socket stack is closed'));
    try {
      checkAddress(address);
      checkPort(port, 'port', false);
      if (options.localPort !== undefined) checkPort(options.localPort, 'local port', false);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeout = timeoutMs(options.timeout ?? this.config.connectTimeout, 'timeout');
    const host = formatIpv4(address);
    return new Promise((resolve, reject) => {
      const socket = new net.Socket({ allowHalfOpen: true });
      this.connecting.add(socket);
      const finish = (): void => {
        timer.cancel();
        socket.off('error', onError);
        socket.off('connect', onConnect);
        this.connecting.delete(socket);
      };
      const onError = (error: Error): void => {
        finish();
        socket.destroy();
        this.counters.add('connect-errors');
        reject(toMorganaError(error));
      };
      const onConnect = (): void => {
        finish();
        const flow = this.adopt(socket);
        if (flow === undefined) {
          reject(new ConnectionReset(`connection to ${host}:${port} was reset as it opened`));
          return;
        }
        this.counters.add('connected');
        if (options.noDelay !== undefined) flow.setNoDelay(options.noDelay);
        resolve(flow);
      };
      const timer = this.config.clock.setTimer(timeout, () => {
        finish();
        socket.destroy();
        this.counters.add('connect-timeouts');
        reject(new TimeoutError(`no answer from ${host}:${port} within ${timeout} ms`));
      });
      socket.once('error', onError);
      socket.once('connect', onConnect);
      socket.connect({ host, port, family: 4, ...(options.localPort === undefined ? {} : { localPort: options.localPort }) });
    });
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  /** Wraps a connected socket, or resets it when it is not IPv4 (or already gone). */
  adopt(socket: net.Socket): SocketTcpFlow | undefined {
    const localAddress = ipv4FromNode(socket.localAddress);
    const remoteAddress = ipv4FromNode(socket.remoteAddress);
    const localPort = socket.localPort;
    const remotePort = socket.remotePort;
    if (localAddress === undefined || remoteAddress === undefined || localPort === undefined || remotePort === undefined) {
      // An IPv6 peer of the dual-stack listener, or a connection reset before we saw it.
      this.counters.add(socket.remoteAddress === undefined ? 'reset-before-accept' : 'not-ipv4');
      discardSocket(socket);
      return undefined;
    }
    const flow = new SocketTcpFlow(socket, { localAddress, localPort, remoteAddress, remotePort }, this.config, this.counters, this.forgetFlow);
    this.flows.add(flow);
    return flow;
  }

  /** Called by a listener as it closes. */
  forgetListener(listener: SocketTcpListener): void {
    this.listeners.delete(listener);
  }

  /** Closes every listener, fails every connect in progress and resets every connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const listener of [...this.listeners]) listener.close();
    for (const socket of [...this.connecting]) socket.destroy(new ClosedError('the socket stack was closed'));
    await Promise.all([...this.flows].map((flow) => flow.destroyForStack()));
  }
}
