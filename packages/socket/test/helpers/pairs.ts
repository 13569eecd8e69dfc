/** Two connected stacks of each kind, for tests that run the same scenario on both. */
import { type Ipv4Address, type Stack, createSystemClock, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { createDirectStack } from '@morgana/stack';
import { SimulatedNetwork, createSeededRandom } from '@morgana/testing';

export interface Pair {
  readonly server: Stack;
  readonly client: Stack;
  readonly serverAddress: Ipv4Address;
  /** A port to listen on: 0 where the stack picks one, a fixed one on a private simulated network. */
  readonly port: number;
  cleanup(): Promise<void>;
}

/** Two socket stacks on loopback. */
export function socketPair(): Pair {
  const server = createSocketStack();
  const client = createSocketStack();
  return {
    server,
    client,
    serverAddress: parseIpv4('127.0.0.1'),
    port: 0,
    cleanup: async () => {
      await Promise.all([server.close(), client.close()]);
    },
  };
}

/** Two direct stacks on a simulated switch, on the real clock. */
export function directPair(): Pair {
  const clock = createSystemClock();
  const random = createSeededRandom(11);
  const network = new SimulatedNetwork({ clock, random: random.fork() });
  const server = createDirectStack({ netif: network.attach({ name: 'server' }), clock, random: random.fork(), ipv4: { address: '10.0.0.1/24' } });
  const client = createDirectStack({ netif: network.attach({ name: 'client' }), clock, random: random.fork(), ipv4: { address: '10.0.0.2/24' } });
  return {
    server,
    client,
    serverAddress: parseIpv4('10.0.0.1'),
    port: 4433,
    cleanup: async () => {
      await Promise.all([server.close(), client.close()]);
    },
  };
}

export const pairs: readonly (readonly [string, () => Pair])[] = [
  ['the socket stack', socketPair],
  ['the direct stack on a simulated switch', directPair],
];
