// Properties of the server under hostile input, and every limit it has, over in-memory flows
// and the virtual clock.
import { VirtualClock } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Headers, type HttpHandler, HttpParser, HttpServer, type HttpServerConfig } from '../src/index.js';
import { flowPair } from './flow-pair.js';
import { concat, encodeRequest, requestArb } from './requests.js';

const FILE = new TextEncoder().encode('static bytes\n');
const FROZEN = new Headers([
  ['Content-Type', 'text/plain'],
  ['Content-Length', String(FILE.length)],
]).freeze();

/** Answers in every way a handler can: echo, frozen headers, a stream, an exception, no content. */
function variedHandler(methods: string[]): HttpHandler {
  return async (request) => {
    methods.push(request.method);
    switch (request.path.length % 5) {
      case 0:
        return { status: 200, body: await request.bytes() };
      case 1:
        return { status: 200, headers: FROZEN, body: FILE };
      case 2:
        return {
          status: 200,
          body: (async function* () {
            yield new TextEncoder().encode('streamed ');
            yield await request.bytes();
          })(),
        };
      case 3:
        throw new Error('handler failure');
      default:
        return { status: 204 };
    }
  };
}

interface Outcome {
  /** Statuses of the responses, interim ones included. */
  statuses: number[];
  /** The response parser's error, if the output was not well-formed. */
  error: string | undefined;
  /** The server reset the connection (aborted it) rather than closing it. */
  reset: boolean;
  finished: boolean;
  server: HttpServer;
  clock: VirtualClock;
}

/** Sends `bytes` in pieces, then FIN; runs the virtual clock until the connection is over. */
async function drive(bytes: Uint8Array, cuts: readonly number[], config: Partial<HttpServerConfig> = {}): Promise<Outcome> {
  const clock = new VirtualClock();
  const methods: string[] = [];
  const server = new HttpServer(variedHandler(methods), { clock, maxBodySize: 2 ** 40, ...config });
  const [client, side] = flowPair();
  let finished = false;
  const served = server.serve(side).then(() => {
    finished = true;
  });
  const output: Uint8Array[] = [];
  let reset = false;
  const reading = (async () => {
    for (;;) {
      const chunk = await client.read().catch(() => {
        reset = true;
        return null;
      });
      if (chunk === null) return;
      output.push(chunk);
    }
  })();
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let last = 0;
  try {
    for (const point of [...points, bytes.length]) {
      await client.write(bytes.subarray(last, point));
      last = point;
    }
    await client.shutdown();
  } catch {
    // The server may have closed the connection already.
  }
  for (let second = 0; second < 120 && !finished; second++) await clock.run(1000);
  await reading;
  await served;
  // Read what came back as a client would (HEAD answers have no body).
  const statuses: number[] = [];
  let error: string | undefined;
  let finals = 0;
  let status = 0;
  const parser = new HttpParser('response', {
    onHead: (head) => {
      status = head.status;
      statuses.push(head.status);
    },
    onData: () => undefined,
    onEnd: () => {
      if (status >= 200) finals++;
      if (methods[finals] === 'HEAD') parser.expectNoBody();
    },
    onError: (e) => {
      error = `${e.status} ${e.message}`;
    },
  });
  if (methods[0] === 'HEAD') parser.expectNoBody();
  for (const chunk of output) parser.push(chunk);
  parser.finish();
  return { statuses, error, reset, finished, server, clock };
}

const hostileBytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc.tuple(fc.array(requestArb, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 })).map(([requests, flips]) => {
    const bytes = concat(requests.map((r, i) => encodeRequest(r, i === requests.length - 1)));
    for (const [at, value] of flips) bytes[at % bytes.length] = value;
    return bytes;
  }),
);

