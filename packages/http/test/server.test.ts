import { VirtualClock } from '@morgana/testing';
import { describe, expect, it } from 'vitest';
import { Headers, type HttpHandler, HttpParser, HttpServer, type MessageHead } from '../src/index.js';
import { flowPair } from './flow-pair.js';

interface Reply {
  head: MessageHead;
  body: string;
}

/** Sends raw request bytes to a server over an in-memory flow and parses every response. */
async function exchange(handler: HttpHandler, raw: string | string[], options: { expectHead?: boolean[] } = {}) {
  const clock = new VirtualClock();
  const server = new HttpServer(handler, { clock, serverName: 'morgana' });
  const [client, serverSide] = flowPair();
  const served = server.serve(serverSide);
  const replies: Reply[] = [];
  let current: Reply | undefined;
  let index = 0;
  const parser = new HttpParser('response', {
    onHead: (head) => {
      current = { head, body: '' };
      if (head.status >= 200 && options.expectHead?.[index] === true) parser.expectNoBody();
    },
    onData: (d) => {
      if (current !== undefined) current.body += Buffer.from(d).toString('latin1');
    },
    onEnd: () => {
      if (current !== undefined) replies.push(current);
      if ((current?.head.status ?? 0) >= 200) index++;
      if (options.expectHead?.[index] === true) parser.expectNoBody();
    },
    onError: (e) => {
      throw e;
    },
  });
  if (options.expectHead?.[0] === true) parser.expectNoBody();
  for (const piece of Array.isArray(raw) ? raw : [raw]) await client.write(Buffer.from(piece, 'latin1'));
  await client.shutdown();
  for (;;) {
    const chunk = await client.read();
    if (chunk === null) break;
    parser.push(chunk);
  }
  parser.finish();
  await served;
  return { replies, stats: server.stats() };
}

const hello: HttpHandler = (request) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: `hello ${request.method} ${request.path}` });

