/** The server side of remote port forwarding (RFC 4254 §7.1 tcpip-forward, §7.2 forwarded-tcpip). */
import { type Clock, type CounterSet, type Flow, type Ipv4Address, IPV4_ANY, type Tcp, type TcpFlow, type TcpListener, formatIpv4, isLoopbackIpv4, parseIpv4 } from '@morgana/core';
import type { SshConnection } from './channel.js';
import { type SshReader, encode } from './wire.js';

/** Limits of remote forwarding per connection; defaults in {@link REMOTE_FORWARD_DEFAULTS}. */
export interface RemoteForwardConfig {
  /** Listeners one connection may hold at once (tcpip-forward requests granted and not cancelled). */
  readonly maxForwards: number;
  /** How long a request for port 0 waits for the stack to report the port it bound. */
  readonly bindTimeoutMs: number;
}

export const REMOTE_FORWARD_DEFAULTS: RemoteForwardConfig = { maxForwards: 8, bindTimeoutMs: 5_000 };

/** A tcpip-forward request as the policy sees it. */
export interface TcpipForwardRequest {
  /** The authenticated user asking. */
  readonly user: string;
  /** The address as the client wrote it (RFC 4254 §7.1: "", "0.0.0.0", "localhost", "127.0.0.1", ...). */
  readonly address: string;
  /** What it means on our IPv4 stack: {@link IPV4_ANY} for every address. */
  readonly bindAddress: Ipv4Address;
  /** The requested port; 0 asks the server to choose one. */
  readonly port: number;
}

/** Server settings of remote forwarding; leave them out of the server options to refuse it. */
export interface RemoteForwardOptions {
  /** The stack whose TCP listens on the forwarded ports. */
  readonly tcp: Tcp;
  /** Decides each request; the default grants loopback addresses only ({@link loopbackOnly}). */
  readonly allow?: (request: TcpipForwardRequest) => boolean;
  readonly config?: Partial<RemoteForwardConfig>;
}

/** The default policy: only listeners on a loopback address, reachable from the server's own host. */
export function loopbackOnly(request: TcpipForwardRequest): boolean {
  return isLoopbackIpv4(request.bindAddress);
}

/**
 * The IPv4 address a tcpip-forward address names (RFC 4254 §7.1): "" and "0.0.0.0" every
 * address, "localhost" the loopback one, else a dotted quad; undefined for what this IPv4 stack
 * cannot bind (other names, IPv6).
 */
export function forwardBindAddress(address: string): Ipv4Address | undefined {
  if (address === '' || address === '0.0.0.0') return IPV4_ANY;
  if (address === 'localhost') return parseIpv4('127.0.0.1');
  try {
    return parseIpv4(address);
  } catch {
    return undefined;
  }
}

interface Forward {
  readonly address: string;
  /** The port the client knows the forward by: the requested one, or the one bound for 0. */
  port: number;
  listener: TcpListener | undefined;
  closed: boolean;
}

/** One connection's remote forwards: answers the global requests and opens a channel per accepted connection. */
export class RemoteForwards {
  readonly config: RemoteForwardConfig;
  private readonly forwards = new Set<Forward>();
  private ended = false;

  constructor(
    private readonly connection: SshConnection,
    private readonly options: RemoteForwardOptions,
    private readonly clock: Clock,
    private readonly counters: CounterSet,
  ) {
    this.config = { ...REMOTE_FORWARD_DEFAULTS, ...options.config };
  }

  /** Listeners open now. */
  get size(): number {
    return this.forwards.size;
  }

  /** Handles tcpip-forward and cancel-tcpip-forward; undefined for any other request. */
  handle(name: string, data: SshReader, user: string): Uint8Array | false | Promise<Uint8Array | false> | undefined {
    if (name !== 'tcpip-forward' && name !== 'cancel-tcpip-forward') return undefined;
    // Both carry the address to bind and the port (RFC 4254 §7.1); anything else is malformed.
    const address = data.text();
    const port = data.u32();
    data.expectEnd();
    return name === 'tcpip-forward' ? this.listen(address, port, user) : this.cancel(address, port);
  }

  /** Closes every listener (the connection ended); forwarded channels end with the connection. */
  closeAll(): void {
    this.ended = true;
    for (const forward of this.forwards) this.close(forward);
  }

  private find(address: string, port: number): Forward | undefined {
    for (const forward of this.forwards) if (forward.address === address && forward.port === port) return forward;
    return undefined;
  }

