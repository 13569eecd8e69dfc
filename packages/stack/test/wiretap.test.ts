// The frames of the simulation scenarios (ARP, ping, UDP of many sizes with fragments, ICMP
// port unreachable, a DHCP exchange), written to a pcap and decoded by tshark as an
// independent decoder: it must find the expected packets and report no malformed packet and
// no bad checksum.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIpv4 } from '@morgana/core';
import { emitDhcp, parseDhcp } from '@morgana/dhcp';
import { SimulatedNetwork, VirtualClock, createSeededRandom, millisecondsToMicros, writePcap } from '@morgana/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { TestDhcpServer } from '../../dhcp/test/server.js';
import { createDhcpStack, createDirectStack } from '../src/index.js';
import { Tap, type TappedFrame, settle, simulate } from './helpers.js';

const TSHARK = '/usr/bin/tshark';
const required = process.env.MORGANA_INTEROP === 'required';
const available = existsSync(TSHARK);
if (!available) {
  const reason = `tshark not found at ${TSHARK} (Debian package tshark)`;
  if (required) throw new Error(`MORGANA_INTEROP=required but ${reason}`);
  console.log(`skipping the tshark wiretap test: ${reason}`);
}

/** Wall-clock origin of the capture's timestamps. */
const EPOCH_MS = Date.UTC(2026, 0, 1);

/** A pcap file of the frames, in order. */
function pcap(frames: readonly TappedFrame[]): Uint8Array {
  return writePcap(frames.map((frame) => ({ timestampMicros: millisecondsToMicros(EPOCH_MS + frame.time), data: frame.bytes })));
}

/** The frames of the scenarios, each as seen by one host's wiretap. */
async function capture(): Promise<TappedFrame[]> {
  const sim = simulate(2, { seed: 11 });
  const [a, b] = sim.stacks;
  await settle(sim.clock, a.icmp.ping(sim.address(1)));
  await settle(sim.clock, b.icmp.ping(sim.address(0), { size: 3000 }));
  const server = b.udp.bind({ port: 7 });
  server.onMessage((datagram) => server.send(datagram.data, datagram.address, datagram.port));
  const client = a.udp.bind();
  for (const size of [0, 1, 100, 1472, 1473, 4000, 65507]) {
    client.send(new Uint8Array(size).fill(size & 0xff), sim.address(1), 7);
    await settle(sim.clock, client.receive());
  }
  client.send(new Uint8Array(12), sim.address(1), 9);
  await sim.clock.run(100);
  const frames = [...sim.taps[0].frames];

  // A DHCP exchange, captured at the client.
  const clock = new VirtualClock({ start: sim.clock.now() + 1000 });
  const random = createSeededRandom(12);
  const network = new SimulatedNetwork({ clock, random: random.fork() });
  const serverAddress = parseIpv4('10.0.1.1');
  const serverStack = createDirectStack({ netif: network.attach(), clock, random: random.fork(), ipv4: { address: '10.0.1.1/24' } });
  const dhcp = new TestDhcpServer({ address: serverAddress, pool: [parseIpv4('10.0.1.50')], router: serverAddress, dnsServers: [serverAddress] });
  const socket = serverStack.udp.bind({ port: 67, broadcast: true });
  socket.onMessage((datagram) => {
    const reply = dhcp.handle(parseDhcp(datagram.data));
    if (reply !== undefined) socket.send(emitDhcp(reply.message), reply.destination, 68);
  });
  const tap = new Tap(network.attach(), () => clock.now());
  const stack = await settle(clock, createDhcpStack({ netif: tap, clock, random: random.fork(), dhcp: { hostName: 'morgana' } }));
  stack.dhcp.release();
  await clock.run(100);
  return [...frames, ...tap.frames];
}

describe.skipIf(!available)('wiretap decoded by tshark', () => {
  const directory = mkdtempSync(join(tmpdir(), 'morgana-wiretap-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('finds every packet well formed with good checksums', async () => {
    const frames = await capture();
    const file = join(directory, 'stack.pcap');
    writeFileSync(file, pcap(frames));
    const run = (args: string[]): string =>
      execFileSync(TSHARK, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    console.log(`peer: ${run(['--version']).split('\n')[0]}`);
    const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];

    // Nothing malformed, no bad checksum, no expert warning or error, in the full decode.
    const detail = run(['-r', file, ...checks, '-V']);
    expect(detail).not.toMatch(/Malformed Packet/);
    expect(detail).not.toMatch(/checksum status: Bad/i);
    expect(detail).not.toMatch(/Expert Info \((Error|Warning)\//);

    // And it saw what was sent, field by field.
    const names = [
      'frame.number', '_ws.malformed', '_ws.expert.severity', 'arp.opcode', 'icmp.type', 'icmp.code', 'udp.srcport', 'udp.dstport',
      'udp.length', 'ip.flags.mf', 'dhcp.option.dhcp', 'dhcp.flags.bc', 'dhcp.option.hostname',
    ] as const;
    const rows = run(['-r', file, ...checks, '-T', 'fields', ...names.flatMap((name) => ['-e', name])])
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => Object.fromEntries(line.split('\t').map((value, index) => [names[index], value])) as Record<(typeof names)[number], string>);
    const count = (predicate: (row: Record<(typeof names)[number], string>) => boolean): number => rows.filter(predicate).length;
    expect(rows).toHaveLength(frames.length);
    expect(count((row) => row['_ws.malformed'] !== '' || row['_ws.expert.severity'] !== '')).toBe(0);
    // ARP, both pings (the second one fragmented), every UDP datagram reassembled, the port
    // unreachable, and DISCOVER, OFFER, REQUEST, ACK, RELEASE.
    expect(count((row) => row['arp.opcode'] !== '')).toBeGreaterThanOrEqual(2);
    expect(count((row) => row['icmp.type'] === '8')).toBe(2);
    expect(count((row) => row['icmp.type'] === '0')).toBe(2);
    expect(count((row) => row['icmp.type'] === '3' && row['icmp.code'] === '3')).toBe(1);
    expect(count((row) => row['udp.dstport'] === '7' && row['ip.flags.mf'] !== '1')).toBe(7);
    expect(count((row) => row['udp.srcport'] === '7' && row['udp.length'] === '65515')).toBe(1);
    for (const type of ['1', '2', '3', '5', '7']) expect(count((row) => row['dhcp.option.dhcp'] === type)).toBe(1);
    expect(count((row) => row['dhcp.option.dhcp'] === '1' && row['dhcp.flags.bc'] === '1' && row['dhcp.option.hostname'] === 'morgana')).toBe(1);
    expect(frames.length).toBeGreaterThan(100);
  });
});
