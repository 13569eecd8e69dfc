// The switch's control side over loopback TCP, with a scripted controller: OpenFlow 1.0
// sessions, roles (1.3.x §6.3.5), echo keepalive, active connections with backoff, limits,
// refused messages, split multipart replies, and group, meter and port modifications.
import { type MacAddress, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { VirtualClock } from '@morgana/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Instruction, OFPCR_ROLE_EQUAL, OFPCR_ROLE_MASTER, OFPCR_ROLE_NOCHANGE, OFPCR_ROLE_SLAVE, OFPFF_CHECK_OVERLAP, OFPGC_ADD,
  OFPGT_ALL, OFPMC_ADD, OFPMF_PKTPS, OFPMPF_MORE, type OfpMessage, type OpenFlowSwitch, type SwitchConfig, createOpenFlowSwitch,
} from '@morgana/openflow';
import { FakeSwitch } from './fake-switch.js';
import { RecordingNetif, ipv4Frame } from './netifs.js';

const A = 0x020000000001;
const B = 0x020000000002;
const out = (port: number): Instruction[] => [{ type: 'apply-actions', actions: [{ type: 'output', port, maxLen: 0xffff }] }];
const flowMod = (version: number, xid: number, fields: Partial<OfpMessage & { type: 'flow-mod' }>): OfpMessage => ({
  version, xid, type: 'flow-mod', cookie: 0n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 0, hardTimeout: 0, priority: 10,
  bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0, match: {}, instructions: [], ...fields,
} as OfpMessage);

