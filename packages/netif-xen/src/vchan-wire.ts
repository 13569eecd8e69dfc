/**
 * libxenvchan's shared control page (xen/include/public/io/libxenvchan.h,
 * `struct vchan_interface`), byte for byte: two {cons, prod} pairs of free-running 32-bit
 * indices, the two ring orders, the liveness and notification bytes, then the grant list of the
 * rings that do not fit in the page. `left` carries client-to-server bytes, `right`
 * server-to-client bytes.
 */
import { DecodeError } from '@morgana/core';

/** Offset of `left.cons` (the server's read index). */
export const VCHAN_LEFT_CONS = 0;
/** Offset of `left.prod` (the client's write index). */
export const VCHAN_LEFT_PROD = 4;
/** Offset of `right.cons` (the client's read index). */
export const VCHAN_RIGHT_CONS = 8;
/** Offset of `right.prod` (the server's write index). */
export const VCHAN_RIGHT_PROD = 12;
export const VCHAN_LEFT_ORDER = 16;
export const VCHAN_RIGHT_ORDER = 18;
export const VCHAN_CLI_LIVE = 20;
export const VCHAN_SRV_LIVE = 21;
export const VCHAN_CLI_NOTIFY = 22;
export const VCHAN_SRV_NOTIFY = 23;
/** Offset of `grants[0]`: `sizeof(struct vchan_interface)`. */
export const VCHAN_GRANTS = 24;

/** Ask the peer for an event when it writes (we wait for data). */
export const VCHAN_NOTIFY_WRITE = 0x1;
/** Ask the peer for an event when it reads (we wait for room). */
export const VCHAN_NOTIFY_READ = 0x2;

/** Values of `cli_live` / `srv_live`. */
export const VCHAN_LIVE_EXITED = 0;
export const VCHAN_LIVE_CONNECTED = 1;
export const VCHAN_LIVE_NOT_YET = 2;

/** A ring of order 10 lives inside the control page at offset 1024. */
export const VCHAN_SMALL_RING_ORDER = 10;
export const VCHAN_SMALL_RING_OFFSET = 1024;
/** A ring of order 11 lives inside the control page at offset 2048. */
export const VCHAN_LARGE_RING_ORDER = 11;
export const VCHAN_LARGE_RING_OFFSET = 2048;
/** Orders of 12 and up take 2^(order-12) separately granted pages. */
export const VCHAN_PAGE_ORDER = 12;
/**
 * Largest ring order accepted: 2^20 bytes is 256 grant references per ring, so both grant lists
 * fit between `grants[0]` and the in-page ring area (a limit of this implementation; the header
 * itself only bounds the list by the page).
 */
export const VCHAN_MAX_ORDER = 20;
export const VCHAN_PAGE_SIZE = 4096;

/** The control page's meaning. */
export interface VchanInterfaceRepr {
  readonly leftCons: number;
  readonly leftProd: number;
  readonly rightCons: number;
  readonly rightProd: number;
  readonly leftOrder: number;
  readonly rightOrder: number;
  readonly cliLive: number;
  readonly srvLive: number;
  readonly cliNotify: number;
  readonly srvNotify: number;
  /** Grant references of the left ring's pages, then the right ring's. */
  readonly grants: readonly number[];
}

/** Pages granted separately for a ring of `order` (0 for the two in-page sizes). */
export function vchanRingPages(order: number): number {
  return order >= VCHAN_PAGE_ORDER ? 2 ** (order - VCHAN_PAGE_ORDER) : 0;
}

/** Offset of an in-page ring of `order` in the control page, or undefined for a granted ring. */
export function vchanRingOffset(order: number): number | undefined {
  if (order === VCHAN_SMALL_RING_ORDER) return VCHAN_SMALL_RING_OFFSET;
  if (order === VCHAN_LARGE_RING_ORDER) return VCHAN_LARGE_RING_OFFSET;
  return undefined;
}

function orderFor(min: number): number {
  let order = VCHAN_PAGE_ORDER;
  while (2 ** order < min) order++;
  return order;
}

/**
 * The ring orders libxenvchan's server picks for minimum sizes (libxenvchan_server_init): one
 * ring in the page at 1024 and the other at 2048 when both are small enough, else the smaller
 * one in the page at 2048 and the other in granted pages, else both granted.
 */
export function vchanChooseOrders(leftMin: number, rightMin: number): { left: number; right: number } {
  const small = 2 ** VCHAN_SMALL_RING_ORDER;
  const large = 2 ** VCHAN_LARGE_RING_ORDER;
  if (leftMin <= small && rightMin <= large) return { left: VCHAN_SMALL_RING_ORDER, right: VCHAN_LARGE_RING_ORDER };
  if (leftMin <= large && rightMin <= small) return { left: VCHAN_LARGE_RING_ORDER, right: VCHAN_SMALL_RING_ORDER };
  if (leftMin <= large) return { left: VCHAN_LARGE_RING_ORDER, right: orderFor(rightMin) };
  if (rightMin <= large) return { left: orderFor(leftMin), right: VCHAN_LARGE_RING_ORDER };
  return { left: orderFor(leftMin), right: orderFor(rightMin) };
}

