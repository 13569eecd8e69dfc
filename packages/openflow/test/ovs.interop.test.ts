// Interop with Open vSwitch on its userspace (netdev) datapath: OVS connects to the morgana
// controller over loopback TCP, the learning switch forwards pings between two network
// namespaces, and tshark decodes the captured OpenFlow session without malformed packets.
// Needs Debian's openvswitch-switch and tshark; skipped with a reason when they are missing,
// failed instead when MORGANA_INTEROP=required.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystemClock } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { afterEach, describe, expect, it } from 'vitest';
import { OFPMPF_MORE, type OfpMessage, type SwitchConnection, createController, createLearningSwitch } from '@morgana/openflow';
import { collect, interopUnavailable, peerVersion } from '../../../tools/netns-helper.js';

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
function find(command: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...SBIN]) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

const COMMANDS = ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'tshark'];
const missing = COMMANDS.filter((command) => find(command) === undefined);
const unavailable = missing.length > 0 ? `needs ${missing.join(', ')} (apt-get install openvswitch-switch tshark)` : interopUnavailable();
const required = process.env.MORGANA_INTEROP === 'required';
if (unavailable !== undefined) console.log(`skipping Open vSwitch interop: ${unavailable}`);
else console.log(`Open vSwitch interop against ${peerVersion(find('ovs-vswitchd') as string)}, ${peerVersion(find('tshark') as string)}`);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // keep tearing down the rest
    }
  }
});

async function must(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const path = find(command) ?? command;
  const result = env === undefined ? await collect(path, args) : await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    try {
      resolve({ code: 0, stdout: execFileSync(path, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }), stderr: '' });
    } catch (error) {
      resolve({ code: 1, stdout: '', stderr: String((error as { stderr?: string }).stderr ?? error) });
    }
  });
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function startDaemon(command: string, args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(find(command) ?? command, args, { stdio: 'ignore', env });
  cleanups.push(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  }));
  return child;
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Ovs {
  readonly dir: string;
  vsctl(...args: string[]): Promise<string>;
  ofctl(...args: string[]): Promise<string>;
}

