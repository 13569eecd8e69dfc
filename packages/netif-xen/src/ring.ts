/**
 * Xen's shared I/O ring (xen/include/public/io/ring.h), byte for byte: a page that starts with
 * a 64-byte header of four free-running 32-bit indices and then holds a power-of-two array of
 * request/response slots. The front end produces requests and consumes responses; the back end
 * does the opposite. Runtime-neutral: works on any Uint8Array (a SharedArrayBuffer page between
 * threads, or a plain buffer in a test).
 */

/** Offset of `req_prod` in the shared ring header. */
export const SRING_REQ_PROD = 0;
/** Offset of `req_event`: the request index at which the back end wants its next notification. */
export const SRING_REQ_EVENT = 4;
/** Offset of `rsp_prod`. */
export const SRING_RSP_PROD = 8;
/** Offset of `rsp_event`: the response index at which the front end wants its next notification. */
export const SRING_RSP_EVENT = 12;
/** Offset of the 4-byte private union (`pvt`, netif's `smartpoll_active`). */
export const SRING_PVT = 16;
/** Offset of the 44-byte `__pad`. */
export const SRING_PAD = 20;
/** Offset of `ring[0]`, the first slot: the header is 64 bytes. */
export const SRING_RING = 64;
/** Size of a Xen page, the usual size of one shared ring. */
export const XEN_PAGE_SIZE = 4096;

/**
 * Number of slots of a ring of `entrySize`-byte entries in `bytes` bytes: as many as fit after
 * the header, rounded down to a power of two (ring.h `__CONST_RING_SIZE`, so an index is masked
 * with `size - 1`).
 */
export function ringSlots(bytes: number, entrySize: number): number {
  const fit = Math.floor((bytes - SRING_RING) / entrySize);
  if (fit < 1) return 0;
  return 2 ** Math.floor(Math.log2(fit));
}

/** The shared part of a ring: the header indices, read and written with sequentially consistent atomics. */
export class SharedRing {
  /** The whole ring page. */
  readonly page: Uint8Array;
  /** Bytes of one slot (the larger of the request and response structures). */
  readonly entrySize: number;
  /** Number of slots, a power of two. */
  readonly size: number;
  private readonly words: Int32Array;

  constructor(page: Uint8Array, entrySize: number) {
    if (page.byteOffset % 4 !== 0) throw new RangeError('a shared ring must start on a 4-byte boundary');
    this.page = page;
    this.entrySize = entrySize;
    this.size = ringSlots(page.length, entrySize);
    if (this.size < 1) throw new RangeError(`a ${page.length}-byte page holds no ${entrySize}-byte slot`);
    // Atomics give the ordering that ring.h gets from xen_wmb()/xen_mb() when the page is shared.
    this.words = new Int32Array(page.buffer, page.byteOffset, 4);
  }

  get reqProd(): number {
    return Atomics.load(this.words, SRING_REQ_PROD / 4) >>> 0;
  }
  set reqProd(value: number) {
    Atomics.store(this.words, SRING_REQ_PROD / 4, value | 0);
  }
  get reqEvent(): number {
    return Atomics.load(this.words, SRING_REQ_EVENT / 4) >>> 0;
  }
  set reqEvent(value: number) {
    Atomics.store(this.words, SRING_REQ_EVENT / 4, value | 0);
  }
  get rspProd(): number {
    return Atomics.load(this.words, SRING_RSP_PROD / 4) >>> 0;
  }
  set rspProd(value: number) {
    Atomics.store(this.words, SRING_RSP_PROD / 4, value | 0);
  }
  get rspEvent(): number {
    return Atomics.load(this.words, SRING_RSP_EVENT / 4) >>> 0;
  }
  set rspEvent(value: number) {
    Atomics.store(this.words, SRING_RSP_EVENT / 4, value | 0);
  }

  /** Byte offset in the page of the slot that free-running index `index` maps to. */
  slotOffset(index: number): number {
    return SRING_RING + ((index & (this.size - 1)) * this.entrySize);
  }

  /**
   * SHARED_RING_INIT: zero producers, event indices at 1 so that the very first message
   * notifies (the consumer "wants" index 1, the first one produced), private area cleared.
   */
  init(): void {
    this.reqProd = 0;
    this.rspProd = 0;
    this.reqEvent = 1;
    this.rspEvent = 1;
    this.page.fill(0, SRING_PVT, SRING_RING);
  }
}

/**
 * The notification rule of RING_PUSH_*_AND_CHECK_NOTIFY: the consumer asked to be woken at
 * index `event`; after moving the producer from `oldProd` to `newProd` a notification is due
 * only if `event` lies in (oldProd, newProd], all modulo 2^32 so it holds across wrap-around.
 */
export function notifyDue(oldProd: number, newProd: number, event: number): boolean {
  return ((newProd - event) >>> 0) < ((newProd - oldProd) >>> 0);
}

