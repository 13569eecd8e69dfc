// The switch's datapath without a control channel: the multi-table pipeline, the action set,
// groups, meters, port configuration and the checks a flow-mod passes.
import type { MacAddress } from '@morgana/core';
import { VirtualClock } from '@morgana/testing';
import { describe, expect, it } from 'vitest';
import {
  type Action, Datapath, type DatapathConfig, OFPBMC_BAD_FIELD, type FlowEntry, type Instruction, type Match, OFPC_INVALID_TTL_TO_CONTROLLER, OFPET_BAD_ACTION,
  OFPET_BAD_INSTRUCTION, OFPET_BAD_MATCH, OFPET_FLOW_MOD_FAILED, OFPET_METER_MOD_FAILED, OFPG_ANY, OFPGT_ALL, OFPGT_FF, OFPGT_INDIRECT,
  OFPGT_SELECT, OFPMF_BURST, OFPMF_PKTPS, OFPMMFC, OFPGMFC, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_NORMAL,
  OFPP_TABLE, OFPPC_NO_FLOOD, OFPPC_NO_FWD, OFPPC_NO_PACKET_IN, OFPPC_NO_RECV, OFPPC_PORT_DOWN, OFPR_ACTION, OFPR_INVALID_TTL, OFPR_NO_MATCH,
  type PacketIn,
} from '@morgana/openflow';
import { RecordingNetif, ipv4Frame } from './netifs.js';

const A = 0x020000000001;
const B = 0x020000000002;
const spec = { cookie: 0n, idleTimeout: 0, hardTimeout: 0, flags: 0 };
const apply = (...actions: Action[]): Instruction => ({ type: 'apply-actions', actions });
const write = (...actions: Action[]): Instruction => ({ type: 'write-actions', actions });
const out = (port: number): Action => ({ type: 'output', port, maxLen: 0xffff });
const metadataMatch = (value: bigint, mask: bigint): Match => {
  const payload = new Uint8Array(16);
  const view = new DataView(payload.buffer);
  view.setBigUint64(0, value);
  view.setBigUint64(8, mask);
  return { other: [{ oxmClass: 0x8000, field: 2, hasMask: true, payload }] };
};

function setup(options: Partial<DatapathConfig> = {}, portCount = 4): { dp: Datapath; ports: RecordingNetif[]; packetIns: PacketIn[]; removed: [FlowEntry, number, number][]; clock: VirtualClock } {
  const clock = new VirtualClock();
  const ports = Array.from({ length: portCount }, (_, index) => new RecordingNetif((A + index) as MacAddress));
  const packetIns: PacketIn[] = [];
  const removed: [FlowEntry, number, number][] = [];
  const dp = new Datapath({ clock, ports, onPacketIn: (packet) => packetIns.push(packet), onFlowRemoved: (entry, table, reason) => removed.push([entry, table, reason]), ...options });
  return { dp, ports, packetIns, removed, clock };
}

const frame = ipv4Frame(B, A, 0x0a000001, 0x0a000002);

