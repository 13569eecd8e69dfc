import { DecodeError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as W from '../src/netif-wire.js';
import { BackRing, FrontRing, SharedRing, XEN_PAGE_SIZE, notifyDue, ringSlots } from '../src/ring.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

function rings(start: number, page = new Uint8Array(XEN_PAGE_SIZE)): { sring: SharedRing; front: FrontRing; back: BackRing } {
  const sring = new SharedRing(page, W.TX_SLOT_SIZE);
  sring.init();
  sring.reqProd = start;
  sring.rspProd = start;
  sring.reqEvent = (start + 1) >>> 0;
  sring.rspEvent = (start + 1) >>> 0;
  return { sring, front: new FrontRing(sring, start), back: new BackRing(sring, start) };
}

describe('ring layout and message codecs', () => {
  it('a fresh shared ring has producers at 0 and event indices at 1 (SHARED_RING_INIT)', () => {
    const page = new Uint8Array(XEN_PAGE_SIZE).fill(0xaa);
    const sring = new SharedRing(page, W.TX_SLOT_SIZE);
    sring.init();
    expect([sring.reqProd, sring.reqEvent, sring.rspProd, sring.rspEvent]).toEqual([0, 1, 0, 1]);
    expect(page.subarray(16, 64).every((b) => b === 0)).toBe(true);
    expect(sring.size).toBe(256);
  });

  it('ring sizes round down to a power of two', () => {
    expect(ringSlots(4096, 12)).toBe(256);
    expect(ringSlots(4096, 8)).toBe(256);
    expect(ringSlots(4096, 64)).toBe(32);
    expect(ringSlots(64, 8)).toBe(0);
  });

  it('tx/rx requests and responses round-trip through a slot', () => {
    const page = new Uint8Array(64);
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const s16 = fc.integer({ min: -0x8000, max: 0x7fff });
    fc.assert(
      fc.property(fc.record({ gref: u32, offset: u16, flags: u16, id: u16, size: u16 }), fc.record({ id: u16, status: s16 }), fc.record({ id: u16, gref: u32 }), fc.record({ id: u16, offset: u16, flags: u16, status: s16 }), (txq, txr, rxq, rxr) => {
        W.writeTxRequest(page, 4, txq);
        expect(W.readTxRequest(page, 4)).toEqual(txq);
        W.writeTxResponse(page, 20, txr);
        expect(W.readTxResponse(page, 20)).toEqual(txr);
        W.writeRxRequest(page, 32, rxq);
        expect(W.readRxRequest(page, 32)).toEqual(rxq);
        W.writeRxResponse(page, 40, rxr);
        expect(W.readRxResponse(page, 40)).toEqual(rxr);
      }),
    );
  });

  it('reading a slot outside the page throws DecodeError only', () => {
    fc.assert(
      fc.property(fc.integer({ min: -20, max: 100 }), fc.integer({ min: 0, max: 64 }), (at, length) => {
        const page = new Uint8Array(length);
        for (const read of [W.readTxRequest, W.readTxResponse, W.readRxRequest, W.readRxResponse]) {
          try {
            read(page, at);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        }
      }),
    );
  });
});

describe('notification rule', () => {
  it('is due exactly when the event index lies in (old, new] modulo 2^32', () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 300 }), fc.integer({ min: -300, max: 300 }), (old, count, eventDelta) => {
        const next = (old + count) >>> 0;
        const event = (old + eventDelta) >>> 0;
        expect(notifyDue(old, next, event)).toBe(eventDelta >= 1 && eventDelta <= count);
      }),
    );
  });
});

/** A reference model: plain unbounded counters, no modular arithmetic. */
interface Model {
  reqProduced: number;
  reqPublished: number;
  reqConsumed: number;
  rspProduced: number;
  rspPublished: number;
  rspConsumed: number;
  /** Payload ids in flight, in order. */
  ids: number[];
}

