/**
 * The switch side of OpenFlow 1.3 over morgana Netifs: one flow table, table misses sent to
 * the controller, and a passive listener that controllers (or `ovs-ofctl`) connect to.
 */
import {
  ByteWriter, type Clock, CounterSet, type Counters, DecodeError, type Netif, type Tcp, type TcpFlow, type TcpListener, type Timer,
} from '@morgana/core';
import type { Action, Instruction } from './actions.js';
import {
  OFPBRC_BAD_MULTIPART, OFPBRC_BAD_TYPE, OFPBRC_BAD_VERSION, OFPET_BAD_REQUEST, OFPET_HELLO_FAILED, OFPFC_ADD, OFPFC_DELETE,
  OFPFC_DELETE_STRICT, OFPFC_MODIFY, OFPFC_MODIFY_STRICT, OFPHFC_INCOMPATIBLE, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD,
  OFPP_IN_PORT, OFP13, OFP_NO_BUFFER, OFP_VERSION_1_3,
} from './constants.js';
import { type MatchFieldName, OXM_FIELDS } from './match.js';
import { type FlowEntry, FlowTable, OFPRR_DELETE, covers, packetFields } from './flow-table.js';
import { MessageFramer } from './framer.js';
import { type FlowStatsEntry, type OfpMessage, type PortDesc, emitMessage, errorFor, negotiateVersion, parseMessage } from './wire.js';
import type { OutgoingMessage } from './controller.js';

/** OFPET_FLOW_MOD_FAILED (1.3) and its OFPFMFC_TABLE_FULL code. */
const OFPET_FLOW_MOD_FAILED = 5;
const OFPFMFC_TABLE_FULL = 1;
const OFPFMFC_BAD_COMMAND = 6;
/** Packet-in reasons (1.3 §7.4.1). */
const OFPR_NO_MATCH = 0;
const OFPR_ACTION = 1;
const OFPMP_TABLE_FEATURES = 12;

export interface SwitchConfig {
  readonly tcp: Tcp;
  readonly clock: Clock;
  /** Data ports; port number i + 1 is `ports[i]`. */
  readonly ports: readonly Netif[];
  readonly datapathId: bigint;
  /** TCP port controllers connect to (passive mode, like `ovs-vswitchd`'s ptcp:); default 6634. */
  readonly listenPort?: number;
  /** Flow entries in the table; default 4 096. */
  readonly maxFlows?: number;
  /** Milliseconds between timeout sweeps; default 1 000 (timeouts are whole seconds). */
  readonly expiryIntervalMs?: number;
  /** Send table misses to the controller without a table-miss entry; default true. */
  readonly missToController?: boolean;
  /** Bytes of a missed packet sent up (no switch buffers); default 128, 0xffff for all. */
  readonly missSendLen?: number;
  /** Controller connections at once; default 16. */
  readonly maxConnections?: number;
  /** Description strings returned in OFPMP_DESC. */
  readonly description?: string;
}

export interface OpenFlowSwitch {
  readonly port: number;
  readonly table: FlowTable;
  stats(): Counters;
  close(): void;
}

/**
 * One `ofp_table_features` entry for table 0 (1.3 §7.3.5.5.1) with the eight required
 * properties: the instructions, actions and OXM fields this switch implements.
 */
function tableFeatures(maxEntries: number): Uint8Array {
  const writer = new ByteWriter(512);
  writer.u16(0).u8(0).u8(0).u32(0);
  const name = 'table0';
  for (let index = 0; index < 32; index += 1) writer.u8(index < name.length ? name.charCodeAt(index) : 0);
  writer.u64(0n).u64(0n).u32(0).u32(maxEntries);
  const property = (type: number, body: (w: ByteWriter) => void): void => {
    const start = writer.length;
    writer.u16(type).u16(0);
    body(writer);
    const length = writer.length - start;
    writer.patchU16(start + 2, length);
    for (let pad = (8 - (length % 8)) % 8; pad > 0; pad -= 1) writer.u8(0);
  };
  const oxmHeaders = (names: readonly MatchFieldName[]) => (w: ByteWriter): void => {
    for (const field of OXM_FIELDS.filter((entry) => names.includes(entry.name))) {
      w.u16(OFP13.OXM_CLASS_OPENFLOW_BASIC).u8(field.field << 1).u8(field.width);
    }
  };
  const allFields = OXM_FIELDS.map((entry) => entry.name);
  const setFields: MatchFieldName[] = ['ethSrc', 'ethDst'];
  property(0, (w) => { w.u16(OFP13.INSTRUCTIONS.APPLY_ACTIONS).u16(4).u16(OFP13.INSTRUCTIONS.WRITE_ACTIONS).u16(4); });
  property(2, () => undefined);
  for (const type of [4, 6]) property(type, (w) => { w.u16(OFP13.ACTIONS.OUTPUT).u16(4).u16(OFP13.ACTIONS.SET_FIELD).u16(4); });
  property(8, oxmHeaders(allFields));
  property(10, oxmHeaders(allFields));
  property(12, oxmHeaders(setFields));
  property(14, oxmHeaders(setFields));
  writer.patchU16(0, writer.length);
  return writer.finish();
}

