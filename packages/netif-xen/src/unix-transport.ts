/** A xenstore transport over a Unix socket (xenstored's dom0 socket, or the simulator's). Node-only. */
import { connect } from 'node:net';
import type { XenstoreTransport } from './xenstore-client.js';

/** Connects to the socket at `path`; resolves once connected. */
export function connectUnix(path: string): Promise<XenstoreTransport> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => socket.destroy());
      resolve({
        write: (bytes) => {
          if (!socket.destroyed) socket.write(bytes);
        },
        onData: (receive, onClose) => {
          socket.on('data', (chunk: Buffer) => receive(chunk));
          socket.on('close', onClose);
        },
        close: () => {
          socket.destroy();
        },
      });
    });
  });
}
