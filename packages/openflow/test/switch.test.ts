import type { MacAddress } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { VirtualClock } from '@morgana/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FlowTable, OFPFF_SEND_FLOW_REM, OFPP_CONTROLLER, OFPP_FLOOD, type OpenFlowSwitch, createOpenFlowSwitch, matches, packetFields,
} from '@morgana/openflow';
import { FakeSwitch } from './fake-switch.js';
import { RecordingNetif, ipv4Frame } from './netifs.js';

const A = 0x020000000001;
const B = 0x020000000002;
const spec = { cookie: 0n, idleTimeout: 0, hardTimeout: 0, flags: 0 };
const out = (port: number): { type: 'apply-actions'; actions: { type: 'output'; port: number; maxLen: number }[] }[] => [{ type: 'apply-actions', actions: [{ type: 'output', port, maxLen: 0xffff }] }];

describe('flow table', () => {
  it('takes the highest-priority match and honours OXM masks', () => {
    const table = new FlowTable({ clock: new VirtualClock() });
    table.add({ ...spec, match: {}, priority: 0, instructions: out(OFPP_CONTROLLER) });
    table.add({ ...spec, match: { ethType: 0x0800, ipv4Dst: 0x0a000000, masks: { ipv4Dst: 0xff000000 } }, priority: 10, instructions: out(2) });
    table.add({ ...spec, match: { ethType: 0x0800, ipProto: 17, udpDst: 53 }, priority: 20, instructions: out(3) });
    const dns = packetFields(ipv4Frame(B, A, 0x0a000001, 0x0a000002), 1);
    expect(table.lookup(dns, 42)?.priority).toBe(20);
    const other = packetFields(ipv4Frame(B, A, 0x0a000001, 0x0a010203, 6), 1);
    expect(table.lookup(other, 42)?.priority).toBe(10);
    const outside = packetFields(ipv4Frame(B, A, 0x0a000001, 0x0b000001, 6), 1);
    expect(table.lookup(outside, 42)?.priority).toBe(0);
    expect(matches({ ethDst: B, masks: { ethDst: 0xff0000000000 } }, { ethDst: 0x02ffffffffff })).toBe(true);
    expect(matches({ tcpDst: 80 }, dns)).toBe(false);
  });

  it('expires entries on idle and hard timeouts (1.3 §5.5) and refuses adds past maxFlows', () => {
    const clock = new VirtualClock();
    const table = new FlowTable({ clock, maxFlows: 2 });
    expect(table.add({ ...spec, match: { inPort: 1 }, priority: 1, idleTimeout: 2, instructions: [] })).toBe('added');
    expect(table.add({ ...spec, match: { inPort: 2 }, priority: 1, hardTimeout: 3, instructions: [] })).toBe('added');
    expect(table.add({ ...spec, match: { inPort: 3 }, priority: 1, instructions: [] })).toBe('table-full');
    clock.advance(1_500);
    table.lookup({ inPort: 1 }, 60);
    clock.advance(1_500);
    expect(table.expire()).toEqual([expect.objectContaining({ reason: 1 })]);
    clock.advance(2_000);
    expect(table.expire()).toEqual([expect.objectContaining({ reason: 0 })]);
    expect(table.size).toBe(0);
  });

  it('deletes non-strictly every entry the filter covers, strictly only the same match and priority', () => {
    const table = new FlowTable({ clock: new VirtualClock() });
    table.add({ ...spec, match: { inPort: 1, ethDst: A }, priority: 5, instructions: out(2) });
    table.add({ ...spec, match: { inPort: 1, ethDst: B }, priority: 6, instructions: out(3) });
    table.add({ ...spec, match: { inPort: 2 }, priority: 5, instructions: out(1) });
    expect(table.delete({ match: { inPort: 1, ethDst: A }, priority: 6, strict: true })).toHaveLength(0);
    expect(table.delete({ match: { inPort: 1 }, priority: 0, strict: false, outPort: 3 })).toHaveLength(1);
    expect(table.delete({ match: { inPort: 1 }, priority: 0, strict: false })).toHaveLength(1);
    expect(table.size).toBe(1);
  });
});

