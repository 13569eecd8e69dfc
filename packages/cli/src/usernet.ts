/**
 * `--net usernet`: the pure stack with no root, as QEMU's user networking does it. The
 * appliance's own Ethernet/ARP/IPv4/TCP/UDP stack runs in this process on an in-memory cable;
 * a second, host-side morgana stack on the other end of the cable carries each forwarded host
 * port into it. Every request crosses the pure TypeScript path, in both stacks.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { type Clock, formatIpv4, type Ipv4Address, type Netif, type Random, type UdpSocket, parseIpv4, AddressError } from '@morgana/core';
import { flowToDuplex } from '@morgana/socket';
import { type ComposedStack, createDirectStack } from '@morgana/stack';
import type { Logger } from './log.js';
import { createMemoryLinkPair, memoryLinkMacs } from './memory-link.js';

/** One forwarded host port. */
export interface Forward {
  readonly protocol: 'tcp' | 'udp';
  /** Host address to listen on; default 127.0.0.1 (never all interfaces unless asked). */
  readonly hostAddress: string;
  readonly hostPort: number;
  readonly guestPort: number;
}

/** Parses `[tcp:|udp:][HOSTADDR:]HOSTPORT:GUESTPORT`. Throws {@link AddressError}. */
export function parseForward(text: string): Forward {
  let rest = text;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const kind = /^(tcp|udp):/.exec(rest);
  if (kind !== null) {
    protocol = kind[1] as 'tcp' | 'udp';
    rest = rest.slice(kind[0].length);
  }
  const parts = rest.split(':');
  const port = (value: string | undefined): number => {
    if (value === undefined || !/^[0-9]{1,5}$/.test(value) || Number(value) > 65535 || Number(value) === 0) {
      throw new AddressError(`--forward ${JSON.stringify(text)}: expected [tcp:|udp:][HOSTADDR:]HOSTPORT:GUESTPORT`);
    }
    return Number(value);
  };
  if (parts.length === 2) return { protocol, hostAddress: '127.0.0.1', hostPort: port(parts[0]), guestPort: port(parts[1]) };
  if (parts.length === 3) {
    parseIpv4(parts[0]);
    return { protocol, hostAddress: parts[0], hostPort: port(parts[1]), guestPort: port(parts[2]) };
  }
  throw new AddressError(`--forward ${JSON.stringify(text)}: expected [tcp:|udp:][HOSTADDR:]HOSTPORT:GUESTPORT`);
}

/** Options of {@link startUsernet}. */
export interface UsernetOptions {
  readonly forwards: readonly Forward[];
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  /** The appliance's address; default 10.0.2.15/24 (as in QEMU). */
  readonly guestAddress?: string;
  /** The host side's address on the cable; default 10.0.2.2. */
  readonly hostAddress?: string;
  /** Wraps the appliance's device (a pcap wiretap). */
  readonly wrapNetif?: (netif: Netif) => Netif;
  /** Idle UDP flows forgotten after this, ms; default 60 000. */
  readonly udpIdleTimeout?: number;
  /** Most UDP client flows tracked at once; default 1024. */
  readonly udpFlowLimit?: number;
}

/** A running user network. */
export interface Usernet {
  /** The appliance's stack. */
  readonly stack: ComposedStack;
  /** The host-side stack. */
  readonly host: ComposedStack;
  readonly guestAddress: Ipv4Address;
  close(): Promise<void>;
}

/** Starts both stacks and every forward; rejects when a host port cannot be bound. */
export async function startUsernet(options: UsernetOptions): Promise<Usernet> {
  const { clock, random, log } = options;
  const guest = options.guestAddress ?? '10.0.2.15/24';
  const hostAddress = options.hostAddress ?? '10.0.2.2';
  const guestAddress = parseIpv4(guest.split('/')[0]);
  const prefixLength = guest.split('/')[1] ?? '24';
  const [guestNetif, hostNetif] = createMemoryLinkPair(memoryLinkMacs(() => random.uint32()));
  const stack = createDirectStack({ netif: options.wrapNetif?.(guestNetif) ?? guestNetif, clock, random, ipv4: { address: guest, gateway: hostAddress } });
  const host = createDirectStack({ netif: hostNetif, clock, random, ipv4: { address: `${hostAddress}/${prefixLength}` } });
  const servers: (Server | DgramSocket)[] = [];
  const sockets = new Set<Socket>();
  const udpFlows = new Map<string, { socket: UdpSocket; last: number }>();
  const idle = options.udpIdleTimeout ?? 60_000;
  const flowLimit = options.udpFlowLimit ?? 1024;

  const forwardTcp = (forward: Forward): Promise<void> =>
    new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true }, (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        // Without this, Nagle holds each answer's last segment until the client's delayed ACK (~40 ms).
        socket.setNoDelay(true);
        socket.pause();
        host.tcp.connect(guestAddress, forward.guestPort, { timeout: 10_000 }).then(
          (flow) => {
            const duplex = flowToDuplex(flow);
            const fail = (error?: Error): void => {
              if (error !== undefined) log.debug(`forward ${forward.hostPort}→${forward.guestPort}: ${error.message}`);
              socket.destroy();
              duplex.destroy();
            };
            socket.on('error', fail);
            duplex.on('error', fail);
            socket.pipe(duplex);
            duplex.pipe(socket);
            socket.resume();
          },
          (error: Error) => {
            log.warn(`forward ${forward.hostPort}→${formatIpv4(guestAddress)}:${forward.guestPort}: ${error.message}`);
            socket.destroy();
          },
        );
      });
      server.once('error', reject);
      server.listen(forward.hostPort, forward.hostAddress, () => {
        server.off('error', reject);
        servers.push(server);
        resolve();
      });
    });

  const forwardUdp = (forward: Forward): Promise<void> =>
    new Promise((resolve, reject) => {
      const outside = createSocket('udp4');
      outside.on('message', (data, from) => {
        const key = `${from.address}:${from.port}`;
        let flow = udpFlows.get(key);
        if (flow === undefined) {
          if (udpFlows.size >= flowLimit) {
            const [oldest, entry] = udpFlows.entries().next().value as [string, { socket: UdpSocket }];
            entry.socket.close();
            udpFlows.delete(oldest);
          }
          const socket = host.udp.bind({});
          socket.onMessage((datagram) => outside.send(datagram.data, from.port, from.address));
          flow = { socket, last: clock.now() };
          udpFlows.set(key, flow);
        }
        flow.last = clock.now();
        flow.socket.send(data, guestAddress, forward.guestPort);
      });
      outside.once('error', reject);
      outside.bind(forward.hostPort, forward.hostAddress, () => {
        outside.off('error', reject);
        servers.push(outside);
        resolve();
      });
    });

  const sweep = setInterval(() => {
    const now = clock.now();
    for (const [key, flow] of udpFlows) {
      if (now - flow.last > idle) {
        flow.socket.close();
        udpFlows.delete(key);
      }
    }
  }, Math.min(idle, 10_000));
  sweep.unref();

  const close = async (): Promise<void> => {
    clearInterval(sweep);
    for (const server of servers) server.close();
    for (const socket of sockets) socket.destroy();
    for (const flow of udpFlows.values()) flow.socket.close();
    udpFlows.clear();
    await stack.close();
    await host.close();
  };
  try {
    for (const forward of options.forwards) await (forward.protocol === 'tcp' ? forwardTcp(forward) : forwardUdp(forward));
  } catch (error) {
    await close();
    throw error;
  }
  return { stack, host, guestAddress, close };
}
