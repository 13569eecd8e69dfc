// Interop on loopback: curl against the morgana HTTP server, and the morgana client against
// node:http. Both run on the socket stack; the direct stack gets the same server in the CLI tests.
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemorySource, createStaticHandler, HttpClient, HttpServer } from '../src/index.js';
import { listenOnLoopback } from './loopback.js';

const run = promisify(execFile);
const curlPath = '/usr/bin/curl';
const haveCurl = await run(curlPath, ['--version']).then((r) => r.stdout.split('\n')[0], () => undefined);
if (haveCurl === undefined && process.env.MORGANA_INTEROP === 'required') throw new Error('curl is required for the HTTP interop tests (apt-get install curl)');
if (haveCurl === undefined) console.log('skipping curl interop: curl is not installed');
else console.log(`peer: ${haveCurl}`);

const MTIME = Date.UTC(2026, 10, 1);
const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 255);
const files = {
  'index.html': new TextEncoder().encode('<!doctype html><title>morgana</title><h1>hello</h1>\n'),
  'big.bin': big,
  'style.css': new TextEncoder().encode('h1 { color: teal }\n'),
};

const stack = createSocketStack();
const clock = createSystemClock();
const statics = createStaticHandler(createMemorySource(files, MTIME));
const server = new HttpServer(async (request) => {
  if (request.path === '/echo') return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: await request.bytes() };
  return statics(request);
}, { clock, serverName: 'morgana' });
let port = 0;

beforeAll(async () => {
  port = await listenOnLoopback(server, stack.tcp);
});
afterAll(async () => {
  server.closeAll();
  await stack.close();
});

const curl = async (...args: string[]) => (await run(curlPath, ['-sS', ...args], { encoding: 'buffer', maxBuffer: 1 << 26 })).stdout;

describe.skipIf(haveCurl === undefined)('HTTP interop with curl', () => {
  it('fetches a page and reuses the connection for the next URL (keep-alive)', async () => {
    const out = (await curl('-v', `http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}/style.css`).catch((e) => e)) as Buffer;
    const text = out.toString();
    expect(text).toContain('<h1>hello</h1>');
    expect(text).toContain('color: teal');
    const verbose = await run(curlPath, ['-sv', `http://127.0.0.1:${port}/`, '--next', `http://127.0.0.1:${port}/style.css`]);
    expect(verbose.stderr).toMatch(/Re-using existing connection|Reusing existing connection/);
  });

  it('downloads a 200 kB file intact', async () => {
    const out = await curl(`http://127.0.0.1:${port}/big.bin`);
    expect(Buffer.compare(out, Buffer.from(big))).toBe(0);
  });

  it('uploads a chunked body', async () => {
    const payload = 'x'.repeat(100_000);
    const result = await new Promise<string>((resolve, reject) => {
      const child = execFile(curlPath, ['-sS', '-T', '-', '-H', 'Transfer-Encoding: chunked', '-X', 'POST', `http://127.0.0.1:${port}/echo`], { maxBuffer: 1 << 24 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
      child.stdin?.end(payload);
    });
    expect(result).toBe(payload);
  });

  it('gets ranges and conditional 304s', async () => {
    expect((await curl('-r', '0-3', `http://127.0.0.1:${port}/big.bin`)).length).toBe(4);
    const headers = (await curl('-D', '-', '-o', '/dev/null', `http://127.0.0.1:${port}/style.css`)).toString();
    const etag = /etag: (.*)\r/i.exec(headers)?.[1] as string;
    const status = (await curl('-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${etag}`, `http://127.0.0.1:${port}/style.css`)).toString();
    expect(status).toBe('304');
    const since = (await curl('-o', '/dev/null', '-w', '%{http_code}', '-z', new Date(MTIME + 5000).toUTCString(), `http://127.0.0.1:${port}/style.css`)).toString();
    expect(since).toBe('304');
  });
});

describe('the morgana HTTP client against node:http', () => {
  it('keeps a connection alive across requests and reads chunked bodies', async () => {
    let connections = 0;
    const peer = createServer((req, res) => {
      if (req.url === '/chunked') {
        res.write('part one, ');
        res.end('part two');
      } else res.end(`you asked for ${req.url}`);
    });
    peer.on('connection', () => connections++);
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const peerPort = (peer.address() as AddressInfo).port;
    const client = new HttpClient({ tcp: stack.tcp, clock });
    const a = await client.request({ address: parseIpv4('127.0.0.1'), port: peerPort, path: '/a' });
    const b = await client.request({ address: parseIpv4('127.0.0.1'), port: peerPort, path: '/chunked' });
    expect(new TextDecoder().decode(a.body)).toBe('you asked for /a');
    expect(new TextDecoder().decode(b.body)).toBe('part one, part two');
    expect(connections).toBe(1);
    client.close();
    await new Promise((r) => peer.close(r));
  });
});
