// Internet checksum (RFC 1071) throughput: the partial sum over 64 B, 1500 B and 64 KiB
// buffers, reported as ops/s and GB/s (10^9 bytes per second), plus the RFC 1624 update.
import Benchmark from 'benchmark';
import { checksumPartial, internetChecksum, updateChecksum16 } from '@morgana/core';

const SIZES = [64, 1500, 65536] as const;
const buffers = SIZES.map((size) => {
  const bytes = new Uint8Array(size + 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  return bytes;
});

// Results go here so the engine cannot drop the calls as dead code.
let sink = 0;
const suite = new Benchmark.Suite('checksum');
SIZES.forEach((size, index) => {
  const bytes = buffers[index];
  suite.add(`checksumPartial ${size} B (aligned)`, () => {
    sink ^= checksumPartial(bytes, 0, size);
  });
  suite.add(`checksumPartial ${size} B (odd offset)`, () => {
    sink ^= checksumPartial(bytes, 1, size + 1);
  });
});
suite.add('internetChecksum 20 B (IPv4 header)', () => {
  sink ^= internetChecksum(buffers[0], 0, 20);
});
suite.add('updateChecksum16 (RFC 1624)', () => {
  sink ^= updateChecksum16(sink & 0xffff, 0x1234, 0x4321);
});

suite.on('cycle', (event: Benchmark.Event) => {
  const bench = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number } };
  const match = /(\d+) B/.exec(bench.name);
  const bytes = match === null ? 0 : Number(match[1]);
  const rate = bytes > 0 && !bench.name.includes('internetChecksum') ? `  ${((bench.hz * bytes) / 1e9).toFixed(2)} GB/s` : '';
  console.log(`${bench.name.padEnd(40)} ${Math.round(bench.hz).toLocaleString('en-US').padStart(14)} ops/s ±${bench.stats.rme.toFixed(1)}%${rate}`);
});
suite.on('complete', () => {
  if (sink === 0x1_0000_0000) console.log('unreachable');
});
suite.run();
