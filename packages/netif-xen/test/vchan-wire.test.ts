import { DecodeError } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  VCHAN_GRANTS,
  VCHAN_LARGE_RING_ORDER,
  VCHAN_MAX_ORDER,
  VCHAN_PAGE_SIZE,
  VCHAN_SMALL_RING_ORDER,
  type VchanInterfaceRepr,
  emitVchanInterface,
  parseVchanInterface,
  vchanCheckOrders,
  vchanChooseOrders,
  vchanRingPages,
} from '../src/vchan-wire.js';

const validOrders = fc
  .tuple(fc.integer({ min: VCHAN_SMALL_RING_ORDER, max: VCHAN_MAX_ORDER }), fc.integer({ min: VCHAN_SMALL_RING_ORDER, max: VCHAN_MAX_ORDER }))
  .filter(([left, right]) => {
    try {
      vchanCheckOrders(left, right);
      return true;
    } catch {
      return false;
    }
  });

const repr: fc.Arbitrary<VchanInterfaceRepr> = validOrders.chain(([leftOrder, rightOrder]) => {
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
  const u8 = fc.integer({ min: 0, max: 0xff });
  const count = vchanRingPages(leftOrder) + vchanRingPages(rightOrder);
  return fc.record({
    leftCons: u32, leftProd: u32, rightCons: u32, rightProd: u32,
    leftOrder: fc.constant(leftOrder), rightOrder: fc.constant(rightOrder),
    cliLive: u8, srvLive: u8, cliNotify: u8, srvNotify: u8,
    grants: fc.array(u32, { minLength: count, maxLength: count }),
  });
});

describe('vchan control page (io/libxenvchan.h)', () => {
  it('parse(emit(repr)) is repr for every valid control page', () => {
    fc.assert(
      fc.property(repr, (value) => {
        const page = new Uint8Array(VCHAN_PAGE_SIZE);
        emitVchanInterface(value, page);
        expect(parseVchanInterface(page)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary page bytes parse or throw DecodeError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (head, left, right) => {
        const page = new Uint8Array(VCHAN_PAGE_SIZE);
        page.set(head);
        const view = new DataView(page.buffer);
        view.setUint16(16, left, true);
        view.setUint16(18, right, true);
        try {
          parseVchanInterface(page);
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a truncated page, equal in-page orders, orders out of range and a grant list reaching a ring', () => {
    expect(() => parseVchanInterface(new Uint8Array(100))).toThrow(DecodeError);
    expect(() => vchanCheckOrders(10, 10)).toThrow(/both rings/);
    expect(() => vchanCheckOrders(11, 11)).toThrow(/both rings/);
    expect(() => vchanCheckOrders(9, 11)).toThrow(/order/);
    expect(() => vchanCheckOrders(10, VCHAN_MAX_ORDER + 1)).toThrow(/order/);
    // 2^20 bytes = 256 pages per ring: 512 grants end at 24 + 2048, past the ring at 1024 or 2048.
    expect(() => vchanCheckOrders(VCHAN_SMALL_RING_ORDER, VCHAN_MAX_ORDER)).toThrow(/grant list/);
    expect(() => vchanCheckOrders(VCHAN_MAX_ORDER, VCHAN_MAX_ORDER)).not.toThrow();
    expect(VCHAN_GRANTS + 4 * 2 * vchanRingPages(VCHAN_MAX_ORDER)).toBeLessThanOrEqual(VCHAN_PAGE_SIZE);
    const page = new Uint8Array(VCHAN_PAGE_SIZE);
    const valid: VchanInterfaceRepr = { leftCons: 0, leftProd: 0, rightCons: 0, rightProd: 0, leftOrder: 12, rightOrder: 11, cliLive: 2, srvLive: 1, cliNotify: 1, srvNotify: 1, grants: [] };
    expect(() => emitVchanInterface(valid, page)).toThrow(/grant/);
  });

  it('picks ring orders as libxenvchan_server_init does', () => {
    expect(vchanChooseOrders(1024, 2048)).toEqual({ left: 10, right: 11 });
    expect(vchanChooseOrders(2048, 1024)).toEqual({ left: 11, right: 10 });
    expect(vchanChooseOrders(2000, 5000)).toEqual({ left: 11, right: 13 });
    expect(vchanChooseOrders(4097, 100)).toEqual({ left: 13, right: 11 });
    expect(vchanChooseOrders(4096, 4096)).toEqual({ left: 12, right: 12 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 1 << 20 }), (left, right) => {
        const orders = vchanChooseOrders(left, right);
        expect(2 ** orders.left).toBeGreaterThanOrEqual(left);
        expect(2 ** orders.right).toBeGreaterThanOrEqual(right);
        expect(() => vchanCheckOrders(orders.left, orders.right)).not.toThrow();
      }),
      { numRuns: 300 },
    );
    expect(VCHAN_LARGE_RING_ORDER).toBe(11);
  });
});
