/** The `morgana` command: picks the appliance, then runs it with the shared backend options. */
import { UsageError } from './backend.js';
import { startDns } from './dns.js';
import { startOpenflowController } from './openflow.js';
import { runOpenflowSwitch } from './openflow-switch.js';
import { startSsh } from './ssh.js';
import { BACKEND_USAGE, runAppliance } from './run.js';
import { startWww } from './www.js';
import { startXmpp } from './xmpp.js';

export const USAGE = `usage: morgana <appliance> [options]

appliances:
  www <dir>                      static website
  dns <zonefile...>              authoritative DNS (UDP and TCP)
      [--allow-transfer CIDR ...]  clients allowed to AXFR/IXFR (default: none)
      [--notify HOST:PORT ...]     secondaries sent NOTIFY at start and on reload
  ssh --host-key FILE --authorized-keys FILE
                                 SSH jump host (direct-tcpip through the appliance's stack)
                                 and built-in exec commands (echo, cat, stats); no host shell
      [--allow-remote-forward]     let users listen through the stack (ssh -R, tcpip-forward),
                                   on loopback addresses only; off by default
      [--gateway-ports]            with --allow-remote-forward: on any address the client names
  openflow-controller [--app learning-switch]
                                 OpenFlow 1.3/1.0 controller (switches connect to it; default port 6653)
  openflow-switch [--controller HOST:PORT] [--listen HOST:PORT] --port TAPNAME ...
                                 OpenFlow 1.3/1.0 software switch over TAP devices (own options:
                                 morgana openflow-switch --help)
  xmpp --domain D --users FILE [--tls-cert FILE --tls-key FILE]
                                 XMPP server (users file: one name:password per line; without
                                 a certificate, a self-signed one is made for D; port 5222)

${BACKEND_USAGE}`;

/** Runs the command; resolves with the exit status once the appliance has stopped (or failed to start). */
export async function main(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'www':
      return runAppliance('www', rest, async ({ positionals, backend, log }) => {
        if (positionals.length !== 1) throw new UsageError('www takes one folder: morgana www <dir>');
        const appliance = await startWww({ source: positionals[0], backend, log });
        log.info(`www serving ${positionals[0]}`);
        return appliance;
      }, USAGE, out);
    case 'dns':
      return runAppliance('dns', rest, async ({ positionals, values, backend, log }) => {
        if (positionals.length === 0) throw new UsageError('dns needs at least one zone file: morgana dns <zonefile...>');
        return startDns({ zoneFiles: positionals, allowTransfer: values['allow-transfer'], notify: values.notify, backend, log });
      }, USAGE, out);
    case 'ssh':
      return runAppliance('ssh', rest, async ({ positionals, values, backend, log }) => {
        if (positionals.length !== 0) throw new UsageError('ssh takes no positional arguments');
        return startSsh({
          hostKeyFile: values['host-key'],
          authorizedKeysFile: values['authorized-keys'],
          allowRemoteForward: values['allow-remote-forward'] === true,
          gatewayPorts: values['gateway-ports'] === true,
          backend,
          log,
        });
      }, USAGE, out);
    case 'openflow-controller':
      return runAppliance('openflow-controller', rest, async ({ positionals, values, backend, log }) => {
        if (positionals.length !== 0) throw new UsageError('openflow-controller takes no positional arguments');
        return startOpenflowController({ app: values.app, backend, log });
      }, USAGE, out);
    case 'xmpp':
      return runAppliance('xmpp', rest, async ({ positionals, values, backend, log }) => {
        if (positionals.length !== 0) throw new UsageError('xmpp takes no positional arguments');
        return startXmpp({ domain: values.domain, usersFile: values.users, tlsCertFile: values['tls-cert'], tlsKeyFile: values['tls-key'], backend, log });
      }, USAGE, out);
    case 'openflow-switch':
      return runOpenflowSwitch(rest, out);
    default:
      process.stderr.write(`morgana: unknown appliance ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}