describe('HTTP server under arbitrary input', () => {
  it('never crashes, always ends the connection, and writes only well-formed responses', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBytes, fc.array(fc.nat(), { maxLength: 6 }), async (bytes, cuts) => {
        const outcome = await drive(bytes, cuts);
        expect(outcome.finished).toBe(true);
        // A response cut short is allowed only when the connection was reset, which the client sees as a failure:
        // a server that meets an error in the middle of a response can do nothing else.
        if (!outcome.reset) expect(outcome.error).toBeUndefined();
        else if (outcome.error !== undefined) expect(outcome.error).toMatch(/closed in the middle of a message/);
        for (const status of outcome.statuses) expect(status >= 100 && status <= 599).toBe(true);
        expect(outcome.server.stats().openConnections).toBe(0);
        expect(outcome.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('answers every valid request, in order, whatever the pieces they arrive in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), async (requests, cuts) => {
        const bytes = concat(requests.map((r, i) => encodeRequest(r, i === requests.length - 1)));
        const outcome = await drive(bytes, cuts);
        expect(outcome.error).toBeUndefined();
        // The handler answers by the length of the path (see variedHandler); a stream to HTTP/1.0 ends the connection.
        const expected: number[] = [];
        for (const r of requests) {
          const kind = r.target.split('?')[0].length % 5;
          expected.push(kind === 3 ? 500 : kind === 4 ? 204 : 200);
          if (kind === 2 && r.minorVersion === 0) break;
        }
        expect(outcome.statuses.filter((s) => s >= 200)).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });
});

/** A raw client on an in-memory flow: write text, collect everything read. */
function rawClient(server: HttpServer) {
  const [client, side] = flowPair();
  let ended = false;
  let reset = false;
  let received = '';
  const served = server.serve(side);
  const reading = (async () => {
    try {
      for (let chunk = await client.read(); chunk !== null; chunk = await client.read()) received += Buffer.from(chunk).toString('latin1');
    } catch {
      reset = true;
    }
    ended = true;
  })();
  return {
    client,
    served,
    reading,
    send: (text: string) => client.write(Buffer.from(text, 'latin1')),
    get received() {
      return received;
    },
    get ended() {
      return ended;
    },
    get reset() {
      return reset;
    },
  };
}

const ok: HttpHandler = (request) => ({ status: 200, body: `ok ${request.path}` });

describe('HTTP server limits', () => {
  it('refuses connections beyond maxConnections and accepts again once one closes', async () => {
    const clock = new VirtualClock();
    const server = new HttpServer(ok, { clock, maxConnections: 2 });
    const first = rawClient(server);
    const second = rawClient(server);
    const third = rawClient(server);
    await clock.run(1);
    expect(third.reset).toBe(true);
    expect(first.ended || second.ended).toBe(false);
    expect(server.stats()['refused-connection-limit']).toBe(1);
    expect(server.stats().openConnections).toBe(2);
    await first.send('GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await first.reading;
    expect(first.received).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*ok \/a$/);
    const fourth = rawClient(server);
    await fourth.send('GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await fourth.reading;
    expect(fourth.reset).toBe(false);
    expect(fourth.received).toMatch(/ok \/d$/);
    server.closeAll();
  });

  it('gives a whole request head headersTimeout, however slowly it trickles in (slowloris)', async () => {
    const clock = new VirtualClock();
    const server = new HttpServer(ok, { clock, headersTimeout: 20_000, keepAliveTimeout: 60_000 });
    const slow = rawClient(server);
    await slow.send('GET / HTTP/1.1\r\n');
    for (let t = 0; t < 10 && !slow.ended; t++) {
      await clock.run(4000);
      await slow.send('X').catch(() => undefined);
    }
    expect(slow.reset).toBe(true);
    expect(clock.now()).toBeLessThanOrEqual(24_000);
    expect(server.stats().timeouts).toBe(1);
    await slow.served;
    expect(clock.pendingTimers()).toBe(0);
  });

  it('drops a request whose body stops arriving for bodyTimeout', async () => {
    const clock = new VirtualClock();
    const server = new HttpServer(async (r) => ({ status: 200, body: await r.bytes() }), { clock, bodyTimeout: 3000 });
    const c = rawClient(server);
    await c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    await clock.run(2000);
    await c.send('def');
    await clock.run(2000);
    expect(c.ended).toBe(false);
    await clock.run(1500);
    expect(c.reset).toBe(true);
    expect(server.stats().timeouts).toBe(1);
    await c.served;
    expect(clock.pendingTimers()).toBe(0);
  });

  it('answers 413 past maxBodySize, announced or chunked, and closes', async () => {
    const clock = new VirtualClock();
    const server = new HttpServer(async (r) => ({ status: 200, body: await r.bytes() }), { clock, maxBodySize: 8 });
    const announced = rawClient(server);
    await announced.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n');
    await announced.reading;
    expect(announced.received).toMatch(/^HTTP\/1\.1 413 .*\r\n[\s\S]*Connection: close\r\n/);
    const chunked = rawClient(server);
    await chunked.send('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n');
    await chunked.reading;
    expect(chunked.received).toMatch(/^HTTP\/1\.1 413 /);
    const fits = rawClient(server);
    await fits.send('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n');
    await fits.reading;
    expect(fits.received).toMatch(/^HTTP\/1\.1 200 [\s\S]*abcdefgh$/);
  });

  it('parses at most maxPipelined requests ahead of the answers, and answers them all in order', async () => {
    const clock = new VirtualClock();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const server = new HttpServer(async (request) => {
      if (request.path === '/0') await gate;
      return { status: 200, body: request.path };
    }, { clock, maxPipelined: 4 });
    const c = rawClient(server);
    const requests = Array.from({ length: 30 }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: x\r\n${i === 29 ? 'Connection: close\r\n' : ''}\r\n`).join('');
    await c.send(requests);
    await clock.run(1);
    // The first answer is held: only the first four requests were parsed, the rest waits unparsed.
    expect(server.stats().requests).toBe(1);
    expect(server.stats()['pipeline-pauses']).toBe(1);
    release();
    await c.reading;
    const bodies = [...c.received.matchAll(/\r\n\r\n(\/\d+)/g)].map((m) => m[1]);
    expect(bodies).toEqual(Array.from({ length: 30 }, (_, i) => `/${i}`));
    expect(server.stats().requests).toBe(30);
  });

  it('drains up to maxDrain of an unread body to keep the connection, and closes beyond it', async () => {
    const clock = new VirtualClock();
    const server = new HttpServer(ok, { clock, maxDrain: 100 });
    const small = rawClient(server);
    await small.send(`POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n${'x'.repeat(10)}`);
    await clock.run(1);
    // Answered before the body is complete, and kept alive: the 70 octets left will be drained.
    expect(small.received).toMatch(/^HTTP\/1\.1 200 OK\r\n(?![\s\S]*Connection: close)[\s\S]*ok \/a$/);
    await small.send(`${'x'.repeat(70)}GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    await small.reading;
    expect(small.received).toMatch(/ok \/a[\s\S]*ok \/b$/);
    const large = rawClient(server);
    await large.send(`POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(10)}`);
    await large.reading;
    expect(large.received).toMatch(/Connection: close\r\n[\s\S]*ok \/a$/);
    // A chunked body (length unknown) is drained until it passes maxDrain, then the connection closes.
    const chunked = rawClient(server);
    await chunked.send('POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    await clock.run(1);
    expect(chunked.received).toMatch(/ok \/c$/);
    await chunked.send(`c8\r\n${'y'.repeat(200)}\r\n`);
    await chunked.reading;
    expect(chunked.reset).toBe(false);
    expect(server.stats().openConnections).toBe(0);
  });
});
