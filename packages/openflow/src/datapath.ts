/**
 * The switch's datapath (OpenFlow 1.3.x §5): ports over morgana Netifs, a pipeline of flow
 * tables with goto-table, metadata and the action set, groups, meters, per-port counters and
 * the checks a flow-mod passes before it is installed. No control channel here: the switch
 * (switch.ts) turns the datapath's events into messages.
 */
import { type Clock, CounterSet, type Counters, type Netif } from '@morgana/core';
import type { Action, Instruction } from './actions.js';
import { type ActionSet, EMPTY_ACTION_SET, actionSetToList, updateActionSet } from './action-set.js';
import {
  OFPET_BAD_ACTION, OFPET_BAD_INSTRUCTION, OFPET_BAD_MATCH, OFPET_FLOW_MOD_FAILED, OFPET_METER_MOD_FAILED, OFPG_MAX,
  OFPBMC_BAD_FIELD, OFPFMFC_BAD_TABLE_ID, OFPBIC_BAD_TABLE_ID, OFPBIC_UNSUP_INST, OFPBAC_BAD_OUT_PORT, OFPBAC_BAD_OUT_GROUP, OFPBAC_BAD_TYPE,
  OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX, OFPP_NORMAL, OFPP_TABLE,
} from './constants.js';
import { DEFAULT_MAX_FLOWS, type FlowEntry, FlowTable, OFPRR_DELETE, OFPRR_GROUP_DELETE, packetFields, unsupportedOxms } from './flow-table.js';
import { type GroupBucket, type GroupEntry, GroupTable, type GroupTableConfig } from './group-table.js';
import { MeterTable, type MeterTableConfig, OFPMMFC } from './meter-table.js';
import type { MeterBand } from './meter.js';
import { decrementTtl, popVlan, pushVlan, setField, setTtl } from './packet-edit.js';

/** Packet-in reasons (1.3.x §7.4.1). */
export const OFPR_NO_MATCH = 0;
export const OFPR_ACTION = 1;
export const OFPR_INVALID_TTL = 2;
/** ofp_port_config bits (1.0 and 1.3 agree on these). */
export const OFPPC_PORT_DOWN = 1;
export const OFPPC_NO_RECV = 4;
/** 1.0 only: leave the port out of OFPP_FLOOD. */
export const OFPPC_NO_FLOOD = 16;
export const OFPPC_NO_FWD = 32;
export const OFPPC_NO_PACKET_IN = 64;
/** ofp_port_state bits: LINK_DOWN (both), LIVE (1.3, fast failover). */
export const OFPPS_LINK_DOWN = 1;
export const OFPPS_LIVE = 4;
/** OFPC_INVALID_TTL_TO_CONTROLLER (1.3 set-config flag): TTL-expired packets go up instead of being dropped. */
export const OFPC_INVALID_TTL_TO_CONTROLLER = 4;
/** The cookie of a packet-in not caused by a flow entry (1.3.x §7.4.1). */
const NO_COOKIE = 0xffff_ffff_ffff_ffffn;

/** One switch port. */
export interface DatapathPort {
  readonly portNo: number;
  readonly netif: Netif;
  readonly name: string;
  /** OFPPC_* bits set by PORT_MOD. */
  config: number;
  /** OFPPS_* bits. */
  state: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  readonly installedAt: number;
}

/** A packet the pipeline sends to the controllers. */
export interface PacketIn {
  readonly frame: Uint8Array;
  readonly reason: number;
  readonly tableId: number;
  readonly cookie: bigint;
  readonly inPort: number;
  readonly metadata: bigint;
}

/** An error a flow-, group- or meter-mod gets back: OFPET_* type and its code. */
export interface ModError {
  readonly type: number;
  readonly code: number;
}