describe('datapath pipeline (1.3.x §5.1-5.10)', () => {
  it('goes through goto-table with metadata written in one table and matched in the next', () => {
    const { dp, ports } = setup();
    dp.tables[0]?.add({ ...spec, match: { inPort: 1 }, priority: 1, instructions: [{ type: 'write-metadata', metadata: 0x1234n, mask: 0xff00n }, { type: 'goto-table', tableId: 2 }] });
    dp.tables[2]?.add({ ...spec, match: metadataMatch(0x1200n, 0xff00n), priority: 1, instructions: [apply(out(3))] });
    dp.tables[2]?.add({ ...spec, match: {}, priority: 0, instructions: [apply(out(4))] });
    ports[0]?.inject(frame);
    expect([ports[2]?.sent.length, ports[3]?.sent.length]).toEqual([1, 0]);
    expect([dp.tables[0]?.lookups, dp.tables[1]?.lookups, dp.tables[2]?.lookups, dp.tables[2]?.matched]).toEqual([1n, 0n, 1n, 1n]);
  });

  it('runs the action set at the end in its fixed order: set-field before output, whatever the write order (§5.10)', () => {
    const { dp, ports } = setup();
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [write(out(2)), { type: 'goto-table', tableId: 1 }] });
    dp.tables[1]?.add({ ...spec, match: {}, priority: 1, instructions: [write({ type: 'set-field', field: 'ethDst', value: 0x02aabbccddee })] });
    ports[0]?.inject(frame);
    expect(Array.from(ports[1]?.sent[0]?.subarray(0, 6) ?? [])).toEqual([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
  });

  it('clear-actions empties the action set; a group in the set overrides its output', () => {
    const { dp, ports } = setup();
    expect(dp.groups.add(7, OFPGT_INDIRECT, [{ weight: 0, watchPort: OFPP_ANY, watchGroup: OFPG_ANY, actions: [out(4)] }], 0)).toBeUndefined();
    dp.tables[0]?.add({ ...spec, match: { inPort: 1 }, priority: 1, instructions: [write(out(2)), { type: 'goto-table', tableId: 1 }] });
    dp.tables[1]?.add({ ...spec, match: {}, priority: 1, instructions: [{ type: 'clear-actions' }, write(out(3))] });
    dp.tables[0]?.add({ ...spec, match: { inPort: 2 }, priority: 1, instructions: [write(out(3), { type: 'group', groupId: 7 })] });
    ports[0]?.inject(frame);
    ports[1]?.inject(frame);
    expect(ports.map((port) => port.sent.length)).toEqual([0, 0, 1, 1]);
  });

  it('apply-actions outputs the packet as it is at that point, edits after it do not reach that copy', () => {
    const { dp, ports } = setup();
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [apply(out(2), { type: 'set-field', field: 'ipv4Dst', value: 0x0a0000ff }, out(3))] });
    ports[0]?.inject(frame);
    expect(ports[1]?.sent[0]).toEqual(frame);
    expect(Array.from(ports[2]?.sent[0]?.subarray(30, 34) ?? [])).toEqual([10, 0, 0, 255]);
  });

  it('sends a table miss to the controller or drops it, per tableMiss (§5.4); a table-miss entry reports NO_MATCH', () => {
    const toController = setup();
    toController.ports[0]?.inject(frame);
    expect(toController.packetIns.map((packet) => [packet.reason, packet.tableId, packet.inPort])).toEqual([[OFPR_NO_MATCH, 0, 1]]);
    toController.dp.tables[0]?.add({ ...spec, match: {}, priority: 0, cookie: 5n, instructions: [apply(out(OFPP_CONTROLLER))] });
    toController.dp.tables[0]?.add({ ...spec, match: { inPort: 2 }, priority: 9, cookie: 6n, instructions: [apply(out(OFPP_CONTROLLER))] });
    toController.ports[0]?.inject(frame);
    toController.ports[1]?.inject(frame);
    expect(toController.packetIns.slice(1).map((packet) => [packet.reason, packet.cookie])).toEqual([[OFPR_NO_MATCH, 5n], [OFPR_ACTION, 6n]]);
    const dropping = setup({ tableMiss: 'drop' });
    dropping.ports[0]?.inject(frame);
    expect(dropping.packetIns).toHaveLength(0);
    expect(dropping.dp.stats()['drop-table-miss']).toBe(1);
  });

  it('floods to every port but the ingress and NO_FLOOD ports, ALL ignores NO_FLOOD, output to the ingress port needs IN_PORT', () => {
    const { dp, ports } = setup();
    (dp.port(3) as { config: number }).config = OFPPC_NO_FLOOD;
    dp.tables[0]?.add({ ...spec, match: { inPort: 1 }, priority: 1, instructions: [apply(out(OFPP_FLOOD))] });
    dp.tables[0]?.add({ ...spec, match: { inPort: 2 }, priority: 1, instructions: [apply(out(OFPP_ALL), out(2), out(OFPP_IN_PORT))] });
    ports[0]?.inject(frame);
    expect(ports.map((port) => port.sent.length)).toEqual([0, 1, 0, 1]);
    ports[1]?.inject(frame);
    expect(ports.map((port) => port.sent.length)).toEqual([1, 2, 1, 2]);
  });

  it('honours port config: NO_RECV drops input, NO_FWD and PORT_DOWN drop output, NO_PACKET_IN suppresses packet-ins', () => {
    const { dp, ports, packetIns } = setup();
    dp.tables[0]?.add({ ...spec, match: { inPort: 1 }, priority: 1, instructions: [apply(out(2), out(3))] });
    (dp.port(2) as { config: number }).config = OFPPC_NO_FWD;
    (dp.port(3) as { config: number }).config = OFPPC_PORT_DOWN;
    ports[0]?.inject(frame);
    expect([ports[1]?.sent.length, ports[2]?.sent.length, dp.port(2)?.txDropped, dp.port(3)?.txDropped]).toEqual([0, 0, 1n, 1n]);
    (dp.port(1) as { config: number }).config = OFPPC_NO_RECV;
    ports[0]?.inject(frame);
    expect([dp.port(1)?.rxPackets, dp.port(1)?.rxDropped]).toEqual([2n, 1n]);
    (dp.port(4) as { config: number }).config = OFPPC_NO_PACKET_IN;
    ports[3]?.inject(frame);
    expect(packetIns).toHaveLength(0);
  });

  it('drops a packet whose TTL runs out, or sends it up with INVALID_TTL when set-config asks (§5.12.1)', () => {
    const { dp, ports, packetIns } = setup();
    const expiring = ipv4Frame(B, A, 1, 2);
    expiring[22] = 1;
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [apply({ type: 'dec-nw-ttl' }, out(2))] });
    ports[0]?.inject(expiring);
    expect([ports[1]?.sent.length, packetIns.length]).toEqual([0, 0]);
    dp.configFlags = OFPC_INVALID_TTL_TO_CONTROLLER;
    ports[0]?.inject(expiring);
    expect(packetIns.map((packet) => packet.reason)).toEqual([OFPR_INVALID_TTL]);
    ports[0]?.inject(frame);
    expect(ports[1]?.sent[0]?.[22]).toBe(63);
  });

  it('stops a packet past maxActionsPerPacket', () => {
    const { dp, ports } = setup({ maxActionsPerPacket: 3 });
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [apply(out(2), out(3), out(4), out(2))] });
    ports[0]?.inject(frame);
    expect(ports.map((port) => port.sent.length)).toEqual([0, 1, 1, 1]);
    expect(dp.stats()['drop-action-budget']).toBe(1);
  });

  it('runs a packet-out through the tables for output to OFPP_TABLE', () => {
    const { dp, ports } = setup();
    dp.tables[0]?.add({ ...spec, match: { inPort: 2 }, priority: 1, instructions: [apply(out(4))] });
    dp.packetOut(frame, 2, [out(OFPP_TABLE), out(1)]);
    expect(ports.map((port) => port.sent.length)).toEqual([1, 0, 0, 1]);
  });
});

