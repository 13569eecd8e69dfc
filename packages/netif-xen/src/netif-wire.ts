/**
 * The messages of Xen's network rings (xen/include/public/io/netif.h), byte for byte,
 * little-endian as on every architecture Xen runs netfront on. Each message is a plain repr
 * read from / written to a slot of a ring page at a byte offset.
 */
import { DecodeError } from '@morgana/core';

/** `netif_tx_request`: gref u32 @0, offset u16 @4, flags u16 @6, id u16 @8, size u16 @10. */
export const TX_REQUEST_GREF = 0;
export const TX_REQUEST_OFFSET = 4;
export const TX_REQUEST_FLAGS = 6;
export const TX_REQUEST_ID = 8;
export const TX_REQUEST_SIZE = 10;
export const TX_REQUEST_LENGTH = 12;

/** `netif_tx_response`: id u16 @0, status s16 @2. */
export const TX_RESPONSE_ID = 0;
export const TX_RESPONSE_STATUS = 2;
export const TX_RESPONSE_LENGTH = 4;

/** `netif_rx_request`: id u16 @0, pad u16 @2, gref u32 @4. */
export const RX_REQUEST_ID = 0;
export const RX_REQUEST_PAD = 2;
export const RX_REQUEST_GREF = 4;
export const RX_REQUEST_LENGTH = 8;

/** `netif_rx_response`: id u16 @0, offset u16 @2, flags u16 @4, status s16 @6 (byte count when >= 0). */
export const RX_RESPONSE_ID = 0;
export const RX_RESPONSE_OFFSET = 2;
export const RX_RESPONSE_FLAGS = 4;
export const RX_RESPONSE_STATUS = 6;
export const RX_RESPONSE_LENGTH = 8;

/** `netif_extra_info`: type u8 @0, flags u8 @1, 6-byte union @2 (gso: size u16, type u8, pad u8, features u16). */
export const EXTRA_INFO_TYPE = 0;
export const EXTRA_INFO_FLAGS = 1;
export const EXTRA_INFO_UNION = 2;
export const EXTRA_INFO_LENGTH = 8;

/** A tx slot holds a request or a response: the larger, 12 bytes. */
export const TX_SLOT_SIZE = 12;
/** An rx slot holds a request or a response: 8 bytes. */
export const RX_SLOT_SIZE = 8;

/** Transmit flags (`_NETTXF_*` bit numbers 0..3). */
export const NETTXF_CSUM_BLANK = 1 << 0;
export const NETTXF_DATA_VALIDATED = 1 << 1;
export const NETTXF_MORE_DATA = 1 << 2;
export const NETTXF_EXTRA_INFO = 1 << 3;

/** Receive flags: the two checksum bits are in the opposite order to transmit's (`_NETRXF_*`). */
export const NETRXF_DATA_VALIDATED = 1 << 0;
export const NETRXF_CSUM_BLANK = 1 << 1;
export const NETRXF_MORE_DATA = 1 << 2;
export const NETRXF_EXTRA_INFO = 1 << 3;
export const NETRXF_GSO_PREFIX = 1 << 4;

/** Response statuses (`NETIF_RSP_*`). */
export const NETIF_RSP_DROPPED = -2;
export const NETIF_RSP_ERROR = -1;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_NULL = 1;

/** Extra-info types (`XEN_NETIF_EXTRA_TYPE_*`) and the chaining flag. */
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2;
export const XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3;
export const XEN_NETIF_EXTRA_TYPE_HASH = 4;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1 << 0;

/** Largest packet a transmit request chain may describe (`XEN_NETIF_MAX_TX_SIZE`). */
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
/** Slots a back end must accept in one packet (`XEN_NETIF_NR_SLOTS_MIN`). */
export const XEN_NETIF_NR_SLOTS_MIN = 18;

export interface TxRequest {
  /** Grant reference of the page holding this slot's bytes. */
  gref: number;
  /** Offset of the bytes in that page. */
  offset: number;
  flags: number;
  /** Echoed in the response. */
  id: number;
  /** In the first slot of a packet: the whole packet's length; in later slots: this slot's. */
  size: number;
}

export interface TxResponse {
  id: number;
  status: number;
}

