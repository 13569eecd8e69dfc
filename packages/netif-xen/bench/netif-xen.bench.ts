// Xen netfront paths: the ring alone (a batch of 64 tx requests produced, consumed, answered
// and reaped with the notify checks), the xenstore codec, and frames through netfront → rings
// → simulated netback in one thread for two seconds, 60-byte and 1514-byte frames.
import Benchmark from 'benchmark';
import { createSystemClock } from '@morgana/core';
import {
  BackRing,
  FrontRing,
  SharedRing,
  SimulatedHypervisor,
  TX_SLOT_SIZE,
  XEN_PAGE_SIZE,
  XenstoreClient,
  XenstoreStore,
  XsMessageReader,
  XsType,
  connectInProcess,
  createNetfront,
  createSimulatedVif,
  encodeXsMessage,
  nulTerminated,
  readTxRequest,
  readTxResponse,
  startNetback,
  writeTxRequest,
  writeTxResponse,
} from '../src/index.js';

const BATCH = 64;
const RUN_MS = 2000;

function report(unitsPerOp: number, unit: string) {
  return (event: Benchmark.Event): void => {
    const bench = event.target as Benchmark.Target & { name: string; hz: number };
    console.log(`${bench.name}: ${Math.round(bench.hz * unitsPerOp).toLocaleString('en-US')} ${unit}/s (${Math.round(bench.hz).toLocaleString('en-US')} ops/s)`);
  };
}

function ringBench(): Promise<void> {
  const page = new Uint8Array(new SharedArrayBuffer(XEN_PAGE_SIZE));
  const sring = new SharedRing(page, TX_SLOT_SIZE);
  sring.init();
  const front = new FrontRing(sring);
  const back = new BackRing(sring);
  const request = { gref: 8, offset: 0, flags: 0, id: 0, size: 60 };
  return new Promise((resolve) => {
    new Benchmark.Suite('ring')
      .add(`tx ring round trip, batches of ${BATCH} requests`, () => {
        for (let i = 0; i < BATCH; i++) {
          request.id = i;
          writeTxRequest(page, front.nextRequestOffset(), request);
          front.advanceRequest();
        }
        front.pushRequestsAndCheckNotify();
        while (back.unconsumedRequests() > 0) {
          const r = readTxRequest(page, back.nextRequestOffset());
          back.advanceRequest();
          writeTxResponse(page, back.nextResponseOffset(), { id: r.id, status: 0 });
          back.advanceResponse();
        }
        back.pushResponsesAndCheckNotify();
        back.finalCheckForRequests();
        while (front.unconsumedResponses() > 0) {
          readTxResponse(page, front.nextResponseOffset());
          front.advanceResponse();
        }
        front.finalCheckForResponses();
      })
      .on('cycle', report(BATCH, 'requests'))
      .on('complete', () => resolve())
      .run({ async: true });
  });
}

function xsBench(): Promise<void> {
  const message = encodeXsMessage({ type: XsType.READ, reqId: 1, txId: 0, payload: nulTerminated('/local/domain/1/device/vif/0/state') });
  const reader = new XsMessageReader();
  return new Promise((resolve) => {
    new Benchmark.Suite('xenstore')
      .add('xs_wire encode + decode of a READ', () => {
        reader.push(encodeXsMessage({ type: XsType.READ, reqId: 1, txId: 0, payload: message.subarray(16) }));
      })
      .on('cycle', report(1, 'messages'))
      .on('complete', () => resolve())
      .run({ async: true });
  });
}

async function framesBench(frameLength: number): Promise<void> {
  const clock = createSystemClock();
  const store = new XenstoreStore();
  const hv = new SimulatedHypervisor({ pages: 1024 });
  const dom0 = new XenstoreClient(connectInProcess(store, 0));
  await createSimulatedVif(dom0, { frontDomid: 1, mac: '02:00:00:00:00:01' });
  let received = 0;
  const netback = await startNetback(
    { xenstore: new XenstoreClient(connectInProcess(store, 0)), mapper: hv.grantMapper(0), events: hv.eventChannels(0), bridge: { output: () => received++ } },
    { frontDomid: 1 },
  );
  const front = await createNetfront({ xenstore: new XenstoreClient(connectInProcess(store, 1)), grants: hv.grantTable(1), events: hv.eventChannels(1), clock }, { domid: 1 });
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < RUN_MS) {
    for (let i = 0; i < BATCH; i++) if (front.write(frameLength, () => frameLength)) sent++;
    // Let the back end's event channel wake-up run.
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - started) / 1000;
  const gbits = (received * frameLength * 8) / seconds / 1e9;
  console.log(`netfront → rings → netback, ${frameLength}-byte frames: ${Math.round(received / seconds).toLocaleString('en-US')} frames/s, ${gbits.toFixed(2)} Gbit/s (${sent} sent, ${received} received, ${front.stats().txDropped} dropped at a full ring)`);
  await front.close();
  await netback.close();
}

await ringBench();
await xsBench();
await framesBench(60);
await framesBench(1514);
process.exit(0);
