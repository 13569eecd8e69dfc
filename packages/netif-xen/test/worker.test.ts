import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createSystemClock, createSystemRandom, parseIpv4, parseMac } from '@morgana/core';
import { createDirectStack } from '@morgana/stack';
import { SimulatedNetwork } from '@morgana/testing';
import { build } from 'tsup';
import { describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../src/grant.js';
import { createSimulatedVif } from '../src/netback.js';
import { startNetbackWorker } from '../src/netback-worker.js';
import { createNetfront } from '../src/netfront.js';
import { XenbusState } from '../src/xenbus-state.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';

/** Bundles the worker entry (TypeScript, importing this package's sources) into one .mjs file. */
async function bundleWorker(): Promise<URL> {
  const out = mkdtempSync(join(tmpdir(), 'netif-xen-worker-'));
  await build({
    entry: { 'netback-worker': fileURLToPath(new URL('./fixtures/netback-worker-entry.ts', import.meta.url)) },
    outDir: out,
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
  return pathToFileURL(join(out, 'netback-worker.mjs'));
}

describe('netback in a worker thread (shared memory rings, grants and event channels)', () => {
  it('carries ping, UDP and TCP between a guest stack on netfront and a peer on the simulator', async () => {
    const script = await bundleWorker();
    const clock = createSystemClock();
    const store = new XenstoreStore();
    const hv = new SimulatedHypervisor({ pages: 1024 });
    const dom0 = new XenstoreClient(connectInProcess(store, 0));
    await createSimulatedVif(dom0, { frontDomid: 1, mac: '02:00:00:00:00:01' });
    const network = new SimulatedNetwork({ clock, random: createSystemRandom() });
    const bridgePort = network.attach({ name: 'vif1.0', mtu: 9000 });
    const peerNetif = network.attach({ name: 'peer', mac: parseMac('02:00:00:00:00:10') });
    const netback = await startNetbackWorker({
      script,
      hypervisor: hv.layout,
      store,
      config: { frontDomid: 1 },
      output: (frame) => {
        bridgePort.write(frame.length, (b) => {
          b.set(frame);
          return frame.length;
        });
      },
    });
    bridgePort.listen((frame) => netback.input(frame.slice()));
    const peer = createDirectStack({ netif: peerNetif, clock, ipv4: { address: '10.0.0.1/24' } });
    const guestXs = new XenstoreClient(connectInProcess(store, 1));
    const front = await createNetfront({ xenstore: guestXs, grants: hv.grantTable(1), events: hv.eventChannels(1), clock }, { domid: 1 });
    const guest = createDirectStack({ netif: front, clock, ipv4: { address: '10.0.0.2/24' } });
    try {
      expect(store.peek('/local/domain/0/backend/vif/1/0/state')).toBe(String(XenbusState.Connected));
      const pong = await guest.icmp.ping(parseIpv4('10.0.0.1'), { size: 1000 });
      expect(pong.size).toBe(1000);

      const server = peer.udp.bind({ port: 7 });
      server.onMessage((d) => server.send(d.data, d.address, d.port));
      const client = guest.udp.bind();
      client.send(new Uint8Array([1, 2, 3, 4]), parseIpv4('10.0.0.1'), 7);
      expect((await client.receive()).data).toEqual(new Uint8Array([1, 2, 3, 4]));

      const listener = peer.tcp.listen(80);
      const accepted = listener.accept();
      const flow = await guest.tcp.connect(parseIpv4('10.0.0.1'), 80);
      const serverFlow = await accepted;
      const data = new Uint8Array(100_000).map((_, i) => (i * 13) & 0xff);
      const reading = (async () => {
        let n = 0;
        let ok = true;
        for (;;) {
          const chunk = await serverFlow.read();
          if (chunk === null) break;
          for (let i = 0; i < chunk.length; i++) if (chunk[i] !== ((n + i) * 13 & 0xff)) ok = false;
          n += chunk.length;
        }
        return { n, ok };
      })();
      await flow.write(data);
      await flow.shutdown();
      expect(await reading).toEqual({ n: data.length, ok: true });
      await Promise.all([flow.close(), serverFlow.close()]);
      listener.close();

      // The back end's thread goes away: the guest's xenbus follows it to Closed.
      await netback.close();
      for (let i = 0; i < 200 && front.xenbus.state !== XenbusState.Closed; i++) await new Promise((r) => setTimeout(r, 5));
      expect(front.xenbus.state).toBe(XenbusState.Closed);
    } finally {
      await guest.close();
      await peer.close();
      dom0.close();
      guestXs.close();
    }
  });
});
