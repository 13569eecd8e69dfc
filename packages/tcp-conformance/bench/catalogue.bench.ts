// The kit's own costs: building and parsing a tester frame (the per-segment work of every
// case), and a whole catalogue run against morgana in virtual time (what a CI job pays).
import { localMac } from '@morgana/core';
import type { Ipv4Address } from '@morgana/core';
import { TcpFlag } from '@morgana/tcp';
import type { TcpRepr } from '@morgana/tcp';
import Benchmark from 'benchmark';
import { buildSegmentFrame, catalogue, createMorganaTarget, parseFrame, runConformance } from '../src/index.js';

const addressing = { sourceMac: localMac(1), destinationMac: localMac(2), source: 0x0a000002 as Ipv4Address, destination: 0x0a000001 as Ipv4Address };
const repr: TcpRepr = {
  sourcePort: 40_000,
  destinationPort: 80,
  seq: 1_000_001,
  ack: 77,
  flags: TcpFlag.ack | TcpFlag.psh,
  window: 65_535,
  urgent: 0,
  mss: undefined,
  windowScale: undefined,
  sackPermitted: false,
  sackBlocks: [],
  tsVal: 1000,
  tsEcr: 2000,
  payload: new Uint8Array(1400).fill(0x61),
};
const frame = buildSegmentFrame({ repr }, addressing, 1);
let catalogueRuns = 0;

const suite = new Benchmark.Suite('tcp-conformance');
suite
  .add('build a 1400-byte segment frame (Ethernet + IPv4 + TCP with timestamps, checksums)', () => {
    buildSegmentFrame({ repr }, addressing, 1);
  })
  .add('parse a 1400-byte segment frame (checksum verified)', () => {
    parseFrame(frame);
  })
  .add(`run the whole catalogue (${catalogue.length} cases) against morgana in virtual time`, {
    defer: true,
    fn: async (deferred: { resolve(): void }) => {
      const target = createMorganaTarget();
      const report = await runConformance(target, { cases: catalogue });
      await target.close();
      if (report.summary.error !== 0) throw new Error('a case broke');
      catalogueRuns++;
      deferred.resolve();
    },
  })
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target;
    const hz = bench.hz ?? 0;
    const unit = String(bench.name).startsWith('run') ? `${(hz * catalogue.length).toFixed(0)} cases/s` : `${(hz / 1e3).toFixed(1)} k frames/s`;
    console.log(`${String(bench)}  => ${unit}`);
  })
  .on('complete', () => {
    if (catalogueRuns === 0) throw new Error('the catalogue never ran');
  })
  .run();