describe('HTTP/1.1 server', () => {
  it('answers pipelined requests in order on one connection', async () => {
    const { replies } = await exchange(hello, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(replies.map((r) => r.body)).toEqual(['hello GET /a', 'hello GET /b', 'hello GET /c']);
    expect(replies[0].head.headers.get('date')).toMatch(/GMT$/);
    expect(replies[2].head.headers.get('connection')).toBe('close');
  });

  it('sends the headers of a GET for HEAD, without the body (RFC 9110 §9.3.2)', async () => {
    const { replies } = await exchange(hello, 'HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n', { expectHead: [true] });
    expect(replies[0].head.headers.get('content-length')).toBe(String('hello HEAD /x'.length));
    expect(replies[0].body).toBe('');
  });

  it('reads Content-Length and chunked request bodies', async () => {
    const echo: HttpHandler = async (request) => ({ status: 200, body: await request.text() });
    const { replies } = await exchange(echo, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel', 'lo', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n']);
    expect(replies.map((r) => r.body)).toEqual(['hello', 'abcde']);
  });

  it('answers 100 Continue only when the handler reads the body', async () => {
    const echo: HttpHandler = async (request) => ({ status: 200, body: await request.text() });
    const { replies } = await exchange(echo, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n', 'ok']);
    expect(replies.map((r) => r.head.status)).toEqual([100, 200]);
    const ignore: HttpHandler = () => ({ status: 417, body: 'no' });
    const refused = await exchange(ignore, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n');
    expect(refused.replies.map((r) => r.head.status)).toEqual([417]);
    expect(refused.replies[0].head.headers.get('connection')).toBe('close');
  });

  it('answers malformed requests with their status and closes (400, 431, 501)', async () => {
    for (const [raw, status] of [
      ['GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
      [`GET / HTTP/1.1\r\nHost: x\r\n${'A: b\r\n'.repeat(200)}\r\n`, 431],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
    ] as const) {
      const { replies } = await exchange(hello, raw);
      expect(replies.map((r) => r.head.status)).toEqual([status]);
      expect(replies[0].head.headers.get('connection')).toBe('close');
    }
  });

  it('streams a response body chunked to HTTP/1.1 and close-delimited to HTTP/1.0', async () => {
    const stream: HttpHandler = () => ({
      status: 200,
      body: (async function* () {
        yield new TextEncoder().encode('one ');
        yield new TextEncoder().encode('two');
      })(),
    });
    const v11 = await exchange(stream, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(v11.replies[0].head.headers.get('transfer-encoding')).toBe('chunked');
    expect(v11.replies[0].body).toBe('one two');
    const v10 = await exchange(stream, 'GET / HTTP/1.0\r\n\r\n');
    expect(v10.replies[0].head.bodyKind).toBe('until-close');
    expect(v10.replies[0].body).toBe('one two');
  });

  it('turns handler exceptions into 500 and keeps serving', async () => {
    let calls = 0;
    const flaky: HttpHandler = () => {
      if (calls++ === 0) throw new Error('boom');
      return { status: 204 };
    };
    const { replies, stats } = await exchange(flaky, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(replies.map((r) => r.head.status)).toEqual([500, 204]);
    expect(stats['handler-errors']).toBe(1);
  });

  it('refuses bodies over maxBodySize with 413', async () => {
    const clock = new VirtualClock();
    const server = new HttpServer(async (r) => ({ status: 200, body: await r.text() }), { clock, maxBodySize: 10 });
    const [client, side] = flowPair();
    const served = server.serve(side);
    await client.write(Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world'));
    await client.shutdown();
    let text = '';
    for (let chunk = await client.read(); chunk !== null; chunk = await client.read()) text += Buffer.from(chunk).toString();
    await served;
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('closes idle keep-alive connections after keepAliveTimeout', async () => {
    const clock = new VirtualClock();
    const server = new HttpServer(hello, { clock, keepAliveTimeout: 1000 });
    const [client, side] = flowPair();
    const served = server.serve(side);
    await client.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await clock.run(10);
    expect(server.stats().openConnections).toBe(1);
    await clock.run(1000);
    await served;
    expect(server.stats().openConnections).toBe(0);
    expect(server.stats().timeouts).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('HTTP/1.1 server: response framing it owns', () => {
  const FILE = new TextEncoder().encode('0123456789');

  it('reuses a frozen answer within a second and renews its Date when the second changes', async () => {
    const clock = new VirtualClock();
    const headers = new Headers([['Content-Type', 'text/plain'], ['Content-Length', '10']]).freeze();
    for (const messageCacheBytes of [4096, 0]) {
      const server = new HttpServer(() => ({ status: 200, headers, body: FILE }), { clock, messageCacheBytes });
      const [client, side] = flowPair();
      const served = server.serve(side);
      const answers: string[] = [];
      for (let i = 0; i < 3; i++) {
        await client.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        let answer = '';
        while (!answer.endsWith('0123456789')) answer += Buffer.from((await client.read()) as Uint8Array).toString('latin1');
        answers.push(answer);
        if (i === 1) await clock.run(1000);
      }
      expect(answers[0]).toBe(answers[1]);
      expect(answers[2]).not.toBe(answers[1]);
      for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nContent-Length: 10\r\nDate: [^\r]+ GMT\r\n\r\n0123456789$/);
      expect(answers[2].match(/Date: ([^\r]+)/)?.[1]).toBe(new Date(clock.wallTime()).toUTCString());
      client.abort();
      await served;
    }
    expect(() => headers.append('X', 'y')).toThrow(TypeError);
  });

  it('never changes the headers a handler returns, and drops the hop-by-hop fields it sets', async () => {
    const headers = new Headers([['Connection', 'keep-alive, close'], ['Transfer-Encoding', 'gzip'], ['X-Kept', 'yes']]);
    const { replies } = await exchange(() => ({ status: 200, headers, body: 'abc' }), 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n');
    expect([...headers]).toEqual([['Connection', 'keep-alive, close'], ['Transfer-Encoding', 'gzip'], ['X-Kept', 'yes']]);
    // The handler's "close" is honoured: one answer, then the connection ends.
    expect(replies).toHaveLength(1);
    expect(replies[0].head.headers.getAll('connection')).toEqual(['close']);
    expect(replies[0].head.headers.get('transfer-encoding')).toBeUndefined();
    expect(replies[0].head.headers.get('x-kept')).toBe('yes');
    expect(replies[0].body).toBe('abc');
  });

  it('answers 500 instead of a message with a Content-Length its body does not have', async () => {
    const { replies, stats } = await exchange(() => ({ status: 200, headers: { 'Content-Length': '5' }, body: 'abc' }), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(replies.map((r) => r.head.status)).toEqual([500]);
    expect(stats['handler-errors']).toBe(1);
    const lying = await exchange(() => ({ status: 200, headers: { 'Content-Length': 'five' }, body: 'abc' }), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(lying.replies.map((r) => r.head.status)).toEqual([500]);
    const injected = await exchange(() => ({ status: 200, headers: { 'X-Bad': 'a\r\nSet-Cookie: x' }, body: '' }), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(injected.replies.map((r) => r.head.status)).toEqual([500]);
    expect(injected.replies[0].head.headers.get('set-cookie')).toBeUndefined();
  });

  it('gives handlers the path of an absolute-form target (RFC 9112 §3.2.2)', async () => {
    const paths: string[] = [];
    const handler: HttpHandler = (request) => {
      paths.push(`${request.path}|${request.query}`);
      return { status: 204 };
    };
    await exchange(handler, 'GET http://example.test/a/b?q=1 HTTP/1.1\r\nHost: example.test\r\n\r\nGET http://example.test HTTP/1.1\r\nHost: example.test\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(paths).toEqual(['/a/b|q=1', '/|', '*|']);
  });
});
