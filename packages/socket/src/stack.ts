/** The socket stack: morgana's {@link Stack} on the host kernel's sockets. */
import { type Stack, type Tcp, type Udp, createSystemClock } from '@morgana/core';
import { type SocketStackOptions, resolveOptions } from './config.js';
import { SocketTcp } from './tcp.js';
import { SocketUdp } from './udp.js';

/** A {@link Stack} whose UDP and TCP are the host kernel's, through `node:dgram` and `node:net`. */
export interface SocketStack extends Stack {
  readonly kind: 'socket';
  readonly udp: Udp;
  readonly tcp: Tcp;
}

/**
 * Creates a stack on the host's sockets. Applications written against {@link Stack} run on it
 * unchanged. `close()` closes every socket and listener it opened and resets its connections.
 */
export function createSocketStack(options: SocketStackOptions = {}): SocketStack {
  const config = resolveOptions(options, options.clock ?? createSystemClock());
  const udp = new SocketUdp(config);
  const tcp = new SocketTcp(config);
  let closing: Promise<void> | undefined;
  return {
    kind: 'socket',
    udp,
    tcp,
    close(): Promise<void> {
      closing ??= Promise.all([udp.close(), tcp.close()]).then(() => undefined);
      return closing;
    },
  };
}