async function startOvs(): Promise<Ovs> {
  const dir = mkdtempSync(join(tmpdir(), 'morgana-ovs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'db.sock');
  // Every OVS file (pid files, bridge management sockets) goes under this test's folder.
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
  await must('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
  startDaemon('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${db}`, `--unixctl=${join(dir, 'ovsdb.ctl')}`, '--no-chdir', `--log-file=${join(dir, 'ovsdb.log')}`], env);
  await waitFor(() => existsSync(db), 10_000, 'ovsdb-server socket');
  const vsctl = (...args: string[]): Promise<string> => must('ovs-vsctl', [`--db=unix:${db}`, '--timeout=20', ...args]);
  await vsctl('--no-wait', 'init');
  startDaemon('ovs-vswitchd', [`unix:${db}`, '--disable-system', `--unixctl=${join(dir, 'vswitchd.ctl')}`, '--no-chdir', `--log-file=${join(dir, 'vswitchd.log')}`], env);
  await waitFor(() => existsSync(join(dir, 'vswitchd.ctl')), 10_000, 'ovs-vswitchd control socket');
  // ovs-ofctl finds the bridge's management socket under OVS_RUNDIR.
  const ofctl = (...args: string[]): Promise<string> => must('ovs-ofctl', args, env);
  return { dir, vsctl, ofctl };
}

/** Two namespaces, each with a veth whose other end is a port of `bridge`. */
async function attachHosts(ovs: Ovs, bridge: string, tag: string, subnet: string): Promise<{ a: string; b: string; addressB: string }> {
  const hosts = [`${tag}a`, `${tag}b`];
  for (const [index, host] of hosts.entries()) {
    await must('ip', ['netns', 'add', host]);
    cleanups.push(() => must('ip', ['netns', 'del', host]).then(() => undefined));
    const inner = `${host}i`;
    const outer = `${host}o`;
    await must('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', outer]);
    cleanups.push(() => collect(find('ip') ?? 'ip', ['link', 'del', outer]).then(() => undefined));
    await must('ip', ['link', 'set', inner, 'netns', host]);
    await must('ip', ['-n', host, 'addr', 'add', `${subnet}.${index + 1}/24`, 'dev', inner]);
    await must('ip', ['-n', host, 'link', 'set', inner, 'up']);
    await must('ip', ['-n', host, 'link', 'set', 'lo', 'up']);
    await must('ip', ['link', 'set', outer, 'up']);
    await ovs.vsctl('add-port', bridge, outer);
  }
  return { a: hosts[0] as string, b: hosts[1] as string, addressB: `${subnet}.2` };
}

function ping(namespace: string, address: string): Promise<{ code: number; stdout: string }> {
  return collect(find('ip') ?? 'ip', ['netns', 'exec', namespace, 'ping', '-c', '4', '-i', '0.3', '-W', '2', address], 30_000);
}

describe.skipIf(unavailable !== undefined && !required)('Open vSwitch (userspace datapath) with the morgana controller', () => {
  it('is available', () => {
    expect(unavailable, unavailable).toBeUndefined();
  });

  for (const protocol of ['OpenFlow13', 'OpenFlow10'] as const) {
    it(`forwards pings between two namespaces with the learning switch over ${protocol}`, async () => {
      const clock = createSystemClock();
      const stack = createSocketStack();
      cleanups.push(() => stack.close());
      const app = createLearningSwitch({ clock });
      const connections: SwitchConnection[] = [];
      const controller = createController({ tcp: stack.tcp, clock, port: 0, onSwitch: (connection) => { connections.push(connection); app.attach(connection); } });
      cleanups.push(() => controller.close());

      const capture = join(tmpdir(), `morgana-of-${process.pid}-${protocol}.pcap`);
      const tshark = spawn(find('tshark') as string, ['-i', 'lo', '-f', `tcp port ${controller.port}`, '-w', capture, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let tsharkErr = '';
      tshark.stderr.on('data', (chunk: Buffer) => { tsharkErr += chunk.toString(); });
      cleanups.push(() => rmSync(capture, { force: true }));
      cleanups.push(() => { if (tshark.exitCode === null) tshark.kill('SIGKILL'); });
      await waitFor(() => tsharkErr.includes('Capturing on'), 15_000, 'tshark to start capturing');

      const ovs = await startOvs();
      const bridge = `mgof${process.pid % 1000}${protocol === 'OpenFlow13' ? 'x' : 'y'}`;
      await ovs.vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev', 'fail-mode=secure', `protocols=${protocol}`);
      cleanups.push(async () => { await ovs.vsctl('--if-exists', 'del-br', bridge); });
      const hosts = await attachHosts(ovs, bridge, `mgof${process.pid % 1000}${protocol === 'OpenFlow13' ? 'x' : 'y'}`, protocol === 'OpenFlow13' ? '10.79.1' : '10.79.2');
      await ovs.vsctl('set-controller', bridge, `tcp:127.0.0.1:${controller.port}`);
      await waitFor(() => connections.length > 0, 20_000, 'Open vSwitch to connect');
      const connection = connections[0] as SwitchConnection;
      expect(connection.version).toBe(protocol === 'OpenFlow13' ? 4 : 1);

      // Multipart/stats requests, answered by OVS and decoded by our codec.
      const [desc] = await connection.request({ type: 'multipart-request', flags: 0, body: { kind: 'desc' } });
      expect(desc?.type === 'multipart-reply' && desc.body.kind === 'desc' && desc.body.mfrDesc).toBe('Nicira, Inc.');
      if (protocol === 'OpenFlow13') {
        const parts = await connection.request({ type: 'multipart-request', flags: 0, body: { kind: 'port-desc' } });
        const names = parts.flatMap((part) => (part.type === 'multipart-reply' && part.body.kind === 'port-desc' ? part.body.ports.map((port) => port.name) : []));
        expect(names).toContain(`${hosts.a}o`);
      } else {
        expect(connection.features?.ports.map((port) => port.name)).toContain(bridge);
      }

      const result = await ping(hosts.a, hosts.addressB);
      expect(result.code, result.stdout).toBe(0);
      expect(app.stats()['flows-installed'] ?? 0).toBeGreaterThan(0);
      const flows = await ovs.ofctl('-O', protocol, 'dump-flows', bridge);
      expect(flows).toMatch(/idle_timeout=60/);

      const stats = await connection.request({ type: 'multipart-request', flags: 0, body: { kind: 'flow', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } });
      const entries = stats.flatMap((part: OfpMessage) => (part.type === 'multipart-reply' && part.body.kind === 'flow' ? part.body.flows : []));
      expect(entries.some((entry) => entry.packetCount > 0n && entry.idleTimeout === 60)).toBe(true);
      expect(stats.every((part) => part.type === 'multipart-reply' && (part.flags & OFPMPF_MORE) === (part === stats[stats.length - 1] ? 0 : OFPMPF_MORE))).toBe(true);

      // tshark's OpenFlow dissector on the captured session: decoded, and nothing malformed.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const stopped = new Promise((resolve) => tshark.once('exit', resolve));
      tshark.kill('SIGINT');
      await stopped;
      const decoded = await collect(find('tshark') as string, ['-r', capture, '-d', `tcp.port==${controller.port},openflow`, '-T', 'fields', '-e', '_ws.col.Info', '-e', '_ws.expert.message']);
      expect(decoded.code, decoded.stderr).toBe(0);
      expect(decoded.stdout).not.toMatch(/[Mm]alformed/);
      // The controller writes each batch of messages at once, so one segment can carry several
      // and the Info column names only some: ask for every message's type instead.
      const types = await collect(find('tshark') as string, ['-r', capture, '-d', `tcp.port==${controller.port},openflow`, '-T', 'fields', '-e', 'openflow_1_0.type', '-e', 'openflow_v4.type']);
      const seen = new Set(types.stdout.split(/[\s,]+/).filter((t) => t !== '').map(Number));
      // PACKET_IN 10, PACKET_OUT 13, FLOW_MOD 14: the same numbers in 1.0 and 1.3.
      expect([...seen]).toEqual(expect.arrayContaining([10, 13, 14]));
    });
  }
});
