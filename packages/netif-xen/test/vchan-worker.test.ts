/** vchan between two threads: the client end runs in a worker over the same shared memory. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'tsup';
import { describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../src/grant.js';
import { createVchanServer } from '../src/vchan.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';
import { CLIENT_DOMID, SERVER_DOMID, VCHAN_PATH, pattern, readAll, sameBytes } from './vchan-harness.js';

async function bundleEntry(): Promise<URL> {
  const dir = mkdtempSync(join(tmpdir(), 'netif-xen-vchan-worker-'));
  await build({
    entry: { 'vchan-worker': fileURLToPath(new URL('./vchan-worker-entry.ts', import.meta.url)) },
    outDir: dir,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    silent: true,
    dts: false,
    splitting: false,
    noExternal: [/.*/],
    outExtension: () => ({ js: '.mjs' }),
    esbuildOptions(options) {
      options.alias = { '@morgana/core': fileURLToPath(new URL('../../core/src/index.ts', import.meta.url)) };
    },
  });
  return pathToFileURL(join(dir, 'vchan-worker.mjs'));
}

describe('vchan across threads', () => {
  it('echoes 512 KiB through a client in a worker thread, byte for byte', async () => {
    const script = await bundleEntry();
    const hv = new SimulatedHypervisor({ pages: 64, grantEntries: 256, ports: 16 });
    const xenstore = new XenstoreClient(connectInProcess(new XenstoreStore(), 0));
    const server = await createVchanServer(
      { xenstore, grants: hv.grantTable(SERVER_DOMID), events: hv.eventChannels(SERVER_DOMID) },
      { path: VCHAN_PATH, peerDomid: CLIENT_DOMID, readMin: 8192, writeMin: 4096 },
    );
    const nodes = {
      [`${VCHAN_PATH}/ring-ref`]: await xenstore.read(`${VCHAN_PATH}/ring-ref`),
      [`${VCHAN_PATH}/event-channel`]: await xenstore.read(`${VCHAN_PATH}/event-channel`),
    };
    const worker = new Worker(script, { workerData: { layout: hv.layout, nodes, path: VCHAN_PATH, clientDomid: CLIENT_DOMID, serverDomid: SERVER_DOMID } });
    try {
      const echoed = new Promise<number>((resolve, reject) => {
        worker.once('message', (count: number) => resolve(count));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`vchan worker exited with code ${code}`)));
      });
      const data = pattern(512 * 1024, 5);
      const send = async (): Promise<void> => {
        for (let at = 0; at < data.length; at += 10_000) await server.write(data.subarray(at, at + 10_000));
        await server.shutdown();
      };
      const [, back, count] = await Promise.all([send(), readAll(server), echoed]);
      expect(count).toBe(data.length);
      expect(sameBytes(back, data)).toBe(true);
      await server.close();
    } finally {
      await worker.terminate();
    }
  }, 60_000);
});
