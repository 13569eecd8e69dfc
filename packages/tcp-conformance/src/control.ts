/**
 * The control side of a TCP under test: what its user does (listen, connect, send, read,
 * shutdown, close, abort) and what state its connections are in. Cases drive the user side
 * through this and the wire side through the tester.
 */
import type { Ipv4Address, TcpState } from '@morgana/core';

/** A connection the control side opened or accepted. */
export type ConnectionId = number;

/** Why a connection's reads stopped short of the peer's FIN. */
export type ConnectionError = 'reset' | 'refused' | 'timeout' | 'closed' | 'other';

/** Bytes a read collected, and whether the stream ended. */
export interface ReadResult {
  /** Bytes received since the previous read (may be empty). */
  readonly data: Uint8Array;
  /** The peer's FIN was read: no more data will come. */
  readonly eof: boolean;
  /** Set when the connection failed (a reset, a refused connect, a timeout). */
  readonly error: ConnectionError | undefined;
}

/** The user side of a TCP under test. Every call resolves once the implementation took it. */
export interface TcpControl {
  /** Listens on `port` (every local address). */
  listen(port: number): Promise<void>;
  /** Stops listening on `port`; established connections live on. */
  unlisten(port: number): Promise<void>;
  /** The next connection established on `port`, waiting up to `withinMs`; undefined when none came. */
  accept(port: number, withinMs: number): Promise<ConnectionId | undefined>;
  /** Starts an active open from `localPort`; resolves once the SYN is on its way, not when the handshake ends. */
  connect(address: Ipv4Address, port: number, localPort: number): Promise<ConnectionId>;
  /** Queues `data` for sending. */
  send(id: ConnectionId, data: Uint8Array): Promise<void>;
  /** Collects what arrived, waiting up to `withinMs` for the first byte, the end of the stream or an error. */
  read(id: ConnectionId, withinMs: number): Promise<ReadResult>;
  /** Finishes our direction (a FIN after the queued data); reading goes on. */
  shutdown(id: ConnectionId): Promise<void>;
  /** Closes the connection gracefully (the user's CLOSE). */
  close(id: ConnectionId): Promise<void>;
  /** Drops the connection with a RST (the user's ABORT). */
  abort(id: ConnectionId): Promise<void>;
  /**
   * State of the connection between local port `localPort` and `remotePort` (TIME-WAIT
   * included), CLOSED when there is none, or undefined when the implementation cannot tell
   * (say, a half-open passive connection it does not expose).
   */
  state(localPort: number, remotePort: number): Promise<TcpState | undefined>;
  /** Aborts every connection and stops every listener (between cases). */
  reset(): Promise<void>;
}
