// vchan: 1 MiB from client to server in 16 KiB writes, in one thread over the simulated
// hypervisor (events are Atomics doorbells), with the default 1 KiB in-page ring and with a
// 64 KiB ring of granted pages.
import Benchmark from 'benchmark';
import {
  SimulatedHypervisor,
  type VchanFlow,
  XenstoreClient,
  XenstoreStore,
  connectInProcess,
  connectVchanClient,
  createVchanServer,
} from '../src/index.js';

const TOTAL = 1 << 20;
const WRITE = 16384;

async function pair(readMin: number): Promise<{ server: VchanFlow; client: VchanFlow }> {
  const hv = new SimulatedHypervisor({ pages: 64, grantEntries: 256, ports: 8 });
  const xenstore = new XenstoreClient(connectInProcess(new XenstoreStore(), 0));
  const path = '/local/domain/1/data/vchan';
  const server = await createVchanServer({ xenstore, grants: hv.grantTable(1), events: hv.eventChannels(1) }, { path, peerDomid: 2, readMin });
  const client = await connectVchanClient({ xenstore, mapper: hv.grantMapper(2), events: hv.eventChannels(2) }, { path, serverDomid: 1 });
  return { server, client };
}

async function transfer(server: VchanFlow, client: VchanFlow, data: Uint8Array): Promise<void> {
  const send = async (): Promise<void> => {
    for (let at = 0; at < TOTAL; at += WRITE) await client.write(data.subarray(at, at + WRITE));
  };
  const receive = async (): Promise<void> => {
    let got = 0;
    while (got < TOTAL) got += ((await server.read()) as Uint8Array).length;
  };
  await Promise.all([send(), receive()]);
}

async function main(): Promise<void> {
  const data = new Uint8Array(TOTAL).map((_, i) => i & 0xff);
  const suite = new Benchmark.Suite('vchan');
  for (const readMin of [1024, 65536]) {
    const { server, client } = await pair(readMin);
    suite.add(`vchan 1 MiB client to server, ${readMin / 1024} KiB ring`, {
      defer: true,
      fn: (deferred: { resolve(): void }) => {
        void transfer(server, client, data).then(() => deferred.resolve());
      },
    });
  }
  await new Promise<void>((resolve) => {
    suite
      .on('cycle', (event: Benchmark.Event) => {
        const bench = event.target as Benchmark.Target & { name: string; hz: number };
        const bits = bench.hz * TOTAL * 8;
        console.log(`${bench.name}: ${(bits / 1e9).toFixed(2)} Gbit/s (${((bench.hz * TOTAL) / (1 << 20)).toFixed(0)} MiB/s, ${bench.hz.toFixed(1)} ops/s)`);
      })
      .on('complete', () => resolve())
      .run({ async: true });
  });
}

void main().then(() => process.exit(0));
