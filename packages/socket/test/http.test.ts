// Node's own HTTP server and client over morgana TCP connections, through flowToDuplex.
import http from 'node:http';
import { formatIpv4 } from '@morgana/core';
import { flowToDuplex } from '@morgana/socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytes, readAll, text, within } from './conformance/helpers.js';
import { type Pair, pairs } from './helpers/pairs.js';

describe.each(pairs)('node:http over %s through flowToDuplex', (_name, makePair) => {
  let pair: Pair;
  let server: http.Server;

  beforeEach(() => {
    pair = makePair();
    server = http.createServer((request, response) => {
      const body: Buffer[] = [];
      request.on('data', (chunk: Buffer) => body.push(chunk));
      request.on('end', () => {
        const payload = `${request.method} ${request.url} from ${request.socket.remoteAddress}: ${Buffer.concat(body).length} bytes`;
        response.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(payload) });
        response.end(payload);
      });
    });
  });

  afterEach(async () => {
    server.close();
    await pair.cleanup();
  });

  /** Listens on the socket stack, handing every connection to Node's HTTP server. */
  function listeningPort(): number {
    const listener = pair.server.tcp.listen(pair.port, { onConnection: (flow) => server.emit('connection', flowToDuplex(flow)) });
    return listener.port;
  }

  it('serves a request written by hand on a morgana flow', async () => {
    const port = listeningPort();
    const flow = await pair.client.tcp.connect(pair.serverAddress, port);
    await flow.write(bytes('POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'));
    const response = text(await within(5_000, 'response', readAll(flow)));
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response.endsWith(`\r\n\r\nPOST /upload from ${formatIpv4(flow.localAddress)}: 5 bytes`)).toBe(true);
    await flow.close();
  });

  it("closes an idle keep-alive connection after the server's keepAliveTimeout (setTimeout on the duplex)", async () => {
    server.keepAliveTimeout = 150;
    const port = listeningPort();
    const flow = await pair.client.tcp.connect(pair.serverAddress, port);
    await flow.write(bytes('GET /idle HTTP/1.1\r\nHost: test\r\n\r\n'));
    const started = Date.now();
    // The response arrives, then nothing, then the server's end once the connection was idle long enough.
    const response = text(await within(5_000, 'response and end', readAll(flow)));
    expect(response.endsWith(`GET /idle from ${formatIpv4(flow.localAddress)}: 0 bytes`)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await flow.close();
  });

  it("answers Node's own HTTP client whose connection is a morgana flow, keeping it alive across requests", async () => {
    const port = listeningPort();
    const flow = await pair.client.tcp.connect(pair.serverAddress, port);
    const socket = flowToDuplex(flow);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    // The agent asks for a connection once and reuses it.
    let connections = 0;
    agent.createConnection = () => {
      connections++;
      return socket as ReturnType<http.Agent['createConnection']>;
    };
    const get = (path: string, body: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const request = http.request({ agent, host: 'test', method: 'PUT', path, headers: { 'content-length': body.length } }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve(`${response.statusCode} ${Buffer.concat(chunks).toString()}`));
        });
        request.on('error', reject);
        request.end(body);
      });
    const from = formatIpv4(flow.localAddress);
    expect(await within(5_000, 'first', get('/a', 'x'.repeat(100_000)))).toBe(`200 PUT /a from ${from}: 100000 bytes`);
    expect(await within(5_000, 'second', get('/b', 'yz'))).toBe(`200 PUT /b from ${from}: 2 bytes`);
    expect(connections).toBe(1);
    agent.destroy();
  });
});
