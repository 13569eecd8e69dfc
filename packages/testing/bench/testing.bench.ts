// How much testing a second buys: frames a simulated switch moves per second of real time,
// and samples per second the wire-format arbitraries and hostile arbitraries generate (to size
// `numRuns`). Prints ops/s and the derived frames/s or samples/s.
import { writeMac, writeU16 } from '@morgana/core';
import { SimulatedNetwork, VirtualClock, createSeededRandom } from '@morgana/testing';
import { arbDnsMessageBytes, arbHostileDnsMessage } from '@morgana/testing/dns';
import { arbHostileHttpRequest, arbHttpRequestBytes } from '@morgana/testing/http';
import { arbHostileTcp, arbTcpSegmentBytes } from '@morgana/testing/tcp';
import Benchmark from 'benchmark';
import fc from 'fast-check';

const FRAMES_PER_OP = 1000;
const SAMPLES_PER_OP = 100;

function switchedFrames(): () => void {
  const clock = new VirtualClock();
  const net = new SimulatedNetwork({ clock, random: createSeededRandom(1) });
  const a = net.attach({ name: 'a', link: { delay: 1, loss: 0.01, jitter: 2 } });
  const b = net.attach({ name: 'b' });
  let received = 0;
  b.listen(() => {
    received++;
  });
  return () => {
    for (let i = 0; i < FRAMES_PER_OP; i++) {
      a.write(60, (frame) => {
        writeMac(frame, 0, b.mac);
        writeMac(frame, 6, a.mac);
        writeU16(frame, 12, 0x88b5);
        return 60;
      });
    }
    clock.advance(10);
    if (received === 0) throw new Error('no frame arrived');
  };
}

let seed = 0;
const sampling = (arbitrary: fc.Arbitrary<unknown>) => (): void => {
  fc.sample(arbitrary, { numRuns: SAMPLES_PER_OP, seed: seed++ });
};

const derived: Record<string, [number, string]> = {};
const suite = new Benchmark.Suite('@morgana/testing');
suite.add('simulated switch, 60-byte frames, 1% loss, jitter', switchedFrames());
derived['simulated switch, 60-byte frames, 1% loss, jitter'] = [FRAMES_PER_OP, 'frames/s'];
for (const [name, arbitrary] of [
  ['arbDnsMessageBytes', arbDnsMessageBytes()],
  ['arbHostileDnsMessage', arbHostileDnsMessage()],
  ['arbTcpSegmentBytes', arbTcpSegmentBytes()],
  ['arbHostileTcp', arbHostileTcp()],
  ['arbHttpRequestBytes', arbHttpRequestBytes()],
  ['arbHostileHttpRequest', arbHostileHttpRequest()],
] as const) {
  suite.add(name, sampling(arbitrary));
  derived[name] = [SAMPLES_PER_OP, 'samples/s'];
}
suite
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number } };
    const [perOp, unit] = derived[bench.name];
    console.log(`${bench.name}: ${bench.hz.toFixed(1)} ops/s ±${bench.stats.rme.toFixed(1)}% = ${Math.round(bench.hz * perOp).toLocaleString('en')} ${unit}`);
  })
  .run();
