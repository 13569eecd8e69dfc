/** The worker of vchan-worker.test.ts: connects the client end with the posted xenstore values and echoes until end of stream. */
import { parentPort, workerData } from 'node:worker_threads';
import { type SimulatedHypervisorLayout, attachSimulatedHypervisor } from '../src/grant.js';
import { connectVchanClient } from '../src/vchan.js';

interface VchanWorkerData {
  readonly layout: SimulatedHypervisorLayout;
  readonly nodes: Readonly<Record<string, string>>;
  readonly path: string;
  readonly clientDomid: number;
  readonly serverDomid: number;
}

const data = workerData as VchanWorkerData;
// Event channel waits (Atomics.waitAsync) do not keep a thread's event loop alive: the port does,
// until the test terminates the worker.
parentPort?.on('message', () => undefined);
const hv = attachSimulatedHypervisor(data.layout);
const xenstore = {
  read: async (path: string): Promise<string> => {
    const value = data.nodes[path];
    if (value === undefined) throw new Error(`no ${path}`);
    return value;
  },
  write: async (): Promise<void> => undefined,
};
const client = await connectVchanClient(
  { xenstore, mapper: hv.grantMapper(data.clientDomid), events: hv.eventChannels(data.clientDomid) },
  { path: data.path, serverDomid: data.serverDomid },
);
let echoed = 0;
for (;;) {
  const chunk = await client.read();
  if (chunk === null) break;
  await client.write(chunk);
  echoed += chunk.length;
}
await client.close();
parentPort?.postMessage(echoed);
