/**
 * `morgana openflow-switch`: an OpenFlow 1.3/1.0 software switch whose ports are TAP devices.
 * It dials controllers (`--controller`, with reconnect) and/or listens for management
 * connections (`--listen`, like Open vSwitch's ptcp:) over the host's sockets.
 */
import { parseArgs } from 'node:util';
import { type Clock, createSystemClock, type Netif, parseIpv4 } from '@morgana/core';
import { createOpenFlowSwitch, type OpenFlowSwitch } from '@morgana/openflow';
import { createSocketStack } from '@morgana/socket';
import { parseHostPort, UsageError } from './backend.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './log.js';
import { untilSignalled } from './run.js';

export const OPENFLOW_SWITCH_USAGE = `usage: morgana openflow-switch [--controller HOST:PORT ...] [--listen HOST:PORT] --port TAPNAME ...
  --controller HOST:PORT   controller to connect to (repeatable); reconnects with backoff
  --listen HOST:PORT       accept management connections (ovs-ofctl tcp:HOST:PORT)
  --port TAPNAME           a switch port: the TAP device of that name, created if missing
                           (repeatable; port numbers 1, 2, ... in order)
  --datapath-id HEX        datapath id (default: from the first port's MAC address)
  --tables N               flow tables (default 8)
  --table-miss controller|drop
                           a packet no flow and no table-miss entry takes: sent to the
                           controllers (default, as OpenFlow 1.0) or dropped (OpenFlow 1.3's default)
  --log-level error|warn|info|debug
At least one of --controller and --listen is needed.
signals: SIGINT/SIGTERM stop cleanly; SIGUSR1 prints counters.
`;

/** What {@link startOpenflowSwitch} takes. */
export interface OpenflowSwitchOptions {
  readonly controllers: readonly string[];
  readonly listen?: string;
  readonly ports: readonly string[];
  readonly datapathId?: string;
  readonly tables?: string;
  readonly tableMiss?: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Opens a port by name; default: a TAP device through @morgana/netif-tap. */
  readonly openPort?: (name: string) => Promise<Netif & { close(): Promise<void> }>;
}

/** A running switch appliance. */
export interface OpenflowSwitchAppliance {
  readonly sw: OpenFlowSwitch;
  /** Lines saying how to reach it. */
  readonly reach: readonly string[];
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

async function openTapPort(name: string): Promise<Netif & { close(): Promise<void> }> {
  const { openTap } = await import('@morgana/netif-tap');
  return openTap({ name, create: true });
}

/** Starts the switch: opens the ports, then connects and/or listens. */
export async function startOpenflowSwitch(options: OpenflowSwitchOptions): Promise<OpenflowSwitchAppliance> {
  if (options.ports.length === 0) throw new UsageError('openflow-switch needs at least one --port TAPNAME');
  if (options.controllers.length === 0 && options.listen === undefined) throw new UsageError('openflow-switch needs --controller HOST:PORT and/or --listen HOST:PORT');
  const controllers = options.controllers.map((text) => parseHostPort(text, '--controller'));
  const listen = options.listen === undefined ? undefined : parseHostPort(options.listen, '--listen');
  let datapathId: bigint | undefined;
  if (options.datapathId !== undefined) {
    if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(options.datapathId)) throw new UsageError(`--datapath-id ${JSON.stringify(options.datapathId)}: expected up to 16 hex digits`);
    datapathId = BigInt(options.datapathId.startsWith('0x') ? options.datapathId : `0x${options.datapathId}`);
  }
  const tables = options.tables === undefined ? undefined : Number(options.tables);
  if (tables !== undefined && (!Number.isInteger(tables) || tables < 1 || tables > 254)) throw new UsageError('--tables must be 1 to 254');
  const tableMiss = options.tableMiss ?? 'controller';
  if (tableMiss !== 'controller' && tableMiss !== 'drop') throw new UsageError('--table-miss must be controller or drop');
  const clock = options.clock ?? createSystemClock();
  const open = options.openPort ?? openTapPort;
  const ports: (Netif & { close(): Promise<void> })[] = [];
  try {
    for (const name of options.ports) ports.push(await open(name));
  } catch (error) {
    await Promise.all(ports.map((port) => port.close()));
    throw error;
  }
  const stack = createSocketStack({ clock });
  const sw = createOpenFlowSwitch({
    tcp: stack.tcp, clock, ports, portNames: options.ports, datapathId: datapathId ?? BigInt(ports[0]?.mac ?? 0), nTables: tables, tableMiss,
    passive: listen !== undefined, listenPort: listen?.port, listenAddress: listen === undefined ? undefined : parseIpv4(listen.host),
    controllers: controllers.map((target) => ({ address: parseIpv4(target.host), port: target.port })),
  });
  if (listen !== undefined) {
    // A listener on one address binds a tick later: wait for the bind (a port of 0 learns its
    // number then) and fail the start when it was refused, e.g. an address in use.
    for (let tries = 0; tries < 5 || (sw.port === 0 && tries < 100); tries += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    if ((stack.tcp.stats()['listen-errors'] ?? 0) > 0) {
      sw.close();
      await Promise.all(ports.map((port) => port.close()));
      await stack.close();
      throw new Error(`cannot listen on ${options.listen} (address in use or not local)`);
    }
  }
  const reach = [
    ...(listen === undefined ? [] : [`tcp:${listen.host}:${sw.port} (passive: ovs-ofctl tcp:${listen.host}:${sw.port})`]),
    ...controllers.map((target) => `controller tcp:${target.host}:${target.port} (active, reconnecting)`),
  ];
  options.log.info(`openflow switch ${sw.datapath.ports.length} ports: ${options.ports.join(', ')}`);
  return {
    sw,
    reach,
    stats: () => ({ switch: sw.stats(), connections: sw.connections(), ports: sw.datapath.ports.map((port) => ({ name: port.name, rx: Number(port.rxPackets), tx: Number(port.txPackets) })) }),
    async close() {
      sw.close();
      await Promise.all(ports.map((port) => port.close()));
      await stack.close();
    },
  };
}

/** `morgana openflow-switch ARGS`: runs until SIGINT/SIGTERM; resolves with the exit status. */
export async function runOpenflowSwitch(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const fail = (message: string): number => {
    process.stderr.write(`morgana: ${message}\n\n${OPENFLOW_SWITCH_USAGE}`);
    return 2;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        controller: { type: 'string', multiple: true }, listen: { type: 'string' }, port: { type: 'string', multiple: true },
        'datapath-id': { type: 'string' }, tables: { type: 'string' }, 'table-miss': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    return fail((error as Error).message);
  }
  if (values.help === true) {
    out(OPENFLOW_SWITCH_USAGE);
    return 0;
  }
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) return fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const log = createLogger(level);
  let appliance: OpenflowSwitchAppliance;
  try {
    appliance = await startOpenflowSwitch({ controllers: values.controller ?? [], listen: values.listen, ports: values.port ?? [], datapathId: values['datapath-id'], tables: values.tables, tableMiss: values['table-miss'], log });
  } catch (error) {
    if (error instanceof UsageError) return fail(error.message);
    process.stderr.write(`morgana: ${(error as Error).message}\n`);
    return 1;
  }
  for (const line of appliance.reach) out(`morgana openflow-switch: reachable at ${line}\n`);
  return untilSignalled({ close: () => appliance.close(), stats: () => appliance.stats() }, log, out);
}
