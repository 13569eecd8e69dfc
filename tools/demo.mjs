// `pnpm start`: two morgana stacks on a simulated Ethernet switch ping each other, exchange UDP
// datagrams (one of them fragmented) and run a TCP echo, printing what happens and the
// counters of every layer. Time is a virtual clock driven as fast as the CPU allows, so the run
// is the same every time. Runs the built packages (`pnpm start` builds them first).
import { formatIpv4, formatMac, parseIpv4 } from '../packages/core/dist/index.js';
import { createDirectStack } from '../packages/stack/dist/index.js';
import { SimulatedNetwork, VirtualClock, createSeededRandom } from '../packages/testing/dist/index.js';

const clock = new VirtualClock();
const random = createSeededRandom(2026);
const network = new SimulatedNetwork({ clock, random: random.fork(), defaultLink: { delay: 0.5 } });

const alice = createDirectStack({ netif: network.attach({ name: 'alice' }), clock, random: random.fork(), ipv4: { address: '10.0.0.1/24' } });
const bob = createDirectStack({ netif: network.attach({ name: 'bob' }), clock, random: random.fork(), ipv4: { address: '10.0.0.2/24' } });
const ALICE = parseIpv4('10.0.0.1');
const BOB = parseIpv4('10.0.0.2');

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const log = (text) => console.log(`[t=${clock.now().toFixed(1).padStart(7)} ms] ${text}`);

/** Runs the virtual clock until `promise` settles. */
async function settle(promise, limitMs = 60_000) {
  let outcome;
  promise.then(
    (value) => (outcome = { value }),
    (error) => (outcome = { error }),
  );
  await clock.runUntil(() => outcome !== undefined, limitMs);
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

console.log('morgana demo: two stacks on a simulated switch (virtual time)\n');
log(`alice ${formatIpv4(ALICE)} (${formatMac(alice.netif.mac)}), bob ${formatIpv4(BOB)} (${formatMac(bob.netif.mac)})`);

// ICMP echo, both ways (the first one also resolves the neighbour through ARP).
for (const [name, stack, peer] of [['alice', alice, BOB], ['bob', bob, ALICE]]) {
  const reply = await settle(stack.icmp.ping(peer, { size: 56 }));
  log(`${name} pinged ${formatIpv4(peer)}: ${reply.size} bytes, ttl ${reply.ttl}, rtt ${reply.rtt.toFixed(1)} ms`);
}

// UDP: bob echoes datagrams back on port 7.
const echo = bob.udp.bind({ port: 7 });
echo.onMessage(({ data, address, port }) => echo.send(data, address, port));
const client = alice.udp.bind();
log(`alice bound UDP port ${client.localPort} (random ephemeral port)`);
for (const size of [5, 1472, 20_000]) {
  const data = size === 5 ? encoder.encode('hello') : new Uint8Array(size).map((_, i) => i & 0xff);
  client.send(data, BOB, 7);
  const back = await settle(client.receive());
  const same = back.data.length === data.length && back.data.every((byte, i) => byte === data[i]);
  const what = size === 5 ? `"${decoder.decode(back.data)}"` : `${back.data.length} bytes${size > 1472 ? ' (fragmented, reassembled)' : ''}`;
  log(`UDP echo of ${size} bytes from ${formatIpv4(back.address)}:${back.port}: ${what}, ${same ? 'identical' : 'DIFFERENT'}`);
  if (!same) process.exitCode = 1;
}

// A datagram to a closed port comes back as ICMP port unreachable.
client.onError((error) => log(`alice's UDP socket got ICMP type ${error.type} code ${error.code} from ${formatIpv4(error.address)}:${error.port} (${error.error.code})`));
client.send(encoder.encode('anyone?'), BOB, 9);
await clock.run(10);

// TCP echo on port 7.
const listener = bob.tcp.listen(7, {
  onConnection: async (flow) => {
    for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) await flow.write(chunk);
    await flow.close();
  },
});
const flow = await settle(alice.tcp.connect(BOB, 7));
log(`TCP connected ${formatIpv4(flow.localAddress)}:${flow.localPort} -> ${formatIpv4(flow.remoteAddress)}:${flow.remotePort}`);
const message = encoder.encode('hello over TCP, '.repeat(4096));
await settle(flow.write(message));
let received = 0;
while (received < message.length) {
  const chunk = await settle(flow.read());
  if (chunk === null) break;
  received += chunk.length;
}
const info = flow.info();
log(`TCP echoed ${received} of ${message.length} bytes; srtt ${info.srtt.toFixed(1)} ms, cwnd ${info.cwnd} bytes, ${info.retransmits} retransmits`);
if (received !== message.length) process.exitCode = 1;
await settle(flow.close());
listener.close();
log(`TCP connection closed (${flow.info().state})`);

console.log('\ncounters');
for (const [name, stack] of [['alice', alice], ['bob', bob]]) {
  console.log(`  ${name}`);
  console.log(`    netif     ${JSON.stringify(stack.netif.stats())}`);
  for (const layer of ['ethernet', 'arp', 'ipv4', 'icmp', 'udp', 'tcp']) {
    console.log(`    ${layer.padEnd(9)} ${JSON.stringify(stack[layer].stats())}`);
  }
}
console.log(`  switch      ${JSON.stringify(network.counters())}`);

await alice.close();
await bob.close();
console.log(process.exitCode ? '\ndemo FAILED' : '\ndemo finished');
