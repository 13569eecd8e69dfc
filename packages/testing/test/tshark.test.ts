// An independent decoder: tshark reads pcaps of generated samples and finds nothing malformed,
// so "valid by construction" means valid on the wire, not only to morgana's own codecs.
// OpenFlow is left out: its arbitraries carry opaque bodies (experimenter and unknown
// multipart bodies, error data) that the codec round-trips but tshark dissects as structures.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utf8Encode } from '@morgana/core';
import type { Ipv4Address, MacAddress } from '@morgana/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { arbDnsMessageBytes } from '../src/dns.js';
import { arbHttpRequestBytes } from '../src/http.js';
import { arbSshPacketBytes } from '../src/ssh.js';
import { XMPP_STREAM_HEADER, arbXmppStanzaBytes } from '../src/xmpp.js';
import { arbArpBytes, emitEthernetFrame } from '../src/ethernet.js';
import { arbIcmpBytes, emitIpv4Datagram } from '../src/ipv4.js';
import { writePcap } from '../src/pcap.js';
import { arbTcpSegment, emitTcpSegment } from '../src/tcp.js';
import type { TcpRepr } from '@morgana/tcp';
import { arbUdpDatagram, emitUdpDatagram } from '../src/udp.js';

const TSHARK = '/usr/bin/tshark';
const tsharkAvailable = existsSync(TSHARK);
if (!tsharkAvailable) {
  const reason = `tshark not found at ${TSHARK} (Debian package tshark)`;
  if (process.env.MORGANA_INTEROP === 'required') throw new Error(`MORGANA_INTEROP=required but ${reason}`);
  console.log(`skipping the tshark sample tests: ${reason}`);
}

const A = 0x0a000001 as Ipv4Address;
const B = 0x0a000002 as Ipv4Address;
/** The discard port (RFC 863): tshark decodes the payload as data, not as some protocol. */
const DISCARD = 9;

function ethernet(ethertype: number, payload: Uint8Array): Uint8Array {
  return emitEthernetFrame({ repr: { destination: 0x02_00_00_00_00_02 as MacAddress, source: 0x02_00_00_00_00_01 as MacAddress, ethertype, vlan: undefined }, payload });
}

function ipv4(protocol: number, payload: Uint8Array, source = A, destination = B): Uint8Array {
  const repr = { tos: 0, payloadLength: payload.length, identification: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol, source, destination, options: new Uint8Array(0) };
  return ethernet(0x0800, emitIpv4Datagram({ repr, payload }));
}

/** One direction of a TCP connection carrying `chunks` in order, one segment each (mid-stream: no handshake). */
function tcpStream(port: number, chunks: readonly Uint8Array[]): Uint8Array[] {
  let seq = 1000;
  return chunks.map((payload) => {
    const repr: TcpRepr = {
      sourcePort: 40000, destinationPort: port, seq, ack: 1, flags: 0x18, window: 65535, urgent: 0,
      mss: undefined, windowScale: undefined, sackPermitted: false, sackBlocks: [], tsVal: undefined, tsEcr: undefined, payload,
    };
    seq += payload.length;
    return ipv4(6, emitTcpSegment({ repr, source: A, destination: B }));
  });
}

const SAMPLES = 200;
const frames: { name: string; protocol: RegExp; frames: Uint8Array[] }[] = [
  { name: 'ARP', protocol: /^ARP$/, frames: fc.sample(arbArpBytes(), { numRuns: SAMPLES, seed: 1 }).map((arp) => ethernet(0x0806, arp)) },
  { name: 'ICMP', protocol: /^ICMP$/, frames: fc.sample(arbIcmpBytes(64), { numRuns: SAMPLES, seed: 2 }).map((icmp) => ipv4(1, icmp)) },
  {
    name: 'UDP',
    protocol: /^UDP$/,
    frames: fc.sample(arbUdpDatagram(200), { numRuns: SAMPLES, seed: 3 }).map((sample) =>
      ipv4(17, emitUdpDatagram({ ...sample, repr: { sourcePort: DISCARD, destinationPort: DISCARD } }), sample.source, sample.destination),
    ),
  },
  {
    name: 'TCP',
    protocol: /^TCP$/,
    frames: fc.sample(arbTcpSegment({ maxPayload: 100 }), { numRuns: SAMPLES, seed: 4 }).map((sample) =>
      ipv4(6, emitTcpSegment({ ...sample, repr: { ...sample.repr, sourcePort: DISCARD, destinationPort: DISCARD } }), sample.source, sample.destination),
    ),
  },
  {
    name: 'DNS',
    protocol: /^DNS$/,
    frames: fc.sample(arbDnsMessageBytes(), { numRuns: SAMPLES, seed: 5 }).map((message) => ipv4(17, emitUdpDatagram({ repr: { sourcePort: 53, destinationPort: 53 }, payload: message, source: A, destination: B }))),
  },
  { name: 'HTTP', protocol: /^HTTP$/, frames: tcpStream(80, fc.sample(arbHttpRequestBytes({ maxBody: 100 }), { numRuns: SAMPLES, seed: 6 })) },
  { name: 'SSH', protocol: /^SSH(v2)?$/, frames: tcpStream(22, [utf8Encode('SSH-2.0-morgana_test\r\n'), ...fc.sample(arbSshPacketBytes(), { numRuns: SAMPLES - 1, seed: 7 })]) },
  { name: 'XMPP', protocol: /^XMPP\/XML$/, frames: tcpStream(5222, [utf8Encode(XMPP_STREAM_HEADER), ...fc.sample(arbXmppStanzaBytes(), { numRuns: SAMPLES - 1, seed: 8 })]) },
];

describe.skipIf(!tsharkAvailable)('generated samples read by tshark', () => {
  const directory = mkdtempSync(join(tmpdir(), 'morgana-samples-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const tshark = (args: string[]): string => execFileSync(TSHARK, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });

  it('names the peer', () => {
    console.log(`peer: ${tshark(['--version']).split('\n')[0]}`);
  });

  for (const { name, protocol, frames: list } of frames) {
    it(`decodes ${SAMPLES} generated ${name} samples with no malformed packet and good checksums`, () => {
      const file = join(directory, `${name}.pcap`);
      writeFileSync(file, writePcap(list.map((data, index) => ({ timestampMicros: 1_000_000 * index, data }))));
      const rows = tshark(['-r', file, '-d', 'udp.port==9,data', '-d', 'tcp.port==9,data', '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', '_ws.malformed', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', 'tcp.checksum.status', '-e', 'icmp.checksum.status', '-e', '_ws.col.Protocol'])
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split('|'));
      expect(rows).toHaveLength(SAMPLES);
      // tshark really read them as the protocol (the discard port's are TCP and UDP).
      expect(rows.filter((row) => !protocol.test(row[6])).map((row) => row.join(' '))).toEqual([]);
      const bad = rows.filter(([, malformed, ...statuses]) => malformed !== '' || statuses.slice(0, 4).some((status) => status === '0' || status === '2'));
      expect(bad.map((row) => row.join(' '))).toEqual([]);
    });
  }
});