export interface DatapathConfig {
  readonly clock: Clock;
  /** Data ports; port number i + 1 is `ports[i]`. */
  readonly ports: readonly Netif[];
  /** Port names (ofp_port.name); default `port1`, `port2`, ... */
  readonly portNames?: readonly string[];
  /** The OFPP_LOCAL port (the switch's own interface), if any. */
  readonly localPort?: Netif;
  /** Flow tables in the pipeline (1.3 goto-table); default 8, at most 254. */
  readonly nTables?: number;
  /** Flow entries per table; default 4 096. */
  readonly maxFlows?: number;
  readonly groups?: GroupTableConfig;
  readonly meters?: MeterTableConfig;
  /**
   * A packet that misses every entry of a table with no table-miss entry: sent to the
   * controllers (OpenFlow 1.0's behaviour, and what 1.3.x §5.4 lets a switch configure) or
   * dropped (1.3's default); default 'controller'.
   */
  readonly tableMiss?: 'controller' | 'drop';
  /** Most actions executed for one packet (groups fan out); past it the packet is dropped; default 1 024. */
  readonly maxActionsPerPacket?: number;
  readonly onPacketIn: (packet: PacketIn) => void;
  /** An entry left a table for `reason` (timeout, delete, group delete). */
  readonly onFlowRemoved: (entry: FlowEntry, tableId: number, reason: number) => void;
}

/** Defaults of {@link DatapathConfig}. */
export const DATAPATH_DEFAULTS = { nTables: 8, maxFlows: DEFAULT_MAX_FLOWS, tableMiss: 'controller', maxActionsPerPacket: 1_024 } as const;

/** What one packet carries through the pipeline. */
interface PipelineState {
  frame: Uint8Array;
  readonly inPort: number;
  metadata: bigint;
  tableId: number;
  cookie: bigint;
  /** Packet-in reason of an output to CONTROLLER: NO_MATCH from a table-miss entry. */
  reason: number;
  budget: number;
}

/** Actions the datapath executes; flow-mods and packet-outs with any other are refused (OFPBAC_BAD_TYPE). */
const SUPPORTED_ACTIONS: ReadonlySet<string> = new Set(['output', 'enqueue', 'set-field', 'push-vlan', 'pop-vlan', 'dec-nw-ttl', 'set-nw-ttl', 'group', 'set-queue']);

/** FNV-1a over the fields that identify a flow, so SELECT keeps one flow on one bucket. */
function flowHash(frame: Uint8Array, inPort: number): number {
  const fields = packetFields(frame, inPort);
  let hash = 0x811c9dc5;
  for (const value of [fields.ethSrc, fields.ethDst, fields.ipv4Src, fields.ipv4Dst, fields.ipProto, fields.tcpSrc ?? fields.udpSrc, fields.tcpDst ?? fields.udpDst]) {
    let remaining = value ?? 0;
    for (let byte = 0; byte < 6; byte += 1) {
      hash = Math.imul(hash ^ (remaining % 256), 0x01000193) >>> 0;
      remaining = Math.floor(remaining / 256);
    }
  }
  return hash;
}

/** The datapath. */
export class Datapath {
  readonly tables: readonly FlowTable[];
  readonly groups: GroupTable;
  readonly meters: MeterTable<MeterBand>;
  readonly ports: readonly DatapathPort[];
  /** Drop and error reasons, kebab-case. */
  readonly counters = new CounterSet();
  /** set-config flags (OFPC_*). */
  configFlags = 0;
  private readonly tableMiss: 'controller' | 'drop';
  private readonly maxActions: number;
  private closed = false;

