// Whole-stack benchmarks through the real layers (Ethernet → ARP → IPv4 → UDP), with a device
// that delivers prebuilt frames and swallows written ones:
// - receive: a 64-byte UDP datagram in an Ethernet frame, demultiplexed up to a socket's onMessage;
// - send: a 64-byte UDP datagram from a socket down to a frame (static ARP entry, no waiting).
import {
  type Fill,
  type FrameHandler,
  NO_OFFLOAD,
  type Netif,
  type NetifStats,
  type Random,
  emptyNetifStats,
  localMac,
  parseIpv4,
} from '@morgana/core';
import Benchmark from 'benchmark';
import { createDirectStack } from '../src/index.js';

const PAYLOAD = 64;

/** A device whose received frames come from the benchmark and whose written frames go nowhere. */
class BenchNetif implements Netif {
  readonly mtu = 1500;
  readonly offload = NO_OFFLOAD;
  onFrame: FrameHandler = () => undefined;
  onBatchEnd: () => void = () => undefined;
  /** The last frame written (a view of a reused buffer). */
  last: Uint8Array = new Uint8Array(0);
  written = 0;
  private readonly buffer = new Uint8Array(1514);
  constructor(readonly mac: ReturnType<typeof localMac>) {}
  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd ?? (() => undefined);
  }
  write(size: number, fill: Fill): boolean {
    this.last = this.buffer.subarray(0, fill(this.buffer.subarray(0, size)));
    this.written++;
    return true;
  }
  stats(): NetifStats {
    return emptyNetifStats();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Timers never fire during a benchmark run: nothing here waits. */
const clock = { now: () => performance.now(), wallTime: () => Date.now(), setTimer: () => ({ cancel: () => undefined }) };
let seed = 12345;
const random: Random = {
  uint32: () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0),
  fill: (bytes) => {
    for (let i = 0; i < bytes.length; i++) bytes[i] = random.uint32() & 0xff;
  },
};

const addressA = parseIpv4('10.0.0.1');
const addressB = parseIpv4('10.0.0.2');
const netifA = new BenchNetif(localMac(1));
const netifB = new BenchNetif(localMac(2));
const a = createDirectStack({ netif: netifA, clock, random, ipv4: { address: '10.0.0.1/24' } });
const b = createDirectStack({ netif: netifB, clock, random, ipv4: { address: '10.0.0.2/24' } });
a.arp.addStatic(addressB, netifB.mac);
b.arp.addStatic(addressA, netifA.mac);

// The frame to receive: what A's own stack writes for a datagram to B.
const sender = a.udp.bind({ port: 40000 });
sender.send(new Uint8Array(PAYLOAD).fill(0x61), addressB, 5353);
const frame = netifA.last.slice();

let received = 0;
const server = b.udp.bind({ port: 5353 });
server.onMessage((datagram) => {
  received += datagram.data.length;
});
const payload = new Uint8Array(PAYLOAD).fill(0x62);

const suite = new Benchmark.Suite('stack');
suite
  .add(`receive ${frame.length}-byte frame: Ethernet → IPv4 → UDP → onMessage`, () => {
    netifB.onFrame(frame);
  })
  .add(`send ${PAYLOAD}-byte UDP datagram: socket → UDP → IPv4 → ARP → Ethernet → device`, () => {
    sender.send(payload, addressB, 5353);
  })
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target;
    console.log(`${String(bench)}  => ${((bench.hz ?? 0) / 1e6).toFixed(2)} M frames/s`);
  })
  .on('complete', () => {
    if (received === 0 || netifA.written < 2) throw new Error('benchmark moved no traffic');
  })
  .run();
