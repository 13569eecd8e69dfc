/**
 * The composition root (MirageOS's generated `main.ml`): the one place that wires concrete
 * layers together. `netif → ethernet → arp → ipv4 (+ icmp) → udp, tcp`, each layer given the
 * ones below it through the interfaces of @morgana/core.
 */
import {
  type Clock,
  type DirectStack,
  type Ipv4Address,
  type Ipv4Prefix,
  type Netif,
  type Random,
  createSystemClock,
  createSystemRandom,
  parseIpv4Prefix,
  toIpv4,
} from '@morgana/core';
import { type DhcpClient, type DhcpClientConfig, type DhcpLease, createDhcpClient } from '@morgana/dhcp';
import { type ArpConfig, type EthernetConfig, createArp, createEthernet } from '@morgana/ethif';
import { type IcmpConfig, type Ipv4Layer, type Ipv4LayerConfig, createIcmp, createIpv4 } from '@morgana/ipv4';
import { type TcpConfig, type TcpLayer, createTcp } from '@morgana/tcp';
import { type UdpConfig, type UdpLayer, createUdp } from '@morgana/udp';

/** Per-layer configuration shared by {@link createDirectStack} and {@link createDhcpStack}. */
export interface StackLayerOptions {
  /** The device. The stack owns it: `close()` closes it. */
  readonly netif: Netif;
  /** Default: the system clock (`createSystemClock()`). */
  readonly clock?: Clock;
  /** Default: the platform's cryptographic generator (`createSystemRandom()`). */
  readonly random?: Random;
  readonly ethernet?: EthernetConfig;
  readonly arp?: ArpConfig;
  readonly icmp?: IcmpConfig;
  readonly udp?: UdpConfig;
  readonly tcp?: TcpConfig;
}

/** IPv4 settings of a statically configured stack: the address, and any other IPv4 layer option. */
export interface StaticIpv4Options extends Omit<Ipv4LayerConfig, 'address' | 'gateway'> {
  /** `'10.0.0.2/24'` or a prefix. */
  readonly address: string | Ipv4Prefix;
  /** Default gateway, `'10.0.0.1'` or an address. */
  readonly gateway?: string | Ipv4Address;
}

/** Options of {@link createDirectStack}. */
export interface DirectStackOptions extends StackLayerOptions {
  readonly ipv4: StaticIpv4Options;
}

/** Options of {@link createDhcpStack}. */
export interface DhcpStackOptions extends StackLayerOptions {
  /** IPv4 layer options other than the address, which DHCP provides. */
  readonly ipv4?: Omit<Ipv4LayerConfig, 'address' | 'gateway'>;
  readonly dhcp?: DhcpClientConfig;
}

/** The direct stack as this package composes it: every layer, with their concrete extras. */
export interface ComposedStack extends DirectStack {
  readonly ipv4: Ipv4Layer;
  readonly udp: UdpLayer;
  readonly tcp: TcpLayer;
  readonly clock: Clock;
  readonly random: Random;
}

/** A stack whose address comes from DHCP. */
export interface DhcpStack extends ComposedStack {
  /** The running client: its lease, events, `release()`. */
  readonly dhcp: DhcpClient;
  /** The lease `createDhcpStack` obtained (the current one is `dhcp.lease()`). */
  readonly lease: DhcpLease;
}

function compose(options: StackLayerOptions, ipv4Config: Ipv4LayerConfig, beforeClose: () => void): ComposedStack {
  const { netif } = options;
  const clock = options.clock ?? createSystemClock();
  const random = options.random ?? createSystemRandom();
  const ethernet = createEthernet({ netif }, options.ethernet);
  const arp = createArp({ ethernet, clock, random }, options.arp);
  const ipv4 = createIpv4({ ethernet, arp, clock, random }, ipv4Config);
  const icmp = createIcmp({ ip: ipv4, clock, random }, options.icmp);
  const udp = createUdp({ ip: ipv4, icmp, random }, options.udp);
  const tcp = createTcp({ ip: ipv4, clock, random }, options.tcp);
  let closing: Promise<void> | undefined;
  return {
    kind: 'direct',
    netif,
    ethernet,
    arp,
    ipv4,
    icmp,
    udp,
    tcp,
    clock,
    random,
    close() {
      closing ??= (async () => {
        beforeClose();
        tcp.close();
        udp.close();
        await netif.close();
      })();
      return closing;
    },
  };
}

/**
 * A statically addressed stack on `netif`.
 *
 * ```ts
 * const stack = createDirectStack({ netif, ipv4: { address: '10.0.0.2/24', gateway: '10.0.0.1' } });
 * ```
 */
export function createDirectStack(options: DirectStackOptions): ComposedStack {
  const { address, gateway, ...rest } = options.ipv4;
  const prefix = typeof address === 'string' ? parseIpv4Prefix(address) : address;
  return compose(options, { ...rest, address: prefix, gateway: gateway === undefined ? undefined : toIpv4(gateway) }, () => undefined);
}

/**
 * A stack that gets its address from DHCP: resolves once the first lease is configured, and
 * keeps renewing it. Rejects like `DhcpClient.start()` (and closes the stack) when no lease
 * comes.
 */
export async function createDhcpStack(options: DhcpStackOptions): Promise<DhcpStack> {
  let dhcp: DhcpClient | undefined;
  const stack = compose(options, { ...options.ipv4 }, () => dhcp?.stop());
  dhcp = createDhcpClient(
    { udp: stack.udp, ipv4: stack.ipv4, arp: stack.arp, clock: stack.clock, random: stack.random, mac: options.netif.mac },
    options.dhcp,
  );
  let lease: DhcpLease;
  try {
    lease = await dhcp.start();
  } catch (error) {
    await stack.close();
    throw error;
  }
  return { ...stack, dhcp, lease };
}
