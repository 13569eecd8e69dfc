import { createSystemClock } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../src/grant.js';
import { RX_SLOT_SIZE, TX_SLOT_SIZE, writeTxRequest } from '../src/netif-wire.js';
import { createSimulatedVif, startNetback } from '../src/netback.js';
import { createNetfront } from '../src/netfront.js';
import { FrontRing, SharedRing } from '../src/ring.js';
import { XenbusState } from '../src/xenbus-state.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';

const BACKEND = '/local/domain/0/backend/vif/1/0';
const FRONTEND = '/local/domain/1/device/vif/0';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

/** A netfront whose back end is the test itself: it maps the rings and writes whatever it likes. */
async function frontWithHostileBackend() {
  const store = new XenstoreStore();
  const hv = new SimulatedHypervisor({ pages: 600 });
  const dom0 = new XenstoreClient(connectInProcess(store, 0));
  await createSimulatedVif(dom0, { frontDomid: 1, mac: '02:00:00:00:00:01' });
  await dom0.write(`${BACKEND}/feature-rx-copy`, '1');
  await dom0.write(`${BACKEND}/feature-sg`, '1');
  await dom0.write(`${BACKEND}/state`, String(XenbusState.InitWait));
  const guestXs = new XenstoreClient(connectInProcess(store, 1));
  const opening = createNetfront({ xenstore: guestXs, grants: hv.grantTable(1), events: hv.eventChannels(1), clock: createSystemClock() }, { domid: 1, rxBuffers: 16, closeTimeoutMs: 20 });
  while (store.peek(`${FRONTEND}/state`) !== String(XenbusState.Initialised)) await tick();
  const mapper = hv.grantMapper(0);
  const events = hv.eventChannels(0);
  const txPage = mapper.map(1, Number(store.peek(`${FRONTEND}/tx-ring-ref`)), true);
  const rxPage = mapper.map(1, Number(store.peek(`${FRONTEND}/rx-ring-ref`)), true);
  const port = events.bindInterdomain(1, Number(store.peek(`${FRONTEND}/event-channel`)));
  await dom0.write(`${BACKEND}/state`, String(XenbusState.Connected));
  const front = await opening;
  return { front, txPage, rxPage, notify: () => events.notify(port), close: async () => { await front.close().catch(() => undefined); dom0.close(); guestXs.close(); } };
}

describe('netfront against a hostile back end', () => {
  it('arbitrary rx/tx ring contents and producer indices never throw; the device counts drops or closes', async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown): void => {
      errors.push(error);
    };
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 64, maxLength: 512 }), fc.uint8Array({ minLength: 64, maxLength: 512 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }), async (rxBytes, txBytes, rxProd, txProd) => {
          const h = await frontWithHostileBackend();
          let frames = 0;
          h.front.listen(() => {
            frames += 1;
          });
          h.rxPage.set(rxBytes, 64);
          h.txPage.set(txBytes, 64);
          // A plausible producer index half the time, an arbitrary one otherwise.
          new SharedRing(h.rxPage, RX_SLOT_SIZE).rspProd = rxProd % 2 === 0 ? rxProd % 17 : rxProd;
          new SharedRing(h.txPage, TX_SLOT_SIZE).rspProd = txProd % 2 === 0 ? txProd % 5 : txProd;
          h.notify();
          await tick();
          await tick();
          h.front.write(60, (b) => b.length);
          const stats = h.front.stats();
          expect(frames).toBeLessThanOrEqual(stats.rxFrames);
          await h.close();
        }),
        { numRuns: 40 },
      );
    } finally {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    }
    expect(errors).toEqual([]);
  });

  it('closes the device when the back end claims more responses than requests (RING_RESPONSE_PROD_OVERFLOW)', async () => {
    const h = await frontWithHostileBackend();
    new SharedRing(h.rxPage, RX_SLOT_SIZE).rspProd = 1000;
    h.notify();
    for (let i = 0; i < 100 && h.front.xenbus.state !== XenbusState.Closing && h.front.xenbus.state !== XenbusState.Closed; i++) await tick();
    expect(h.front.counters()['rx-response-overflow']).toBe(1);
    expect([XenbusState.Closing, XenbusState.Closed]).toContain(h.front.xenbus.state);
    await h.close();
  });
});

describe('netback against a hostile front end', () => {
  it('arbitrary tx requests are answered with errors or frames and never throw', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gref: fc.integer({ min: 0, max: 3000 }), offset: fc.integer({ min: 0, max: 0xffff }), flags: fc.integer({ min: 0, max: 0xffff }), id: fc.integer({ min: 0, max: 0xffff }), size: fc.integer({ min: 0, max: 0xffff }) }), { minLength: 1, maxLength: 40 }),
        async (requests) => {
          const store = new XenstoreStore();
          const hv = new SimulatedHypervisor({ pages: 8 });
          const dom0 = new XenstoreClient(connectInProcess(store, 0));
          await createSimulatedVif(dom0, { frontDomid: 1, mac: '02:00:00:00:00:01' });
          let out = 0;
          const netback = await startNetback({ xenstore: dom0, mapper: hv.grantMapper(0), events: hv.eventChannels(0), bridge: { output: () => out++ } }, { frontDomid: 1 });
          const grants = hv.grantTable(1);
          const txPage = grants.allocatePage() as Uint8Array;
          const rxPage = grants.allocatePage() as Uint8Array;
          const tx = new SharedRing(txPage, TX_SLOT_SIZE);
          tx.init();
          new SharedRing(rxPage, RX_SLOT_SIZE).init();
          const front = new FrontRing(tx);
          for (const r of requests) {
            writeTxRequest(txPage, front.nextRequestOffset(), r);
            front.advanceRequest();
          }
          const events = hv.eventChannels(1);
          const port = events.allocUnbound(0);
          const guest = new XenstoreClient(connectInProcess(store, 1));
          await guest.write(`${FRONTEND}/tx-ring-ref`, String(grants.grantAccess(0, txPage, false)));
          await guest.write(`${FRONTEND}/rx-ring-ref`, String(grants.grantAccess(0, rxPage, false)));
          await guest.write(`${FRONTEND}/event-channel`, String(port));
          await guest.write(`${FRONTEND}/request-rx-copy`, '1');
          front.pushRequestsAndCheckNotify();
          await guest.write(`${FRONTEND}/state`, String(XenbusState.Initialised));
          for (let i = 0; i < 50 && netback.state() !== XenbusState.Connected; i++) await tick();
          expect(netback.state()).toBe(XenbusState.Connected);
          // Every complete chain got one response per slot; an unfinished chain's slots are answered as errors.
          expect(tx.rspProd).toBe(requests.length);
          expect(out).toBeLessThanOrEqual(requests.length);
          await netback.close();
          dom0.close();
          guest.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