  private listen(address: string, port: number, user: string): false | Promise<Uint8Array | false> {
    if (this.ended) return false;
    if (port > 0xffff) {
      this.counters.add('forward-bad-port');
      return false;
    }
    const bindAddress = forwardBindAddress(address);
    if (bindAddress === undefined) {
      this.counters.add('forward-bad-address');
      return false;
    }
    const allow = this.options.allow ?? loopbackOnly;
    if (!allow({ user, address, bindAddress, port })) {
      this.counters.add('forward-refused');
      return false;
    }
    if (this.forwards.size >= this.config.maxForwards) {
      this.counters.add('forward-limit');
      return false;
    }
    if (port !== 0 && this.find(address, port)) {
      this.counters.add('forward-duplicate');
      return false;
    }
    const forward: Forward = { address, port, listener: undefined, closed: false };
    try {
      forward.listener = this.options.tcp.listen(port, {
        address: bindAddress === IPV4_ANY ? undefined : bindAddress,
        onConnection: (flow) => void this.accepted(forward, flow),
      });
    } catch {
      this.counters.add('forward-bind-failed');
      return false;
    }
    this.forwards.add(forward);
    return this.bound(forward, port === 0).then(
      (answer) => {
        if (answer === false) this.close(forward);
        else this.counters.add('forward-granted');
        return answer;
      },
      (): false => {
        this.close(forward);
        return false;
      },
    );
  }

  /** The reply once the listener is bound: the chosen port for a request of 0 (RFC 4254 §7.1), else empty. */
  private async bound(forward: Forward, choose: boolean): Promise<Uint8Array | false> {
    const listener = forward.listener;
    if (!listener) return false;
    // A stack may bind an address-specific listener a moment later (the socket stack does);
    // a bind failure then shows as a rejected accept().
    let failed = false;
    if (listener.port === 0) listener.accept().then((flow) => flow.abort(), () => (failed = true));
    const deadline = this.clock.now() + this.config.bindTimeoutMs;
    while (listener.port === 0 && !failed && !forward.closed) {
      if (this.clock.now() >= deadline) {
        this.counters.add('forward-bind-timeout');
        return false;
      }
      await new Promise<void>((resolve) => this.clock.setTimer(1, resolve));
    }
    if (failed || forward.closed) {
      this.counters.add('forward-bind-failed');
      return false;
    }
    forward.port = listener.port;
    return choose ? encode((w) => w.u32(listener.port)) : new Uint8Array(0);
  }

  private cancel(address: string, port: number): Uint8Array | false {
    const forward = this.find(address, port);
    if (!forward) {
      this.counters.add('forward-cancel-unknown');
      return false;
    }
    this.close(forward);
    this.counters.add('forward-cancelled');
    return new Uint8Array(0);
  }

  private close(forward: Forward): void {
    forward.closed = true;
    forward.listener?.close();
    this.forwards.delete(forward);
  }

  /** Opens a forwarded-tcpip channel for an accepted connection (RFC 4254 §7.2) and pipes it both ways. */
  private async accepted(forward: Forward, flow: TcpFlow): Promise<void> {
    // The client learns of the forward (and its port) from our reply: the channel follows it.
    await this.connection.globalRepliesSent();
    if (forward.closed) {
      flow.abort();
      return;
    }
    this.counters.add('forward-connections');
    let channel: Flow;
    try {
      channel = await this.connection.open(
        'forwarded-tcpip',
        encode((w) => w.string(forward.address).u32(forward.port).string(formatIpv4(flow.remoteAddress)).u32(flow.remotePort)),
      );
    } catch {
      // The client refused the channel, or too many channels are open.
      this.counters.add('forward-open-failed');
      flow.abort();
      return;
    }
    await pipeBothWays(channel, flow);
  }
}

/**
 * Copies each flow into the other until both ends finished, then closes both. Every write is
 * awaited before the next read: the SSH window and TCP's own backpressure hold the sender back.
 */
export async function pipeBothWays(a: Flow, b: Flow): Promise<void> {
  const pipe = async (from: Flow, to: Flow): Promise<void> => {
    for (let chunk = await from.read(); chunk !== null; chunk = await from.read()) await to.write(chunk);
    await to.shutdown();
  };
  try {
    await Promise.all([pipe(a, b), pipe(b, a)]);
    await Promise.all([a.close(), b.close()]);
  } catch {
    a.abort();
    b.abort();
  }
}
