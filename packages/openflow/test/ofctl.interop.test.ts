// The morgana switch managed by Open vSwitch's ovs-ofctl over its passive listener, with
// OpenFlow 1.0 and 1.3 (flows, counters, ports, tables, groups, port-mod), and driven by
// ovs-testcontroller's learning switch. Skipped without the peers; failed when
// MORGANA_INTEROP=required.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MacAddress } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { VirtualClock } from '@morgana/testing';
import { afterEach, expect, it } from 'vitest';
import { type OpenFlowSwitch, createOpenFlowSwitch, ipv4HeaderValid } from '@morgana/openflow';
import { describeInterop } from '../../../tools/interop.js';
import { collect, peerVersion, which } from '../../../tools/netns-helper.js';
import { RecordingNetif, ipv4Frame } from './netifs.js';

const A = 0x020000000001;
const B = 0x020000000002;
const C = 0x020000000003;

describeInterop('ovs-ofctl and ovs-testcontroller with the morgana switch', ['ovs-ofctl', 'ovs-testcontroller'], () => {
  const stack = createSocketStack();
  let sw: OpenFlowSwitch | undefined;
  afterEach(() => sw?.close());

  function start(datapathId: bigint): { ports: RecordingNetif[]; target: string; clock: VirtualClock } {
    const ports = [new RecordingNetif(A as MacAddress), new RecordingNetif(B as MacAddress), new RecordingNetif(C as MacAddress)];
    const clock = new VirtualClock();
    sw = createOpenFlowSwitch({ tcp: stack.tcp, clock, ports, datapathId, listenPort: 0, portNames: ['left', 'right', 'third'] });
    return { ports, target: `tcp:127.0.0.1:${sw.port}`, clock };
  }

  for (const version of ['OpenFlow10', 'OpenFlow13'] as const) {
    it(`adds, lists with counters, modifies and deletes flows; shows ports, port counters and tables; takes port-mod (${version})`, async () => {
      console.log(`managing the morgana switch with ${peerVersion(which('ovs-ofctl') as string)} (${version})`);
      const { ports, target } = start(0x42n);
      const run = async (...args: string[]): Promise<string> => {
        const result = await collect('ovs-ofctl', ['-O', version, ...args], 20_000);
        expect(result.code, `ovs-ofctl ${args.join(' ')}: ${result.stderr}`).toBe(0);
        return result.stdout;
      };
      const show = await run('show', target);
      expect(show).toMatch(/dpid:0000000000000042/);
      expect(show).toMatch(/n_tables:8/);
      expect(show).toMatch(/1\(left\): addr:02:00:00:00:00:01/);
      await run('add-flow', target, 'priority=10,in_port=1,dl_type=0x0800,nw_dst=10.0.0.0/8,actions=output:2');
      await run('add-flow', target, 'priority=20,udp,tp_dst=53,actions=drop');
      await run('add-flow', target, 'priority=30,ip,nw_src=10.9.9.9,actions=mod_nw_dst:192.168.1.1,mod_dl_dst:02:00:00:00:00:03,output:3');
      expect(sw?.table.size).toBe(3);

      const plain = ipv4Frame(B, A, 0x0a000001, 0x0a000002, 17, [1000, 80]);
      ports[0]?.inject(plain);
      ports[0]?.inject(ipv4Frame(B, A, 0x0a000001, 0x0a000002, 17, [1000, 53]));
      ports[0]?.inject(ipv4Frame(B, A, 0x0a090909, 0x0a000002, 17, [1000, 80]));
      expect(ports[1]?.sent).toEqual([plain]);
      const rewritten = ports[2]?.sent[0] as Uint8Array;
      expect(Array.from(rewritten.subarray(0, 6))).toEqual([2, 0, 0, 0, 0, 3]);
      expect(Array.from(rewritten.subarray(30, 34))).toEqual([192, 168, 1, 1]);
      expect(ipv4HeaderValid(rewritten)).toBe(true);

      const dump = await run('dump-flows', target);
      expect(dump).toMatch(/n_packets=1, n_bytes=42, .*priority=10,ip,in_port=1,nw_dst=10\.0\.0\.0\/8 actions=output:2/);
      expect(dump).toMatch(/n_packets=1, .*priority=20,udp,tp_dst=53 actions=drop/);
      expect(dump).toMatch(/n_packets=1, .*priority=30,ip,nw_src=10\.9\.9\.9 actions=(mod_nw_dst|set_field):192\.168\.1\.1/);
      await run('mod-flows', target, 'udp,tp_dst=53,actions=output:3');
      expect(await run('dump-flows', target)).toMatch(/n_packets=1, .*priority=20,udp,tp_dst=53 actions=output:3/);

      const counters = await run('dump-ports', target, '1');
      expect(counters).toMatch(/port +1: rx pkts=3, bytes=126/);
      const right = await run('dump-ports', target, '2');
      expect(right).toMatch(/tx pkts=1, bytes=42/);
      const tables = await run('dump-tables', target);
      expect(tables).toMatch(/table 0.*\n(.*\n)*.*active=3, lookup=3, matched=3/);

      await run('mod-port', target, 'right', 'down');
      expect(await run('show', target)).toMatch(/2\(right\): addr:02:00:00:00:00:02\n\s+config:\s+PORT_DOWN/);
      ports[0]?.inject(plain);
      expect(ports[1]?.sent).toHaveLength(1);
      await run('mod-port', target, 'right', 'up');

      await run('del-flows', target, 'udp');
      expect(sw?.table.size).toBe(2);
      await run('del-flows', target);
      expect(sw?.table.size).toBe(0);
    });
  }

  it('runs a multi-table pipeline, groups and meters set up with ovs-ofctl, and shows their statistics and features (OpenFlow 1.3)', async () => {
    const { ports, target } = start(0x44n);
    const run = async (...args: string[]): Promise<string> => {
      const result = await collect('ovs-ofctl', ['-O', 'OpenFlow13', ...args], 20_000);
      expect(result.code, `ovs-ofctl ${args.join(' ')}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    await run('add-group', target, 'group_id=1,type=all,bucket=output:2,bucket=output:3');
    await run('add-group', target, 'group_id=2,type=fast_failover,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3');
    await run('add-flow', target, 'table=0,priority=5,in_port=1,actions=write_metadata:0x7/0xff,goto_table:3');
    await run('add-flow', target, 'table=3,priority=5,metadata=0x7/0xff,ip,nw_dst=10.0.0.2,actions=group:1');
    await run('add-flow', target, 'table=3,priority=5,metadata=0x7/0xff,ip,nw_dst=10.0.0.3,actions=push_vlan:0x8100,set_field:4102->vlan_vid,group:2');
    const toGroup = ipv4Frame(B, A, 0x0a000001, 0x0a000002);
    ports[0]?.inject(toGroup);
    expect([ports[1]?.sent, ports[2]?.sent]).toEqual([[toGroup], [toGroup]]);
    ports[0]?.inject(ipv4Frame(C, A, 0x0a000001, 0x0a000003));
    const tagged = ports[1]?.sent[1] as Uint8Array;
    expect(Array.from(tagged.subarray(12, 16))).toEqual([0x81, 0x00, 0x00, 0x06]);
    // Port 2 down: the fast-failover group moves to its next live bucket.
    await run('mod-port', target, '2', 'down');
    ports[0]?.inject(ipv4Frame(C, A, 0x0a000001, 0x0a000003));
    expect(ports[2]?.sent).toHaveLength(2);
    const groups = await run('dump-groups', target);
    expect(groups).toMatch(/group_id=1,type=all,bucket=(bucket_id:\d+,)?actions=output:2,bucket=(bucket_id:\d+,)?actions=output:3/);
    expect(groups).toMatch(/group_id=2,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3/);
    const stats = await run('dump-group-stats', target);
    expect(stats).toMatch(/group_id=1,duration=[\d.]+s,ref_count=1,packet_count=1,byte_count=42/);
    expect(await run('dump-flows', target, 'table=3')).toMatch(/table=3, n_packets=1, n_bytes=42, priority=5,ip,metadata=0x7\/0xff,nw_dst=10\.0\.0\.2 actions=group:1/);
    await run('add-meter', target, 'meter=1,pktps,burst,band=type=drop,rate=1,burst_size=2');
    await run('add-flow', target, 'table=0,priority=9,in_port=3,actions=meter:1,output:1');
    for (let index = 0; index < 4; index += 1) ports[2]?.inject(toGroup);
    expect(ports[0]?.sent).toHaveLength(2);
    expect(await run('dump-meters', target)).toMatch(/meter=1 pktps burst bands=\s*\ntype=drop rate=1 burst_size=2/);
    expect(await run('meter-stats', target)).toMatch(/meter:1 flow_count:1 packet_in_count:4 byte_in_count:168 duration:[\d.]+s bands:\s*\n0: packet_count:2 byte_count:84/);
    expect(await run('meter-features', target)).toMatch(/band_types: drop/);
    expect(await run('dump-aggregate', target)).toMatch(/packet_count=10 byte_count=420 flow_count=4/);
    expect(await run('dump-table-features', target)).toMatch(/table 0 \("table0"\):[\s\S]*next tables: 1-7/);
    expect(await run('dump-group-features', target)).toMatch(/fast failover group:\s*\n\s*max_groups=0x100/);
    expect(await run('queue-stats', target)).toMatch(/0 queues/);
    await run('del-groups', target, 'group_id=1');
    // Deleting a group removes the flows that use it (1.3.x §6.5).
    expect(await run('dump-flows', target, 'table=3')).not.toMatch(/group:1/);
  });

  it('forwards frames for ovs-testcontroller: table miss, flood, then a learned flow', async () => {
    console.log(`driving the morgana switch with ${peerVersion(which('ovs-testcontroller') as string)}`);
    const { ports } = start(0x43n);
    const dir = mkdtempSync(join(tmpdir(), 'morgana-testcontroller-'));
    const child = spawn('ovs-testcontroller', ['-O', 'OpenFlow13', '--no-chdir', `--unixctl=${join(dir, 'ctl')}`, `--log-file=${join(dir, 'log')}`, `tcp:127.0.0.1:${sw?.port}`], { stdio: 'ignore' });
    try {
      const toB = ipv4Frame(B, A, 0x0a000001, 0x0a000002);
      const toA = ipv4Frame(A, B, 0x0a000002, 0x0a000001);
      const deadline = Date.now() + 20_000;
      // Until the controller is connected, misses go nowhere: keep sending until B sees a flood.
      while ((ports[1]?.sent.length ?? 0) === 0) {
        if (Date.now() > deadline) throw new Error('ovs-testcontroller never flooded the frame');
        ports[0]?.inject(toB);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // B answers: the controller now knows A's port and installs a flow toward it.
      const reachedA = (): boolean => ports[0]?.sent.some((frame) => frame.length === toA.length && frame.every((byte, index) => byte === toA[index])) ?? false;
      while ((sw?.table.size ?? 0) < 2 || !reachedA()) {
        if (Date.now() > deadline) throw new Error(`no flow toward A (${sw?.table.size} flows)`);
        ports[1]?.inject(toA);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(sw?.table.all().find((entry) => entry.match.ethDst === A), 'a flow matching eth_dst=A').toBeDefined();
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
