/**
 * One set of backend options for every appliance (ARCHITECTURE.md, "The morgana command"):
 * the host's sockets, the pure stack with user networking, on a TAP device, or with frames
 * over a socket in QEMU's formats; `--pcap` records the appliance's frames.
 */
import { type Clock, createSystemClock, createSystemRandom, formatIpv4, formatMac, localMac, type Ipv4Address, type Netif, parseIpv4, parseIpv4Prefix, type Random, type Stack, UnsupportedError } from '@morgana/core';
import { openDgramNetif, openStreamNetif } from '@morgana/netif-socket';
import { createSocketStack } from '@morgana/socket';
import { createDirectStack } from '@morgana/stack';
import { createWiretap } from '@morgana/testing';
import { createPcapFileSink } from '@morgana/testing/node';
import type { Logger } from './log.js';
import { type Forward, parseForward, startUsernet } from './usernet.js';

/** The backends. */
export const NETS = ['socket', 'usernet', 'tap', 'xen-sim', 'qemu-dgram', 'qemu-stream'] as const;
export type Net = (typeof NETS)[number];

/** Backend options as given on the command line. */
export interface BackendOptions {
  readonly net: Net;
  /** socket: HOST:PORT to listen on. */
  readonly listen?: string;
  /** usernet: forwarded ports. */
  readonly forward?: readonly string[];
  /** tap, xen-sim: device name. */
  readonly tap?: string;
  /** tap, qemu-*: ADDR/PREFIX. */
  readonly ip?: string;
  readonly gateway?: string;
  /** qemu-*: HOST:PORT of the peer (QEMU's socket). */
  readonly peer?: string;
  /** qemu-dgram: HOST:PORT to receive on; default 127.0.0.1 and the peer's port + 1. */
  readonly local?: string;
  readonly pcap?: string;
}

/** What an appliance runs on. */
export interface Backend {
  readonly stack: Stack;
  /** Address to listen on (undefined: every address of the stack). */
  readonly address: Ipv4Address | undefined;
  /** Port the service listens on inside the stack. */
  readonly port: number;
  /** Lines saying how to reach the service. */
  readonly reach: readonly string[];
  close(): Promise<void>;
}

/** Splits HOST:PORT; throws a message naming the option. */
export function parseHostPort(text: string, option: string): { host: string; port: number } {
  const match = /^([0-9.]+):([0-9]{1,5})$/.exec(text);
  if (match === null || Number(match[2]) > 65535) throw new UsageError(`${option} ${JSON.stringify(text)}: expected HOST:PORT, e.g. 127.0.0.1:8080`);
  try {
    parseIpv4(match[1]);
  } catch {
    throw new UsageError(`${option} ${JSON.stringify(text)}: ${match[1]} is not an IPv4 address`);
  }
  return { host: match[1], port: Number(match[2]) };
}

/** A mistake in the command line: printed with the usage, exit status 2. */
export class UsageError extends Error {}

