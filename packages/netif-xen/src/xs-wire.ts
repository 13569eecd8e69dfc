/**
 * The xenstore wire protocol (xen/include/public/io/xs_wire.h): a 16-byte header
 * `xsd_sockmsg { u32 type, req_id, tx_id, len }` in the host's byte order (little-endian on
 * every platform xenstored runs on), then `len` bytes of NUL-separated strings. Runtime-neutral:
 * a streaming decoder that turns arbitrary chunks into messages.
 */
import { DecodeError, MorganaError } from '@morgana/core';

export const XS_HEADER_TYPE = 0;
export const XS_HEADER_REQ_ID = 4;
export const XS_HEADER_TX_ID = 8;
export const XS_HEADER_LEN = 12;
/** Bytes of `struct xsd_sockmsg`. */
export const XS_HEADER_LENGTH = 16;
/** Largest payload either side may send (`XENSTORE_PAYLOAD_MAX`). */
export const XENSTORE_PAYLOAD_MAX = 4096;

/** Message types (`enum xsd_sockmsg_type`). */
export const XsType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
} as const;
export type XsType = (typeof XsType)[keyof typeof XsType];

/** The error names xenstored answers with (`xsd_errors[]`): errno names as strings. */
export const XS_ERROR_NAMES: readonly string[] = [
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
  'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
];

/** One xenstore message. */
export interface XsMessage {
  type: number;
  reqId: number;
  txId: number;
  payload: Uint8Array;
}

/** An error answer from xenstored (`XS_ERROR` with an errno name), e.g. `ENOENT` or `EAGAIN`. */
export class XenstoreError extends MorganaError {
  /** The errno name, one of {@link XS_ERROR_NAMES} (or what a peer sent). */
  readonly errno: string;
  constructor(errno: string, message?: string) {
    super('XENSTORE', message ?? `xenstore: ${errno}`);
    this.errno = errno;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes strings as xenstore does: each followed by a NUL. */
export function nulTerminated(...parts: readonly string[]): Uint8Array {
  return encoder.encode(parts.map((p) => `${p}\0`).join(''));
}

/** Splits a payload at NULs; a trailing NUL ends the last string rather than starting an empty one. */
export function splitNul(payload: Uint8Array): string[] {
  if (payload.length === 0) return [];
  const text = decoder.decode(payload);
  const parts = text.split('\0');
  if (text.endsWith('\0')) parts.pop();
  return parts;
}

/** Decodes a payload as one string, dropping one trailing NUL if there is one. */
export function payloadString(payload: Uint8Array): string {
  const end = payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload.length;
  return decoder.decode(payload.subarray(0, end));
}

/** Writes a message (header + payload) into a fresh buffer. */
export function encodeXsMessage(message: XsMessage): Uint8Array {
  const out = new Uint8Array(XS_HEADER_LENGTH + message.payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(XS_HEADER_TYPE, message.type >>> 0, true);
  v.setUint32(XS_HEADER_REQ_ID, message.reqId >>> 0, true);
  v.setUint32(XS_HEADER_TX_ID, message.txId >>> 0, true);
  v.setUint32(XS_HEADER_LEN, message.payload.length, true);
  out.set(message.payload, XS_HEADER_LENGTH);
  return out;
}

/** Parses exactly one whole message from `bytes`. */
export function decodeXsMessage(bytes: Uint8Array, maxPayload = XENSTORE_PAYLOAD_MAX): XsMessage {
  if (bytes.length < XS_HEADER_LENGTH) throw new DecodeError('truncated', 'xenstore header is 16 bytes', bytes.length);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = v.getUint32(XS_HEADER_LEN, true);
  if (len > maxPayload) throw new DecodeError('payload-too-large', `xenstore payload of ${len} bytes exceeds ${maxPayload}`, XS_HEADER_LEN);
  if (bytes.length !== XS_HEADER_LENGTH + len) throw new DecodeError('bad-length', `header says ${len} payload bytes, have ${bytes.length - XS_HEADER_LENGTH}`, XS_HEADER_LEN);
  return {
    type: v.getUint32(XS_HEADER_TYPE, true),
    reqId: v.getUint32(XS_HEADER_REQ_ID, true),
    txId: v.getUint32(XS_HEADER_TX_ID, true),
    payload: bytes.slice(XS_HEADER_LENGTH),
  };
}

/**
 * Reassembles messages from a byte stream delivered in arbitrary chunks. Holds at most one
 * header plus `maxPayload` bytes; a header announcing more is a {@link DecodeError} (the stream
 * cannot be resynchronised after it, so the caller closes the connection).
 */
export class XsMessageReader {
  private readonly maxPayload: number;
  private pending: Uint8Array = new Uint8Array(0);

  constructor(maxPayload = XENSTORE_PAYLOAD_MAX) {
    this.maxPayload = maxPayload;
  }

  /** Adds a chunk; returns every message it completes. */
  push(chunk: Uint8Array): XsMessage[] {
    let data: Uint8Array;
    if (this.pending.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
    }
    const out: XsMessage[] = [];
    let at = 0;
    while (data.length - at >= XS_HEADER_LENGTH) {
      const v = new DataView(data.buffer, data.byteOffset + at, XS_HEADER_LENGTH);
      const len = v.getUint32(XS_HEADER_LEN, true);
      if (len > this.maxPayload) {
        this.pending = new Uint8Array(0);
        throw new DecodeError('payload-too-large', `xenstore payload of ${len} bytes exceeds ${this.maxPayload}`, at + XS_HEADER_LEN);
      }
      if (data.length - at < XS_HEADER_LENGTH + len) break;
      out.push(decodeXsMessage(data.subarray(at, at + XS_HEADER_LENGTH + len), this.maxPayload));
      at += XS_HEADER_LENGTH + len;
    }
    this.pending = data.slice(at);
    return out;
  }

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.pending.length;
  }
}
