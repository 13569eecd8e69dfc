/**
 * The switch side of OpenFlow 1.0 and 1.3 over morgana Netifs: the datapath (datapath.ts)
 * driven by controllers that connect to a passive listener (like `ptcp:`) and/or that the
 * switch dials itself, with reconnect and backoff (1.3.x §6.3).
 */
import { type Clock, CounterSet, type Counters, DecodeError, type Ipv4Address, type Netif, type Tcp, type TcpFlow, type TcpListener, type Timer } from '@morgana/core';
import {
  OFPBRC_BAD_EXPERIMENTER, OFPBRC_BAD_MULTIPART, OFPBRC_BAD_TYPE, OFPCR_ROLE_EQUAL, OFPCR_ROLE_MASTER, OFPCR_ROLE_NOCHANGE,
  OFPCR_ROLE_SLAVE, OFPET_BAD_REQUEST, OFPET_FLOW_MOD_FAILED, OFPET_GROUP_MOD_FAILED, OFPET_METER_MOD_FAILED,
  OFPET_PORT_MOD_FAILED, OFPET_ROLE_REQUEST_FAILED, OFPET_TABLE_MOD_FAILED, OFPFC_ADD, OFPFC_DELETE, OFPFC_DELETE_STRICT,
  OFPFC_MODIFY, OFPFC_MODIFY_STRICT, OFPG_ALL, OFPG_ANY, OFPGC_ADD, OFPGC_DELETE, OFPGC_MODIFY, OFPM_ALL, OFPMC_ADD,
  OFPMC_DELETE, OFPMC_MODIFY, OFPMPF_MORE, OFPP_ANY, OFPTT_ALL, OFP_NO_BUFFER, OFP_VERSION_1_0,
  OFP_VERSION_1_3, OFPMP_TABLE_FEATURES, OFP13, OFPBRC_BUFFER_UNKNOWN, OFPBRC_IS_SLAVE, OFPFMFC_TABLE_FULL, OFPFMFC_OVERLAP,
  OFPFMFC_BAD_COMMAND, OFPFMFC_BAD_TABLE_ID, OFPGMFC_BAD_COMMAND, OFPMMFC_BAD_COMMAND, OFPPMFC_BAD_PORT, OFPPMFC_BAD_HW_ADDR,
  OFPTMFC_BAD_TABLE, OFPRRFC_STALE, OFPRRFC_BAD_ROLE,
} from './constants.js';
import type { OutgoingMessage } from './controller.js';
import { Datapath, type DatapathPort, type ModError, OFPPC_NO_FLOOD, OFPPC_NO_FWD, OFPPC_NO_PACKET_IN, OFPPC_NO_RECV, OFPPC_PORT_DOWN, OFPPS_LIVE, type PacketIn } from './datapath.js';
import { type FlowEntry, type FlowFilter, FlowTable, OFPRR_DELETE, OXM_FIELD_METADATA, selects } from './flow-table.js';
import type { RawOxm } from './match.js';
import type { GroupTableConfig } from './group-table.js';
import type { MeterTableConfig } from './meter-table.js';
import { type ChannelConfig, SwitchChannel } from './switch-channel.js';
import { SWITCH_ACTIONS, errorIn10, instructionsTo10, matchFrom10, matchTo10, tableFeatures } from './switch-view.js';
import type { FlowStatsEntry, MultipartReplyBody, MultipartRequestBody, OfpMessage, PortDesc, PortStatsEntry } from './wire.js';

/** Port-status reasons. */
const OFPPR_MODIFY = 2;
/** Capabilities (features-reply): flow, table, port stats; 1.3 adds group stats. */
const CAPABILITIES_10 = 0x7;
const CAPABILITIES_13 = 0xf;
/** 1.0 actions bitmap: OUTPUT through ENQUEUE (1.0.0 §5.3.1). */
const ACTIONS_10 = 0xfff;
/** The port config bits PORT_MOD may change. */
const PORT_CONFIG_BITS = OFPPC_PORT_DOWN | OFPPC_NO_RECV | OFPPC_NO_FLOOD | OFPPC_NO_FWD | OFPPC_NO_PACKET_IN;
/** 10 Gb/s full duplex, copper (ofp_port_features; 1.0 numbers COPPER 1 << 7, 1.3 1 << 11). */
const PORT_FEATURES_10 = (1 << 6) | (1 << 7);
const PORT_FEATURES_13 = (1 << 6) | (1 << 11);
/** OFP_DEFAULT_MISS_SEND_LEN. */
const DEFAULT_MISS_SEND_LEN = 128;

