import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesEqual, type Netif } from '@morgana/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createLinkPair,
  createPcapCollector,
  createSeededRandom,
  createWiretap,
  millisecondsToMicros,
  readPcap,
  VirtualClock,
} from '../src/index.js';
import { createPcapFileSink, writePcapFile } from '../src/node.js';
import { simulateTraffic, type Send } from './traffic.js';

function send(netif: Netif, bytes: Uint8Array): boolean {
  return netif.write(bytes.length, (buffer) => {
    buffer.set(bytes);
    return bytes.length;
  });
}

describe('wiretap', () => {
  it('records both directions with the clock wall time and forwards everything', () => {
    const clock = new VirtualClock();
    const [a, b] = createLinkPair(clock, createSeededRandom(1), { delay: 2.5 });
    const collector = createPcapCollector();
    const tap = createWiretap(a, { clock, sink: collector.sink });
    const got: Uint8Array[] = [];
    tap.listen((frame) => got.push(frame.slice()));
    b.listen((frame) => send(b, frame));
    const frame = new Uint8Array(60).fill(7);
    expect(send(tap, frame)).toBe(true);
    clock.advance(10);
    expect(got).toEqual([frame]);
    expect(tap.recorded).toBe(2);
    expect(tap.mac).toBe(a.mac);
    expect(tap.mtu).toBe(a.mtu);
    expect(tap.stats()).toEqual(a.stats());
    const records = readPcap(collector.bytes()).records;
    expect(records.map((r) => r.timestampMicros)).toEqual([0, 5].map((ms) => millisecondsToMicros(clock.wallTime() - 10 + ms)));
    expect(records.every((r) => bytesEqual(r.data, frame))).toBe(true);
  });

  it('records only frames the device accepted', () => {
    const clock = new VirtualClock();
    const [a] = createLinkPair(clock, createSeededRandom(1));
    const collector = createPcapCollector();
    const tap = createWiretap(a, { clock, sink: collector.sink });
    expect(send(tap, new Uint8Array(2000))).toBe(false);
    expect(tap.recorded).toBe(0);
    expect(readPcap(collector.bytes()).records).toEqual([]);
  });

  it('records one direction when asked', () => {
    const clock = new VirtualClock();
    const [a, b] = createLinkPair(clock, createSeededRandom(1));
    const collector = createPcapCollector();
    const tap = createWiretap(a, { clock, sink: collector.sink, direction: 'receive' });
    tap.listen(() => {});
    send(tap, new Uint8Array(60));
    send(b, new Uint8Array(61));
    clock.tick();
    expect(readPcap(collector.bytes()).records.map((r) => r.data.length)).toEqual([61]);
  });

  it('cuts recorded frames to snapLength and keeps their original length', () => {
    const clock = new VirtualClock();
    const [a] = createLinkPair(clock, createSeededRandom(1));
    const collector = createPcapCollector();
    const tap = createWiretap(a, { clock, sink: collector.sink, snapLength: 40 });
    send(tap, new Uint8Array(100).fill(3));
    const file = readPcap(collector.bytes());
    expect(file.header.snapLength).toBe(40);
    expect(file.records.map((r) => [r.data.length, r.originalLength])).toEqual([[40, 100]]);
  });

  it('closes the tapped device', async () => {
    const clock = new VirtualClock();
    const [a] = createLinkPair(clock, createSeededRandom(1));
    const tap = createWiretap(a, { clock, sink: () => {} });
    await tap.close();
    expect(send(a, new Uint8Array(60))).toBe(false);
  });
});

const lossy = { loss: 0.1, duplicate: 0.05, reorder: 0.1, reorderDelay: 3, delay: 1, jitter: 2, bandwidth: 100_000_000, queueLimit: 8 };
const sendArb: fc.Arbitrary<Send> = fc.record({
  from: fc.nat(3),
  to: fc.oneof(fc.nat(3), fc.constant('broadcast' as const)),
  at: fc.integer({ min: 0, max: 500 }),
  size: fc.integer({ min: 0, max: 1472 }),
});