describe('switch', () => {
  const stack = createSocketStack();
  const running: (OpenFlowSwitch | FakeSwitch)[] = [];
  afterEach(() => {
    for (const item of running.splice(0)) item.close();
  });

  async function setup(): Promise<{ ports: RecordingNetif[]; sw: OpenFlowSwitch; controller: FakeSwitch; clock: VirtualClock }> {
    const clock = new VirtualClock();
    const ports = [new RecordingNetif(A as MacAddress), new RecordingNetif(B as MacAddress), new RecordingNetif((B + 1) as MacAddress)];
    const sw = createOpenFlowSwitch({ tcp: stack.tcp, clock, ports, datapathId: 77n, listenPort: 0 });
    running.push(sw);
    const controller = await FakeSwitch.connect(stack.tcp, sw.port);
    running.push(controller);
    expect((await controller.expect('hello')).versions).toEqual([1, 4]);
    await controller.send({ version: 4, xid: 1, type: 'hello', versions: [1, 4] });
    await controller.send({ version: 4, xid: 2, type: 'barrier-request' });
    await controller.expect('barrier-reply');
    return { ports, sw, controller, clock };
  }

  it('sends a table miss to the controller, then forwards by the flow it installs, counting packets', async () => {
    const { ports, controller } = await setup();
    const frame = ipv4Frame(B, A, 1, 2);
    ports[0]?.inject(frame);
    const packetIn = await controller.expect('packet-in');
    expect([packetIn.reason, packetIn.match.inPort, packetIn.totalLen]).toEqual([0, 1, frame.length]);
    await controller.send({
      version: 4, xid: 5, type: 'flow-mod', cookie: 9n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 0, hardTimeout: 0, priority: 10,
      bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0, match: { ethDst: B }, instructions: out(2),
    });
    await controller.send({ version: 4, xid: 6, type: 'barrier-request' });
    expect((await controller.expect('barrier-reply')).xid).toBe(6);
    ports[0]?.inject(frame);
    expect(ports[1]?.sent).toEqual([frame]);
    await controller.send({ version: 4, xid: 7, type: 'multipart-request', flags: 0, body: { kind: 'flow', tableId: 0xff, outPort: 0xffffffff, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } });
    const stats = await controller.expect('multipart-reply');
    expect(stats.body.kind === 'flow' && stats.body.flows.map((flow) => [flow.cookie, flow.packetCount, flow.byteCount])).toEqual([[9n, 1n, BigInt(frame.length)]]);
  });

  it('floods a packet-out to every port but the ingress and reports FLOW_REMOVED on idle timeout', async () => {
    const { ports, controller, clock } = await setup();
    const frame = ipv4Frame(0xffffffffffff, A, 1, 2);
    await controller.send({ version: 4, xid: 3, type: 'packet-out', bufferId: 0xffffffff, inPort: 1, actions: [{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }], data: frame });
    await controller.send({
      version: 4, xid: 4, type: 'flow-mod', cookie: 1n, cookieMask: 0n, tableId: 0, command: 0, idleTimeout: 1, hardTimeout: 0, priority: 1,
      bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: OFPFF_SEND_FLOW_REM, match: { inPort: 3 }, instructions: [],
    });
    await controller.send({ version: 4, xid: 8, type: 'barrier-request' });
    await controller.expect('barrier-reply');
    expect([ports[0]?.sent.length, ports[1]?.sent.length, ports[2]?.sent.length]).toEqual([0, 1, 1]);
    clock.advance(2_000);
    const removed = await controller.expect('flow-removed');
    expect([removed.cookie, removed.reason, removed.match]).toEqual([1n, 0, { inPort: 3 }]);
  });
});
