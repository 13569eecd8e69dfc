/** UDP: datagrams (RFC 768). */
import type { Ipv4Address } from './address.js';
import type { Fill } from './netif.js';
import type { Counters } from './stats.js';

/** A received datagram. */
export interface UdpDatagram {
  /** Payload. From `onMessage`, a view valid only during the call; from `receive()`, a copy. */
  readonly data: Uint8Array;
  /** Sender. */
  readonly address: Ipv4Address;
  readonly port: number;
  /** The address it was sent to (ours, or a broadcast address). */
  readonly localAddress: Ipv4Address;
}

/** Options of {@link Udp.bind}. */
export interface UdpBindOptions {
  /** Local port; 0 or absent picks a random ephemeral port (RFC 6056). */
  readonly port?: number;
  /** Local address; absent or 0.0.0.0 receives on every address. */
  readonly address?: Ipv4Address;
  /** Datagrams held for `receive()` before the oldest is dropped; default 1024. */
  readonly receiveQueueLimit?: number;
  /** Allow sending to broadcast addresses. */
  readonly broadcast?: boolean;
}

/** A bound UDP socket. */
export interface UdpSocket {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  /** Sends one datagram. Returns false when it could not be sent (counted in stats). */
  send(data: Uint8Array, address: Ipv4Address, port: number): boolean;
  /** Sends one datagram whose payload of at most `size` bytes is built in place by `fill`. */
  sendWith(size: number, fill: Fill, address: Ipv4Address, port: number): boolean;
  /**
   * Delivers each datagram to `handler` as it arrives, instead of queueing it for `receive()`.
   * The fastest path: servers answer from inside the handler.
   */
  onMessage(handler: (datagram: UdpDatagram) => void): void;
  /** The next queued datagram; rejects with `ClosedError` when the socket closes. */
  receive(): Promise<UdpDatagram>;
  /** Unbinds; pending `receive()` calls reject. Idempotent. */
  close(): void;
  stats(): Counters;
}

/** A UDP layer. */
export interface Udp {
  /** Binds a socket; throws `AddressInUse` when the port is taken. */
  bind(options?: UdpBindOptions): UdpSocket;
  stats(): Counters;
}