function truncate(frame: Uint8Array, maxLen: number): Uint8Array {
  return frame.slice(0, Math.min(frame.length, maxLen));
}

/** Starts a switch; frames arriving on `config.ports` go through its flow table. */
export function createOpenFlowSwitch(config: SwitchConfig): OpenFlowSwitch {
  const counters = new CounterSet();
  const table = new FlowTable({ clock: config.clock, maxFlows: config.maxFlows });
  const connections = new Set<ControlChannel>();
  const missSendLen = config.missSendLen ?? 128;

  const output = (port: number, inPort: number, frame: Uint8Array, maxLen: number, reason: number, entry?: FlowEntry): void => {
    if (port === OFPP_CONTROLLER) {
      const data = truncate(frame, maxLen);
      for (const channel of connections) {
        channel.send({ type: 'packet-in', bufferId: OFP_NO_BUFFER, totalLen: frame.length, reason, tableId: 0, cookie: entry?.cookie ?? 0xffffffffffffffffn, match: { inPort }, data });
      }
      counters.add('packet-in');
      return;
    }
    const targets = port === OFPP_FLOOD || port === OFPP_ALL
      ? config.ports.map((_, index) => index + 1).filter((number) => number !== inPort)
      : [port === OFPP_IN_PORT ? inPort : port];
    for (const number of targets) {
      // Output to the ingress port needs OFPP_IN_PORT explicitly (1.3 §7.2.5).
      if (number === inPort && port !== OFPP_IN_PORT) continue;
      const netif = config.ports[number - 1];
      if (netif === undefined) {
        counters.add('drop-no-port');
        continue;
      }
      netif.write(frame.length, (buffer) => {
        buffer.set(frame);
        return frame.length;
      });
    }
  };

  const apply = (actions: readonly Action[], inPort: number, frame: Uint8Array, reason: number, entry?: FlowEntry): void => {
    let packet = frame;
    for (const action of actions) {
      if (action.type === 'output') output(action.port, inPort, packet, action.maxLen, reason, entry);
      else if (action.type === 'set-field' && (action.field === 'ethDst' || action.field === 'ethSrc')) {
        packet = packet.slice();
        const at = action.field === 'ethDst' ? 0 : 6;
        for (let index = 0; index < 6; index += 1) packet[at + index] = Math.floor(action.value / 2 ** (8 * (5 - index))) % 256;
      } else counters.add(`unsupported-action-${action.type}`);
    }
  };

  const instructionsActions = (instructions: readonly Instruction[]): Action[] =>
    instructions.flatMap((instruction) => (instruction.type === 'apply-actions' || instruction.type === 'write-actions' ? [...instruction.actions] : []));

  const receive = (inPort: number, frame: Uint8Array): void => {
    counters.add('rx-frames');
    const entry = table.lookup(packetFields(frame, inPort), frame.length);
    if (entry === undefined) {
      counters.add('table-miss');
      if (config.missToController ?? true) output(OFPP_CONTROLLER, inPort, frame, missSendLen, OFPR_NO_MATCH);
      return;
    }
    const actions = instructionsActions(entry.instructions);
    // A table-miss entry (priority 0, empty match) reports misses as OFPR_NO_MATCH (1.3 §5.4).
    const reason = entry.priority === 0 && Object.keys(entry.match).length === 0 ? OFPR_NO_MATCH : OFPR_ACTION;
    apply(actions, inPort, frame.slice(), reason, entry);
  };

  config.ports.forEach((netif, index) => netif.listen((frame) => receive(index + 1, frame)));

  const removed = (entry: FlowEntry, reason: number): void => {
    if (!FlowTable.notifies(entry)) return;
    const now = config.clock.now();
    const age = Math.max(0, now - entry.installedAt);
    for (const channel of connections) {
      channel.send({
        type: 'flow-removed', cookie: entry.cookie, priority: entry.priority, reason, tableId: 0, durationSec: Math.floor(age / 1000),
        durationNsec: Math.floor((age % 1000) * 1e6), idleTimeout: entry.idleTimeout, hardTimeout: entry.hardTimeout,
        packetCount: entry.packetCount, byteCount: entry.byteCount, match: entry.match,
      });
    }
  };

  let sweeper: Timer | undefined;
  const sweep = (): void => {
    for (const { entry, reason } of table.expire()) {
      counters.add('flows-expired');
      removed(entry, reason);
    }
    sweeper = config.clock.setTimer(config.expiryIntervalMs ?? 1_000, sweep);
  };
  sweeper = config.clock.setTimer(config.expiryIntervalMs ?? 1_000, sweep);

  const portDescs = (): PortDesc[] => config.ports.map((netif, index) => ({
    portNo: index + 1, hwAddr: netif.mac, name: `port${index + 1}`, config: 0, state: 0, curr: 0, advertised: 0, supported: 0,
    peer: 0, currSpeed: 0, maxSpeed: 0,
  }));

  const flowStats = (entry: FlowEntry): FlowStatsEntry => {
    const age = Math.max(0, config.clock.now() - entry.installedAt);
    return {
      tableId: 0, durationSec: Math.floor(age / 1000), durationNsec: Math.floor((age % 1000) * 1e6), priority: entry.priority,
      idleTimeout: entry.idleTimeout, hardTimeout: entry.hardTimeout, flags: entry.flags, cookie: entry.cookie,
      packetCount: entry.packetCount, byteCount: entry.byteCount, match: entry.match, instructions: entry.instructions,
    };
  };

  const handle = (channel: ControlChannel, message: OfpMessage): void => {
    const reply = (body: OutgoingMessage): void => { channel.send(body, message.xid); };
    switch (message.type) {
      case 'echo-request': reply({ type: 'echo-reply', data: message.data }); return;
      case 'features-request':
        reply({ type: 'features-reply', datapathId: config.datapathId, nBuffers: 0, nTables: 1, auxiliaryId: 0, capabilities: 0x1 | 0x4, actions: 0, ports: [] });
        return;
      case 'get-config-request': reply({ type: 'get-config-reply', flags: 0, missSendLen }); return;
      case 'barrier-request': reply({ type: 'barrier-reply' }); return;
      case 'set-config': case 'echo-reply': case 'hello': case 'error': return;
      case 'packet-out': {
        const inPort = message.inPort;
        apply(message.actions, inPort, message.data, OFPR_ACTION);
        return;
      }
      case 'flow-mod': {
        const m = message;
        if (m.command === OFPFC_ADD) {
          const ok = table.add({ match: m.match, priority: m.priority, cookie: m.cookie, idleTimeout: m.idleTimeout, hardTimeout: m.hardTimeout, flags: m.flags, instructions: m.instructions });
          if (!ok) {
            counters.add('table-full');
            channel.sendRaw(errorFor(OFP_VERSION_1_3, emitMessage(m), OFPET_FLOW_MOD_FAILED, OFPFMFC_TABLE_FULL));
          }
        } else if (m.command === OFPFC_MODIFY || m.command === OFPFC_MODIFY_STRICT) {
          table.modify(m.match, m.priority, m.command === OFPFC_MODIFY_STRICT, m.instructions);
        } else if (m.command === OFPFC_DELETE || m.command === OFPFC_DELETE_STRICT) {
          for (const entry of table.delete(m.match, m.priority, m.command === OFPFC_DELETE_STRICT, m.outPort)) removed(entry, OFPRR_DELETE);
        } else {
          channel.sendRaw(errorFor(OFP_VERSION_1_3, emitMessage(m), OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND));
        }
        return;
      }
      case 'multipart-request': {
        const body = message.body;
        if (body.kind === 'desc') {
          const text = config.description ?? 'morgana OpenFlow switch';
          reply({ type: 'multipart-reply', flags: 0, body: { kind: 'desc', mfrDesc: 'morgana', hwDesc: text, swDesc: text, serialNum: '', dpDesc: text } });
        } else if (body.kind === 'port-desc') {
          reply({ type: 'multipart-reply', flags: 0, body: { kind: 'port-desc', ports: portDescs() } });
        } else if (body.kind === 'flow' || body.kind === 'aggregate') {
          const selected = table.all().filter((entry) => covers(body.match, entry.match)
            && (body.outPort === OFPP_ANY || instructionsActions(entry.instructions).some((action) => action.type === 'output' && action.port === body.outPort)));
          if (body.kind === 'flow') reply({ type: 'multipart-reply', flags: 0, body: { kind: 'flow', flows: selected.map(flowStats) } });
          else {
            reply({
              type: 'multipart-reply', flags: 0,
              body: { kind: 'aggregate', packetCount: selected.reduce((sum, entry) => sum + entry.packetCount, 0n), byteCount: selected.reduce((sum, entry) => sum + entry.byteCount, 0n), flowCount: selected.length },
            });
          }
        } else if (body.kind === 'port-stats') {
          const ports = config.ports.map((netif, index) => {
            const stats = netif.stats();
            const counts = [stats.rxFrames, stats.txFrames, stats.rxBytes, stats.txBytes, stats.rxDropped, stats.txDropped, 0, 0, 0, 0, 0, 0].map(BigInt);
            return { portNo: index + 1, counters: counts, durationSec: 0, durationNsec: 0 };
          }).filter((entry) => body.portNo === OFPP_ANY || entry.portNo === body.portNo);
          reply({ type: 'multipart-reply', flags: 0, body: { kind: 'port-stats', ports } });
        } else if (body.kind === 'other' && body.statsType === OFPMP_TABLE_FEATURES && body.data.length === 0) {
          // A table-features query (1.3 §7.3.5.5) without a body reads the features: one table,
          // named, with its size and no optional properties.
          reply({ type: 'multipart-reply', flags: 0, body: { kind: 'other', statsType: OFPMP_TABLE_FEATURES, data: tableFeatures(table.capacity) } });
        } else {
          channel.sendRaw(errorFor(OFP_VERSION_1_3, emitMessage(message), OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART));
        }
        return;
      }
      default:
        channel.sendRaw(errorFor(OFP_VERSION_1_3, emitMessage(message), OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE));
    }
  };

  const listener: TcpListener = config.tcp.listen(config.listenPort ?? 6634, {
    onConnection: (flow) => {
      if (connections.size >= (config.maxConnections ?? 16)) {
        counters.add('connections-full');
        flow.abort();
        return;
      }
      const channel = new ControlChannel(flow, counters, (message) => handle(channel, message));
      connections.add(channel);
      void channel.run().finally(() => connections.delete(channel));
    },
  });

  return {
    port: listener.port,
    table,
    stats: () => counters.snapshot(),
    close(): void {
      sweeper?.cancel();
      listener.close();
      for (const channel of connections) channel.close();
    },
  };
}

