// UDP layer micro-benchmarks: receive demultiplexing (checksum verified, socket lookup, the
// onMessage fast path) and send (header and checksum written in place), against an IP layer
// that does nothing but hand over bytes.
import {
  type Counters,
  type Fill,
  type IcmpErrorInfo,
  type Ip,
  type IpHandler,
  type IpReceiveInfo,
  type Ipv4Address,
  type Random,
  parseIpv4,
} from '@morgana/core';
import Benchmark from 'benchmark';
import { createUdp, emitUdp } from '../src/index.js';

const LOCAL = parseIpv4('10.0.0.1');
const REMOTE = parseIpv4('10.0.0.2');
const PAYLOAD = 64;

/** An IP layer whose write fills one reused buffer, and which keeps UDP's receive handler. */
class BenchIp implements Ip {
  readonly txChecksumOffload = false;
  handler: IpHandler = () => undefined;
  private readonly buffer = new Uint8Array(65535);
  address(): Ipv4Address {
    return LOCAL;
  }
  register(_protocol: number, handler: IpHandler): void {
    this.handler = handler;
  }
  onIcmpError(_protocol: number, _handler: (error: IcmpErrorInfo) => void): void {}
  write(_destination: Ipv4Address, _protocol: number, size: number, fill: Fill): boolean {
    fill(this.buffer.subarray(0, size));
    return true;
  }
  mtu(): number {
    return 1480;
  }
  sourceFor(): Ipv4Address {
    return LOCAL;
  }
  stats(): Counters {
    return {};
  }
}

let state = 1;
const random: Random = {
  uint32: () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0),
  fill: (bytes) => bytes.fill(7),
};

const ip = new BenchIp();
const udp = createUdp({ ip, random });
// A few hundred bound sockets, so the lookup is not a one-entry map.
for (let port = 1000; port < 1300; port++) udp.bind({ port });
const server = udp.bind({ port: 5353 });
let received = 0;
server.onMessage((datagram) => {
  received += datagram.data.length;
});
const datagram = emitUdp({ sourcePort: 40000, destinationPort: 5353 }, new Uint8Array(PAYLOAD).fill(0x61), REMOTE, LOCAL);
const info: IpReceiveInfo = {
  source: REMOTE,
  destination: LOCAL,
  protocol: 17,
  ttl: 64,
  tos: 0,
  broadcast: false,
  datagram,
  checksumVerified: false,
};
const client = udp.bind();
const payload = new Uint8Array(PAYLOAD).fill(0x62);

const suite = new Benchmark.Suite('udp');
suite
  .add(`demux ${PAYLOAD}-byte datagram (checksum + lookup + onMessage)`, () => {
    ip.handler(datagram, info);
  })
  .add(`send ${PAYLOAD}-byte datagram (header + checksum)`, () => {
    client.send(payload, REMOTE, 5353);
  })
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target;
    const hz = bench.hz ?? 0;
    console.log(`${String(bench)}  => ${(hz / 1e6).toFixed(2)} M datagrams/s`);
  })
  .on('complete', () => {
    if (received === 0) throw new Error('benchmark delivered nothing');
  })
  .run();
