// Switch datapath benchmark: 64-byte UDP frames through the morgana switch's pipeline over
// in-memory ports (no I/O), with 1, 100 and 1 000 flows in table 0 (the hit is the last
// matching entry in priority order), a two-table pipeline (goto-table + action set), a rewrite
// of the IPv4 destination with checksum updates, and an ALL group of two buckets.
// Run: node tools/bench.mjs switch-datapath
import Benchmark from 'benchmark';
import { type FrameHandler, type MacAddress, NO_OFFLOAD, type Netif, type NetifStats, emptyNetifStats } from '@morgana/core';
import { VirtualClock } from '@morgana/testing';
import { type Action, Datapath, type Instruction, OFPG_ANY, OFPGT_ALL, OFPP_ANY } from '@morgana/openflow';

/** A port that counts what the switch writes and lets the benchmark deliver frames. */
class BenchPort implements Netif {
  readonly mtu = 1500;
  readonly offload = NO_OFFLOAD;
  sent = 0;
  private handler: FrameHandler | undefined;
  private readonly buffer = new Uint8Array(2048);
  constructor(readonly mac: MacAddress) {}
  listen(onFrame: FrameHandler): void { this.handler = onFrame; }
  write(size: number, fill: (buffer: Uint8Array) => number): boolean {
    fill(this.buffer.subarray(0, size));
    this.sent += 1;
    return true;
  }
  deliver(frame: Uint8Array): void { this.handler?.(frame); }
  stats(): NetifStats { return emptyNetifStats(); }
  async close(): Promise<void> {}
}

const FRAME = new Uint8Array(64);
FRAME.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 50, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xe8, 0, 53, 0, 30, 0, 0]);
const output = (port: number): Action => ({ type: 'output', port, maxLen: 0 });
const apply = (...actions: Action[]): Instruction => ({ type: 'apply-actions', actions });
const spec = { cookie: 0n, idleTimeout: 0, hardTimeout: 0, flags: 0 };

function datapath(): { dp: Datapath; ports: BenchPort[] } {
  const ports = [1, 2, 3].map((index) => new BenchPort((0x020000000000 + index) as MacAddress));
  const dp = new Datapath({ clock: new VirtualClock(), ports, maxFlows: 2_000, onPacketIn: () => undefined, onFlowRemoved: () => undefined });
  return { dp, ports };
}

/** Table 0 with `count` flows at descending priority, the frame hitting the last one. */
function withFlows(count: number): BenchPort[] {
  const { dp, ports } = datapath();
  for (let index = 1; index < count; index += 1) dp.tables[0]?.add({ ...spec, match: { ethType: 0x0800, ipv4Dst: 0x0b000000 + index }, priority: 1000 + index, instructions: [apply(output(3))] });
  dp.tables[0]?.add({ ...spec, match: { inPort: 1, ethType: 0x0800, ipv4Dst: 0x0a000002 }, priority: 1, instructions: [apply(output(2))] });
  return ports;
}

const oneFlow = withFlows(1);
const hundredFlows = withFlows(100);
const thousandFlows = withFlows(1_000);

const pipeline = datapath();
pipeline.dp.tables[0]?.add({ ...spec, match: { inPort: 1 }, priority: 1, instructions: [{ type: 'write-metadata', metadata: 1n, mask: 1n }, { type: 'goto-table', tableId: 1 }] });
pipeline.dp.tables[1]?.add({ ...spec, match: { ethType: 0x0800, ipv4Dst: 0x0a000002 }, priority: 1, instructions: [{ type: 'write-actions', actions: [output(2)] }] });

const rewrite = datapath();
rewrite.dp.tables[0]?.add({ ...spec, match: { inPort: 1 }, priority: 1, instructions: [apply({ type: 'set-field', field: 'ipv4Dst', value: 0x0a000003 }, { type: 'dec-nw-ttl' }, output(2))] });

const group = datapath();
group.dp.groups.add(1, OFPGT_ALL, [{ weight: 0, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [output(2)] }, { weight: 0, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [output(3)] }], 0);
group.dp.tables[0]?.add({ ...spec, match: { inPort: 1 }, priority: 1, instructions: [apply({ type: 'group', groupId: 1 })] });

const suite = new Benchmark.Suite('openflow switch datapath');
suite
  .add('1 flow, output', () => { oneFlow[0]?.deliver(FRAME); })
  .add('100 flows, output (hit last)', () => { hundredFlows[0]?.deliver(FRAME); })
  .add('1 000 flows, output (hit last)', () => { thousandFlows[0]?.deliver(FRAME); })
  .add('2 tables: write-metadata, goto, action set', () => { pipeline.ports[0]?.deliver(FRAME); })
  .add('set ipv4 dst + dec ttl (checksums), output', () => { rewrite.ports[0]?.deliver(FRAME); })
  .add('ALL group, 2 buckets', () => { group.ports[0]?.deliver(FRAME); })
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target as Benchmark.Target & { name: string; hz: number };
    console.log(`${String(event.target)} (${Math.round(bench.hz).toLocaleString()} frames/s, ${((bench.hz * FRAME.length * 8) / 1e9).toFixed(3)} Gbit/s of 64-byte frames)`);
  })
  .on('complete', () => {
    if ((oneFlow[1]?.sent ?? 0) === 0 || (rewrite.ports[1]?.sent ?? 0) === 0 || (group.ports[2]?.sent ?? 0) === 0 || (pipeline.ports[1]?.sent ?? 0) === 0) throw new Error('a datapath did not forward');
  })
  .run();