describe('datapath groups (1.3.x §5.6)', () => {
  const bucket = (actions: Action[], weight = 1, watchPort = OFPP_ANY, watchGroup = OFPG_ANY) => ({ weight, watchPort, watchGroup, actions });

  it('ALL clones to every bucket, each edited on its own copy', () => {
    const { dp, ports } = setup();
    dp.groups.add(1, OFPGT_ALL, [bucket([{ type: 'set-field', field: 'ethDst', value: 0x020000000099 }, out(2)]), bucket([out(3)])], 0);
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [apply({ type: 'group', groupId: 1 })] });
    ports[0]?.inject(frame);
    expect(ports[1]?.sent[0]?.[5]).toBe(0x99);
    expect(ports[2]?.sent[0]).toEqual(frame);
    expect(dp.groups.get(1)?.bucketCounts.map((count) => count.packets)).toEqual([1n, 1n]);
  });

  it('SELECT keeps one flow on one bucket and spreads flows by weight over live buckets', () => {
    const { dp, ports } = setup();
    dp.groups.add(1, OFPGT_SELECT, [bucket([out(2)], 1), bucket([out(3)], 3), bucket([out(4)], 0)], 0);
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [apply({ type: 'group', groupId: 1 })] });
    for (let flow = 0; flow < 400; flow += 1) {
      const packet = ipv4Frame(B, A, 0x0a000001, 0x0a000002, 17, [1000 + flow, 53]);
      ports[0]?.inject(packet);
      ports[0]?.inject(packet);
    }
    const [two, three, four] = [ports[1]?.sent.length ?? 0, ports[2]?.sent.length ?? 0, ports[3]?.sent.length ?? 0];
    expect(two + three).toBe(800);
    expect(four).toBe(0);
    expect(three / two).toBeGreaterThan(2);
    expect(three / two).toBeLessThan(4.5);
    // Both copies of each flow's packet went to the same bucket.
    expect(two % 2).toBe(0);
  });

  it('FAST_FAILOVER uses the first bucket whose watched port is live, then the next when it goes down', () => {
    const { dp, ports } = setup();
    dp.groups.add(1, OFPGT_FF, [bucket([out(2)], 0, 2), bucket([out(3)], 0, 3)], 0);
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [apply({ type: 'group', groupId: 1 })] });
    ports[0]?.inject(frame);
    (dp.port(2) as { config: number }).config = OFPPC_PORT_DOWN;
    ports[0]?.inject(frame);
    (dp.port(3) as { config: number }).config = OFPPC_PORT_DOWN;
    ports[0]?.inject(frame);
    expect([ports[1]?.sent.length, ports[2]?.sent.length, dp.stats()['drop-no-live-bucket']]).toEqual([1, 1, 1]);
  });

  it('refuses bad groups: duplicate, unknown chained group, loops, indirect with two buckets, FF without watch, past maxGroups/maxBuckets', () => {
    const { dp } = setup({ groups: { maxGroups: 3, maxBuckets: 2 } });
    expect(dp.groups.add(1, OFPGT_ALL, [bucket([out(2)])], 0)).toBeUndefined();
    expect(dp.groups.add(1, OFPGT_ALL, [], 0)).toBe(OFPGMFC.GROUP_EXISTS);
    expect(dp.groups.add(2, OFPGT_ALL, [bucket([{ type: 'group', groupId: 9 }])], 0)).toBe(OFPGMFC.UNKNOWN_GROUP);
    expect(dp.groups.add(2, OFPGT_ALL, [bucket([{ type: 'group', groupId: 1 }])], 0)).toBeUndefined();
    expect(dp.groups.modify(1, OFPGT_ALL, [bucket([{ type: 'group', groupId: 2 }])])).toBe(OFPGMFC.LOOP);
    expect(dp.groups.add(3, OFPGT_INDIRECT, [bucket([out(2)]), bucket([out(3)])], 0)).toBe(OFPGMFC.BAD_BUCKET);
    expect(dp.groups.add(3, OFPGT_FF, [bucket([out(2)])], 0)).toBe(OFPGMFC.BAD_WATCH);
    expect(dp.groups.add(3, OFPGT_ALL, [bucket([out(2)]), bucket([out(2)]), bucket([out(2)])], 0)).toBe(OFPGMFC.OUT_OF_BUCKETS);
    expect(dp.groups.add(3, 9, [], 0)).toBe(OFPGMFC.BAD_TYPE);
    expect(dp.groups.add(3, OFPGT_ALL, [], 0)).toBeUndefined();
    expect(dp.groups.add(4, OFPGT_ALL, [], 0)).toBe(OFPGMFC.OUT_OF_GROUPS);
  });

  it('refuses a chain of groups deeper than maxChainDepth', () => {
    const { dp } = setup({ groups: { maxChainDepth: 1 } });
    expect(dp.groups.add(1, OFPGT_ALL, [bucket([out(2)])], 0)).toBeUndefined();
    expect(dp.groups.add(2, OFPGT_ALL, [bucket([{ type: 'group', groupId: 1 }])], 0)).toBeUndefined();
    expect(dp.groups.add(3, OFPGT_ALL, [bucket([{ type: 'group', groupId: 2 }])], 0)).toBeUndefined();
    expect(dp.groups.add(4, OFPGT_ALL, [bucket([{ type: 'group', groupId: 3 }])], 0)).toBe(OFPGMFC.LOOP);
  });

  it('deleting a group deletes the groups chaining to it and the flows using them (§6.5)', () => {
    const { dp, removed } = setup();
    dp.groups.add(1, OFPGT_ALL, [bucket([out(2)])], 0);
    dp.groups.add(2, OFPGT_ALL, [bucket([{ type: 'group', groupId: 1 }])], 0);
    dp.tables[1]?.add({ ...spec, match: {}, priority: 1, flags: 1, instructions: [apply({ type: 'group', groupId: 2 })] });
    dp.removeGroupUsers(dp.groups.delete(1, false));
    expect([dp.groups.size, dp.tables[1]?.size, removed.map(([, table, reason]) => [table, reason])]).toEqual([0, 0, [[1, 3]]]);
  });
});