describe('front and back rings (model-based, across 2^32)', () => {
  it('never loses, duplicates or reorders a message, never overfills, and notifies exactly when the peer asked', () => {
    type Cmd = { kind: 'produce'; n: number } | { kind: 'push' } | { kind: 'consume'; n: number } | { kind: 'respond' } | { kind: 'reap'; n: number } | { kind: 'finalBack' } | { kind: 'finalFront' };
    const cmd = fc.oneof(
      fc.record({ kind: fc.constant('produce' as const), n: fc.integer({ min: 1, max: 300 }) }),
      fc.constant({ kind: 'push' as const }),
      fc.record({ kind: fc.constant('consume' as const), n: fc.integer({ min: 1, max: 300 }) }),
      fc.constant({ kind: 'respond' as const }),
      fc.record({ kind: fc.constant('reap' as const), n: fc.integer({ min: 1, max: 300 }) }),
      fc.constant({ kind: 'finalBack' as const }),
      fc.constant({ kind: 'finalFront' as const }),
    );
    fc.assert(
      fc.property(fc.oneof(u32, fc.integer({ min: 0xffff_ff00, max: 0xffff_ffff })), fc.array(cmd, { maxLength: 60 }), (start, cmds: Cmd[]) => {
        const { sring, front, back } = rings(start);
        const m: Model = { reqProduced: 0, reqPublished: 0, reqConsumed: 0, rspProduced: 0, rspPublished: 0, rspConsumed: 0, ids: [] };
        let nextId = 0;
        const consumedIds: number[] = [];
        const respondedIds: number[] = [];
        let backSleeping = false;
        let frontSleeping = false;
        for (const c of cmds) {
          switch (c.kind) {
            case 'produce':
              for (let i = 0; i < c.n && !front.full(); i++) {
                W.writeTxRequest(sring.page, front.nextRequestOffset(), { gref: 0, offset: 0, flags: 0, id: nextId & 0xffff, size: 0 });
                m.ids.push(nextId & 0xffff);
                nextId += 1;
                front.advanceRequest();
                m.reqProduced += 1;
              }
              // Ring full: outstanding requests plus unconsumed responses never exceed the size.
              expect(m.reqProduced - m.rspConsumed).toBeLessThanOrEqual(256);
              expect(front.freeRequests()).toBe(256 - (m.reqProduced - m.rspConsumed));
              break;
            case 'push': {
              const had = m.reqProduced > m.reqPublished;
              const notify = front.pushRequestsAndCheckNotify();
              // The back end sleeping with req_event = req_cons + 1 must be woken by any new request.
              if (backSleeping && had) expect(notify).toBe(true);
              if (!had) expect(notify).toBe(false);
              if (notify) backSleeping = false;
              m.reqPublished = m.reqProduced;
              break;
            }
            case 'consume':
              expect(back.unconsumedRequests()).toBe(m.reqPublished - m.reqConsumed);
              for (let i = 0; i < c.n && back.unconsumedRequests() > 0; i++) {
                consumedIds.push(W.readTxRequest(sring.page, back.nextRequestOffset()).id);
                back.advanceRequest();
                m.reqConsumed += 1;
              }
              break;
            case 'respond': {
              while (m.rspProduced < m.reqConsumed) {
                W.writeTxResponse(sring.page, back.nextResponseOffset(), { id: consumedIds[m.rspProduced] ?? -1, status: 0 });
                back.advanceResponse();
                m.rspProduced += 1;
              }
              const had = m.rspProduced > m.rspPublished;
              const notify = back.pushResponsesAndCheckNotify();
              if (frontSleeping && had) expect(notify).toBe(true);
              if (!had) expect(notify).toBe(false);
              if (notify) frontSleeping = false;
              m.rspPublished = m.rspProduced;
              break;
            }
            case 'reap':
              expect(front.unconsumedResponses()).toBe(m.rspPublished - m.rspConsumed);
              expect(front.responseProdOverflow()).toBe(false);
              for (let i = 0; i < c.n && front.unconsumedResponses() > 0; i++) {
                respondedIds.push(W.readTxResponse(sring.page, front.nextResponseOffset()).id);
                front.advanceResponse();
                m.rspConsumed += 1;
              }
              break;
            case 'finalBack':
              expect(back.finalCheckForRequests()).toBe(m.reqPublished > m.reqConsumed);
              if (m.reqPublished === m.reqConsumed) backSleeping = true;
              break;
            case 'finalFront':
              expect(front.finalCheckForResponses()).toBe(m.rspPublished > m.rspConsumed);
              if (m.rspPublished === m.rspConsumed) frontSleeping = true;
              break;
          }
          expect(back.requestProdOverflow()).toBe(false);
        }
        expect(consumedIds).toEqual(m.ids.slice(0, consumedIds.length));
        expect(respondedIds).toEqual(consumedIds.slice(0, respondedIds.length));
      }),
      { numRuns: 300 },
    );
  });

  it('suppresses notifications while the consumer is busy (event index not advanced)', () => {
    const { sring, front, back } = rings(0xffff_fffe);
    for (let i = 0; i < 5; i++) front.advanceRequest();
    expect(front.pushRequestsAndCheckNotify()).toBe(true);
    // The back end has not re-armed req_event: further requests need no notification.
    for (let i = 0; i < 5; i++) front.advanceRequest();
    expect(front.pushRequestsAndCheckNotify()).toBe(false);
    while (back.unconsumedRequests() > 0) back.advanceRequest();
    expect(back.finalCheckForRequests()).toBe(false);
    expect(sring.reqEvent).toBe((0xffff_fffe + 11) >>> 0);
    front.advanceRequest();
    expect(front.pushRequestsAndCheckNotify()).toBe(true);
  });

  it('a back end detects a front end that publishes more requests than the ring holds', () => {
    const { sring, back } = rings(0xffff_ff00);
    sring.reqProd = (0xffff_ff00 + 257) >>> 0;
    expect(back.requestProdOverflow()).toBe(true);
    // And never consumes past the ring's capacity even so.
    expect(back.unconsumedRequests()).toBe(256);
  });

  it('a front end detects a back end that publishes more responses than requests', () => {
    const { sring, front } = rings(0xffff_fff0);
    sring.rspProd = (0xffff_fff0 + 300) >>> 0;
    expect(front.responseProdOverflow()).toBe(true);
  });
});
