/**
 * A reactive learning switch: learns source MACs per switch from PACKET_INs, installs a flow
 * when the destination is known and floods otherwise (the classic L2 learning controller).
 */
import { type Clock, CounterSet, type Counters } from '@morgana/core';
import { OFPCML_NO_BUFFER, OFPFC_ADD, OFPG_ANY, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFP_NO_BUFFER, OFP_VERSION_1_0 } from './constants.js';
import type { SwitchConnection } from './controller.js';
import { FlowModTemplate, NO_IN_PORT, PacketOutTemplate, type RawPacketIn } from './fast-path.js';

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

/** Entries a MAC table starts with room for; it doubles up to `maxMacs`. */
const INITIAL_MAC_ENTRIES = 1_024;
const NONE = -1;
const TWO_32 = 0x1_0000_0000;

/**
 * A per-switch MAC table bounded in size, with idle expiry and least-recently-learned eviction.
 * Entries live in typed arrays (MAC as a double, port, time, recency links) indexed by an
 * open-addressing hash, so learning and lookups allocate nothing.
 */
export class MacTable {
  private count = 0;
  private capacity = 0;
  private macs = new Float64Array(0);
  private ports = new Float64Array(0);
  private seen = new Float64Array(0);
  /** Recency order, a doubly linked list from `oldest` to `newest`; free entries chain through `next`. */
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  private oldest = NONE;
  private newest = NONE;
  private free = NONE;
  /** Linear-probing hash of entry index + 1 (0 = empty slot), at most half full. */
  private slots = new Int32Array(0);
  private mask = 0;

  constructor(private readonly clock: Clock, private readonly maxMacs: number, private readonly idleTimeoutMs: number) {
    this.resize(Math.min(Math.max(1, maxMacs), INITIAL_MAC_ENTRIES));
  }

  get size(): number {
    return this.count;
  }

  /**
   * Records that `mac` was seen on `port` at `now` (default the clock's time); returns true when
   * the least recently learned entry was evicted to make room.
   */
  learn(mac: number, port: number, now: number = this.clock.now()): boolean {
    let entry = this.find(mac);
    if (entry !== NONE) {
      this.unlink(entry);
    } else {
      let evicted = false;
      if (this.count >= this.maxMacs && this.oldest !== NONE) {
        this.remove(this.oldest);
        evicted = true;
      } else if (this.count >= this.capacity) {
        this.resize(Math.min(this.maxMacs, 2 * this.capacity));
      }
      entry = this.free;
      this.free = this.newer[entry] as number;
      this.macs[entry] = mac;
      this.insertSlot(entry);
      this.count += 1;
      this.ports[entry] = port;
      this.seen[entry] = now;
      this.append(entry);
      return evicted;
    }
    this.ports[entry] = port;
    this.seen[entry] = now;
    this.append(entry);
    return false;
  }

  /** The port `mac` was last seen on, unless it expired by `now` (default the clock's time). */
  lookup(mac: number, now: number = this.clock.now()): number | undefined {
    const entry = this.find(mac);
    if (entry === NONE) return undefined;
    if (now - (this.seen[entry] as number) > this.idleTimeoutMs) {
      this.remove(entry);
      return undefined;
    }
    return this.ports[entry] as number;
  }

  /**
   * The MAC's home slot: its two halves mixed by MurmurHash3's finalizer, so that every input bit
   * reaches the low bits the mask keeps (MACs that differ only in high octets must not collide).
   */
  private home(mac: number): number {
    let hash = (mac >>> 0) ^ Math.imul(Math.floor(mac / TWO_32), 0x9e3779b1);
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    return (hash ^ (hash >>> 16)) & this.mask;
  }

  private find(mac: number): number {
    const slots = this.slots;
    for (let slot = this.home(mac); ; slot = (slot + 1) & this.mask) {
      const held = slots[slot] as number;
      if (held === 0) return NONE;
      if (this.macs[held - 1] === mac) return held - 1;
    }
  }

  private insertSlot(entry: number): void {
    let slot = this.home(this.macs[entry] as number);
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry + 1;
  }

  /** Takes `entry` out of the hash (backward-shift deletion keeps probe runs unbroken), the list and the count. */
  private remove(entry: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let hole = this.home(this.macs[entry] as number);
    while (slots[hole] !== entry + 1) hole = (hole + 1) & mask;
    for (let next = (hole + 1) & mask; slots[next] !== 0; next = (next + 1) & mask) {
      const want = this.home(this.macs[(slots[next] as number) - 1] as number);
      // Move the entry at `next` into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? want > hole && want <= next : want > hole || want <= next;
      if (!stays) {
        slots[hole] = slots[next] as number;
        hole = next;
      }
    }
    slots[hole] = 0;
    this.unlink(entry);
    this.newer[entry] = this.free;
    this.free = entry;
    this.count -= 1;
  }

  private unlink(entry: number): void {
    const older = this.older[entry] as number;
    const newer = this.newer[entry] as number;
    if (older === NONE) this.oldest = newer; else this.newer[older] = newer;
    if (newer === NONE) this.newest = older; else this.older[newer] = older;
  }

