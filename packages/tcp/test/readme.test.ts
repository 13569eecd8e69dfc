// The README's example, as a test: it must keep running and printing what the README says.
import { describe, expect, it } from 'vitest';
import { parseIpv4, parseIpv4Prefix, utf8Decode, utf8Encode } from '@morgana/core';
import { createArp, createEthernet } from '@morgana/ethif';
import { createIpv4 } from '@morgana/ipv4';
import { SimulatedNetwork, VirtualClock, createSeededRandom } from '@morgana/testing';
import { createTcp } from '../src/index.js';

describe('README example', () => {
  it('echoes over the simulated network and closes', async () => {
    const clock = new VirtualClock();
    const random = createSeededRandom(1);
    const network = new SimulatedNetwork({ clock, random, defaultLink: { delay: 1 } });
    function host(address: string) {
      const ethernet = createEthernet({ netif: network.attach() });
      const arp = createArp({ ethernet, clock, random });
      const ip = createIpv4({ ethernet, arp, clock, random }, { address: parseIpv4Prefix(address) });
      return createTcp({ ip, clock, random });
    }
    const server = host('10.0.0.2/24');
    const client = host('10.0.0.1/24');
    server.listen(7, {
      onConnection: async (flow) => {
        for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) await flow.write(chunk);
        await flow.close();
      },
    });
    const connecting = client.connect(parseIpv4('10.0.0.2'), 7);
    await clock.run(100);
    const flow = await connecting;
    await flow.write(utf8Encode('hello, morgana'));
    const reply = flow.read();
    await clock.run(100);
    expect(utf8Decode((await reply) as Uint8Array)).toBe('hello, morgana');
    expect([flow.info().state, flow.info().srtt]).toEqual(['ESTABLISHED', 5.75]);
    const closing = flow.close();
    await clock.run(100);
    await closing;
    expect(flow.info().state).toBe('TIME-WAIT');
  });
});
