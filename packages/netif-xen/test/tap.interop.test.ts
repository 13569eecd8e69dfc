/**
 * Netfront → rings → simulated netback → TAP device → the Linux kernel in a test namespace:
 * the kernel pings a morgana stack whose only device is netfront, and exchanges UDP with it.
 */
import { existsSync } from 'node:fs';
import { createSystemClock } from '@morgana/core';
import { openTap } from '@morgana/netif-tap';
import { type ComposedStack, createDirectStack } from '@morgana/stack';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { type TestNetns, createTestNetns, peerVersion } from '../../../tools/netns-helper.js';
import { addonPath } from '../../netif-tap/src/native.js';
import { SimulatedHypervisor } from '../src/grant.js';
import { type Netback, createSimulatedVif, startNetback } from '../src/netback.js';
import { createNetfront } from '../src/netfront.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';

const KERNEL = '10.78.0.1';
const OURS = '10.78.0.2';

function addonMissing(): string | undefined {
  const path = addonPath();
  return existsSync(path) ? undefined : `the TAP native addon is not built (${path})`;
}

describeInterop(
  `netfront bridged through a simulated netback to a TAP device, against Linux (${peerVersion('ping', ['-V'])}, ${peerVersion('socat', ['-V'])})`,
  ['ping', 'socat'],
  () => {
    let ns: TestNetns;
    let stack: ComposedStack;
    let netback: Netback;
    const clients: XenstoreClient[] = [];
    let closeTap: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ns = await createTestNetns({ address: `${KERNEL}/24` });
      const tap = await openTap({ name: ns.device, netns: ns.name });
      const store = new XenstoreStore();
      const hv = new SimulatedHypervisor();
      const dom0 = new XenstoreClient(connectInProcess(store, 0));
      const guestXs = new XenstoreClient(connectInProcess(store, 1));
      clients.push(dom0, guestXs);
      await createSimulatedVif(dom0, { frontDomid: 1, mac: '02:00:00:00:00:21' });
      netback = await startNetback(
        {
          xenstore: dom0,
          mapper: hv.grantMapper(0),
          events: hv.eventChannels(0),
          bridge: {
            output: (frame) => {
              tap.write(frame.length, (buffer) => {
                buffer.set(frame);
                return frame.length;
              });
            },
          },
        },
        { frontDomid: 1 },
      );
      tap.listen((frame) => {
        netback.input(frame);
      });
      const front = await createNetfront({ xenstore: guestXs, grants: hv.grantTable(1), events: hv.eventChannels(1), clock: createSystemClock() }, { domid: 1 });
      stack = createDirectStack({ netif: front, ipv4: { address: `${OURS}/24`, gateway: KERNEL } });
      closeTap = () => tap.close();
    });

    afterAll(async () => {
      await stack?.close();
      await netback?.close();
      await closeTap?.();
      for (const c of clients) c.close();
      await ns?.destroy();
    });

    it('answers ping from the kernel, small and fragmented', async () => {
      const ping = await ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', OURS]);
      expect(ping.stdout).toContain('3 packets transmitted, 3 received');
      const large = await ns.exec('ping', ['-c', '2', '-i', '0.3', '-W', '3', '-s', '8000', OURS]);
      expect(large.stdout).toContain('2 received');
    });

    it('echoes UDP from a kernel socket', async () => {
      const socket = stack.udp.bind({ port: 7 });
      socket.onMessage((d) => socket.send(d.data, d.address, d.port));
      const reply = await ns.exec('sh', ['-c', `printf 'hello xen' | socat -t 0.5 - UDP:${OURS}:7`]);
      expect(reply.stdout).toBe('hello xen');
      socket.close();
    });
  },
  addonMissing,
);