/** The front end's half of a ring (ring.h `FRONT_RING_INIT` and the request-side macros). */
export class FrontRing {
  readonly sring: SharedRing;
  /** Next request index to fill (`req_prod_pvt`), not yet visible to the back end. */
  reqProdPvt: number;
  /** Next response index to consume (`rsp_cons`). */
  rspCons: number;

  /** `startIndex` is the initial value of both private indices (XEN_FRONT_RING_INIT uses 0). */
  constructor(sring: SharedRing, startIndex = 0) {
    this.sring = sring;
    this.reqProdPvt = startIndex >>> 0;
    this.rspCons = startIndex >>> 0;
  }

  get size(): number {
    return this.sring.size;
  }

  /** RING_FREE_REQUESTS: slots not holding a request or an unconsumed response. */
  freeRequests(): number {
    return this.size - ((this.reqProdPvt - this.rspCons) >>> 0);
  }

  /** RING_FULL. */
  full(): boolean {
    return this.freeRequests() === 0;
  }

  /** Byte offset of the next request slot; call {@link advanceRequest} once it is filled. */
  nextRequestOffset(): number {
    return this.sring.slotOffset(this.reqProdPvt);
  }

  advanceRequest(): void {
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publishes the private requests; true when the back end must be notified. */
  pushRequestsAndCheckNotify(): boolean {
    const oldProd = this.sring.reqProd;
    const newProd = this.reqProdPvt;
    this.sring.reqProd = newProd;
    return notifyDue(oldProd, newProd, this.sring.reqEvent);
  }

  /** RING_HAS_UNCONSUMED_RESPONSES. */
  unconsumedResponses(): number {
    return (this.sring.rspProd - this.rspCons) >>> 0;
  }

  /**
   * RING_RESPONSE_PROD_OVERFLOW: a back end that claims more responses than there are
   * outstanding requests is broken or hostile; the caller must stop trusting the ring.
   */
  responseProdOverflow(): boolean {
    return ((this.sring.rspProd - this.rspCons) >>> 0) > this.size;
  }

  /** Byte offset of the response at `rspCons`; call {@link advanceResponse} once it is read. */
  nextResponseOffset(): number {
    return this.sring.slotOffset(this.rspCons);
  }

  advanceResponse(): void {
    this.rspCons = (this.rspCons + 1) >>> 0;
  }

  /**
   * RING_FINAL_CHECK_FOR_RESPONSES: before sleeping, ask to be notified at the next response
   * and re-check, closing the race with a back end that produced in between. True: more work.
   */
  finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() > 0) return true;
    this.sring.rspEvent = (this.rspCons + 1) >>> 0;
    return this.unconsumedResponses() > 0;
  }
}

/** The back end's half of a ring (ring.h `BACK_RING_INIT` and the response-side macros). */
export class BackRing {
  readonly sring: SharedRing;
  /** Next response index to fill (`rsp_prod_pvt`). */
  rspProdPvt: number;
  /** Next request index to consume (`req_cons`). */
  reqCons: number;

  constructor(sring: SharedRing, startIndex = 0) {
    this.sring = sring;
    this.rspProdPvt = startIndex >>> 0;
    this.reqCons = startIndex >>> 0;
  }

  get size(): number {
    return this.sring.size;
  }

  /**
   * RING_HAS_UNCONSUMED_REQUESTS: requests published and not consumed, but never more than
   * the slots not holding our unpublished responses (a front end cannot overrun us).
   */
  unconsumedRequests(): number {
    const published = (this.sring.reqProd - this.reqCons) >>> 0;
    const room = this.size - ((this.reqCons - this.rspProdPvt) >>> 0);
    return published < room ? published : room;
  }

  /** RING_REQUEST_PROD_OVERFLOW: the front end published more requests than the ring holds. */
  requestProdOverflow(): boolean {
    return ((this.sring.reqProd - this.rspProdPvt) >>> 0) > this.size;
  }

  nextRequestOffset(): number {
    return this.sring.slotOffset(this.reqCons);
  }

  advanceRequest(): void {
    this.reqCons = (this.reqCons + 1) >>> 0;
  }

  nextResponseOffset(): number {
    return this.sring.slotOffset(this.rspProdPvt);
  }

  advanceResponse(): void {
    this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
  }

  /** RING_PUSH_RESPONSES_AND_CHECK_NOTIFY. */
  pushResponsesAndCheckNotify(): boolean {
    const oldProd = this.sring.rspProd;
    const newProd = this.rspProdPvt;
    this.sring.rspProd = newProd;
    return notifyDue(oldProd, newProd, this.sring.rspEvent);
  }

  /** RING_FINAL_CHECK_FOR_REQUESTS. True: more requests to process. */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    this.sring.reqEvent = (this.reqCons + 1) >>> 0;
    return this.unconsumedRequests() > 0;
  }
}
