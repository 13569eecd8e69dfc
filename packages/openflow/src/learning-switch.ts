/**
 * A reactive learning switch: learns source MACs per switch from PACKET_INs, installs a flow
 * when the destination is known and floods otherwise (the classic L2 learning controller).
 */
import { type Clock, CounterSet, type Counters } from '@morgana/core';
import { OFPCML_NO_BUFFER, OFPFC_ADD, OFPG_ANY, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFP_NO_BUFFER, OFP_VERSION_1_0 } from './constants.js';
import type { SwitchConnection } from './controller.js';
import type { OfpMessage } from './wire.js';

export interface LearningSwitchConfig {
  readonly clock: Clock;
  /** MAC addresses remembered per switch; the least recently seen goes first; default 4 096. */
  readonly maxMacs?: number;
  /** Milliseconds a learned MAC stays valid without being seen again; default 300 000. */
  readonly macIdleTimeoutMs?: number;
  /** idle_timeout of installed flows, in seconds; default 60. */
  readonly flowIdleTimeout?: number;
  /** Priority of installed flows; default 100. */
  readonly flowPriority?: number;
}

export const LEARNING_SWITCH_DEFAULTS = { maxMacs: 4_096, macIdleTimeoutMs: 300_000, flowIdleTimeout: 60, flowPriority: 100 } as const;

interface Learned {
  readonly port: number;
  readonly seen: number;
}

/** A per-switch MAC table bounded in size, with idle expiry. */
export class MacTable {
  private readonly entries = new Map<number, Learned>();

  constructor(private readonly clock: Clock, private readonly maxMacs: number, private readonly idleTimeoutMs: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Records that `mac` was seen on `port`; returns true when an older entry was evicted. */
  learn(mac: number, port: number): boolean {
    // Re-inserting moves the entry to the back of the Map's order, which is recency order.
    this.entries.delete(mac);
    let evicted = false;
    if (this.entries.size >= this.maxMacs) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
      evicted = true;
    }
    this.entries.set(mac, { port, seen: this.clock.now() });
    return evicted;
  }

  /** The port `mac` was last seen on, unless it expired. */
  lookup(mac: number): number | undefined {
    const entry = this.entries.get(mac);
    if (entry === undefined) return undefined;
    if (this.clock.now() - entry.seen > this.idleTimeoutMs) {
      this.entries.delete(mac);
      return undefined;
    }
    return entry.port;
  }
}

export interface LearningSwitch {
  table(datapathId: bigint): MacTable | undefined;
  stats(): Counters;
}

const ETHERNET_HEADER = 14;

function readMac(bytes: Uint8Array, offset: number): number {
  let value = 0;
  for (let index = 0; index < 6; index += 1) value = value * 256 + (bytes[offset + index] as number);
  return value;
}

/** Attaches the learning switch to `controller`'s switches (call from `onSwitch`). */
export function createLearningSwitch(config: LearningSwitchConfig): LearningSwitch & { attach(connection: SwitchConnection): void } {
  const settings = { ...LEARNING_SWITCH_DEFAULTS, ...config };
  const counters = new CounterSet();
  const tables = new Map<bigint, MacTable>();

  const onPacketIn = (connection: SwitchConnection, table: MacTable, packetIn: Extract<OfpMessage, { type: 'packet-in' }>): void => {
    const inPort = packetIn.match.inPort;
    if (inPort === undefined || packetIn.data.length < ETHERNET_HEADER) {
      counters.add('drop-short-packet-in');
      return;
    }
    const dst = readMac(packetIn.data, 0);
    const src = readMac(packetIn.data, 6);
    // A group (multicast/broadcast) source address is never a station to learn (IEEE 802.3 3.2.3).
    if (Math.floor(src / 2 ** 40) % 2 === 0) {
      if (table.learn(src, inPort)) counters.add('mac-evicted');
    }
    const outPort = Math.floor(dst / 2 ** 40) % 2 === 0 ? table.lookup(dst) : undefined;
    const buffered = packetIn.bufferId !== OFP_NO_BUFFER;
    const data = buffered ? new Uint8Array(0) : packetIn.data;
    if (outPort === undefined) {
      counters.add('flooded');
      connection.send({ type: 'packet-out', bufferId: packetIn.bufferId, inPort, actions: [{ type: 'output', port: OFPP_FLOOD, maxLen: 0 }], data });
      return;
    }
    if (outPort === inPort) {
      counters.add('drop-same-port');
      return;
    }
    counters.add('flows-installed');
    const actions = [{ type: 'output' as const, port: outPort, maxLen: 0 }];
    connection.send({
      type: 'flow-mod', cookie: 0n, cookieMask: 0n, tableId: 0, command: OFPFC_ADD, idleTimeout: settings.flowIdleTimeout,
      hardTimeout: 0, priority: settings.flowPriority, bufferId: packetIn.bufferId, outPort: OFPP_ANY, outGroup: OFPG_ANY, flags: 0,
      match: { inPort, ethSrc: src, ethDst: dst }, instructions: [{ type: 'apply-actions', actions }],
    });
    // A buffered packet is released by the flow-mod itself; an unbuffered one is sent here.
    if (!buffered) connection.send({ type: 'packet-out', bufferId: OFP_NO_BUFFER, inPort, actions, data });
  };

  return {
    table: (datapathId) => tables.get(datapathId),
    stats: () => counters.snapshot(),
    attach(connection: SwitchConnection): void {
      const table = new MacTable(settings.clock, settings.maxMacs, settings.macIdleTimeoutMs);
      tables.set(connection.datapathId, table);
      connection.onClose(() => {
        if (tables.get(connection.datapathId) === table) tables.delete(connection.datapathId);
      });
      connection.onMessage((message) => {
        if (message.type === 'packet-in') onPacketIn(connection, table, message);
      });
      if (connection.version !== OFP_VERSION_1_0) {
        // OpenFlow 1.3 drops table misses unless a table-miss flow sends them up (1.3 §5.4).
        connection.send({
          type: 'flow-mod', cookie: 0n, cookieMask: 0n, tableId: 0, command: OFPFC_ADD, idleTimeout: 0, hardTimeout: 0, priority: 0,
          bufferId: OFP_NO_BUFFER, outPort: OFPP_ANY, outGroup: OFPG_ANY, flags: 0, match: {},
          instructions: [{ type: 'apply-actions', actions: [{ type: 'output', port: OFPP_CONTROLLER, maxLen: OFPCML_NO_BUFFER }] }],
        });
      }
    },
  };
}