/** One controller connection to the switch (OpenFlow 1.3 only). */
class ControlChannel {
  private readonly framer = new MessageFramer();
  private writing: Promise<void> = Promise.resolve();
  private version = 0;
  private xid = 1;
  private closed = false;

  constructor(private readonly flow: TcpFlow, private readonly counters: CounterSet, private readonly onMessage: (message: OfpMessage) => void) {}

  send(message: OutgoingMessage, xid?: number): void {
    this.sendRaw({ ...message, version: OFP_VERSION_1_3, xid: xid ?? this.xid++ } as OfpMessage);
  }

  sendRaw(message: OfpMessage): void {
    if (this.closed) return;
    const bytes = emitMessage(message);
    this.writing = this.writing.then(() => this.flow.write(bytes)).catch(() => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.writing.then(() => this.flow.close()).catch(() => this.flow.abort());
  }

  async run(): Promise<void> {
    this.send({ type: 'hello', versions: [OFP_VERSION_1_3] });
    try {
      for (;;) {
        const chunk = await this.flow.read();
        if (chunk === null || this.closed) break;
        for (const bytes of this.framer.push(chunk)) this.receive(bytes);
      }
    } catch (error) {
      if (error instanceof DecodeError) this.counters.add(`control-${error.reason}`);
    }
    this.close();
  }

  private receive(bytes: Uint8Array): void {
    let message: OfpMessage;
    try {
      message = parseMessage(bytes, { versions: [OFP_VERSION_1_3] });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.counters.add(`control-rx-${error.reason}`);
      this.sendRaw(errorFor(OFP_VERSION_1_3, bytes, OFPET_BAD_REQUEST, error.reason === 'bad-version' ? OFPBRC_BAD_VERSION : OFPBRC_BAD_TYPE));
      return;
    }
    if (message.type === 'hello' && this.version === 0) {
      const version = negotiateVersion([OFP_VERSION_1_3], message);
      if (version === undefined) {
        this.sendRaw(errorFor(OFP_VERSION_1_3, bytes, OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE));
        this.close();
        return;
      }
      this.version = version;
      return;
    }
    this.onMessage(message);
  }
}
