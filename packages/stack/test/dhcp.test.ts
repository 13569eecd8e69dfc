// A DHCP client stack and a DHCP server on another stack, on the simulated switch: the real
// layers carry the broadcast exchange of an unconfigured host.
import { type Ipv4Address, parseIpv4 } from '@morgana/core';
import { DhcpMessageType, emitDhcp, parseDhcp } from '@morgana/dhcp';
import { SimulatedNetwork, VirtualClock, createSeededRandom } from '@morgana/testing';
import { describe, expect, it } from 'vitest';
import { TestDhcpServer } from '../../dhcp/test/server.js';
import { createDhcpStack, createDirectStack } from '../src/index.js';
import { settle } from './helpers.js';

const SERVER = parseIpv4('10.0.0.1');

function network(seed: number, serverAddress: Ipv4Address = SERVER) {
  const clock = new VirtualClock();
  const random = createSeededRandom(seed);
  const net = new SimulatedNetwork({ clock, random: random.fork() });
  const serverStack = createDirectStack({ netif: net.attach({ name: 'server' }), clock, random: random.fork(), ipv4: { address: { address: serverAddress, length: 24 } } });
  const dhcp = new TestDhcpServer({ address: serverAddress, pool: ['10.0.0.50', '10.0.0.51'].map(parseIpv4), router: serverAddress, dnsServers: [serverAddress], leaseTime: 600 });
  const socket = serverStack.udp.bind({ port: 67, broadcast: true });
  socket.onMessage((datagram) => {
    const reply = dhcp.handle(parseDhcp(datagram.data));
    if (reply !== undefined) socket.send(emitDhcp(reply.message), reply.destination, 68);
  });
  return { clock, random, net, serverStack, dhcp };
}

describe('DHCP over the simulated network', () => {
  it('leases an address, after which the host answers pings and renews by unicast', async () => {
    const env = network(3);
    const stack = await settle(env.clock, createDhcpStack({ netif: env.net.attach({ name: 'client' }), clock: env.clock, random: env.random.fork() }));
    expect(stack.lease.address).toBe(parseIpv4('10.0.0.50'));
    expect(stack.ipv4.config()).toEqual({ address: { address: parseIpv4('10.0.0.50'), length: 24 }, gateway: SERVER });
    const rtt = await settle(env.clock, env.serverStack.icmp.ping(stack.lease.address));
    expect(rtt.ttl).toBe(64);

    let renewed = 0;
    stack.dhcp.on('renewed', () => renewed++);
    await env.clock.run(301_000);
    expect(renewed).toBe(1);
    const renewal = env.dhcp.received.at(-1);
    expect(renewal?.options.messageType).toBe(DhcpMessageType.request);
    expect(renewal?.ciaddr).toBe(stack.lease.address);
    await stack.close();
  });

  it('declines an address another host already uses and takes the next one', async () => {
    const env = network(4);
    // A squatter holds the first pool address without a lease.
    createDirectStack({ netif: env.net.attach({ name: 'squatter' }), clock: env.clock, random: env.random.fork(), ipv4: { address: '10.0.0.50/24' } });
    await env.clock.run(10_000);
    const stack = await settle(env.clock, createDhcpStack({ netif: env.net.attach({ name: 'client' }), clock: env.clock, random: env.random.fork() }));
    expect(stack.lease.address).toBe(parseIpv4('10.0.0.51'));
    expect(env.dhcp.declined.has(parseIpv4('10.0.0.50'))).toBe(true);
    expect(stack.dhcp.stats().declines).toBe(1);
  });

  it('rejects and closes when no server answers', async () => {
    const clock = new VirtualClock();
    const net = new SimulatedNetwork({ clock, random: createSeededRandom(5) });
    const netif = net.attach();
    await expect(settle(clock, createDhcpStack({ netif, clock, random: createSeededRandom(6), dhcp: { startTimeoutMs: 20_000 } }))).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(netif.write(60, () => 60)).toBe(false);
  });
});