  constructor(private readonly config: DatapathConfig) {
    const nTables = config.nTables ?? DATAPATH_DEFAULTS.nTables;
    if (!Number.isInteger(nTables) || nTables < 1 || nTables > 254) throw new RangeError(`nTables must be 1 to 254, got ${nTables}`);
    this.tables = Array.from({ length: nTables }, () => new FlowTable({ clock: config.clock, maxFlows: config.maxFlows }));
    this.groups = new GroupTable(config.groups);
    this.meters = new MeterTable<MeterBand>(config.meters);
    this.tableMiss = config.tableMiss ?? DATAPATH_DEFAULTS.tableMiss;
    this.maxActions = config.maxActionsPerPacket ?? DATAPATH_DEFAULTS.maxActionsPerPacket;
    const now = config.clock.now();
    this.ports = config.ports.map((netif, index) => ({
      portNo: index + 1, netif, name: config.portNames?.[index] ?? `port${index + 1}`, config: 0, state: OFPPS_LIVE,
      rxPackets: 0n, txPackets: 0n, rxBytes: 0n, txBytes: 0n, rxDropped: 0n, txDropped: 0n, installedAt: now,
    }));
    for (const port of this.ports) port.netif.listen((frame) => this.receive(port, frame));
    config.localPort?.listen((frame) => {
      if (!this.closed) this.run(frame, OFPP_LOCAL, 0);
    });
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  port(portNo: number): DatapathPort | undefined {
    return this.ports[portNo - 1];
  }

  /** Whether a port can carry traffic (fast-failover liveness, 1.3.x §6.5). */
  portLive(portNo: number): boolean {
    const port = this.port(portNo);
    return port !== undefined && (port.config & OFPPC_PORT_DOWN) === 0 && (port.state & OFPPS_LINK_DOWN) === 0;
  }

  /** Stops taking frames (the ports' Netifs stay open: their owner closes them). */
  close(): void {
    this.closed = true;
  }

  private receive(port: DatapathPort, frame: Uint8Array): void {
    if (this.closed) return;
    port.rxPackets += 1n;
    port.rxBytes += BigInt(frame.length);
    if ((port.config & (OFPPC_PORT_DOWN | OFPPC_NO_RECV)) !== 0) {
      port.rxDropped += 1n;
      this.counters.add('drop-port-no-recv');
      return;
    }
    this.run(frame, port.portNo, 0);
  }

  /** Runs a frame through the pipeline from `tableId` (a packet-out to OFPP_TABLE starts at 0). */
  run(frame: Uint8Array, inPort: number, tableId: number): void {
    // Edits happen in place: the frame may be a view into a receive buffer that gets reused.
    const state: PipelineState = { frame: frame.slice(), inPort, metadata: 0n, tableId, cookie: NO_COOKIE, reason: OFPR_ACTION, budget: this.maxActions };
    let actionSet: ActionSet = EMPTY_ACTION_SET;
    for (;;) {
      const table = this.tables[state.tableId];
      if (table === undefined) return;
      const entry = table.lookup(packetFields(state.frame, inPort), state.frame.length, state.metadata);
      if (entry === undefined) {
        this.counters.add('table-miss');
        // Without a table-miss entry the action set is not executed (1.3.x §5.4).
        if (this.tableMiss === 'controller') this.packetIn(state, OFPR_NO_MATCH);
        else this.counters.add('drop-table-miss');
        return;
      }
      state.cookie = entry.cookie;
      state.reason = FlowTable.isTableMiss(entry) ? OFPR_NO_MATCH : OFPR_ACTION;
      const next = this.instructions(entry.instructions, state);
      if (next === 'drop') return;
      actionSet = updateActionSet(actionSet, entry.instructions);
      if (next === undefined) break;
      state.tableId = next;
    }
    // At the end of the pipeline the action set runs in its fixed order (1.3.x §5.10).
    if (actionSet.size > 0) this.execute(actionSetToList(actionSet), state);
  }

  /**
   * Executes one entry's meter, apply-actions and write-metadata in the order of 1.3.x §5.9 (the
   * caller updates the action set); returns the next table, undefined at the end, or 'drop'.
   */
  private instructions(instructions: readonly Instruction[], state: PipelineState): number | undefined | 'drop' {
    // Each type appears at most once (checked at flow-mod time); pick them out in one pass.
    let meterId: number | undefined;
    let apply: readonly Action[] | undefined;
    let metadata: Instruction & { type: 'write-metadata' } | undefined;
    let next: number | undefined;
    for (const instruction of instructions) {
      if (instruction.type === 'meter') meterId = instruction.meterId;
      else if (instruction.type === 'apply-actions') apply = instruction.actions;
      else if (instruction.type === 'write-metadata') metadata = instruction;
      else if (instruction.type === 'goto-table') next = instruction.tableId;
    }
    if (meterId !== undefined) {
      const entry = this.meters.get(meterId);
      if (entry !== undefined && this.meters.apply(entry, state.frame.length, this.config.clock.now()) === 'drop') {
        this.counters.add('drop-meter');
        return 'drop';
      }
    }
    if (apply !== undefined && !this.execute(apply, state)) return 'drop';
    if (metadata !== undefined) state.metadata = (state.metadata & ~metadata.mask) | (metadata.metadata & metadata.mask);
    return next;
  }

  /** Executes an action list in order; false when the packet is gone (TTL expired). */
  private execute(actions: readonly Action[], state: PipelineState): boolean {
    for (const action of actions) {
      state.budget -= 1;
      if (state.budget < 0) {
        this.counters.add('drop-action-budget');
        return false;
      }
      switch (action.type) {
        case 'output': this.output(action.port, state); break;
        case 'enqueue': this.output(action.port, state); break;
        case 'set-field': {
          const edited = setField(state.frame, action.field, action.value);
          if (edited === undefined) this.counters.add('set-field-absent');
          else state.frame = edited;
          break;
        }
        case 'push-vlan': state.frame = pushVlan(state.frame, action.ethertype) ?? state.frame; break;
        case 'pop-vlan': state.frame = popVlan(state.frame) ?? state.frame; break;
        case 'dec-nw-ttl': {
          if (decrementTtl(state.frame) !== 'invalid') break;
          if ((this.configFlags & OFPC_INVALID_TTL_TO_CONTROLLER) !== 0) this.packetIn(state, OFPR_INVALID_TTL);
          this.counters.add('drop-invalid-ttl');
          return false;
        }
        case 'set-nw-ttl':
          if (!setTtl(state.frame, action.nwTtl)) this.counters.add('set-field-absent');
          break;
        case 'group': this.group(action.groupId, state, 0); break;
        case 'set-queue': this.counters.add('set-queue-ignored'); break;
        default:
          // Refused at flow-mod time; a packet-out is checked the same way.
          this.counters.add('unsupported-action');
      }
    }
    return true;
  }

  private group(groupId: number, state: PipelineState, depth: number): void {
    const group: GroupEntry | undefined = this.groups.get(groupId);
    if (group === undefined || depth > this.groups.maxChainDepth) {
      this.counters.add('drop-no-group');
      return;
    }
    group.packetCount += 1n;
    group.byteCount += BigInt(state.frame.length);
    const chosen = this.groups.select(group, flowHash(state.frame, state.inPort), (port) => this.portLive(port));
    if (chosen.length === 0) this.counters.add('drop-no-live-bucket');
    for (const index of chosen) {
      const bucket = group.buckets[index] as GroupBucket;
      const counts = group.bucketCounts[index];
      if (counts !== undefined) {
        counts.packets += 1n;
        counts.bytes += BigInt(state.frame.length);
      }
      // Each bucket works on its own copy of the packet (1.3.x §5.6.1, ALL "clones").
      const copy: PipelineState = { ...state, frame: state.frame.slice() };
      for (const action of bucket.actions) {
        if (action.type === 'group') this.group(action.groupId, copy, depth + 1);
        else if (!this.execute([action], copy)) break;
      }
      state.budget = copy.budget;
    }
  }

  private output(portNo: number, state: PipelineState): void {
    switch (portNo) {
      case OFPP_CONTROLLER: this.packetIn(state, state.reason); return;
      case OFPP_IN_PORT: this.transmit(state.inPort, state.frame); return;
      case OFPP_FLOOD: case OFPP_ALL:
        for (const port of this.ports) {
          if (port.portNo === state.inPort) continue;
          if (portNo === OFPP_FLOOD && (port.config & OFPPC_NO_FLOOD) !== 0) continue;
          this.transmit(port.portNo, state.frame);
        }
        return;
      case OFPP_TABLE:
        // Only a packet-out may resubmit to the tables (1.3.x §7.2.5); in a flow it is refused at flow-mod time.
        this.counters.add('drop-table-in-flow');
        return;
      case OFPP_NORMAL:
        this.counters.add('drop-normal-unsupported');
        return;
      default:
        // An output to the ingress port needs OFPP_IN_PORT (1.3.x §7.2.5).
        if (portNo === state.inPort) {
          this.counters.add('drop-output-in-port');
          return;
        }
        this.transmit(portNo, state.frame);
    }
  }

  private transmit(portNo: number, frame: Uint8Array): void {
    if (portNo === OFPP_LOCAL) {
      if (this.config.localPort === undefined) this.counters.add('drop-no-local-port');
      else this.write(this.config.localPort, frame);
      return;
    }
    const port = this.port(portNo);
    if (port === undefined) {
      this.counters.add('drop-no-port');
      return;
    }
    if ((port.config & (OFPPC_PORT_DOWN | OFPPC_NO_FWD)) !== 0) {
      port.txDropped += 1n;
      this.counters.add('drop-port-no-fwd');
      return;
    }
    if (this.write(port.netif, frame)) {
      port.txPackets += 1n;
      port.txBytes += BigInt(frame.length);
    } else port.txDropped += 1n;
  }

  private write(netif: Netif, frame: Uint8Array): boolean {
    return netif.write(frame.length, (buffer) => {
      buffer.set(frame);
      return frame.length;
    });
  }

  private packetIn(state: PipelineState, reason: number): void {
    const port = this.port(state.inPort);
    if (port !== undefined && (port.config & OFPPC_NO_PACKET_IN) !== 0) {
      this.counters.add('drop-port-no-packet-in');
      return;
    }
    this.counters.add('packet-in');
    this.config.onPacketIn({ frame: state.frame.slice(), reason, tableId: state.tableId, cookie: state.cookie, inPort: state.inPort, metadata: state.metadata });
  }

  /** PACKET_OUT (1.3.x §7.3.7): the actions on the frame as if it came in on `inPort`. */
  packetOut(frame: Uint8Array, inPort: number, actions: readonly Action[]): void {
    const state: PipelineState = { frame: frame.slice(), inPort, metadata: 0n, tableId: 0, cookie: NO_COOKIE, reason: OFPR_ACTION, budget: this.maxActions };
    for (const action of actions) {
      if (action.type === 'output' && action.port === OFPP_TABLE) this.run(state.frame, inPort, 0);
      else if (!this.execute([action], state)) return;
    }
  }

  /** Sweeps every table for timed-out entries. */
  expire(): void {
    this.tables.forEach((table, tableId) => {
      for (const { entry, reason } of table.expire()) {
        this.counters.add('flows-expired');
        this.config.onFlowRemoved(entry, tableId, reason);
      }
    });
  }

  /** Whether an output port number can appear in a flow's actions. */
  private validOutput(portNo: number): boolean {
    if (portNo === 0 || portNo === OFPP_ANY || portNo === OFPP_TABLE) return false;
    return portNo <= OFPP_MAX || [OFPP_IN_PORT, OFPP_NORMAL, OFPP_FLOOD, OFPP_ALL, OFPP_CONTROLLER, OFPP_LOCAL].includes(portNo);
  }

  /** The checks every action list passes (flows, buckets, packet-outs; the latter may output to OFPP_TABLE). */
  checkActions(actions: readonly Action[], packetOut = false): ModError | undefined {
    for (const action of actions) {
      if (!SUPPORTED_ACTIONS.has(action.type)) return { type: OFPET_BAD_ACTION, code: OFPBAC_BAD_TYPE };
      if (action.type === 'set-field' && (action.field === 'inPort' || action.field === 'inPhyPort')) return { type: OFPET_BAD_ACTION, code: OFPBAC_BAD_TYPE };
      const tableOutput = packetOut && action.type === 'output' && action.port === OFPP_TABLE;
      if ((action.type === 'output' || action.type === 'enqueue') && !tableOutput && !this.validOutput(action.port)) return { type: OFPET_BAD_ACTION, code: OFPBAC_BAD_OUT_PORT };
      if (action.type === 'group' && (action.groupId > OFPG_MAX || this.groups.get(action.groupId) === undefined)) return { type: OFPET_BAD_ACTION, code: OFPBAC_BAD_OUT_GROUP };
      if (action.type === 'output' && action.port === OFPP_NORMAL) return { type: OFPET_BAD_ACTION, code: OFPBAC_BAD_TYPE };
    }
    return undefined;
  }

  /** The checks of a flow-mod ADD/MODIFY (1.3.x §6.4): table, match fields, goto targets, ports, groups, meters. */
  checkFlow(tableId: number, match: FlowEntry['match'], instructions: readonly Instruction[]): ModError | undefined {
    if (tableId >= this.tables.length) return { type: OFPET_FLOW_MOD_FAILED, code: OFPFMFC_BAD_TABLE_ID };
    if (unsupportedOxms(match).length > 0) return { type: OFPET_BAD_MATCH, code: OFPBMC_BAD_FIELD };
    const seen = new Set<string>();
    for (const instruction of instructions) {
      // Each instruction type at most once per entry (1.3.x §5.9).
      if (seen.has(instruction.type)) return { type: OFPET_BAD_INSTRUCTION, code: OFPBIC_UNSUP_INST };
      seen.add(instruction.type);
      switch (instruction.type) {
        case 'goto-table':
          // The pipeline only goes forward (1.3.x §5.1).
          if (instruction.tableId <= tableId || instruction.tableId >= this.tables.length) return { type: OFPET_BAD_INSTRUCTION, code: OFPBIC_BAD_TABLE_ID };
          break;
        case 'meter':
          if (this.meters.get(instruction.meterId) === undefined) return { type: OFPET_METER_MOD_FAILED, code: OFPMMFC.UNKNOWN_METER };
          break;
        case 'apply-actions': case 'write-actions': {
          const problem = this.checkActions(instruction.actions);
          if (problem !== undefined) return problem;
          break;
        }
        default:
          break;
      }
    }
    return undefined;
  }

  /** Checks a group's buckets' actions before group-mod installs them. */
  checkBuckets(buckets: readonly GroupBucket[]): ModError | undefined {
    for (const bucket of buckets) {
      const problem = this.checkActions(bucket.actions.filter((action) => action.type !== 'group'));
      if (problem !== undefined) return problem;
    }
    return undefined;
  }

  /** Removes the flows that send to deleted groups (1.3.x §6.5), reporting them. */
  removeGroupUsers(groupIds: readonly number[]): void {
    if (groupIds.length === 0) return;
    const gone = new Set(groupIds);
    this.tables.forEach((table, tableId) => {
      const users = table.deleteWhere((entry) => entry.instructions.some((instruction) => (instruction.type === 'apply-actions' || instruction.type === 'write-actions')
        && instruction.actions.some((action) => action.type === 'group' && gone.has(action.groupId))));
      for (const entry of users) this.config.onFlowRemoved(entry, tableId, OFPRR_GROUP_DELETE);
    });
  }

  /** Removes the flows metered by deleted meters (1.3.x §6.6), reporting them as deleted. */
  removeMeterUsers(meterIds: readonly number[]): void {
    if (meterIds.length === 0) return;
    const gone = new Set(meterIds);
    this.tables.forEach((table, tableId) => {
      const users = table.deleteWhere((entry) => entry.instructions.some((instruction) => instruction.type === 'meter' && gone.has(instruction.meterId)));
      for (const entry of users) this.config.onFlowRemoved(entry, tableId, OFPRR_DELETE);
    });
  }

}
