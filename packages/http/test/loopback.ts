import { parseIpv4, type Tcp } from '@morgana/core';
import type { HttpServer } from '../src/index.js';

/** Listens on an ephemeral loopback port and resolves with it once the bind is done (it completes a tick late). */
export async function listenOnLoopback(server: HttpServer, tcp: Tcp): Promise<number> {
  const listener = server.listen(tcp, 0, parseIpv4('127.0.0.1'));
  for (let waited = 0; listener.port === 0; waited += 10) {
    if (waited > 10_000) throw new Error('the listener never bound a port');
    await new Promise((r) => setTimeout(r, 10));
  }
  return listener.port;
}