/** Opens the backend. `servicePort` is the appliance's port inside a pure stack (80, 53); `defaultForwards` apply to usernet without --forward. */
export async function openBackend(
  options: BackendOptions,
  service: { readonly port: number; readonly defaultListen: string; readonly defaultForwards: readonly string[]; readonly protocols: readonly ('tcp' | 'udp')[] },
  log: Logger,
  clock: Clock = createSystemClock(),
  random: Random = createSystemRandom(),
): Promise<Backend> {
  let pcapClose = (): void => undefined;
  const wrap = (netif: Netif): Netif => {
    if (options.pcap === undefined) return netif;
    const file = createPcapFileSink(options.pcap);
    pcapClose = () => file.close();
    log.info(`recording frames to ${options.pcap}`);
    return createWiretap(netif, { clock, sink: file.sink });
  };
  const needIp = (): string => {
    if (options.ip === undefined) throw new UsageError(`--net ${options.net} needs --ip ADDR/PREFIX`);
    try {
      parseIpv4Prefix(options.ip);
    } catch {
      throw new UsageError(`--ip ${JSON.stringify(options.ip)}: expected ADDR/PREFIX, e.g. 10.0.0.2/24`);
    }
    return options.ip;
  };
  switch (options.net) {
    case 'socket': {
      if (options.pcap !== undefined) throw new UsageError('--pcap records frames, and --net socket has none: use a pure-stack backend');
      const { host, port } = parseHostPort(options.listen ?? service.defaultListen, '--listen');
      const stack = createSocketStack({ clock });
      return { stack, address: parseIpv4(host), port, reach: [`${host}:${port} (host sockets)`], close: () => stack.close() };
    }
    case 'usernet': {
      const forwards: Forward[] = [];
      for (const text of options.forward !== undefined && options.forward.length > 0 ? options.forward : service.defaultForwards) {
        try {
          forwards.push(parseForward(text));
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
      }
      const usernet = await startUsernet({ forwards, clock, random, log, wrapNetif: wrap });
      const reach = forwards.map((f) => `${f.protocol} ${f.hostAddress}:${f.hostPort} → ${formatIpv4(usernet.guestAddress)}:${f.guestPort} (usernet: pure TypeScript stack, no root)`);
      return {
        stack: usernet.stack,
        address: undefined,
        port: forwards[0]?.guestPort ?? service.port,
        reach,
        close: async () => {
          await usernet.close();
          pcapClose();
        },
      };
    }
    case 'tap': {
      if (options.tap === undefined) throw new UsageError('--net tap needs --tap NAME');
      const ip = needIp();
      const { openTap } = await import('@morgana/netif-tap');
      const netif = await openTap({ name: options.tap, create: true });
      const stack = createDirectStack({ netif: wrap(netif), clock, random, ipv4: { address: ip, gateway: options.gateway } });
      const address = ip.split('/')[0];
      return { stack, address: undefined, port: service.port, reach: [`${address}:${service.port} on TAP device ${options.tap}`], close: async () => { await stack.close(); pcapClose(); } };
    }
    case 'xen-sim': {
      if (options.tap === undefined) throw new UsageError('--net xen-sim needs --tap NAME (the simulated netback bridges to it)');
      const ip = needIp();
      const { openTap } = await import('@morgana/netif-tap');
      const xen = await import('@morgana/netif-xen');
      const tap = await openTap({ name: options.tap, create: true });
      // The simulated machine: xenstored, a hypervisor (grants, event channels), the toolstack's
      // vif nodes, a netback in dom0 bridged to the TAP device, and our netfront in domain 1.
      const store = new xen.XenstoreStore();
      const hypervisor = new xen.SimulatedHypervisor();
      const dom0 = new xen.XenstoreClient(xen.connectInProcess(store, 0));
      await xen.createSimulatedVif(dom0, { frontDomid: 1, mac: formatMac(localMac(random.uint32())) });
      const netback = await xen.startNetback(
        {
          xenstore: dom0,
          mapper: hypervisor.grantMapper(0),
          events: hypervisor.eventChannels(0),
          bridge: {
            output: (frame) => {
              tap.write(frame.length, (buffer) => {
                buffer.set(frame);
                return frame.length;
              });
            },
          },
        },
        { frontDomid: 1 },
      );
      tap.listen((frame) => {
        netback.input(frame);
      });
      const netfront = await xen.createNetfront(
        { xenstore: new xen.XenstoreClient(xen.connectInProcess(store, 1)), grants: hypervisor.grantTable(1), events: hypervisor.eventChannels(1), clock },
        { domid: 1 },
      );
      const stack = createDirectStack({ netif: wrap(netfront), clock, random, ipv4: { address: ip, gateway: options.gateway } });
      const address = ip.split('/')[0];
      return {
        stack,
        address: undefined,
        port: service.port,
        reach: [`${address}:${service.port} via netfront → simulated netback → TAP device ${options.tap}`],
        close: async () => {
          await stack.close();
          await netback.close();
          await tap.close();
          pcapClose();
        },
      };
    }
    case 'qemu-dgram':
    case 'qemu-stream': {
      const ip = needIp();
      if (options.peer === undefined) throw new UsageError(`--net ${options.net} needs --peer HOST:PORT`);
      const peer = parseHostPort(options.peer, '--peer');
      let netif: Netif;
      if (options.net === 'qemu-dgram') {
        const local = options.local === undefined ? { host: '127.0.0.1', port: peer.port + 1 } : parseHostPort(options.local, '--local');
        netif = await openDgramNetif({ local: { address: local.host, port: local.port }, remote: { address: peer.host, port: peer.port } });
      } else {
        netif = await openStreamNetif({ connect: { host: peer.host, port: peer.port }, reconnectDelayMs: 1000 });
      }
      const stack = createDirectStack({ netif: wrap(netif), clock, random, ipv4: { address: ip, gateway: options.gateway } });
      const address = ip.split('/')[0];
      return { stack, address: undefined, port: service.port, reach: [`${address}:${service.port} via ${options.net} peer ${options.peer}`], close: async () => { await stack.close(); pcapClose(); } };
    }
  }
  throw new UnsupportedError(`unknown backend ${String(options.net)}`);
}
