/**
 * A loopback TCP endpoint that never answers a SYN: a listener in a worker thread whose event
 * loop is blocked, so it never accepts; once its accept queue is full, the kernel drops every
 * further SYN, and a connect there can only time out.
 */
import net from 'node:net';
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  Atomics.wait(new Int32Array(workerData), 0, 0);
  server.close();
});
`;

/** Connections made to fill the accept queue (a backlog of 1 holds two). */
const FILLERS = 4;
/** Time for the fillers' handshakes to complete. */
const SETTLE_MS = 200;

export interface SilentListener {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startSilentListener(): Promise<SilentListener> {
  const signal = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER, { eval: true, workerData: signal });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const fillers = Array.from({ length: FILLERS }, () => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    return socket;
  });
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return {
    port,
    async stop(): Promise<void> {
      for (const socket of fillers) socket.destroy();
      const flag = new Int32Array(signal);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await worker.terminate();
    },
  };
}