describe('datapath meters (1.3.x §5.7)', () => {
  it('drops packets over a packets/s band once its burst is spent, and lets them through again as tokens refill', () => {
    const { dp, ports, clock } = setup();
    expect(dp.meters.add(1, OFPMF_PKTPS | OFPMF_BURST, [{ type: 'drop', rate: 10, burstSize: 5 }], clock.now())).toBeUndefined();
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, instructions: [{ type: 'meter', meterId: 1 }, apply(out(2))] });
    for (let index = 0; index < 8; index += 1) ports[0]?.inject(frame);
    expect(ports[1]?.sent.length).toBe(5);
    clock.advance(200);
    for (let index = 0; index < 4; index += 1) ports[0]?.inject(frame);
    expect(ports[1]?.sent.length).toBe(7);
    expect([dp.meters.get(1)?.packetCount, dp.meters.get(1)?.bandCounts[0]?.packets]).toEqual([12n, 5n]);
  });

  it('refuses meters with both or no units, zero rates, DSCP remark bands, and past maxMeters/maxBands', () => {
    const { dp } = setup({ meters: { maxMeters: 1, maxBands: 1 } });
    const drop = { type: 'drop', rate: 100, burstSize: 0 } as const;
    expect(dp.meters.add(1, 0, [drop], 0)).toBe(OFPMMFC.BAD_FLAGS);
    expect(dp.meters.add(1, OFPMF_PKTPS, [{ ...drop, rate: 0 }], 0)).toBe(OFPMMFC.BAD_RATE);
    expect(dp.meters.add(1, OFPMF_PKTPS, [{ type: 'dscp-remark', rate: 1, burstSize: 0, precLevel: 1 }], 0)).toBe(OFPMMFC.BAD_BAND);
    expect(dp.meters.add(1, OFPMF_PKTPS, [drop, drop], 0)).toBe(OFPMMFC.OUT_OF_BANDS);
    expect(dp.meters.add(0, OFPMF_PKTPS, [drop], 0)).toBe(OFPMMFC.INVALID_METER);
    expect(dp.meters.add(1, OFPMF_PKTPS, [drop], 0)).toBeUndefined();
    expect(dp.meters.add(2, OFPMF_PKTPS, [drop], 0)).toBe(OFPMMFC.OUT_OF_METERS);
  });
});