export interface RxRequest {
  id: number;
  gref: number;
}

export interface RxResponse {
  id: number;
  offset: number;
  flags: number;
  /** Bytes received into the slot when >= 0, else a `NETIF_RSP_*` error. */
  status: number;
}

function view(page: Uint8Array): DataView {
  return new DataView(page.buffer, page.byteOffset, page.byteLength);
}

function checkSlot(page: Uint8Array, at: number, length: number): void {
  if (at < 0 || at + length > page.length) {
    throw new DecodeError('truncated', `a ${length}-byte ring message at ${at} does not fit a ${page.length}-byte page`, at);
  }
}

export function readTxRequest(page: Uint8Array, at: number): TxRequest {
  checkSlot(page, at, TX_REQUEST_LENGTH);
  const v = view(page);
  return {
    gref: v.getUint32(at + TX_REQUEST_GREF, true),
    offset: v.getUint16(at + TX_REQUEST_OFFSET, true),
    flags: v.getUint16(at + TX_REQUEST_FLAGS, true),
    id: v.getUint16(at + TX_REQUEST_ID, true),
    size: v.getUint16(at + TX_REQUEST_SIZE, true),
  };
}

export function writeTxRequest(page: Uint8Array, at: number, r: TxRequest): void {
  checkSlot(page, at, TX_REQUEST_LENGTH);
  const v = view(page);
  v.setUint32(at + TX_REQUEST_GREF, r.gref, true);
  v.setUint16(at + TX_REQUEST_OFFSET, r.offset, true);
  v.setUint16(at + TX_REQUEST_FLAGS, r.flags, true);
  v.setUint16(at + TX_REQUEST_ID, r.id, true);
  v.setUint16(at + TX_REQUEST_SIZE, r.size, true);
}

export function readTxResponse(page: Uint8Array, at: number): TxResponse {
  checkSlot(page, at, TX_RESPONSE_LENGTH);
  const v = view(page);
  return { id: v.getUint16(at + TX_RESPONSE_ID, true), status: v.getInt16(at + TX_RESPONSE_STATUS, true) };
}

export function writeTxResponse(page: Uint8Array, at: number, r: TxResponse): void {
  checkSlot(page, at, TX_RESPONSE_LENGTH);
  const v = view(page);
  v.setUint16(at + TX_RESPONSE_ID, r.id, true);
  v.setInt16(at + TX_RESPONSE_STATUS, r.status, true);
}

export function readRxRequest(page: Uint8Array, at: number): RxRequest {
  checkSlot(page, at, RX_REQUEST_LENGTH);
  const v = view(page);
  return { id: v.getUint16(at + RX_REQUEST_ID, true), gref: v.getUint32(at + RX_REQUEST_GREF, true) };
}

export function writeRxRequest(page: Uint8Array, at: number, r: RxRequest): void {
  checkSlot(page, at, RX_REQUEST_LENGTH);
  const v = view(page);
  v.setUint16(at + RX_REQUEST_ID, r.id, true);
  v.setUint16(at + RX_REQUEST_PAD, 0, true);
  v.setUint32(at + RX_REQUEST_GREF, r.gref, true);
}

export function readRxResponse(page: Uint8Array, at: number): RxResponse {
  checkSlot(page, at, RX_RESPONSE_LENGTH);
  const v = view(page);
  return {
    id: v.getUint16(at + RX_RESPONSE_ID, true),
    offset: v.getUint16(at + RX_RESPONSE_OFFSET, true),
    flags: v.getUint16(at + RX_RESPONSE_FLAGS, true),
    status: v.getInt16(at + RX_RESPONSE_STATUS, true),
  };
}

export function writeRxResponse(page: Uint8Array, at: number, r: RxResponse): void {
  checkSlot(page, at, RX_RESPONSE_LENGTH);
  const v = view(page);
  v.setUint16(at + RX_RESPONSE_ID, r.id, true);
  v.setUint16(at + RX_RESPONSE_OFFSET, r.offset, true);
  v.setUint16(at + RX_RESPONSE_FLAGS, r.flags, true);
  v.setInt16(at + RX_RESPONSE_STATUS, r.status, true);
}
