/**
 * A whole simulated Xen host for tests: xenstore, a shared-memory hypervisor, a netback in dom0
 * bridged to a simulated switch (@morgana/testing, real-time clock), and a morgana stack on the
 * switch as the guest's peer.
 */
import { createSystemClock, createSystemRandom, parseMac } from '@morgana/core';
import { type ComposedStack, createDirectStack } from '@morgana/stack';
import { SimulatedNetwork } from '@morgana/testing';
import { SimulatedHypervisor } from '../src/grant.js';
import { type Netback, type NetbackConfig, createSimulatedVif, startNetback } from '../src/netback.js';
import { type Netfront, type NetfrontConfig, createNetfront } from '../src/netfront.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';

export const GUEST = 1;
export const GUEST_MAC = '02:00:00:00:00:01';

export interface XenHost {
  readonly store: XenstoreStore;
  readonly hypervisor: SimulatedHypervisor;
  readonly dom0: XenstoreClient;
  readonly guestXs: XenstoreClient;
  readonly netback: Netback;
  readonly network: SimulatedNetwork;
  /** The peer stack on the switch (10.0.0.1). */
  readonly peer: ComposedStack;
  openNetfront(config?: Partial<NetfrontConfig>): Promise<Netfront>;
  close(): Promise<void>;
}

export async function createXenHost(options: { netback?: Partial<NetbackConfig> } = {}): Promise<XenHost> {
  const clock = createSystemClock();
  const store = new XenstoreStore();
  const hypervisor = new SimulatedHypervisor({ pages: 1024 });
  const dom0 = new XenstoreClient(connectInProcess(store, 0));
  const guestXs = new XenstoreClient(connectInProcess(store, GUEST));
  await createSimulatedVif(dom0, { frontDomid: GUEST, mac: GUEST_MAC });
  const network = new SimulatedNetwork({ clock, random: createSystemRandom() });
  const bridgePort = network.attach({ name: 'vif1.0', mac: parseMac('02:00:00:00:00:fe'), mtu: 9000 });
  const peerNetif = network.attach({ name: 'peer', mac: parseMac('02:00:00:00:00:10') });
  const backXs = new XenstoreClient(connectInProcess(store, 0));
  const netback = await startNetback(
    {
      xenstore: backXs,
      mapper: hypervisor.grantMapper(0),
      events: hypervisor.eventChannels(0),
      bridge: {
        output: (frame) => {
          bridgePort.write(frame.length, (buffer) => {
            buffer.set(frame);
            return frame.length;
          });
        },
      },
    },
    { frontDomid: GUEST, ...options.netback },
  );
  bridgePort.listen((frame) => {
    netback.input(frame);
  });
  const peer = createDirectStack({ netif: peerNetif, clock, ipv4: { address: '10.0.0.1/24' } });
  const fronts: Netfront[] = [];
  return {
    store,
    hypervisor,
    dom0,
    guestXs,
    netback,
    network,
    peer,
    openNetfront: async (config = {}) => {
      const front = await createNetfront(
        { xenstore: guestXs, grants: hypervisor.grantTable(GUEST), events: hypervisor.eventChannels(GUEST), clock },
        { domid: GUEST, ...config },
      );
      fronts.push(front);
      return front;
    },
    close: async () => {
      for (const front of fronts) await front.close();
      await netback.close();
      await peer.close();
      dom0.close();
      guestXs.close();
      backXs.close();
    },
  };
}
