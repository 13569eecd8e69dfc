/**
 * Running one appliance from command-line arguments: the backend options every appliance
 * shares, logging, and the signals (SIGINT/SIGTERM stop, SIGUSR1 prints counters, SIGHUP
 * reloads). `main` uses it for the `morgana` command; a bundled single-file appliance uses it
 * directly.
 */
import { parseArgs } from 'node:util';
import type { DirectStack } from '@morgana/core';
import type { Appliance } from './appliance.js';
import { type BackendOptions, type Net, NETS, UsageError } from './backend.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './log.js';

export const BACKEND_USAGE = `backends (one set of options for every appliance):
  --net socket    --listen HOST:PORT                         host kernel sockets (default)
  --net usernet   --forward [tcp:|udp:][HOST:]HOSTPORT:PORT   pure stack, no root (user networking)
  --net tap       --tap NAME --ip ADDR/PREFIX [--gateway ADDR]   pure stack on a TAP device
  --net xen-sim   --tap NAME --ip ADDR/PREFIX                pure stack on Xen netfront; simulated netback bridged to TAP
  --net qemu-dgram|qemu-stream --peer HOST:PORT --ip ADDR/PREFIX [--local HOST:PORT]
                                                             pure stack, frames over a socket (QEMU formats)
  --pcap FILE     record the appliance's frames (pure-stack backends)
  --log-level error|warn|info|debug

signals: SIGINT/SIGTERM stop cleanly; SIGUSR1 prints counters; SIGHUP reloads zones (dns).
`;

const OPTIONS = {
  net: { type: 'string' },
  listen: { type: 'string' },
  forward: { type: 'string', multiple: true },
  tap: { type: 'string' },
  ip: { type: 'string' },
  gateway: { type: 'string' },
  peer: { type: 'string' },
  local: { type: 'string' },
  pcap: { type: 'string' },
  'log-level': { type: 'string' },
  'allow-transfer': { type: 'string', multiple: true },
  notify: { type: 'string', multiple: true },
  'host-key': { type: 'string' },
  'authorized-keys': { type: 'string' },
  'allow-remote-forward': { type: 'boolean' },
  'gateway-ports': { type: 'boolean' },
  app: { type: 'string' },
  domain: { type: 'string' },
  users: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What an appliance starter receives. */
export interface StartContext {
  readonly positionals: readonly string[];
  readonly values: { readonly 'allow-transfer'?: string[]; readonly notify?: string[]; readonly 'host-key'?: string; readonly 'authorized-keys'?: string; readonly 'allow-remote-forward'?: boolean; readonly 'gateway-ports'?: boolean; readonly app?: string; readonly domain?: string; readonly users?: string; readonly 'tls-cert'?: string; readonly 'tls-key'?: string };
  readonly backend: BackendOptions;
  readonly log: Logger;
}

/** The appliance's counters and, on a pure stack, every layer's. */
export function statsOf(appliance: Appliance): Record<string, unknown> {
  const stack = appliance.backend.stack as Partial<DirectStack>;
  return {
    appliance: appliance.stats(),
    ...(stack.ethernet === undefined
      ? {}
      : {
          netif: stack.netif?.stats(),
          ethernet: stack.ethernet.stats(),
          arp: stack.arp?.stats(),
          ipv4: stack.ipv4?.stats(),
          icmp: stack.icmp?.stats(),
          udp: stack.udp?.stats(),
          tcp: stack.tcp?.stats(),
        }),
  };
}

/**
 * Parses `argv`, starts the appliance and serves until a stop signal; resolves with the exit
 * status (2 for a usage mistake, 1 for a failure to start, 0 after a clean stop).
 */
export async function runAppliance(
  name: string,
  argv: readonly string[],
  start: (context: StartContext) => Promise<Appliance>,
  usage: string,
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  const fail = (message: string): number => {
    process.stderr.write(`morgana: ${message}\n\n${usage}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    out(usage);
    return 0;
  }
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) return fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const net = (values.net ?? 'socket') as Net;
  if (!NETS.includes(net)) return fail(`--net must be one of ${NETS.join(', ')}`);
  const log = createLogger(level);
  const backend: BackendOptions = { net, listen: values.listen, forward: values.forward, tap: values.tap, ip: values.ip, gateway: values.gateway, peer: values.peer, local: values.local, pcap: values.pcap };
  let appliance: Appliance;
  try {
    appliance = await start({ positionals, values, backend, log });
  } catch (error) {
    if (error instanceof UsageError) return fail(error.message);
    process.stderr.write(`morgana: ${(error as Error).message}\n`);
    return 1;
  }
  for (const line of appliance.backend.reach) out(`morgana ${name}: reachable at ${line}\n`);
  const reload = appliance.reload?.bind(appliance);
  return untilSignalled({ close: () => appliance.close(), stats: () => statsOf(appliance), reload }, log, out);
}

/** What {@link untilSignalled} drives: stop, counters, and an optional reload. */
export interface Signalled {
  close(): Promise<void>;
  stats(): unknown;
  reload?: () => Promise<void>;
}

/**
 * Runs until SIGINT or SIGTERM, then closes; SIGUSR1 prints the counters as JSON and SIGHUP
 * reloads when `running.reload` exists. Resolves with the exit status.
 */
export function untilSignalled(running: Signalled, log: Logger, out: (text: string) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGINT', () => stop('SIGINT')],
      ['SIGTERM', () => stop('SIGTERM')],
      ['SIGUSR1', () => out(`${JSON.stringify(running.stats())}\n`)],
    ];
    const reload = running.reload;
    if (reload !== undefined) {
      handlers.push(['SIGHUP', () => void reload().catch((error: Error) => log.error(`reload failed, keeping the old configuration: ${error.message}`))]);
    }
    const stop = (signal: string): void => {
      log.info(`${signal}: stopping`);
      for (const [sig, handler] of handlers) process.off(sig, handler);
      running.close().then(
        () => resolve(0),
        (error: Error) => {
          log.error(`while stopping: ${error.message}`);
          resolve(1);
        },
      );
    };
    for (const [sig, handler] of handlers) process.on(sig, handler);
  });
}
