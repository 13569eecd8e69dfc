// Micro-benchmarks of the HTTP code alone, no sockets: parsing request heads (wrk's and a
// browser's), and a whole exchange through HttpServer + the static handler over an in-memory
// Flow that answers at once. Run: node tools/bench.mjs server.bench
import Benchmark from 'benchmark';
import { type Clock, createSystemClock, type Flow } from '@morgana/core';
import { createMemorySource, createStaticHandler, HttpParser, HttpServer, type ParserHandler } from '@morgana/http';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const WRK = encode('GET /10k.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n');
const BROWSER = encode(
  'GET /10k.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\nsec-ch-ua: "Chromium";v="156", "Not.A/Brand";v="99"\r\n' +
    'sec-ch-ua-mobile: ?0\r\nsec-ch-ua-platform: "Linux"\r\nUpgrade-Insecure-Requests: 1\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n' +
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\nSec-Fetch-Site: none\r\n' +
    'Sec-Fetch-Mode: navigate\r\nSec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n' +
    'Accept-Language: en-US,en;q=0.9\r\n\r\n',
);

let heads = 0;
const count: ParserHandler = { onHead: () => heads++, onData: () => undefined, onEnd: () => undefined, onError: (e) => { throw e; } };
const parser = new HttpParser('request', count);

/** A Flow that hands the server one request per read and takes its answers at once. */
function loopFlow(request: Uint8Array, onAnswer: () => void): Flow {
  let reads = 0;
  return {
    // Now and then through the event loop, so that the timer ending the measurement can fire.
    read: () => (++reads % 1000 === 0 ? new Promise((resolve) => setImmediate(() => resolve(request.slice()))) : Promise.resolve(request.slice())),
    write: () => {
      onAnswer();
      return Promise.resolve();
    },
    writev: () => {
      onAnswer();
      return Promise.resolve();
    },
    shutdown: () => Promise.resolve(),
    close: () => Promise.resolve(),
    abort: () => undefined,
  };
}

/** Requests answered per second through the server in process, measured over `ms`. */
async function serverRate(request: Uint8Array, clock: Clock, ms: number): Promise<number> {
  const handler = createStaticHandler(createMemorySource({ '10k.txt': new Uint8Array(10 * 1024).fill(0x61) }, Date.UTC(2026, 0, 1)));
  const server = new HttpServer(handler, { clock, serverName: 'morgana' });
  let answers = 0;
  const flow = loopFlow(request, () => answers++);
  void server.serve(flow);
  const start = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const rate = (answers * 1000) / (performance.now() - start);
  server.closeAll();
  return rate;
}

const suite = new Benchmark.Suite('http parser');
suite
  .add('parse wrk request head (46 B)', () => parser.push(WRK))
  .add(`parse browser request head (${BROWSER.length} B, 16 fields)`, () => parser.push(BROWSER))
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target as Benchmark.Target & { name: string; hz: number; stats: { rme: number } };
    console.log(`${bench.name}: ${Math.round(bench.hz).toLocaleString('en')} heads/s ±${bench.stats.rme.toFixed(1)}%`);
  })
  .run();

const clock = createSystemClock();
for (const [name, request] of [['wrk', WRK], ['browser', BROWSER]] as const) {
  const rate = await serverRate(request, clock, 2000);
  console.log(`server + static handler in process, ${name} request, 10 KB file: ${Math.round(rate).toLocaleString('en')} requests/s (${(1e6 / rate).toFixed(2)} µs each)`);
}
process.exit(0);