/** A controller the switch dials (active mode, like `ovs-vsctl set-controller tcp:HOST:PORT`). */
export interface ControllerTarget {
  readonly address: Ipv4Address;
  readonly port: number;
}

export interface SwitchConfig {
  readonly tcp: Tcp;
  readonly clock: Clock;
  /** Data ports; port number i + 1 is `ports[i]`. */
  readonly ports: readonly Netif[];
  /** Port names in port descriptions; default `port1`, `port2`, ... */
  readonly portNames?: readonly string[];
  /** The OFPP_LOCAL port, if any. */
  readonly localPort?: Netif;
  readonly datapathId: bigint;
  /** Accept controller connections (like `ptcp:`); default true. */
  readonly passive?: boolean;
  /** TCP port of the passive listener; default 6634 (0: any free port). */
  readonly listenPort?: number;
  /** Address the listener binds; default every address. */
  readonly listenAddress?: Ipv4Address;
  /** Controllers to dial and keep dialling (active mode). */
  readonly controllers?: readonly ControllerTarget[];
  /** Versions spoken, highest first; default [1.3, 1.0]. */
  readonly versions?: readonly number[];
  /** Flow tables; default 8 (1.0 controllers see them too). */
  readonly nTables?: number;
  /** Flow entries per table; default 4 096. */
  readonly maxFlows?: number;
  readonly groups?: GroupTableConfig;
  readonly meters?: MeterTableConfig;
  /** A miss with no table-miss entry: to the controllers (default) or dropped (1.3.x §5.4). */
  readonly tableMiss?: 'controller' | 'drop';
  /** Milliseconds between timeout sweeps; default 1 000 (timeouts are whole seconds). */
  readonly expiryIntervalMs?: number;
  /** Controller connections at once, passive and active together; default 16. */
  readonly maxConnections?: number;
  /** Description strings returned in OFPMP_DESC. */
  readonly description?: string;
  /** Silence before an ECHO_REQUEST / before giving a connection up, ms; default 5 000 / 15 000. */
  readonly echoIntervalMs?: number;
  readonly echoTimeoutMs?: number;
  /** Reconnect backoff of active connections: first and longest wait, ms; default 1 000 / 16 000. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** Milliseconds a dial may take; default 10 000. */
  readonly connectTimeoutMs?: number;
  /** Bytes queued per connection past which asynchronous messages are dropped (past twice it, the connection is closed); default 4 MiB. */
  readonly maxWriteQueueBytes?: number;
}

/** Defaults of {@link SwitchConfig}. */
export const SWITCH_DEFAULTS = {
  listenPort: 6634, versions: [OFP_VERSION_1_3, OFP_VERSION_1_0], expiryIntervalMs: 1_000, maxConnections: 16, echoIntervalMs: 5_000,
  echoTimeoutMs: 15_000, reconnectMinMs: 1_000, reconnectMaxMs: 16_000, connectTimeoutMs: 10_000, maxWriteQueueBytes: 4 * 1024 * 1024,
} as const;

export interface OpenFlowSwitch {
  /** The passive listener's port (0 when not listening, or not bound yet). */
  readonly port: number;
  readonly datapath: Datapath;
  /** Table 0. */
  readonly table: FlowTable;
  /** Connections with a negotiated version. */
  connections(): readonly { readonly version: number; readonly role: number; readonly remotePort: number }[];
  stats(): Counters;
  close(): void;
}

function duration(clock: Clock, since: number): { durationSec: number; durationNsec: number } {
  const age = Math.max(0, clock.now() - since);
  return { durationSec: Math.floor(age / 1000), durationNsec: Math.floor((age % 1000) * 1e6) };
}

/** Whether generation id `a` is older than `b` (1.3.x §6.3.5: the difference read as signed 64-bit). */
function stale(a: bigint, b: bigint): boolean {
  return BigInt.asIntN(64, a - b) < 0n;
}