describe('same seed, same trace', () => {
  it('gives byte-identical pcaps for the same seed and traffic', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(sendArb, { minLength: 1, maxLength: 60 }), (seed, sends) => {
        const first = simulateTraffic(seed, 4, sends, lossy);
        const second = simulateTraffic(seed, 4, sends, lossy);
        expect(first.pcaps.length).toBe(4);
        for (let i = 0; i < 4; i++) expect(bytesEqual(first.pcaps[i], second.pcaps[i])).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('gives different pcaps for different seeds', () => {
    const sends: Send[] = Array.from({ length: 200 }, (_, i) => ({ from: i % 4, to: (i * 7 + 1) % 4, at: i, size: 100 + i }));
    fc.assert(
      fc.property(fc.integer(), fc.integer(), (seedA, seedB) => {
        fc.pre(seedA !== seedB);
        const a = simulateTraffic(seedA, 4, sends, lossy).pcaps;
        const b = simulateTraffic(seedB, 4, sends, lossy).pcaps;
        expect(a.some((pcap, i) => !bytesEqual(pcap, b[i]))).toBe(true);
      }),
      { numRuns: 10 },
    );
  });
});

const TSHARK = '/usr/bin/tshark';
const tsharkAvailable = existsSync(TSHARK);
if (!tsharkAvailable) {
  const reason = `tshark not found at ${TSHARK} (Debian package tshark)`;
  if (process.env.MORGANA_INTEROP === 'required') throw new Error(`MORGANA_INTEROP=required but ${reason}`);
  console.log(`skipping the tshark pcap tests: ${reason}`);
}

describe.skipIf(!tsharkAvailable)('pcap files read by tshark', () => {
  const directory = mkdtempSync(join(tmpdir(), 'morgana-pcap-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const tshark = (args: string[]): string =>
    execFileSync(TSHARK, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];

  it('decodes every recorded frame of a lossy simulation, well formed with good checksums', () => {
    console.log(`peer: ${tshark(['--version']).split('\n')[0]}`);
    const sends: Send[] = Array.from({ length: 120 }, (_, i) => ({
      from: i % 3,
      to: i % 10 === 0 ? 'broadcast' : (i + 1) % 3,
      at: i * 2,
      size: (i * 37) % 1473,
    }));
    const result = simulateTraffic(5, 3, sends, lossy);
    const file = join(directory, 'host0.pcap');
    const sink = createPcapFileSink(file);
    sink.sink(result.pcaps[0]);
    sink.close();
    sink.close();
    expect(bytesEqual(readFileSync(file), result.pcaps[0])).toBe(true);

    const detail = tshark(['-r', file, ...checks, '-V']);
    expect(detail).not.toMatch(/Malformed Packet/);
    expect(detail).not.toMatch(/checksum status: Bad/i);
    expect(detail).not.toMatch(/Expert Info \((Error|Warning)\//);
    const rows = tshark(['-r', file, ...checks, '-T', 'fields', '-e', 'frame.number', '-e', '_ws.malformed', '-e', 'udp.dstport', '-e', 'udp.length'])
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('\t'));
    expect(rows).toHaveLength(result.recorded[0]);
    expect(result.recorded[0]).toBeGreaterThan(50);
    expect(rows.every((row) => row[1] === '' && row[2] === '9')).toBe(true);
  });

  it('reads a file from writePcapFile with the expected frame count and timestamps', () => {
    const clock = new VirtualClock();
    const collector = createPcapCollector();
    const [a, b] = createLinkPair(clock, createSeededRandom(2), { delay: 0.25 });
    const tap = createWiretap(b, { clock, sink: collector.sink });
    tap.listen(() => {});
    const result = simulateTraffic(9, 2, [{ from: 0, to: 1, at: 0, size: 10 }], {});
    const udp = readPcap(result.pcaps[0]).records[0].data;
    for (let i = 0; i < 25; i++) {
      send(a, udp);
      clock.advance(1.5);
    }
    const records = readPcap(collector.bytes()).records;
    const file = join(directory, 'pair.pcap');
    writePcapFile(file, records);
    const times = tshark(['-r', file, ...checks, '-T', 'fields', '-e', 'frame.time_epoch', '-e', '_ws.malformed', '-e', '_ws.expert.severity'])
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('\t'));
    expect(times).toHaveLength(25);
    expect(times.every((row) => row[1] === '' && row[2] === '')).toBe(true);
    const epoch = Date.UTC(2026, 0, 1) / 1000;
    expect(times.map((row) => Math.round((Number(row[0]) - epoch) * 1e6))).toEqual(records.map((r) => r.timestampMicros - epoch * 1e6));
    expect(Number(times[1][0]) - Number(times[0][0])).toBeCloseTo(0.0015, 6);
  });
});
