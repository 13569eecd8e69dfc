/** TCP: reliable connections (RFC 9293) as {@link Flow}s. */
import type { Ipv4Address } from './address.js';
import type { Flow } from './flow.js';
import type { Counters } from './stats.js';

/** The eleven connection states of RFC 9293 §3.3.2. */
export type TcpState =
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT'
  | 'CLOSED';

/** Per-connection metrics, like Linux's TCP_INFO. Times in milliseconds. */
export interface TcpInfo {
  readonly state: TcpState;
  /** Smoothed round-trip time and its variation (RFC 6298). */
  readonly srtt: number;
  readonly rttvar: number;
  /** Current retransmission timeout. */
  readonly rto: number;
  /** Congestion window and slow-start threshold, in bytes. */
  readonly cwnd: number;
  readonly ssthresh: number;
  /** Effective send MSS. */
  readonly mss: number;
  /** Segments retransmitted over the connection's life. */
  readonly retransmits: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Peer's advertised window and ours, in bytes (scaled). */
  readonly sndWnd: number;
  readonly rcvWnd: number;
  /** Name of the congestion controller (`'newreno'`, `'cubic'`; `'kernel'` on the socket stack). */
  readonly congestionControl: string;
}

/** A TCP connection. */
export interface TcpFlow extends Flow {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
  /** Disables Nagle's algorithm (RFC 1122 4.2.3.4) when true. */
  setNoDelay(noDelay: boolean): void;
  /** Enables keepalive probes after `idleMs` of silence (RFC 1122 4.2.3.6). */
  setKeepAlive(enable: boolean, idleMs?: number): void;
  info(): TcpInfo;
}

/** Options of {@link Tcp.listen}. */
export interface TcpListenOptions {
  /** Local address to accept on; absent for every address. */
  readonly address?: Ipv4Address;
  /** Connections completed but not yet accepted, and half-open ones, before SYN cookies (or refusal); default 128. */
  readonly backlog?: number;
  /** Called with each new connection instead of queueing it for `accept()`. */
  readonly onConnection?: (flow: TcpFlow) => void;
}

/** A listening socket. */
export interface TcpListener {
  readonly port: number;
  /** The next established connection; rejects with `ClosedError` when the listener closes. */
  accept(): Promise<TcpFlow>;
  /** Stops listening; established connections live on. Idempotent. */
  close(): void;
}

/** Options of {@link Tcp.connect}. */
export interface TcpConnectOptions {
  /** Milliseconds before the attempt fails with `TimeoutError`; default 30 000. */
  readonly timeout?: number;
  /** Local port; default a random ephemeral one (RFC 6056). */
  readonly localPort?: number;
  readonly noDelay?: boolean;
}

/** A TCP layer. */
export interface Tcp {
  /** Listens on `port`; throws `AddressInUse` when it is taken. */
  listen(port: number, options?: TcpListenOptions): TcpListener;
  /** Opens a connection; rejects with `ConnectionRefused`, `TimeoutError` or `UnreachableError`. */
  connect(address: Ipv4Address, port: number, options?: TcpConnectOptions): Promise<TcpFlow>;
  stats(): Counters;
}