  private append(entry: number): void {
    this.older[entry] = this.newest;
    this.newer[entry] = NONE;
    if (this.newest === NONE) this.oldest = entry; else this.newer[this.newest] = entry;
    this.newest = entry;
  }

  /** Grows the entry arrays to `capacity` and rebuilds the hash at twice that many slots or more. */
  private resize(capacity: number): void {
    const grow = <T extends Float64Array | Int32Array>(old: T, make: (size: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.macs = grow(this.macs, (size) => new Float64Array(size));
    this.ports = grow(this.ports, (size) => new Float64Array(size));
    this.seen = grow(this.seen, (size) => new Float64Array(size));
    this.older = grow(this.older, (size) => new Int32Array(size));
    this.newer = grow(this.newer, (size) => new Int32Array(size));
    // New entries join the free chain; the old ones are all in use (we grow only when full).
    for (let entry = capacity - 1; entry >= this.capacity; entry -= 1) {
      this.newer[entry] = this.free;
      this.free = entry;
    }
    this.capacity = capacity;
    let slots = 4;
    while (slots < 2 * capacity) slots *= 2;
    this.slots = new Int32Array(slots);
    this.mask = slots - 1;
    for (let entry = this.oldest; entry !== NONE; entry = this.newer[entry] as number) this.insertSlot(entry);
  }
}

export interface LearningSwitch {
  table(datapathId: bigint): MacTable | undefined;
  stats(): Counters;
}

const ETHERNET_HEADER = 14;
/** 2^40: dividing a MAC by it leaves the first octet, whose low bit is the group bit. */
const FIRST_OCTET = 0x100_0000_0000;

/** A group (multicast/broadcast) address: the I/G bit of the first octet (IEEE 802.3 3.2.3). */
function isGroup(mac: number): boolean {
  return (Math.floor(mac / FIRST_OCTET) & 1) === 1;
}

/** Attaches the learning switch to `controller`'s switches (call from `onSwitch`). */
export function createLearningSwitch(config: LearningSwitchConfig): LearningSwitch & { attach(connection: SwitchConnection): void } {
  const settings = { ...LEARNING_SWITCH_DEFAULTS, ...config };
  const counters = new CounterSet();
  const tables = new Map<bigint, MacTable>();
  // Per-packet outcomes are tallied in numbers and merged into stats() on demand.
  let flooded = 0;
  let flowsInstalled = 0;
  let dropSamePort = 0;

  const onPacketIn = (connection: SwitchConnection, table: MacTable, flowMod: FlowModTemplate, packetOut: PacketOutTemplate, packetIn: RawPacketIn): void => {
    const inPort = packetIn.inPort;
    if (inPort === NO_IN_PORT || packetIn.dataLength < ETHERNET_HEADER) {
      counters.add('drop-short-packet-in');
      return;
    }
    const now = packetIn.receivedAt;
    const dst = packetIn.ethDst();
    const src = packetIn.ethSrc();
    // A group source address is never a station to learn.
    if (!isGroup(src) && table.learn(src, inPort, now)) counters.add('mac-evicted');
    const outPort = isGroup(dst) ? undefined : table.lookup(dst, now);
    const bufferId = packetIn.bufferId;
    const buffered = bufferId !== OFP_NO_BUFFER;
    // A buffered packet stays in the switch: the answer names its buffer instead of carrying it.
    const dataLength = buffered ? 0 : packetIn.dataLength;
    if (outPort === undefined) {
      flooded += 1;
      connection.sendPacketOut(packetOut, bufferId, inPort, OFPP_FLOOD, packetIn.bytes, packetIn.dataOffset, dataLength);
      return;
    }
    if (outPort === inPort) {
      dropSamePort += 1;
      return;
    }
    flowsInstalled += 1;
    connection.sendFlowMod(flowMod, bufferId, inPort, src, dst, outPort);
    // A buffered packet is released by the flow-mod itself; an unbuffered one is sent here.
    if (!buffered) connection.sendPacketOut(packetOut, OFP_NO_BUFFER, inPort, outPort, packetIn.bytes, packetIn.dataOffset, dataLength);
  };

  return {
    table: (datapathId) => tables.get(datapathId),
    stats(): Counters {
      const snapshot: Record<string, number> = { ...counters.snapshot() };
      if (flooded > 0) snapshot.flooded = flooded;
      if (flowsInstalled > 0) snapshot['flows-installed'] = flowsInstalled;
      if (dropSamePort > 0) snapshot['drop-same-port'] = dropSamePort;
      return snapshot;
    },
    attach(connection: SwitchConnection): void {
      const table = new MacTable(settings.clock, settings.maxMacs, settings.macIdleTimeoutMs);
      const flowMod = new FlowModTemplate(connection.version, { idleTimeout: settings.flowIdleTimeout, hardTimeout: 0, priority: settings.flowPriority });
      const packetOut = new PacketOutTemplate(connection.version);
      tables.set(connection.datapathId, table);
      connection.onClose(() => {
        if (tables.get(connection.datapathId) === table) tables.delete(connection.datapathId);
      });
      connection.onPacketIn((packetIn) => onPacketIn(connection, table, flowMod, packetOut, packetIn));
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
