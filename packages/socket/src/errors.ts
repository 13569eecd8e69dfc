/** Node's socket errors (errno codes and stream errors) as morgana's named errors. */
import {
  AddressInUse,
  ClosedError,
  ConnectionRefused,
  ConnectionReset,
  LimitExceeded,
  MorganaError,
  TimeoutError,
  UnreachableError,
  UnsupportedError,
} from '@morgana/core';

/** The `code` of a Node system or stream error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Maps an error from `node:net`, `node:dgram` or a stream to the named error a morgana
 * application expects from any stack, keeping Node's text in the message. Morgana errors
 * pass through unchanged; anything unknown becomes a plain `MorganaError` with Node's code.
 */
export function toMorganaError(error: unknown): MorganaError {
  if (error instanceof MorganaError) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return new ConnectionRefused(`connection refused by the peer (${detail})`);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'ERR_STREAM_DESTROYED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new ConnectionReset(`connection reset (${detail})`);
    case 'ETIMEDOUT':
      return new TimeoutError(`operation timed out (${detail})`);
    case 'EADDRINUSE':
      return new AddressInUse(`address already in use (${detail})`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENETDOWN':
    case 'EHOSTDOWN':
      return new UnreachableError(`destination unreachable (${detail})`);
    case 'EMSGSIZE':
      return new LimitExceeded('maxDatagramSize', `datagram too large (${detail})`);
    case 'EACCES':
    case 'EPERM':
      return new UnsupportedError(`not permitted by the host (${detail})`);
    case 'ERR_SOCKET_CLOSED':
    case 'ERR_STREAM_WRITE_AFTER_END':
    case 'ERR_SOCKET_DGRAM_NOT_RUNNING':
      return new ClosedError(`already closed (${detail})`);
    default:
      return new MorganaError(code ?? 'IO', detail, { cause: error });
  }
}
