/** The `morgana` command line: parses options, starts an appliance, handles signals. */
import { parseArgs } from 'node:util';
import type { DirectStack } from '@morgana/core';
import { type Appliance, startDns, startWww } from './appliances.js';
import { type BackendOptions, type Net, NETS, UsageError } from './backend.js';
import { createLogger, LOG_LEVELS, type LogLevel } from './log.js';

export const USAGE = `usage: morgana <appliance> [options]

appliances:
  www <dir>                      static website
  dns <zonefile...>              authoritative DNS (UDP and TCP)
      [--allow-transfer CIDR ...]  clients allowed to AXFR/IXFR (default: none)

backends (one set of options for every appliance):
  --net socket    --listen HOST:PORT                         host kernel sockets (default)
  --net usernet   --forward [tcp:|udp:][HOST:]HOSTPORT:PORT   pure stack, no root (user networking)
  --net tap       --tap NAME --ip ADDR/PREFIX [--gateway ADDR]   pure stack on a TAP device
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
  help: { type: 'boolean', short: 'h' },
} as const;

/** The appliance's counters and, on a pure stack, every layer's. */
function statsOf(appliance: Appliance): Record<string, unknown> {
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

/** Runs the command; resolves with the exit status once the appliance has stopped (or failed to start). */
export async function main(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`morgana: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    out(USAGE);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    process.stderr.write(`morgana: --log-level must be one of ${LOG_LEVELS.join(', ')}\n`);
    return 2;
  }
  const log = createLogger(level);
  const net = (values.net ?? 'socket') as Net;
  if (!NETS.includes(net)) {
    process.stderr.write(`morgana: --net must be one of ${NETS.join(', ')}${values.net === 'xen-sim' ? ' (xen-sim arrives with the Xen netfront package)' : ''}\n`);
    return 2;
  }
  const backend: BackendOptions = {
    net,
    listen: values.listen,
    forward: values.forward,
    tap: values.tap,
    ip: values.ip,
    gateway: values.gateway,
    peer: values.peer,
    local: values.local,
    pcap: values.pcap,
  };
  let appliance: Appliance & { reload?: () => Promise<void> };
  try {
    if (command === 'www') {
      if (rest.length !== 1) throw new UsageError('www takes one folder: morgana www <dir>');
      appliance = await startWww({ source: rest[0], backend, log });
      log.info(`www serving ${rest[0]}`);
    } else if (command === 'dns') {
      if (rest.length === 0) throw new UsageError('dns needs at least one zone file: morgana dns <zonefile...>');
      appliance = await startDns({ zoneFiles: rest, allowTransfer: values['allow-transfer'], backend, log });
    } else {
      throw new UsageError(`unknown appliance ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`morgana: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`morgana: ${(error as Error).message}\n`);
    return 1;
  }
  for (const line of appliance.backend.reach) out(`morgana ${command}: reachable at ${line}\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info(`${signal}: stopping`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGUSR1', onUsr1);
      process.off('SIGHUP', onHup);
      appliance.close().then(
        () => resolve(0),
        (error: Error) => {
          log.error(`while stopping: ${error.message}`);
          resolve(1);
        },
      );
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    const onUsr1 = (): void => out(`${JSON.stringify(statsOf(appliance))}\n`);
    const onHup = (): void => {
      appliance.reload?.().catch((error: Error) => log.error(`reload failed, keeping the old zones: ${error.message}`));
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGUSR1', onUsr1);
    process.on('SIGHUP', onHup);
  });
}
