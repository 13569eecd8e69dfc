/**
 * The simulated netback in its own worker thread, as a driver domain would be: it shares only
 * the hypervisor's SharedArrayBuffer (guest memory, grant table, event channels) with the
 * guest, reaches xenstore through a MessagePort, and exchanges bridged frames with the parent.
 *
 * Worker side: a script that calls {@link runNetbackWorker}. Parent side: {@link startNetbackWorker}.
 * Node-only (node:worker_threads).
 */
import { MessageChannel, type MessagePort, Worker, parentPort, workerData } from 'node:worker_threads';
import { type SimulatedHypervisorLayout, attachSimulatedHypervisor } from './grant.js';
import { type NetbackConfig, startNetback } from './netback.js';
import { XenstoreClient, type XenstoreTransport } from './xenstore-client.js';
import type { XenstoreStore } from './xenstore-store.js';

interface WorkerInit {
  readonly kind: 'morgana-netback';
  readonly layout: SimulatedHypervisorLayout;
  readonly config: NetbackConfig;
  readonly xenstore: MessagePort;
}

type ToWorker = { type: 'input'; frame: Uint8Array } | { type: 'close' };
type FromWorker = { type: 'ready' } | { type: 'output'; frame: Uint8Array } | { type: 'closed' } | { type: 'error'; message: string } | { type: 'input-dropped' };

function portTransport(port: MessagePort): XenstoreTransport {
  return {
    write: (bytes) => port.postMessage(bytes),
    onData: (receive, onClose) => {
      port.on('message', (bytes: Uint8Array) => receive(bytes));
      port.on('close', onClose);
    },
    close: () => port.close(),
  };
}

/** Runs the back end inside a worker started by {@link startNetbackWorker}. */
export function runNetbackWorker(): void {
  const init = workerData as WorkerInit | undefined;
  const parent = parentPort;
  if (parent === null || init?.kind !== 'morgana-netback') throw new Error('runNetbackWorker must run in a worker started by startNetbackWorker');
  const hv = attachSimulatedHypervisor(init.layout);
  const domid = init.config.domid ?? 0;
  const xenstore = new XenstoreClient(portTransport(init.xenstore));
  const post = (message: FromWorker): void => parent.postMessage(message);
  startNetback(
    {
      xenstore,
      mapper: hv.grantMapper(domid),
      events: hv.eventChannels(domid),
      // Copy: the frame is a view of the back end's reusable buffer.
      bridge: { output: (frame) => post({ type: 'output', frame: frame.slice() }) },
    },
    init.config,
  ).then(
    (netback) => {
      parent.on('message', (message: ToWorker) => {
        if (message.type === 'input') {
          if (!netback.input(message.frame)) post({ type: 'input-dropped' });
        } else {
          void netback.close().then(() => {
            xenstore.close();
            post({ type: 'closed' });
            parent.close();
          });
        }
      });
      post({ type: 'ready' });
    },
    (error: unknown) => post({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
  );
}

/** The parent's handle on a netback worker. */
export interface NetbackWorker {
  /** Sends a frame to the guest through the back end. */
  input(frame: Uint8Array): void;
  /** Frames the back end could not deliver (no rx buffer posted, or not connected). */
  readonly inputDropped: number;
  /** Closes the back end (the guest sees it go away) and ends the thread. */
  close(): Promise<void>;
}

/** Options of {@link startNetbackWorker}. */
export interface NetbackWorkerOptions {
  /** A module whose top level calls {@link runNetbackWorker}. */
  readonly script: URL | string;
  readonly hypervisor: SimulatedHypervisorLayout;
  readonly store: XenstoreStore;
  readonly config: NetbackConfig;
  /** Receives every frame the guest sends. */
  readonly output: (frame: Uint8Array) => void;
}

/** Starts a netback in a new worker thread; resolves once it waits for the front end (InitWait). */
export function startNetbackWorker(options: NetbackWorkerOptions): Promise<NetbackWorker> {
  const channel = new MessageChannel();
  const conn = options.store.connect(options.config.domid ?? 0, (bytes) => channel.port1.postMessage(bytes));
  channel.port1.on('message', (bytes: Uint8Array) => conn.receive(bytes));
  channel.port1.on('close', () => conn.close());
  const init: WorkerInit = { kind: 'morgana-netback', layout: options.hypervisor, config: options.config, xenstore: channel.port2 };
  const worker = new Worker(options.script, { workerData: init, transferList: [channel.port2] });
  let dropped = 0;
  let closed: (() => void) | undefined;
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          resolve({
            input: (frame) => worker.postMessage({ type: 'input', frame } satisfies ToWorker),
            get inputDropped() {
              return dropped;
            },
            close: async () => {
              const done = new Promise<void>((r) => {
                closed = r;
              });
              worker.postMessage({ type: 'close' } satisfies ToWorker);
              await done;
              conn.close();
              channel.port1.close();
              await worker.terminate();
            },
          });
          break;
        case 'output':
          options.output(message.frame);
          break;
        case 'input-dropped':
          dropped += 1;
          break;
        case 'closed':
          closed?.();
          break;
        case 'error':
          reject(new Error(`netback worker: ${message.message}`));
          void worker.terminate();
          break;
      }
    });
  });
}
