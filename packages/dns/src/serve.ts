/**
 * Runs an {@link AuthoritativeServer} on any stack's `Udp` and `Tcp` (the direct stack, the
 * socket stack, the simulator). TCP follows RFC 7766: length-prefixed messages, pipelined
 * queries answered as they arrive, an idle timeout and a connection limit.
 */
import { type Clock, CounterSet, type Counters, type Tcp, type TcpFlow, type TcpListener, type Timer, type Udp, type UdpSocket } from '@morgana/core';
import type { AuthoritativeServer } from './server.js';

/** Options of {@link serveDns}. */
export interface ServeDnsOptions {
  readonly server: AuthoritativeServer;
  readonly clock: Clock;
  readonly udp?: Udp;
  readonly tcp?: Tcp;
  /** Port for both transports; default 53. */
  readonly port?: number;
  /** Close a TCP connection idle this long, ms (RFC 7766 §6.2.3 suggests seconds); default 10 000. */
  readonly tcpIdleTimeout?: number;
  /** Most simultaneous TCP connections; new ones beyond it are closed at once. Default 256. */
  readonly maxTcpConnections?: number;
}

/** A running DNS service. */
export interface DnsService {
  readonly port: number;
  stats(): Counters;
  close(): void;
}

/** Serves DNS on UDP and/or TCP. */
export function serveDns(options: ServeDnsOptions): DnsService {
  const { server, clock } = options;
  const counters = new CounterSet();
  const idleTimeout = options.tcpIdleTimeout ?? 10_000;
  const maxConnections = options.maxTcpConnections ?? 256;
  let socket: UdpSocket | undefined;
  let listener: TcpListener | undefined;
  const connections = new Set<TcpFlow>();
  const wanted = options.port ?? 53;

  if (options.udp !== undefined) {
    const bound = options.udp.bind({ port: wanted });
    socket = bound;
    bound.onMessage((datagram) => {
      const response = server.answer(datagram.data, { transport: 'udp', source: datagram.address });
      if (response !== undefined && !bound.send(response, datagram.address, datagram.port)) counters.add('udp-send-failed');
    });
  }
  const port = socket?.localPort ?? wanted;
  if (options.tcp !== undefined) {
    listener = options.tcp.listen(port, {
      onConnection: (flow) => {
        if (connections.size >= maxConnections) {
          counters.add('tcp-refused-limit');
          flow.abort();
          return;
        }
        connections.add(flow);
        counters.add('tcp-connections');
        void handleTcp(flow).finally(() => connections.delete(flow));
      },
    });
  }

  async function handleTcp(flow: TcpFlow): Promise<void> {
    let pending = new Uint8Array(0);
    let timer: Timer | undefined;
    const arm = (): void => {
      timer?.cancel();
      timer = clock.setTimer(idleTimeout, () => {
        counters.add('tcp-idle-closed');
        flow.abort();
      });
    };
    arm();
    try {
      for (;;) {
        const chunk = await flow.read();
        if (chunk === null) break;
        arm();
        const joined = new Uint8Array(pending.length + chunk.length);
        joined.set(pending);
        joined.set(chunk, pending.length);
        pending = joined;
        // Each message is a 2-byte length then the message (RFC 1035 §4.2.2); at most 65 537 bytes buffered.
        while (pending.length >= 2) {
          const length = (pending[0] << 8) | pending[1];
          if (pending.length < 2 + length) break;
          const query = pending.subarray(2, 2 + length);
          pending = pending.slice(2 + length);
          const source = flow.remoteAddress;
          const transfer = server.transfer(query, { transport: 'tcp', source });
          const responses = transfer ?? [server.answer(query, { transport: 'tcp', source })].filter((r): r is Uint8Array => r !== undefined);
          for (const response of responses) {
            const framed = new Uint8Array(2 + response.length);
            framed[0] = response.length >>> 8;
            framed[1] = response.length;
            framed.set(response, 2);
            await flow.write(framed);
          }
        }
      }
      await flow.close();
    } catch {
      counters.add('tcp-errors');
      flow.abort();
    } finally {
      timer?.cancel();
    }
  }

  return {
    port,
    stats: () => ({ ...server.stats(), ...counters.snapshot(), tcpOpen: connections.size }),
    close() {
      socket?.close();
      listener?.close();
      for (const flow of connections) flow.abort();
      connections.clear();
    },
  };
}
