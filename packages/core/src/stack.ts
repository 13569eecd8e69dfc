/** STACK: what an application is written against; same interface on every backend. */
import type { Arp } from './arp.js';
import type { Ethernet } from './ethernet.js';
import type { Icmp } from './icmp.js';
import type { Ipv4 } from './ip.js';
import type { Netif } from './netif.js';
import type { Tcp } from './tcp.js';
import type { Udp } from './udp.js';

/** A network stack as applications see it. */
export interface Stack {
  /** `'direct'` for the pure TypeScript stack over a device, `'socket'` for the host's sockets. */
  readonly kind: 'direct' | 'socket';
  readonly udp: Udp;
  readonly tcp: Tcp;
  /** Closes every socket and the device. */
  close(): Promise<void>;
}

/** The pure TypeScript stack over a {@link Netif}: every layer is reachable. */
export interface DirectStack extends Stack {
  readonly kind: 'direct';
  readonly netif: Netif;
  readonly ethernet: Ethernet;
  readonly arp: Arp;
  readonly ipv4: Ipv4;
  readonly icmp: Icmp;
}