describe('switch control channel', () => {
  const stack = createSocketStack();
  const running: { close(): void }[] = [];
  afterEach(() => {
    for (const item of running.splice(0)) item.close();
  });

  function start(config: Partial<SwitchConfig> = {}): { sw: OpenFlowSwitch; ports: RecordingNetif[]; clock: VirtualClock } {
    const clock = new VirtualClock();
    const ports = [new RecordingNetif(A as MacAddress), new RecordingNetif(B as MacAddress)];
    const sw = createOpenFlowSwitch({ tcp: stack.tcp, clock, ports, datapathId: 9n, listenPort: 0, ...config });
    running.push(sw);
    return { sw, ports, clock };
  }

  async function connect(sw: OpenFlowSwitch, version: 1 | 4): Promise<FakeSwitch> {
    const controller = await FakeSwitch.connect(stack.tcp, sw.port);
    running.push(controller);
    await controller.expect('hello');
    await controller.send(version === 1 ? { version: 1, xid: 1, type: 'hello' } : { version: 4, xid: 1, type: 'hello', versions: [4] });
    await controller.send({ version, xid: 2, type: 'barrier-request' });
    await controller.expect('barrier-reply');
    return controller;
  }

  it('speaks OpenFlow 1.0 to a 1.0 controller: features with ports, 1.0 VLAN matches, modify adding a missing flow (1.0.0 §4.6), 1.0 error numbers', async () => {
    const { sw, ports } = start();
    const controller = await connect(sw, 1);
    await controller.send({ version: 1, xid: 3, type: 'features-request' });
    const features = await controller.expect('features-reply');
    expect([features.version, features.nTables, features.ports.map((port) => port.name)]).toEqual([1, 8, ['port1', 'port2']]);
    await controller.send(flowMod(1, 4, { match: { inPort: 1, vlanVid: 0xffff }, instructions: out(2) }));
    await controller.send(flowMod(1, 5, { command: 2, priority: 20, match: { inPort: 2 }, instructions: out(1) }));
    await controller.send({ version: 1, xid: 6, type: 'multipart-request', flags: 0, body: { kind: 'flow', tableId: 0xff, outPort: 0xffffffff, outGroup: 0, cookie: 0n, cookieMask: 0n, match: {} } });
    const stats = await controller.expect('multipart-reply');
    expect(stats.body.kind === 'flow' && stats.body.flows.map((flow) => [flow.priority, flow.match.vlanVid])).toEqual([[20, undefined], [10, 0xffff]]);
    // Stored in 1.3 terms: "untagged" is OFPVID_NONE.
    expect(sw.table.all().find((entry) => entry.priority === 10)?.match.vlanVid).toBe(0);
    const frame = ipv4Frame(B, A, 1, 2);
    ports[0]?.inject(frame);
    expect(ports[1]?.sent).toEqual([frame]);
    ports[0]?.inject(ipv4Frame(B, A, 1, 2, 6));
    ports[1]?.inject(frame);
    expect(ports[0]?.sent).toEqual([frame]);
    // Errors in 1.0's numbering (1.0.0 §5.4.4): flow-mod failures are type 3, overlap code 1, bad command 4.
    await controller.send(flowMod(1, 7, { priority: 20, match: { inPort: 2, ethType: 0x0800 }, flags: OFPFF_CHECK_OVERLAP }));
    expect(await controller.expect('error')).toMatchObject({ xid: 7, errorType: 3, code: 1 });
    await controller.send(flowMod(1, 8, { command: 9 }));
    expect(await controller.expect('error')).toMatchObject({ xid: 8, errorType: 3, code: 4 });
  });

  it('shows a 1.0 controller the 1.0 view of flows installed over 1.3, in statistics and FLOW_REMOVED', async () => {
    const { sw, clock } = start();
    const modern = await connect(sw, 4);
    const legacy = await connect(sw, 1);
    await modern.send(flowMod(4, 3, {
      match: { ethType: 0x0806, arpSha: A, ethDst: B, masks: { ethDst: 0xffffff000000 } }, idleTimeout: 1, flags: 1,
      instructions: [{ type: 'apply-actions', actions: [{ type: 'push-vlan', ethertype: 0x8100 }, { type: 'output', port: 2, maxLen: 0 }] }],
    }));
    await modern.send({ version: 4, xid: 4, type: 'barrier-request' });
    await modern.expect('barrier-reply');
    await legacy.send({ version: 1, xid: 5, type: 'multipart-request', flags: 0, body: { kind: 'flow', tableId: 0xff, outPort: 0xffffffff, outGroup: 0, cookie: 0n, cookieMask: 0n, match: {} } });
    const stats = await legacy.expect('multipart-reply');
    expect(stats.body.kind === 'flow' && stats.body.flows.map((flow) => [flow.match, flow.instructions])).toEqual([[{ ethType: 0x0806, ethDst: B }, [{ type: 'apply-actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }]]]);
    clock.advance(1_000);
    expect((await legacy.expect('flow-removed')).match).toEqual({ ethType: 0x0806, ethDst: B });
    expect((await modern.expect('flow-removed')).match).toMatchObject({ arpSha: A });
  });

  it('puts the table, cookie and metadata of the sending flow in PACKET_IN (1.3.x §7.4.1)', async () => {
    const { sw, ports } = start();
    const controller = await connect(sw, 4);
    await controller.send(flowMod(4, 3, { instructions: [{ type: 'write-metadata', metadata: 0xabn, mask: 0xffn }, { type: 'goto-table', tableId: 1 }] }));
    await controller.send(flowMod(4, 4, { tableId: 1, cookie: 77n, instructions: out(0xfffffffd) }));
    await controller.send({ version: 4, xid: 5, type: 'barrier-request' });
    await controller.expect('barrier-reply');
    ports[1]?.inject(ipv4Frame(A, B, 1, 2));
    const packetIn = await controller.expect('packet-in');
    expect([packetIn.tableId, packetIn.cookie, packetIn.reason, packetIn.match.inPort]).toEqual([1, 77n, 1, 2]);
    expect(Array.from(packetIn.match.other?.[0]?.payload ?? [])).toEqual([0, 0, 0, 0, 0, 0, 0, 0xab]);
  });

  it('applies roles: one master, stale generation ids refused, slaves refused changes and spared packet-ins (1.3.x §6.3.5)', async () => {
    const { sw, ports } = start();
    const first = await connect(sw, 4);
    const second = await connect(sw, 4);
    await first.send({ version: 4, xid: 10, type: 'role-request', role: OFPCR_ROLE_MASTER, generationId: 5n });
    expect(await first.expect('role-reply')).toMatchObject({ role: OFPCR_ROLE_MASTER, generationId: 5n });
    await second.send({ version: 4, xid: 11, type: 'role-request', role: OFPCR_ROLE_MASTER, generationId: 6n });
    expect(await second.expect('role-reply')).toMatchObject({ role: OFPCR_ROLE_MASTER, generationId: 6n });
    await first.send({ version: 4, xid: 12, type: 'role-request', role: OFPCR_ROLE_NOCHANGE, generationId: 0n });
    expect(await first.expect('role-reply')).toMatchObject({ role: OFPCR_ROLE_SLAVE, generationId: 6n });
    await first.send(flowMod(4, 13, { instructions: out(2) }));
    expect(await first.expect('error')).toMatchObject({ xid: 13, errorType: 1, code: 10 });
    await first.send({ version: 4, xid: 14, type: 'role-request', role: OFPCR_ROLE_MASTER, generationId: 4n });
    expect(await first.expect('error')).toMatchObject({ xid: 14, errorType: 11, code: 0 });
    // Generation ids wrap: 2^64 - 1 is older than 6 only by the signed difference.
    await first.send({ version: 4, xid: 15, type: 'role-request', role: OFPCR_ROLE_EQUAL, generationId: 0n });
    expect(await first.expect('role-reply')).toMatchObject({ role: OFPCR_ROLE_EQUAL });
    await first.send({ version: 4, xid: 16, type: 'role-request', role: OFPCR_ROLE_SLAVE, generationId: 7n });
    await first.expect('role-reply');
    ports[0]?.inject(ipv4Frame(B, A, 1, 2));
    expect((await second.expect('packet-in')).match.inPort).toBe(1);
    await first.send({ version: 4, xid: 17, type: 'barrier-request' });
    expect((await first.next()).type).toBe('barrier-reply');
    expect(sw.connections().map((connection) => connection.role).sort()).toEqual([OFPCR_ROLE_MASTER, OFPCR_ROLE_SLAVE]);
  });

  it('sends ECHO_REQUEST after echoIntervalMs of silence and drops a controller silent past echoTimeoutMs', async () => {
    const { sw, clock } = start({ echoIntervalMs: 100, echoTimeoutMs: 250 });
    const controller = await connect(sw, 4);
    clock.advance(100);
    expect((await controller.expect('echo-request')).version).toBe(4);
    clock.advance(100);
    expect((await controller.expect('echo-request')).version).toBe(4);
    clock.advance(100);
    expect(await controller.nextBytes()).toBeNull();
    expect(sw.stats()['control-echo-timeout']).toBe(1);
  });

  it('dials its controllers, and after a lost connection dials again after the backoff', async () => {
    const listener = stack.tcp.listen(0);
    running.push(listener);
    const { sw, clock } = start({ passive: false, controllers: [{ address: parseIpv4('127.0.0.1'), port: listener.port }], reconnectMinMs: 200 });
    expect(sw.port).toBe(0);
    const first = await listener.accept();
    first.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = listener.accept();
    clock.advance(200);
    const flow = await second;
    running.push({ close: () => flow.abort() });
    expect(sw.stats().dials).toBe(2);
  });

  it('retries a refused dial with doubling backoff up to reconnectMaxMs', async () => {
    const probe = stack.tcp.listen(0);
    const port = probe.port;
    probe.close();
    const { sw, clock } = start({ passive: false, controllers: [{ address: parseIpv4('127.0.0.1'), port }], reconnectMinMs: 100, reconnectMaxMs: 400 });
    const waitFailures = async (count: number): Promise<void> => {
      for (let tries = 0; tries < 100 && (sw.stats()['dial-failed'] ?? 0) < count; tries += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(sw.stats()['dial-failed']).toBe(count);
    };
    await waitFailures(1);
    clock.advance(99);
    expect(sw.stats().dials).toBe(1);
    clock.advance(1);
    await waitFailures(2);
    clock.advance(199);
    expect(sw.stats().dials).toBe(2);
    clock.advance(1);
    await waitFailures(3);
    clock.advance(400);
    await waitFailures(4);
    clock.advance(400);
    await waitFailures(5);
  });

  it('refuses connections past maxConnections', async () => {
    const { sw } = start({ maxConnections: 1 });
    await connect(sw, 4);
    // The abort may reach the connect itself (a reset) or the first read (end of stream).
    const outcome = await FakeSwitch.connect(stack.tcp, sw.port).then(async (extra) => {
      running.push(extra);
      return extra.nextBytes();
    }, () => null);
    expect(outcome).toBeNull();
    expect(sw.stats()['connections-full']).toBe(1);
    expect(sw.connections()).toHaveLength(1);
  });

  it('refuses unknown types, messages at another version, and answers a framing error by closing', async () => {
    const { sw } = start();
    const controller = await connect(sw, 4);
    await controller.sendBytes(new Uint8Array([4, 99, 0, 8, 0, 0, 0, 7]));
    expect(await controller.expect('error')).toMatchObject({ xid: 7, errorType: 1, code: 1 });
    await controller.send({ version: 1, xid: 8, type: 'barrier-request' });
    expect(await controller.expect('error')).toMatchObject({ xid: 8, errorType: 1, code: 0 });
    await controller.sendBytes(new Uint8Array([4, 2, 0, 4, 0, 0, 0, 9]));
    expect(await controller.nextBytes()).toBeNull();
  });

  it('reports table-full, overlap, bad goto and bad table as flow-mod errors', async () => {
    const { sw } = start({ maxFlows: 1, nTables: 2 });
    const controller = await connect(sw, 4);
    await controller.send(flowMod(4, 20, { match: { inPort: 1 }, flags: OFPFF_CHECK_OVERLAP }));
    await controller.send(flowMod(4, 21, { match: { ethDst: B }, flags: OFPFF_CHECK_OVERLAP }));
    expect(await controller.expect('error')).toMatchObject({ xid: 21, errorType: 5, code: 3 });
    await controller.send(flowMod(4, 22, { match: { inPort: 2 } }));
    expect(await controller.expect('error')).toMatchObject({ xid: 22, errorType: 5, code: 1 });
    await controller.send(flowMod(4, 23, { tableId: 1, instructions: [{ type: 'goto-table', tableId: 1 }] }));
    expect(await controller.expect('error')).toMatchObject({ xid: 23, errorType: 3, code: 2 });
    await controller.send(flowMod(4, 24, { command: 3, tableId: 2 }));
    expect(await controller.expect('error')).toMatchObject({ xid: 24, errorType: 5, code: 2 });
  });

  it('splits a flow statistics reply too large for one message over several with OFPMPF_REPLY_MORE', async () => {
    const { sw } = start({ maxFlows: 2_000 });
    for (let index = 0; index < 1_200; index += 1) {
      sw.table.add({ match: { ethType: 0x0800, ipv4Dst: index }, priority: 10, cookie: BigInt(index), idleTimeout: 0, hardTimeout: 0, flags: 0, instructions: out(2) });
    }
    const controller = await connect(sw, 4);
    await controller.send({ version: 4, xid: 30, type: 'multipart-request', flags: 0, body: { kind: 'flow', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } });
    const cookies: bigint[] = [];
    for (;;) {
      const part = await controller.expect('multipart-reply');
      expect(part.xid).toBe(30);
      if (part.body.kind === 'flow') cookies.push(...part.body.flows.map((flow) => flow.cookie));
      if ((part.flags & OFPMPF_MORE) === 0) break;
    }
    expect(cookies).toHaveLength(1_200);
    expect(new Set(cookies).size).toBe(1_200);
  });

  it('installs groups and meters by message and describes them; port-mod reports PORT_STATUS to every controller', async () => {
    const { sw, ports } = start();
    const controller = await connect(sw, 4);
    const other = await connect(sw, 4);
    await controller.send({ version: 4, xid: 40, type: 'group-mod', command: OFPGC_ADD, groupType: OFPGT_ALL, groupId: 3, buckets: [{ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [{ type: 'output', port: 2, maxLen: 0 }] }] });
    await controller.send({ version: 4, xid: 41, type: 'meter-mod', command: OFPMC_ADD, flags: OFPMF_PKTPS, meterId: 4, bands: [{ type: 'drop', rate: 1000, burstSize: 0 }] });
    await controller.send({ version: 4, xid: 42, type: 'meter-mod', command: OFPMC_ADD, flags: OFPMF_PKTPS, meterId: 4, bands: [] });
    expect(await controller.expect('error')).toMatchObject({ xid: 42, errorType: 12, code: 1 });
    await controller.send({ version: 4, xid: 43, type: 'multipart-request', flags: 0, body: { kind: 'group-desc' } });
    const groups = await controller.expect('multipart-reply');
    expect(groups.body.kind === 'group-desc' && groups.body.groups.map((group) => [group.groupId, group.buckets.length])).toEqual([[3, 1]]);
    await controller.send({ version: 4, xid: 44, type: 'multipart-request', flags: 0, body: { kind: 'meter-config', meterId: 0xffffffff } });
    const meters = await controller.expect('multipart-reply');
    expect(meters.body.kind === 'meter-config' && meters.body.meters.map((meter) => meter.meterId)).toEqual([4]);
    await controller.send({ version: 4, xid: 45, type: 'port-mod', portNo: 2, hwAddr: 0x020000000009, config: 1, mask: 1, advertise: 0 });
    expect(await controller.expect('error')).toMatchObject({ xid: 45, errorType: 7, code: 1 });
    await controller.send({ version: 4, xid: 46, type: 'port-mod', portNo: 2, hwAddr: B, config: 1, mask: 1, advertise: 0 });
    for (const target of [controller, other]) expect((await target.expect('port-status')).port).toMatchObject({ portNo: 2, config: 1 });
    ports[0]?.inject(ipv4Frame(B, A, 1, 2));
    await controller.send(flowMod(4, 47, { instructions: [{ type: 'meter', meterId: 4 }, { type: 'apply-actions', actions: [{ type: 'group', groupId: 3 }] }] }));
    await controller.send({ version: 4, xid: 48, type: 'barrier-request' });
    expect((await controller.next()).type).toBe('packet-in');
    expect((await controller.next()).type).toBe('barrier-reply');
    expect(sw.datapath.tables[0]?.size).toBe(1);
  });
});
