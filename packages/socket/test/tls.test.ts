// Node's own TLS running over morgana flows through the adapters, and morgana's Flow API over Node's TLS.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { type TcpFlow, parseIpv4 } from '@morgana/core';
import { createSocketStack, duplexToFlow, flowToDuplex } from '@morgana/socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytes, readAll, readExactly, text, within } from './conformance/helpers.js';
import { type Certificate, selfSignedCertificate } from './helpers/certificate.js';
import { type Pair, pairs } from './helpers/pairs.js';

const loopback = parseIpv4('127.0.0.1');
const fixture: Certificate = {
  cert: readFileSync(new URL('./fixtures/localhost-cert.pem', import.meta.url), 'utf8'),
  key: readFileSync(new URL('./fixtures/localhost-key.pem', import.meta.url), 'utf8'),
};

/** Waits for a TLS socket's handshake. */
function secured(socket: tls.TLSSocket, event: 'secure' | 'secureConnect'): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe.each(pairs)('node:tls over %s through flowToDuplex', (_name, makePair) => {
  let pair: Pair;

  beforeEach(() => {
    pair = makePair();
  });

  afterEach(() => pair.cleanup());

  async function connected(): Promise<{ clientFlow: TcpFlow; serverFlow: TcpFlow }> {
    const listener = pair.server.tcp.listen(pair.port);
    const accepted = listener.accept();
    const clientFlow = await within(5_000, 'connect', pair.client.tcp.connect(pair.serverAddress, listener.port));
    const serverFlow = await within(5_000, 'accept', accepted);
    listener.close();
    return { clientFlow, serverFlow };
  }

  async function handshake(certificate: Certificate): Promise<{ client: tls.TLSSocket; server: tls.TLSSocket }> {
    const { clientFlow, serverFlow } = await connected();
    const server = new tls.TLSSocket(flowToDuplex(serverFlow), { isServer: true, key: certificate.key, cert: certificate.cert });
    const client = tls.connect({ socket: flowToDuplex(clientFlow), ca: certificate.cert, servername: 'localhost' });
    await within(10_000, 'TLS handshake', Promise.all([secured(server, 'secure'), secured(client, 'secureConnect')]));
    return { client, server };
  }

  for (const [name, certificate] of [
    ['a certificate made in the test with node:crypto', selfSignedCertificate()],
    ['the openssl-made fixture certificate', fixture],
  ] as const) {
    it(`completes a verified handshake with ${name} and exchanges data both ways`, async () => {
      const { client, server } = await handshake(certificate);
      expect(client.authorized).toBe(true);
      expect(client.getProtocol()).toBe('TLSv1.3');
      expect(new X509Certificate(client.getPeerCertificate(true).raw).checkHost('localhost')).toBe('localhost');
      server.on('data', (chunk: Buffer) => server.write(Buffer.concat([Buffer.from('echo: '), chunk])));
      client.write('over morgana');
      const answer = await within(5_000, 'answer', new Promise<Buffer>((resolve) => client.once('data', resolve)));
      expect(answer.toString()).toBe('echo: over morgana');
      client.end();
      server.end();
    });
  }

  it('carries 4 MiB through TLS intact with backpressure on both sides', async () => {
    const { client, server } = await handshake(fixture);
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let index = 0; index < payload.length; index++) payload[index] = (index * 31) >>> 3;
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) => server.on('end', resolve));
    server.on('data', (chunk: Buffer) => received.push(chunk));
    client.end(payload);
    await within(20_000, 'transfer', done);
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    server.end();
  });

  it('rejects a server whose certificate the client does not trust', async () => {
    const { clientFlow, serverFlow } = await connected();
    const server = new tls.TLSSocket(flowToDuplex(serverFlow), { isServer: true, key: fixture.key, cert: fixture.cert });
    server.on('error', () => {});
    const client = tls.connect({ socket: flowToDuplex(clientFlow), ca: selfSignedCertificate().cert, servername: 'localhost' });
    const error = await within(10_000, 'handshake failure', new Promise<Error>((resolve) => client.once('error', resolve)));
    expect((error as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});

describe('the Flow API over node:tls through duplexToFlow', () => {
  it('echoes, half-closes and reads to the end over a TLS connection on node:net', async () => {
    const server = tls.createServer({ key: fixture.key, cert: fixture.cert, allowHalfOpen: true }, (socket) => {
      const flow = duplexToFlow(socket);
      void (async () => {
        const request = await readAll(flow);
        await flow.write(bytes(`got ${request.length} bytes: ${text(request)}`));
        await flow.close();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const socket = tls.connect({ port, host: '127.0.0.1', ca: fixture.cert, servername: 'localhost' });
    await secured(socket, 'secureConnect');
    const flow = duplexToFlow(socket);
    await flow.writev([bytes('hello '), bytes('tls')]);
    await flow.shutdown();
    expect(text(await within(5_000, 'answer', readAll(flow)))).toBe('got 9 bytes: hello tls');
    await within(5_000, 'close', flow.close());
    await new Promise((resolve) => server.close(resolve));
  });

  it('runs a morgana flow over TLS over a morgana flow (both adapters stacked)', async () => {
    const stack = createSocketStack();
    try {
      const listener = stack.tcp.listen(0, {
        onConnection: (flow) => {
          const secure = new tls.TLSSocket(flowToDuplex(flow), { isServer: true, key: fixture.key, cert: fixture.cert });
          secure.once('secure', () => {
            const inner = duplexToFlow(secure);
            void (async () => {
              for (let chunk = await inner.read(); chunk !== null; chunk = await inner.read()) await inner.write(chunk);
              await inner.close();
            })();
          });
        },
      });
      const clientFlow = await stack.tcp.connect(loopback, listener.port);
      const secure = tls.connect({ socket: flowToDuplex(clientFlow), ca: fixture.cert, servername: 'localhost' });
      await secured(secure, 'secureConnect');
      const inner = duplexToFlow(secure);
      await inner.write(bytes('inside'));
      expect(text(await within(5_000, 'echo', readExactly(inner, 6)))).toBe('inside');
      await inner.shutdown();
      expect(await within(5_000, 'end', inner.read())).toBeNull();
      await inner.close();
      listener.close();
    } finally {
      await stack.close();
    }
  });
});
