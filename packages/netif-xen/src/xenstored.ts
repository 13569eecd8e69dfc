/**
 * The xenstored simulator on a Unix socket, the way the real daemon serves dom0's tools: every
 * connection speaks for dom0. Point Xen's own clients at it with `XENSTORED_PATH=<socket>`.
 * Node-only (node:net); the protocol logic is in xenstore-store.ts.
 */
import { rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { XenstoreStore, type XenstoreStoreConfig } from './xenstore-store.js';

/** A running simulator. */
export interface XenstoredServer {
  readonly path: string;
  readonly store: XenstoreStore;
  /** Connections currently open. */
  connections(): number;
  close(): Promise<void>;
}

/** Options of {@link startXenstored}. */
export interface XenstoredOptions extends XenstoreStoreConfig {
  /** Unix socket path to listen on (removed first if it exists). */
  readonly path: string;
  /** An existing store to serve; default a fresh one. */
  readonly store?: XenstoreStore;
}

/** Listens on a Unix socket and serves a {@link XenstoreStore}. */
export async function startXenstored(options: XenstoredOptions): Promise<XenstoredServer> {
  const store = options.store ?? new XenstoreStore(options);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const conn = store.connect(0, (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    socket.on('data', (chunk: Buffer) => {
      conn.receive(chunk);
      if (conn.decodeErrors > 0) socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      conn.close();
    });
  });
  rmSync(options.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.path, () => resolve());
  });
  return {
    path: options.path,
    store,
    connections: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(options.path, { force: true });
    },
  };
}