/** Starts a switch: frames on `config.ports` go through the datapath, controllers manage it. */
export function createOpenFlowSwitch(config: SwitchConfig): OpenFlowSwitch {
  const counters = new CounterSet();
  const channels = new Set<SwitchChannel>();
  const clock = config.clock;
  const versions = config.versions ?? SWITCH_DEFAULTS.versions;
  let missSendLen = DEFAULT_MISS_SEND_LEN;
  /** The largest generation id a master/slave request carried (1.3.x §6.3.5); undefined until one. */
  let generationId: bigint | undefined;
  let closed = false;

  const broadcast = (kind: 'packet-in' | 'port-status' | 'flow-removed', reason: number, make: (channel: SwitchChannel) => OutgoingMessage): void => {
    for (const channel of channels) if (channel.wants(kind, reason)) channel.sendAsync(make(channel));
  };

  const toPacketIn = (packet: PacketIn) => (channel: SwitchChannel): OutgoingMessage => ({
    // No packet buffers: the whole frame goes up with OFP_NO_BUFFER (1.3.x §7.4.1).
    type: 'packet-in', bufferId: OFP_NO_BUFFER, totalLen: packet.frame.length, reason: packet.reason,
    tableId: channel.version === OFP_VERSION_1_0 ? 0 : packet.tableId, cookie: packet.cookie,
    // The pipeline fields (1.3.x §7.4.1): the ingress port, and the metadata when it is set.
    match: channel.version === OFP_VERSION_1_0 || packet.metadata === 0n ? { inPort: packet.inPort } : { inPort: packet.inPort, other: [metadataOxm(packet.metadata)] },
    data: packet.frame,
  });

  const flowRemoved = (entry: FlowEntry, tableId: number, reason: number): void => {
    if (!FlowTable.notifies(entry)) return;
    const age = duration(clock, entry.installedAt);
    broadcast('flow-removed', reason, (channel) => ({
      type: 'flow-removed', cookie: entry.cookie, priority: entry.priority, reason, tableId, ...age, idleTimeout: entry.idleTimeout,
      hardTimeout: entry.hardTimeout, packetCount: entry.packetCount, byteCount: entry.byteCount,
      match: channel.version === OFP_VERSION_1_0 ? matchTo10(entry.match) : entry.match,
    }));
  };

  const datapath = new Datapath({
    clock, ports: config.ports, portNames: config.portNames, localPort: config.localPort, nTables: config.nTables, maxFlows: config.maxFlows,
    groups: config.groups, meters: config.meters, tableMiss: config.tableMiss,
    onPacketIn: (packet) => broadcast('packet-in', packet.reason, toPacketIn(packet)),
    onFlowRemoved: flowRemoved,
  });

  let sweeper: Timer | undefined;
  const sweep = (): void => {
    datapath.expire();
    sweeper = clock.setTimer(config.expiryIntervalMs ?? SWITCH_DEFAULTS.expiryIntervalMs, sweep);
  };
  sweeper = clock.setTimer(config.expiryIntervalMs ?? SWITCH_DEFAULTS.expiryIntervalMs, sweep);

  const portDesc = (port: DatapathPort, version: number): PortDesc => ({
    portNo: port.portNo, hwAddr: port.netif.mac, name: port.name, config: port.config,
    // OFPPS_LIVE is 1.3's; 1.0 reads that bit as an STP state.
    state: version === OFP_VERSION_1_0 ? port.state & ~OFPPS_LIVE : port.state,
    curr: version === OFP_VERSION_1_0 ? PORT_FEATURES_10 : PORT_FEATURES_13, advertised: 0, supported: 0, peer: 0,
    currSpeed: 10_000_000, maxSpeed: 10_000_000,
  });

  const portStats = (port: DatapathPort): PortStatsEntry => ({
    portNo: port.portNo, counters: [port.rxPackets, port.txPackets, port.rxBytes, port.txBytes, port.rxDropped, port.txDropped, 0n, 0n, 0n, 0n, 0n, 0n],
    ...duration(clock, port.installedAt),
  });

  const flowStats = (entry: FlowEntry, tableId: number, version: number): FlowStatsEntry => ({
    tableId, ...duration(clock, entry.installedAt), priority: entry.priority, idleTimeout: entry.idleTimeout, hardTimeout: entry.hardTimeout,
    flags: entry.flags, cookie: entry.cookie, packetCount: entry.packetCount, byteCount: entry.byteCount,
    match: version === OFP_VERSION_1_0 ? matchTo10(entry.match) : entry.match,
    instructions: version === OFP_VERSION_1_0 ? instructionsTo10(entry.instructions) : entry.instructions,
  });

  /** The tables a request names: one, or every one for OFPTT_ALL (and for 1.0, which has no table field in flow-mod). */
  const tablesOf = (tableId: number): number[] => (tableId === OFPTT_ALL ? datapath.tables.map((_, index) => index) : tableId < datapath.tables.length ? [tableId] : []);

  const selected = (filter: FlowFilter, tableId: number): { entry: FlowEntry; tableId: number }[] =>
    tablesOf(tableId).flatMap((id) => (datapath.tables[id] as FlowTable).all().filter((entry) => selects(filter, entry)).map((entry) => ({ entry, tableId: id })));

  const refCount = (groupId: number): number => datapath.tables.reduce((sum, table) => sum + table.all().filter((entry) => entry.instructions.some((instruction) =>
    (instruction.type === 'apply-actions' || instruction.type === 'write-actions') && instruction.actions.some((action) => action.type === 'group' && action.groupId === groupId))).length, 0);

  const meterFlows = (meterId: number): number => datapath.tables.reduce((sum, table) =>
    sum + table.all().filter((entry) => entry.instructions.some((instruction) => instruction.type === 'meter' && instruction.meterId === meterId)).length, 0);

  /** Sends a multipart reply, split over several messages (OFPMPF_REPLY_MORE) when it exceeds one. */
  const replyMultipart = <T>(channel: SwitchChannel, xid: number, items: readonly T[], body: (part: readonly T[]) => MultipartReplyBody): void => {
    const send = (part: readonly T[], more: boolean): void => {
      try {
        channel.send({ type: 'multipart-reply', flags: more ? OFPMPF_MORE : 0, body: body(part) }, xid);
      } catch (error) {
        if (!(error instanceof DecodeError) || part.length < 2) throw error;
        const half = Math.ceil(part.length / 2);
        send(part.slice(0, half), true);
        send(part.slice(half), more);
      }
    };
    send(items, false);
  };

  const multipart = (channel: SwitchChannel, xid: number, body: MultipartRequestBody, bytes: Uint8Array): void => {
    const version = channel.version;
    const reply = (replyBody: MultipartReplyBody): void => { channel.send({ type: 'multipart-reply', flags: 0, body: replyBody }, xid); };
    switch (body.kind) {
      case 'desc': {
        const text = config.description ?? 'morgana OpenFlow switch';
        reply({ kind: 'desc', mfrDesc: 'morgana', hwDesc: 'morgana software switch', swDesc: text, serialNum: '', dpDesc: text });
        return;
      }
      case 'port-desc': replyMultipart(channel, xid, datapath.ports, (ports) => ({ kind: 'port-desc', ports: ports.map((port) => portDesc(port, version)) })); return;
      case 'flow': case 'aggregate': {
        const filter: FlowFilter = {
          match: version === OFP_VERSION_1_0 ? matchFrom10(body.match) : body.match, strict: false, priority: 0, cookie: body.cookie, cookieMask: body.cookieMask,
          outPort: body.outPort, outGroup: version === OFP_VERSION_1_0 ? OFPG_ANY : body.outGroup,
        };
        const hits = selected(filter, body.tableId);
        if (body.kind === 'flow') replyMultipart(channel, xid, hits, (part) => ({ kind: 'flow', flows: part.map(({ entry, tableId }) => flowStats(entry, tableId, version)) }));
        else {
          reply({
            kind: 'aggregate', packetCount: hits.reduce((sum, { entry }) => sum + entry.packetCount, 0n),
            byteCount: hits.reduce((sum, { entry }) => sum + entry.byteCount, 0n), flowCount: hits.length,
          });
        }
        return;
      }
      case 'table':
        replyMultipart(channel, xid, datapath.tables.map((table, tableId) => ({ table, tableId })), (part) => ({
          kind: 'table',
          tables: part.map(({ table, tableId }) => ({
            // 1.0's wildcards: every field may be wildcarded (OFPFW_ALL).
            tableId, name: `table${tableId}`, wildcards: 0x3fffff, maxEntries: table.capacity, activeCount: table.size, lookupCount: table.lookups, matchedCount: table.matched,
          })),
        }));
        return;
      case 'port-stats':
        replyMultipart(channel, xid, datapath.ports.filter((port) => body.portNo === OFPP_ANY || port.portNo === body.portNo), (ports) => ({ kind: 'port-stats', ports: ports.map(portStats) }));
        return;
      case 'queue': reply({ kind: 'queue', queues: [] }); return;
      case 'group':
        replyMultipart(channel, xid, datapath.groups.all().filter((group) => body.groupId === OFPG_ALL || group.groupId === body.groupId), (groups) => ({
          kind: 'group',
          groups: groups.map((group) => ({
            groupId: group.groupId, refCount: refCount(group.groupId), packetCount: group.packetCount, byteCount: group.byteCount, ...duration(clock, group.installedAt),
            bucketStats: group.bucketCounts.map((count) => ({ packetCount: count.packets, byteCount: count.bytes })),
          })),
        }));
        return;
      case 'group-desc':
        replyMultipart(channel, xid, datapath.groups.all(), (groups) => ({ kind: 'group-desc', groups: groups.map((group) => ({ groupType: group.type, groupId: group.groupId, buckets: group.buckets })) }));
        return;
      case 'group-features': {
        const max = config.groups?.maxGroups ?? 256;
        const actions = SWITCH_ACTIONS.reduce((bits, type) => bits | (1 << type), 0) >>> 0;
        // Every type; weights, liveness, chaining and chaining checks (OFPGFC_*).
        reply({ kind: 'group-features', types: 0xf, capabilities: 0xf, maxGroups: [max, max, max, max], actions: [actions, actions, actions, actions] });
        return;
      }
      case 'meter':
        replyMultipart(channel, xid, datapath.meters.all().filter((meter) => body.meterId === OFPM_ALL || meter.meterId === body.meterId), (meters) => ({
          kind: 'meter',
          meters: meters.map((meter) => ({
            meterId: meter.meterId, flowCount: meterFlows(meter.meterId), packetInCount: meter.packetCount, byteInCount: meter.byteCount, ...duration(clock, meter.installedAt),
            bandStats: meter.bandCounts.map((count) => ({ packetCount: count.packets, byteCount: count.bytes })),
          })),
        }));
        return;
      case 'meter-config':
        replyMultipart(channel, xid, datapath.meters.all().filter((meter) => body.meterId === OFPM_ALL || meter.meterId === body.meterId), (meters) => ({
          kind: 'meter-config', meters: meters.map((meter) => ({ flags: meter.flags, meterId: meter.meterId, bands: meter.bands })),
        }));
        return;
      case 'meter-features':
        // DROP bands only; kb/s, packets/s, burst and statistics (OFPMF_*).
        reply({ kind: 'meter-features', maxMeter: datapath.meters.maxMeters, bandTypes: 1 << 1, capabilities: 0xf, maxBands: datapath.meters.maxBands, maxColor: 0 });
        return;
      case 'other':
        // A table-features query without a body reads the features (1.3.x §7.3.5.5); setting them is refused.
        if (body.statsType === OFPMP_TABLE_FEATURES && body.data.length === 0 && version !== OFP_VERSION_1_0) {
          const tables = tableFeatures(datapath.tables.length, datapath.tables[0]?.capacity ?? 0);
          replyMultipart(channel, xid, tables, (part) => ({ kind: 'other', statsType: OFPMP_TABLE_FEATURES, data: concat(part) }));
          return;
        }
        break;
      default:
        break;
    }
    channel.sendError(bytes, OFPET_BAD_REQUEST, body.kind === 'experimenter' ? OFPBRC_BAD_EXPERIMENTER : OFPBRC_BAD_MULTIPART);
  };

  const fail = (channel: SwitchChannel, bytes: Uint8Array, error: ModError): void => {
    counters.add('mod-refused');
    const { type, code } = channel.version === OFP_VERSION_1_0 ? errorIn10(error) : error;
    channel.sendError(bytes, type, code);
  };

  const flowMod = (channel: SwitchChannel, message: OfpMessage & { type: 'flow-mod' }, bytes: Uint8Array): void => {
    const v10 = channel.version === OFP_VERSION_1_0;
    const match = v10 ? matchFrom10(message.match) : message.match;
    // 1.0 has one table in its flow-mod: adds go to table 0, modifies and deletes reach every table.
    const tableId = v10 && message.command !== OFPFC_ADD ? OFPTT_ALL : message.tableId;
    const strict = message.command === OFPFC_MODIFY_STRICT || message.command === OFPFC_DELETE_STRICT;
    const filter: FlowFilter = {
      match, strict, priority: message.priority, cookie: message.cookie, cookieMask: v10 ? 0n : message.cookieMask,
      outPort: message.outPort, outGroup: v10 ? OFPG_ANY : message.outGroup,
    };
    const add = (): void => {
      const problem = datapath.checkFlow(message.tableId, match, message.instructions);
      if (problem !== undefined) {
        fail(channel, bytes, problem);
        return;
      }
      const result = (datapath.tables[message.tableId] as FlowTable).add({
        match, priority: message.priority, cookie: message.cookie, idleTimeout: message.idleTimeout, hardTimeout: message.hardTimeout, flags: message.flags, instructions: message.instructions,
      });
      if (result === 'table-full') fail(channel, bytes, { type: OFPET_FLOW_MOD_FAILED, code: OFPFMFC_TABLE_FULL });
      else if (result === 'overlap') fail(channel, bytes, { type: OFPET_FLOW_MOD_FAILED, code: OFPFMFC_OVERLAP });
      else counters.add('flows-added');
    };
    if (tableId !== OFPTT_ALL && tableId >= datapath.tables.length) {
      fail(channel, bytes, { type: OFPET_FLOW_MOD_FAILED, code: OFPFMFC_BAD_TABLE_ID });
      return;
    }
    switch (message.command) {
      case OFPFC_ADD:
        add();
        break;
      case OFPFC_MODIFY: case OFPFC_MODIFY_STRICT: {
        const tables = tablesOf(tableId);
        for (const id of tables) {
          const problem = datapath.checkFlow(id, match, message.instructions);
          if (problem !== undefined) {
            fail(channel, bytes, problem);
            return;
          }
        }
        const changed = tables.reduce((sum, id) => sum + (datapath.tables[id] as FlowTable).modify(filter, message.instructions, message.flags), 0);
        // In 1.0 a modify that changes nothing adds the flow (1.0.0 §4.6).
        if (changed === 0 && v10) add();
        break;
      }
      case OFPFC_DELETE: case OFPFC_DELETE_STRICT:
        for (const id of tablesOf(tableId)) for (const entry of (datapath.tables[id] as FlowTable).delete(filter)) flowRemoved(entry, id, OFPRR_DELETE);
        break;
      default:
        fail(channel, bytes, { type: OFPET_FLOW_MOD_FAILED, code: OFPFMFC_BAD_COMMAND });
        return;
    }
    // No packet buffers: a flow-mod naming one still takes effect, then the buffer is reported unknown.
    if (message.bufferId !== OFP_NO_BUFFER) fail(channel, bytes, { type: OFPET_BAD_REQUEST, code: OFPBRC_BUFFER_UNKNOWN });
  };

  const groupMod = (channel: SwitchChannel, message: OfpMessage & { type: 'group-mod' }, bytes: Uint8Array): void => {
    const now = clock.now();
    let code: number | undefined;
    if (message.command === OFPGC_DELETE) {
      datapath.removeGroupUsers(datapath.groups.delete(message.groupId, message.groupId === OFPG_ALL));
      return;
    }
    const problem = datapath.checkBuckets(message.buckets);
    if (problem !== undefined) {
      fail(channel, bytes, problem);
      return;
    }
    if (message.command === OFPGC_ADD) code = datapath.groups.add(message.groupId, message.groupType, message.buckets, now);
    else if (message.command === OFPGC_MODIFY) code = datapath.groups.modify(message.groupId, message.groupType, message.buckets);
    else code = OFPGMFC_BAD_COMMAND;
    if (code !== undefined) fail(channel, bytes, { type: OFPET_GROUP_MOD_FAILED, code });
  };

  const meterMod = (channel: SwitchChannel, message: OfpMessage & { type: 'meter-mod' }, bytes: Uint8Array): void => {
    const now = clock.now();
    let code: number | undefined;
    if (message.command === OFPMC_DELETE) {
      datapath.removeMeterUsers(datapath.meters.delete(message.meterId, message.meterId === OFPM_ALL));
      return;
    }
    if (message.command === OFPMC_ADD) code = datapath.meters.add(message.meterId, message.flags, message.bands, now);
    else if (message.command === OFPMC_MODIFY) code = datapath.meters.modify(message.meterId, message.flags, message.bands, now);
    else code = OFPMMFC_BAD_COMMAND;
    if (code !== undefined) fail(channel, bytes, { type: OFPET_METER_MOD_FAILED, code });
  };

  const portMod = (channel: SwitchChannel, message: OfpMessage & { type: 'port-mod' }, bytes: Uint8Array): void => {
    const port = datapath.port(message.portNo);
    if (port === undefined) {
      fail(channel, bytes, { type: OFPET_PORT_MOD_FAILED, code: OFPPMFC_BAD_PORT });
      return;
    }
    // The hardware address guards against a port renumbered under the controller (1.3.x §7.3.4.3).
    if (message.hwAddr !== port.netif.mac) {
      fail(channel, bytes, { type: OFPET_PORT_MOD_FAILED, code: OFPPMFC_BAD_HW_ADDR });
      return;
    }
    const mask = message.mask & PORT_CONFIG_BITS;
    const next = (port.config & ~mask) | (message.config & mask);
    if (next === port.config) return;
    port.config = next;
    port.state = (next & OFPPC_PORT_DOWN) !== 0 ? port.state & ~OFPPS_LIVE : port.state | OFPPS_LIVE;
    broadcast('port-status', OFPPR_MODIFY, (target) => ({ type: 'port-status', reason: OFPPR_MODIFY, port: portDesc(port, target.version) }));
  };

  const roleRequest = (channel: SwitchChannel, message: OfpMessage & { type: 'role-request' }, bytes: Uint8Array): void => {
    const role = message.role;
    if (role !== OFPCR_ROLE_NOCHANGE && role !== OFPCR_ROLE_EQUAL && role !== OFPCR_ROLE_MASTER && role !== OFPCR_ROLE_SLAVE) {
      fail(channel, bytes, { type: OFPET_ROLE_REQUEST_FAILED, code: OFPRRFC_BAD_ROLE });
      return;
    }
    if (role === OFPCR_ROLE_MASTER || role === OFPCR_ROLE_SLAVE) {
      // A request older than the newest seen is stale (1.3.x §6.3.5): an old master came back.
      if (generationId !== undefined && stale(message.generationId, generationId)) {
        fail(channel, bytes, { type: OFPET_ROLE_REQUEST_FAILED, code: OFPRRFC_STALE });
        return;
      }
      generationId = message.generationId;
    }
    if (role !== OFPCR_ROLE_NOCHANGE) {
      // One master at a time: the others become slaves.
      if (role === OFPCR_ROLE_MASTER) for (const other of channels) if (other !== channel && other.role === OFPCR_ROLE_MASTER) other.role = OFPCR_ROLE_SLAVE;
      channel.role = role;
    }
    channel.send({ type: 'role-reply', role: channel.role, generationId: generationId ?? 0n }, message.xid);
  };

  /** Messages that change the switch, refused from a slave (1.3.x §6.3.5). */
  const MODIFYING: ReadonlySet<string> = new Set(['flow-mod', 'group-mod', 'port-mod', 'table-mod', 'meter-mod', 'packet-out']);

  const handle = (channel: SwitchChannel, message: OfpMessage, bytes: Uint8Array): void => {
    const reply = (body: OutgoingMessage): void => { channel.send(body, message.xid); };
    if (MODIFYING.has(message.type) && channel.role === OFPCR_ROLE_SLAVE) {
      counters.add('slave-refused');
      channel.sendError(bytes, OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE);
      return;
    }
    const v10 = channel.version === OFP_VERSION_1_0;
    switch (message.type) {
      case 'echo-request': reply({ type: 'echo-reply', data: message.data }); return;
      case 'echo-reply': return;
      case 'error': counters.add('control-error-received'); return;
      case 'features-request':
        reply({
          type: 'features-reply', datapathId: config.datapathId, nBuffers: 0, nTables: datapath.tables.length, auxiliaryId: 0,
          capabilities: v10 ? CAPABILITIES_10 : CAPABILITIES_13, actions: v10 ? ACTIONS_10 : 0,
          ports: v10 ? datapath.ports.map((port) => portDesc(port, OFP_VERSION_1_0)) : [],
        });
        return;
      case 'get-config-request': reply({ type: 'get-config-reply', flags: datapath.configFlags, missSendLen }); return;
      case 'set-config':
        datapath.configFlags = message.flags;
        missSendLen = message.missSendLen;
        return;
      case 'barrier-request': reply({ type: 'barrier-reply' }); return;
      case 'packet-out': {
        const problem = datapath.checkActions(message.actions, true);
        if (problem !== undefined) {
          fail(channel, bytes, problem);
          return;
        }
        if (message.bufferId !== OFP_NO_BUFFER) {
          fail(channel, bytes, { type: OFPET_BAD_REQUEST, code: OFPBRC_BUFFER_UNKNOWN });
          return;
        }
        datapath.packetOut(message.data, message.inPort, message.actions);
        return;
      }
      case 'flow-mod': flowMod(channel, message, bytes); return;
      case 'group-mod': groupMod(channel, message, bytes); return;
      case 'meter-mod': meterMod(channel, message, bytes); return;
      case 'port-mod': portMod(channel, message, bytes); return;
      case 'table-mod':
        // Table config bits are deprecated in 1.3 (§7.3.3): only the table number is checked.
        if (message.tableId !== OFPTT_ALL && message.tableId >= datapath.tables.length) fail(channel, bytes, { type: OFPET_TABLE_MOD_FAILED, code: OFPTMFC_BAD_TABLE });
        return;
      case 'role-request': roleRequest(channel, { ...message, type: 'role-request' }, bytes); return;
      case 'get-async-request':
        reply({ type: 'get-async-reply', packetInMask: channel.packetInMask, portStatusMask: channel.portStatusMask, flowRemovedMask: channel.flowRemovedMask });
        return;
      case 'set-async':
        channel.packetInMask = message.packetInMask;
        channel.portStatusMask = message.portStatusMask;
        channel.flowRemovedMask = message.flowRemovedMask;
        return;
      case 'queue-get-config-request': reply({ type: 'queue-get-config-reply', port: message.port, queues: [] }); return;
      case 'multipart-request': multipart(channel, message.xid, message.body, bytes); return;
      case 'experimenter': channel.sendError(bytes, OFPET_BAD_REQUEST, OFPBRC_BAD_EXPERIMENTER); return;
      default:
        channel.sendError(bytes, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
    }
  };

  const channelConfig: ChannelConfig = {
    clock, versions, echoIntervalMs: config.echoIntervalMs ?? SWITCH_DEFAULTS.echoIntervalMs, echoTimeoutMs: config.echoTimeoutMs ?? SWITCH_DEFAULTS.echoTimeoutMs,
    maxWriteQueueBytes: config.maxWriteQueueBytes ?? SWITCH_DEFAULTS.maxWriteQueueBytes,
  };
  const maxConnections = config.maxConnections ?? SWITCH_DEFAULTS.maxConnections;

  /** Runs a connection; resolves when it ends. */
  const attach = (flow: TcpFlow): Promise<void> => {
    if (channels.size >= maxConnections || closed) {
      counters.add('connections-full');
      flow.abort();
      return Promise.resolve();
    }
    flow.setNoDelay(true);
    const channel = new SwitchChannel(flow, channelConfig, counters, handle);
    channels.add(channel);
    counters.add('connections');
    channel.onClose(() => channels.delete(channel));
    return channel.run();
  };

  let listener: TcpListener | undefined;
  if (config.passive ?? true) {
    listener = config.tcp.listen(config.listenPort ?? SWITCH_DEFAULTS.listenPort, {
      address: config.listenAddress,
      onConnection: (flow) => void attach(flow),
    });
  }

  const dialTimers = new Set<Timer>();
  /** Keeps one active connection to `target`: dial, run, wait with doubling backoff, dial again. */
  const dial = (target: ControllerTarget, backoff: number): void => {
    if (closed) return;
    const minimum = config.reconnectMinMs ?? SWITCH_DEFAULTS.reconnectMinMs;
    const maximum = config.reconnectMaxMs ?? SWITCH_DEFAULTS.reconnectMaxMs;
    const retry = (wait: number): void => {
      if (closed) return;
      const timer = clock.setTimer(wait, () => {
        dialTimers.delete(timer);
        dial(target, Math.min(maximum, wait * 2));
      });
      dialTimers.add(timer);
    };
    counters.add('dials');
    config.tcp.connect(target.address, target.port, { timeout: config.connectTimeoutMs ?? SWITCH_DEFAULTS.connectTimeoutMs }).then(
      async (flow) => {
        if (closed) {
          flow.abort();
          return;
        }
        await attach(flow);
        // A connection that ran restarts the backoff from its shortest wait.
        retry(minimum);
      },
      () => {
        counters.add('dial-failed');
        retry(backoff);
      },
    );
  };
  for (const target of config.controllers ?? []) dial(target, config.reconnectMinMs ?? SWITCH_DEFAULTS.reconnectMinMs);

  return {
    // Read when asked: a listener bound to one address learns its port a tick later.
    get port(): number {
      return listener?.port ?? 0;
    },
    datapath,
    table: datapath.tables[0] as FlowTable,
    connections: () => [...channels].filter((channel) => channel.version !== 0).map((channel) => ({ version: channel.version, role: channel.role, remotePort: channel.flow.remotePort })),
    stats: () => ({ ...datapath.stats(), ...counters.snapshot() }),
    close(): void {
      closed = true;
      sweeper?.cancel();
      for (const timer of dialTimers) timer.cancel();
      dialTimers.clear();
      listener?.close();
      for (const channel of [...channels]) channel.close();
      datapath.close();
    },
  };
}

/** OXM_OF_METADATA carrying `value` (1.3.x §7.2.2.7). */
function metadataOxm(value: bigint): RawOxm {
  const payload = new Uint8Array(8);
  for (let index = 0; index < 8; index += 1) payload[index] = Number((value >> BigInt(8 * (7 - index))) & 0xffn);
  return { oxmClass: OFP13.OXM_CLASS_OPENFLOW_BASIC, field: OXM_FIELD_METADATA, hasMask: false, payload };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
