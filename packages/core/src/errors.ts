/**
 * The named error types of morgana. Every error a user can see is one of these, with a
 * `code` to switch on and a message that says what to do about it.
 */

/** Base class of every morgana error. */
export class MorganaError extends Error {
  /** A stable, machine-readable code (`'DECODE'`, `'RESET'`, ...). */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes that do not decode as the format they claim to be. */
export class DecodeError extends MorganaError {
  /** Short reason, fit to be a counter name: `'truncated'`, `'bad-checksum'`, ... */
  readonly reason: string;
  /** Byte offset at which decoding failed, when known. */
  readonly offset: number | undefined;

  constructor(reason: string, message?: string, offset?: number) {
    super('DECODE', message ?? reason, undefined);
    this.reason = reason;
    this.offset = offset;
  }
}

/** A peer broke a protocol rule (an unexpected message, a bad state transition). */
export class ProtocolError extends MorganaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROTOCOL', message, options);
  }
}

/** A textual address (MAC, IPv4, prefix, host:port) that does not parse. */
export class AddressError extends MorganaError {
  constructor(message: string) {
    super('ADDRESS', message);
  }
}

/** The peer refused the connection (a TCP RST in answer to our SYN, ICMP port unreachable). */
export class ConnectionRefused extends MorganaError {
  constructor(message = 'connection refused by the peer') {
    super('REFUSED', message);
  }
}

/** The connection was reset by the peer or aborted locally. */
export class ConnectionReset extends MorganaError {
  constructor(message = 'connection reset by the peer') {
    super('RESET', message);
  }
}

/** An operation did not complete within its time limit. */
export class TimeoutError extends MorganaError {
  constructor(message = 'operation timed out') {
    super('TIMEOUT', message);
  }
}

/** No route or no link-layer address for a destination (ARP failed, ICMP unreachable). */
export class UnreachableError extends MorganaError {
  constructor(message = 'destination unreachable') {
    super('UNREACHABLE', message);
  }
}

/** A configured limit (queue, buffer, table, connection count) would be exceeded. */
export class LimitExceeded extends MorganaError {
  /** Name of the config field that sets the limit, so the user knows what to raise. */
  readonly limit: string;

  constructor(limit: string, message?: string) {
    super('LIMIT', message ?? `limit exceeded: ${limit}`);
    this.limit = limit;
  }
}

/** A local address/port pair is already bound. */
export class AddressInUse extends MorganaError {
  constructor(message = 'address already in use') {
    super('ADDRINUSE', message);
  }
}

/** The object (socket, flow, device) was closed before or during the operation. */
export class ClosedError extends MorganaError {
  constructor(message = 'already closed') {
    super('CLOSED', message);
  }
}

/** The backend or platform cannot do what was asked (no permission, missing device). */
export class UnsupportedError extends MorganaError {
  constructor(message: string) {
    super('UNSUPPORTED', message);
  }
}
