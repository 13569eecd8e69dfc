// The morgana switch managed by Open vSwitch's ovs-ofctl (OpenFlow 1.3, passive TCP), and driven
// by ovs-testcontroller's learning switch. With ovs-ofctl: flows
// added, used, listed with counters and deleted. Needs Debian's openvswitch-common
// (ovs-ofctl); skipped with a reason without it, failed when MORGANA_INTEROP=required.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MacAddress } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { VirtualClock } from '@morgana/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type OpenFlowSwitch, createOpenFlowSwitch } from '@morgana/openflow';
import { collect, peerVersion } from '../../../tools/netns-helper.js';
import { RecordingNetif, ipv4Frame } from './netifs.js';

const testController = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin'].map((dir) => join(dir, 'ovs-testcontroller')).find((path) => existsSync(path));
const ofctl = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin'].map((dir) => join(dir, 'ovs-ofctl')).find((path) => existsSync(path));
const required = process.env.MORGANA_INTEROP === 'required';
if (ofctl === undefined) console.log('skipping ovs-ofctl interop: needs ovs-ofctl (apt-get install openvswitch-common)');
else console.log(`managing the morgana switch with ${peerVersion(ofctl)}`);
if (testController === undefined) console.log('skipping ovs-testcontroller interop: needs ovs-testcontroller (apt-get install openvswitch-testcontroller)');
else console.log(`driving the morgana switch with ${peerVersion(testController)}`);

const A = 0x020000000001;
const B = 0x020000000002;

describe.skipIf(ofctl === undefined && !required)('ovs-ofctl managing the morgana switch', () => {
  const stack = createSocketStack();
  let sw: OpenFlowSwitch | undefined;
  afterEach(() => sw?.close());

  async function run(...args: string[]): Promise<string> {
    const result = await collect(ofctl as string, ['-O', 'OpenFlow13', ...args], 20_000);
    expect(result.code, `ovs-ofctl ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  }

  it('adds, lists with counters, and deletes flows; shows the ports', async () => {
    expect(ofctl, 'ovs-ofctl is missing').toBeDefined();
    const ports = [new RecordingNetif(A as MacAddress), new RecordingNetif(B as MacAddress)];
    sw = createOpenFlowSwitch({ tcp: stack.tcp, clock: new VirtualClock(), ports, datapathId: 0x42n, listenPort: 0 });
    const target = `tcp:127.0.0.1:${sw.port}`;
    const show = await run('show', target);
    expect(show).toMatch(/dpid:0000000000000042/);
    expect(show).toMatch(/port1/);
    await run('add-flow', target, 'priority=10,in_port=1,dl_type=0x0800,nw_dst=10.0.0.0/8,actions=output:2');
    await run('add-flow', target, 'priority=20,udp,tp_dst=53,actions=drop');
    expect(sw.table.size).toBe(2);
    const frame = ipv4Frame(B, A, 0x0a000001, 0x0a000002, 17, [1000, 80]);
    ports[0]?.inject(frame);
    expect(ports[1]?.sent).toEqual([frame]);
    const dump = await run('dump-flows', target);
    expect(dump).toMatch(/n_packets=1, n_bytes=42, priority=10,ip,in_port=1,nw_dst=10\.0\.0\.0\/8 actions=output:2/);
    expect(dump).toMatch(/priority=20,udp,tp_dst=53 actions=drop/);
    await run('del-flows', target, 'udp');
    expect(sw.table.size).toBe(1);
    await run('del-flows', target);
    expect(sw.table.size).toBe(0);
  });

  it.skipIf(testController === undefined && !required)('forwards frames for ovs-testcontroller: table miss, flood, then a learned flow', async () => {
    expect(testController, 'ovs-testcontroller is missing (apt-get install openvswitch-testcontroller)').toBeDefined();
    const ports = [new RecordingNetif(A as MacAddress), new RecordingNetif(B as MacAddress)];
    sw = createOpenFlowSwitch({ tcp: stack.tcp, clock: new VirtualClock(), ports, datapathId: 0x43n, listenPort: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'morgana-testcontroller-'));
    const child = spawn(testController as string, ['-O', 'OpenFlow13', '--no-chdir', `--unixctl=${join(dir, 'ctl')}`, `--log-file=${join(dir, 'log')}`, `tcp:127.0.0.1:${sw.port}`], { stdio: 'ignore' });
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
      while (sw.table.size === 0 || !reachedA()) {
        if (Date.now() > deadline) throw new Error(`no flow toward A (${sw.table.size} flows)`);
        ports[1]?.inject(toA);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const flow = sw.table.all().find((entry) => entry.match.ethDst === A);
      expect(flow, 'a flow matching eth_dst=A').toBeDefined();
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