describe('flow-mod checks (1.3.x §6.4)', () => {
  it('refuses a bad table, a backward goto, an unknown meter or group, NORMAL, OFPP_TABLE in a flow and unsupported match fields', () => {
    const { dp } = setup({ nTables: 4 });
    const raw = { other: [{ oxmClass: 0x8000, field: 26, hasMask: false, payload: new Uint8Array(16) }] };
    expect(dp.checkFlow(4, {}, [])).toEqual({ type: OFPET_FLOW_MOD_FAILED, code: 2 });
    expect(dp.checkFlow(2, {}, [{ type: 'goto-table', tableId: 1 }])).toEqual({ type: OFPET_BAD_INSTRUCTION, code: 2 });
    expect(dp.checkFlow(2, {}, [{ type: 'goto-table', tableId: 4 }])).toEqual({ type: OFPET_BAD_INSTRUCTION, code: 2 });
    expect(dp.checkFlow(0, {}, [{ type: 'meter', meterId: 3 }])).toEqual({ type: OFPET_METER_MOD_FAILED, code: OFPMMFC.UNKNOWN_METER });
    expect(dp.checkFlow(0, {}, [apply({ type: 'group', groupId: 3 })])).toEqual({ type: OFPET_BAD_ACTION, code: 9 });
    expect(dp.checkFlow(0, {}, [apply(out(OFPP_NORMAL))])).toEqual({ type: OFPET_BAD_ACTION, code: 0 });
    expect(dp.checkFlow(0, {}, [apply(out(OFPP_TABLE))])).toEqual({ type: OFPET_BAD_ACTION, code: 4 });
    expect(dp.checkFlow(0, {}, [apply({ type: 'pop-mpls', ethertype: 0x0800 })])).toEqual({ type: OFPET_BAD_ACTION, code: 0 });
    expect(dp.checkFlow(0, raw, [])).toEqual({ type: OFPET_BAD_MATCH, code: OFPBMC_BAD_FIELD });
    expect(dp.checkFlow(0, metadataMatch(1n, 1n), [apply(out(2)), { type: 'goto-table', tableId: 3 }])).toBeUndefined();
    expect(dp.checkActions([out(OFPP_TABLE)], true)).toBeUndefined();
  });

  it('sweeps timed-out entries of every table and reports them', () => {
    const { dp, clock, removed } = setup();
    dp.tables[0]?.add({ ...spec, match: {}, priority: 1, idleTimeout: 1, instructions: [] });
    dp.tables[5]?.add({ ...spec, match: {}, priority: 1, hardTimeout: 2, instructions: [] });
    clock.advance(1_000);
    dp.expire();
    clock.advance(1_000);
    dp.expire();
    expect(removed.map(([, table, reason]) => [table, reason])).toEqual([[0, 0], [5, 1]]);
  });
});
