/** Configuration of the socket stack: every limit and timeout, with its default. */
import type { Clock } from '@morgana/core';

/** Options of {@link createSocketStack}. Every field has a default. */
export interface SocketStackOptions {
  /** Timers for connect and close timeouts; default the system clock. */
  readonly clock?: Clock;
  /** Milliseconds before `connect()` fails with `TimeoutError` when the call gives none; default 30 000. */
  readonly connectTimeout?: number;
  /**
   * Milliseconds `close()` waits for the peer to finish its direction before the socket is
   * destroyed anyway (the kernel's FIN-WAIT-2 timeout plays the same part); default 60 000.
   */
  readonly closeTimeout?: number;
  /** Connections a listener queues for `accept()` when `listen()` gives no backlog; default 128. */
  readonly backlog?: number;
  /**
   * Bytes each connection lets Node hold on top of the kernel's send buffer before `write()`
   * waits; default 64 KiB (one write larger than this is held alone).
   */
  readonly sendBufferLimit?: number;
  /** Bytes each connection reads ahead of `read()` before it stops reading from the kernel; default 64 KiB. */
  readonly receiveBufferLimit?: number;
  /** Datagrams each UDP socket queues for `receive()` when `bind()` gives no limit; default 1024. */
  readonly receiveQueueLimit?: number;
  /** Payload bytes each UDP socket queues for `receive()` before dropping the oldest; default 4 MiB. */
  readonly receiveQueueBytes?: number;
}

/** Defaults of {@link SocketStackOptions} (all but the clock). */
export const SOCKET_STACK_DEFAULTS: Required<Omit<SocketStackOptions, 'clock'>> = {
  connectTimeout: 30_000,
  closeTimeout: 60_000,
  backlog: 128,
  sendBufferLimit: 64 * 1024,
  receiveBufferLimit: 64 * 1024,
  receiveQueueLimit: 1024,
  receiveQueueBytes: 4 * 1024 * 1024,
};

/** The options with every default filled in. */
export interface SocketStackConfig extends Required<Omit<SocketStackOptions, 'clock'>> {
  readonly clock: Clock;
}

/** Checks a limit that must be a positive integer. */
export function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, not ${value}`);
  return value;
}

/** Checks a timeout in milliseconds (finite, not negative). */
export function timeoutMs(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number of milliseconds, not ${value}`);
  return value;
}

/** Fills in and checks the options. */
export function resolveOptions(options: SocketStackOptions, clock: Clock): SocketStackConfig {
  const d = SOCKET_STACK_DEFAULTS;
  return {
    clock,
    connectTimeout: timeoutMs(options.connectTimeout ?? d.connectTimeout, 'connectTimeout'),
    closeTimeout: timeoutMs(options.closeTimeout ?? d.closeTimeout, 'closeTimeout'),
    backlog: positiveInteger(options.backlog ?? d.backlog, 'backlog'),
    sendBufferLimit: positiveInteger(options.sendBufferLimit ?? d.sendBufferLimit, 'sendBufferLimit'),
    receiveBufferLimit: positiveInteger(options.receiveBufferLimit ?? d.receiveBufferLimit, 'receiveBufferLimit'),
    receiveQueueLimit: positiveInteger(options.receiveQueueLimit ?? d.receiveQueueLimit, 'receiveQueueLimit'),
    receiveQueueBytes: positiveInteger(options.receiveQueueBytes ?? d.receiveQueueBytes, 'receiveQueueBytes'),
  };
}