function checkOrder(order: number, side: string): void {
  if (order < VCHAN_SMALL_RING_ORDER || order > VCHAN_MAX_ORDER) {
    throw new DecodeError('bad-order', `${side} ring order ${order} outside ${VCHAN_SMALL_RING_ORDER}..${VCHAN_MAX_ORDER}`, side === 'left' ? VCHAN_LEFT_ORDER : VCHAN_RIGHT_ORDER);
  }
}

/**
 * Checks the two orders against each other and the page: the in-page areas are distinct
 * ("only one of the two orders can be 10 (or 11)") and the grant list ends before the first
 * in-page ring, as the header requires.
 */
export function vchanCheckOrders(leftOrder: number, rightOrder: number): void {
  checkOrder(leftOrder, 'left');
  checkOrder(rightOrder, 'right');
  const leftAt = vchanRingOffset(leftOrder);
  const rightAt = vchanRingOffset(rightOrder);
  if (leftAt !== undefined && leftAt === rightAt) throw new DecodeError('overlapping-rings', `both rings have order ${leftOrder}`, VCHAN_LEFT_ORDER);
  const grantsEnd = VCHAN_GRANTS + 4 * (vchanRingPages(leftOrder) + vchanRingPages(rightOrder));
  const limit = Math.min(leftAt ?? VCHAN_PAGE_SIZE, rightAt ?? VCHAN_PAGE_SIZE);
  if (grantsEnd > limit) throw new DecodeError('grants-overflow', `grant list ends at ${grantsEnd}, past ${limit}`, VCHAN_GRANTS);
}

/** Parses a control page; validates the orders and the grant list (the indices are any u32). */
export function parseVchanInterface(page: Uint8Array): VchanInterfaceRepr {
  if (page.length < VCHAN_PAGE_SIZE) throw new DecodeError('truncated', `control page of ${page.length} bytes`, page.length);
  const view = new DataView(page.buffer, page.byteOffset, VCHAN_PAGE_SIZE);
  const leftOrder = view.getUint16(VCHAN_LEFT_ORDER, true);
  const rightOrder = view.getUint16(VCHAN_RIGHT_ORDER, true);
  vchanCheckOrders(leftOrder, rightOrder);
  const count = vchanRingPages(leftOrder) + vchanRingPages(rightOrder);
  const grants: number[] = [];
  for (let i = 0; i < count; i++) grants.push(view.getUint32(VCHAN_GRANTS + 4 * i, true));
  return {
    leftCons: view.getUint32(VCHAN_LEFT_CONS, true),
    leftProd: view.getUint32(VCHAN_LEFT_PROD, true),
    rightCons: view.getUint32(VCHAN_RIGHT_CONS, true),
    rightProd: view.getUint32(VCHAN_RIGHT_PROD, true),
    leftOrder,
    rightOrder,
    cliLive: page[VCHAN_CLI_LIVE] ?? 0,
    srvLive: page[VCHAN_SRV_LIVE] ?? 0,
    cliNotify: page[VCHAN_CLI_NOTIFY] ?? 0,
    srvNotify: page[VCHAN_SRV_NOTIFY] ?? 0,
    grants,
  };
}

/**
 * Writes a control page. A valid repr has orders that pass {@link vchanCheckOrders} and exactly
 * as many grants as the orders need; emit throws a `DecodeError` for anything else rather than
 * write a page a peer would reject.
 */
export function emitVchanInterface(repr: VchanInterfaceRepr, page: Uint8Array): void {
  vchanCheckOrders(repr.leftOrder, repr.rightOrder);
  const count = vchanRingPages(repr.leftOrder) + vchanRingPages(repr.rightOrder);
  if (repr.grants.length !== count) throw new DecodeError('grant-count', `${repr.grants.length} grants for ${count} ring pages`, VCHAN_GRANTS);
  const view = new DataView(page.buffer, page.byteOffset, VCHAN_PAGE_SIZE);
  view.setUint32(VCHAN_LEFT_CONS, repr.leftCons >>> 0, true);
  view.setUint32(VCHAN_LEFT_PROD, repr.leftProd >>> 0, true);
  view.setUint32(VCHAN_RIGHT_CONS, repr.rightCons >>> 0, true);
  view.setUint32(VCHAN_RIGHT_PROD, repr.rightProd >>> 0, true);
  view.setUint16(VCHAN_LEFT_ORDER, repr.leftOrder, true);
  view.setUint16(VCHAN_RIGHT_ORDER, repr.rightOrder, true);
  page[VCHAN_CLI_LIVE] = repr.cliLive;
  page[VCHAN_SRV_LIVE] = repr.srvLive;
  page[VCHAN_CLI_NOTIFY] = repr.cliNotify;
  page[VCHAN_SRV_NOTIFY] = repr.srvNotify;
  repr.grants.forEach((ref, i) => view.setUint32(VCHAN_GRANTS + 4 * i, ref >>> 0, true));
}
