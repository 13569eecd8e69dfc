/**
 * The Stack conformance suite: one set of tests, written once against the `Stack` interface,
 * that every stack must pass the same way. A difference between two stacks is a bug in one of
 * them. A test file plugs a stack in with `defineStackConformance(name, makePair)`.
 */
import {
  AddressError,
  AddressInUse,
  ClosedError,
  ConnectionRefused,
  ConnectionReset,
  IPV4_BROADCAST,
  type Ipv4Address,
  type Stack,
  type TcpFlow,
  type TcpListenOptions,
  type TcpListener,
  TimeoutError,
  type UdpDatagram,
} from '@morgana/core';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bytes,
  concat,
  echo,
  readAll,
  readChunks,
  readExactly,
  settlesWithin,
  sha256,
  text,
  waitUntil,
  within,
  writePattern,
} from './helpers.js';

/** Two stacks that can reach each other, made fresh for every test. */
export interface StackPair {
  readonly server: Stack;
  readonly client: Stack;
  /** The server stack's address, as the client reaches it. */
  readonly serverAddress: Ipv4Address;
  /** An address and port where SYNs go unanswered (for connect timeouts); without it that test is skipped. */
  readonly silentEndpoint?: { readonly address: Ipv4Address; readonly port: number };
  /** Closes both stacks and whatever the pair set up. */
  readonly cleanup: () => Promise<void>;
}

/** Sizes of the suite's heavier tests, for stacks that run slower than the host's. */
export interface ConformanceOptions {
  /** Bytes sent each way in the large transfer; default 20 MiB. */
  readonly largeTransferBytes?: number;
  /** Connections open at once in the concurrency test; default 100. */
  readonly concurrentConnections?: number;
  /** Milliseconds any single step may take before the test fails rather than hangs; default 20 000. */
  readonly stepTimeout?: number;
  /**
   * Titles of tests this stack is known to fail (a difference from the others still to be
   * fixed). They run as expected failures, so the suite says so when one starts passing.
   */
  readonly knownFailures?: readonly string[];
}

/** Ports the suite listens on: below Linux's ephemeral range (32768-60999), so connects do not take them. */
const LISTEN_PORT_MIN = 20_000;
const LISTEN_PORT_MAX = 32_767;

/** Largest UDP payload over IPv4 (65 535 - 20 - 8). */
const MAX_DATAGRAM = 65_507;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}

/** Registers the conformance tests for one stack. */
export function defineStackConformance(name: string, makePair: () => Promise<StackPair>, options: ConformanceOptions = {}): void {
  const largeBytes = options.largeTransferBytes ?? 20 * 1024 * 1024;
  const connections = options.concurrentConnections ?? 100;
  const step = options.stepTimeout ?? 20_000;
  const knownFailures = new Set(options.knownFailures ?? []);
  const defined = new Set<string>();
  /** `it`, or `it.fails` for a known failure. */
  function test(title: string, body: (context: { skip: () => void }) => Promise<void> | void): void {
    defined.add(title);
    if (knownFailures.has(title)) it.fails(title, body);
    else it(title, body);
  }

  describe(`Stack conformance: ${name}`, () => {
    afterAll(() => {
      const unknown = [...knownFailures].filter((title) => !defined.has(title));
      if (unknown.length > 0) throw new Error(`knownFailures names no test: ${unknown.join('; ')}`);
    });

    let pair: StackPair;

    beforeEach(async () => {
      pair = await makePair();
    });

    afterEach(async () => {
      await pair.cleanup();
    });

    /** Listens on a free port of the server stack, found by trying random ones. */
    function listen(listenOptions?: TcpListenOptions): TcpListener {
      for (let attempt = 0; ; attempt++) {
        const port = LISTEN_PORT_MIN + Math.floor(Math.random() * (LISTEN_PORT_MAX - LISTEN_PORT_MIN + 1));
        try {
          return pair.server.tcp.listen(port, listenOptions);
        } catch (error) {
          if (!(error instanceof AddressInUse) || attempt > 100) throw error;
        }
      }
    }

    /** Makes sure both stacks know each other's link-layer address, so that no first datagram waits for ARP. */
    async function warmUp(): Promise<void> {
      const server = pair.server.udp.bind();
      server.onMessage((datagram) => server.send(datagram.data, datagram.address, datagram.port));
      const client = pair.client.udp.bind();
      client.send(bytes('warm-up'), pair.serverAddress, server.localPort);
      await within(step, 'warm-up', client.receive());
      client.close();
      server.close();
    }

    /** A connection both ways: the client's flow and the server's accepted one. */
    async function connected(): Promise<{ client: TcpFlow; server: TcpFlow; port: number }> {
      const listener = listen();
      const accepted = listener.accept();
      const client = await within(step, 'connect', pair.client.tcp.connect(pair.serverAddress, listener.port));
      const server = await within(step, 'accept', accepted);
      listener.close();
      return { client, server, port: listener.port };
    }

    describe('TCP', () => {
      test('echoes bytes over an accepted connection and reports both endpoints', async () => {
        const listener = listen();
        expect(listener.port).toBeGreaterThan(0);
        const accepted = listener.accept();
        const client = await within(step, 'connect', pair.client.tcp.connect(pair.serverAddress, listener.port));
        const server = await within(step, 'accept', accepted);
        expect(client.remoteAddress).toBe(pair.serverAddress);
        expect(client.remotePort).toBe(listener.port);
        expect(server.localAddress).toBe(pair.serverAddress);
        expect(server.localPort).toBe(listener.port);
        expect(server.remotePort).toBe(client.localPort);
        expect(server.remoteAddress).toBe(client.localAddress);
        const echoing = echo(server);
        await client.write(bytes('hello, '));
        await client.writev([bytes('wor'), bytes('ld')]);
        expect(text(await within(step, 'echo', readExactly(client, 12)))).toBe('hello, world');
        await client.shutdown();
        expect(await within(step, 'end of echo', client.read())).toBeNull();
        await within(step, 'server close', echoing);
        await within(step, 'client close', client.close());
        listener.close();
      });

      test('hands each connection to onConnection instead of queueing it for accept()', async () => {
        const seen: TcpFlow[] = [];
        const listener = listen({
          onConnection: (flow) => {
            seen.push(flow);
            void echo(flow);
          },
        });
        const client = await within(step, 'connect', pair.client.tcp.connect(pair.serverAddress, listener.port));
        await client.write(bytes('ping'));
        expect(text(await within(step, 'echo', readExactly(client, 4)))).toBe('ping');
        expect(seen).toHaveLength(1);
        expect(seen[0].remotePort).toBe(client.localPort);
        await client.close();
        listener.close();
      });

      test('half-closes: the peer reads to the end after shutdown and can still answer', async () => {
        const { client, server } = await connected();
        await client.write(bytes('request'));
        await within(step, 'shutdown', client.shutdown());
        expect(['FIN-WAIT-1', 'FIN-WAIT-2']).toContain(client.info().state);
        expect(text(await within(step, 'server reads request', readAll(server)))).toBe('request');
        expect(server.info().state).toBe('CLOSE-WAIT');
        // Our direction is finished, theirs is not: the answer still arrives.
        await server.write(bytes('response'));
        const serverClosed = server.close();
        expect(text(await within(step, 'client reads response', readAll(client)))).toBe('response');
        await within(step, 'server close', serverClosed);
        await within(step, 'client close', client.close());
      });

      test(`transfers ${largeBytes} bytes each way at once, intact (SHA-256), with the writer reusing its buffer`, async () => {
        const { client, server } = await connected();
        const upload = writePattern(client, 1, largeBytes).then(async (hash) => {
          await client.shutdown();
          return hash;
        });
        const download = writePattern(server, 2, largeBytes).then(async (hash) => {
          await server.shutdown();
          return hash;
        });
        // The chunks are kept until the end and hashed then: read() must hand out owned bytes.
        const [sentUp, sentDown, receivedUp, receivedDown] = await within(
          step * 3,
          'large transfer',
          Promise.all([upload, download, readChunks(server), readChunks(client)]),
        );
        expect(receivedUp.reduce((sum, chunk) => sum + chunk.length, 0)).toBe(largeBytes);
        expect(receivedDown.reduce((sum, chunk) => sum + chunk.length, 0)).toBe(largeBytes);
        expect(sha256(receivedUp)).toBe(sentUp);
        expect(sha256(receivedDown)).toBe(sentDown);
        expect(client.info().bytesSent).toBe(largeBytes);
        expect(client.info().bytesReceived).toBe(largeBytes);
        await Promise.all([client.close(), server.close()]);
      });

      test(`serves ${connections} connections at once`, async () => {
        const listener = listen({ backlog: connections, onConnection: (flow) => void echo(flow) });
        const clients = await within(
          step,
          'connects',
          Promise.all(Array.from({ length: connections }, () => pair.client.tcp.connect(pair.serverAddress, listener.port))),
        );
        expect(new Set(clients.map((flow) => flow.localPort)).size).toBe(connections);
        const answers = await within(
          step,
          'echoes',
          Promise.all(
            clients.map(async (flow, index) => {
              await flow.write(bytes(`connection ${index}`));
              await flow.shutdown();
              return text(await readAll(flow));
            }),
          ),
        );
        expect(answers).toEqual(clients.map((_, index) => `connection ${index}`));
        await within(step, 'closes', Promise.all(clients.map((flow) => flow.close())));
        listener.close();
      });

      test('rejects a connect to a port nobody listens on with ConnectionRefused', async () => {
        const listener = listen();
        const port = listener.port;
        listener.close();
        const error = await within(step, 'connect', rejection(pair.client.tcp.connect(pair.serverAddress, port)));
        expect(error).toBeInstanceOf(ConnectionRefused);
      });

      test('rejects a connect with TimeoutError when SYNs go unanswered', async (context) => {
        const silent = pair.silentEndpoint;
        if (silent === undefined) {
          context.skip();
          return;
        }
        const started = Date.now();
        const error = await within(step, 'connect', rejection(pair.client.tcp.connect(silent.address, silent.port, { timeout: 300 })));
        expect(error).toBeInstanceOf(TimeoutError);
        expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      });

      test('listen(0) picks an unused port, as bind does for UDP', async () => {
        const listener = pair.server.tcp.listen(0);
        expect(listener.port).toBeGreaterThan(0);
        const accepted = listener.accept();
        const client = await within(step, 'connect', pair.client.tcp.connect(pair.serverAddress, listener.port));
        await within(step, 'accept', accepted);
        client.abort();
        listener.close();
      });

      test('rejects (does not throw) a connect to port 0 with AddressError', async () => {
        let connecting: Promise<TcpFlow> | undefined;
        expect(() => {
          connecting = pair.client.tcp.connect(pair.serverAddress, 0);
        }).not.toThrow();
        expect(await rejection(connecting as Promise<TcpFlow>)).toBeInstanceOf(AddressError);
      });

      test('throws AddressError when listening on a port above 65535', () => {
        expect(() => pair.server.tcp.listen(65_536)).toThrow(AddressError);
      });

      test('throws AddressInUse when listening on a port that is taken', () => {
        const listener = listen();
        expect(() => pair.server.tcp.listen(listener.port)).toThrow(AddressInUse);
        listener.close();
        // Closing the listener frees the port.
        pair.server.tcp.listen(listener.port).close();
      });

      test('makes write wait while the peer reads nothing, with a bounded amount in between', async () => {
        const { client, server } = await connected();
        const block = new Uint8Array(64 * 1024);
        let written = 0;
        let pending: Promise<void> | undefined;
        // The peer never reads: sooner or later a write must stop resolving.
        while (written < 256 * 1024 * 1024) {
          const write = client.write(block);
          if (!(await settlesWithin(200, write))) {
            pending = write;
            break;
          }
          await write;
          written += block.length;
        }
        expect(pending, `write still resolving after ${written} bytes`).toBeDefined();
        // Reading everything lets the blocked write (and a final shutdown) through.
        const reading = readAll(server);
        await within(step, 'blocked write', pending as Promise<void>);
        written += block.length;
        await client.shutdown();
        expect((await within(step, 'read everything', reading)).length).toBe(written);
        await Promise.all([client.close(), server.close()]);
      });

      test('rejects write after shutdown with ClosedError while reading goes on', async () => {
        const { client, server } = await connected();
        await client.shutdown();
        expect(await rejection(client.write(bytes('late')))).toBeInstanceOf(ClosedError);
        await server.write(bytes('still open'));
        await server.shutdown();
        expect(text(await within(step, 'read', readAll(client)))).toBe('still open');
        expect(await within(step, 'server sees end', server.read())).toBeNull();
        await Promise.all([client.close(), server.close()]);
      });

      test('resolves close once both directions finished; afterwards reads return the end and writes fail with ClosedError', async () => {
        const { client, server } = await connected();
        const clientClosed = client.close();
        // The peer sees our end, finishes its own, and only then is our close complete.
        expect(await within(step, 'peer sees end', server.read())).toBeNull();
        expect(await settlesWithin(50, clientClosed)).toBe(false);
        await within(step, 'server close', server.close());
        await within(step, 'client close', clientClosed);
        // The active closer's connection may linger in TIME-WAIT (RFC 9293 §3.6), or be gone.
        expect(['TIME-WAIT', 'CLOSED']).toContain(client.info().state);
        expect(await client.read()).toBeNull();
        expect(await rejection(client.write(bytes('x')))).toBeInstanceOf(ClosedError);
        await client.shutdown();
        // Idempotent.
        await client.close();
      });

      test('ends a read pending when close is called (it returns null)', async () => {
        const { client, server } = await connected();
        const reading = client.read();
        const closing = client.close();
        expect(await within(step, 'pending read', reading)).toBeNull();
        expect(await within(step, 'peer sees end', server.read())).toBeNull();
        await server.close();
        await within(step, 'close', closing);
      });

      test('abort resets the peer: its pending read rejects with ConnectionReset', async () => {
        const { client, server } = await connected();
        const reading = server.read();
        client.abort();
        expect(await within(step, 'peer read', rejection(reading))).toBeInstanceOf(ConnectionReset);
        expect(await rejection(server.write(bytes('x')))).toBeInstanceOf(ConnectionReset);
        expect(server.info().state).toBe('CLOSED');
        expect(await rejection(server.close())).toBeInstanceOf(ConnectionReset);
      });

      test('abort rejects pending and later operations with ConnectionReset, close included', async () => {
        const { client, server } = await connected();
        const reading = client.read();
        client.abort();
        expect(await rejection(reading)).toBeInstanceOf(ConnectionReset);
        expect(await rejection(client.read())).toBeInstanceOf(ConnectionReset);
        expect(await rejection(client.write(bytes('x')))).toBeInstanceOf(ConnectionReset);
        expect(await rejection(client.shutdown())).toBeInstanceOf(ConnectionReset);
        expect(client.info().state).toBe('CLOSED');
        client.abort();
        expect(await rejection(client.close())).toBeInstanceOf(ConnectionReset);
        expect(await within(step, 'peer read', rejection(server.read()))).toBeInstanceOf(ConnectionReset);
      });

      test('abort right after shutdown still resets the connection and closes it', async () => {
        const { client, server } = await connected();
        await client.write(bytes('last words'));
        const shutting = rejection(client.shutdown());
        client.abort();
        expect(await shutting).toBeInstanceOf(ConnectionReset);
        expect(client.info().state).toBe('CLOSED');
        expect(await rejection(client.close())).toBeInstanceOf(ConnectionReset);
        // The peer may see our FIN before the RST, but the connection is gone for writing.
        const failure = await within(
          step,
          'peer notices the reset',
          (async () => {
            for (;;) {
              try {
                await server.write(bytes('anyone?'));
              } catch (error) {
                return error;
              }
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          })(),
        );
        expect(failure).toBeInstanceOf(ConnectionReset);
      });

      test('closing a listener rejects a pending accept with ClosedError and leaves accepted connections open', async () => {
        const listener = listen();
        const first = listener.accept();
        const client = await within(step, 'connect', pair.client.tcp.connect(pair.serverAddress, listener.port));
        const server = await within(step, 'accept', first);
        const second = listener.accept();
        listener.close();
        expect(await rejection(second)).toBeInstanceOf(ClosedError);
        expect(await rejection(listener.accept())).toBeInstanceOf(ClosedError);
        listener.close();
        await client.write(bytes('alive'));
        expect(text(await within(step, 'read', readExactly(server, 5)))).toBe('alive');
        await client.shutdown();
        await server.shutdown();
        await Promise.all([readAll(client), readAll(server)]);
        await Promise.all([client.close(), server.close()]);
      });

      test('reports the state and the bytes each way in info()', async () => {
        const { client, server } = await connected();
        expect(client.info().state).toBe('ESTABLISHED');
        expect(server.info().state).toBe('ESTABLISHED');
        await client.write(new Uint8Array(1000));
        await within(step, 'read', readExactly(server, 1000));
        await server.write(new Uint8Array(10));
        await within(step, 'read', readExactly(client, 10));
        expect(client.info()).toMatchObject({ bytesSent: 1000, bytesReceived: 10 });
        expect(server.info()).toMatchObject({ bytesSent: 10, bytesReceived: 1000 });
        expect(typeof client.info().congestionControl).toBe('string');
        await client.shutdown();
        await server.shutdown();
        await Promise.all([client.read(), server.read()]);
        await Promise.all([client.close(), server.close()]);
      });

      test("closing the stack fails what is pending on it with ClosedError", async () => {
        const listener = listen();
        const accepting = listener.accept();
        const client = await within(step, 'connect', pair.client.tcp.connect(pair.serverAddress, listener.port));
        const server = await within(step, 'accept', accepting);
        const reading = rejection(server.read());
        const nextAccept = rejection(listener.accept());
        await within(step, 'stack close', pair.server.close());
        // Closing is local: what was pending settles at once.
        expect(await within(1_000, 'pending read', reading)).toBeInstanceOf(ClosedError);
        expect(await within(1_000, 'pending accept', nextAccept)).toBeInstanceOf(ClosedError);
        client.abort();
      });
    });

    describe('UDP', () => {
      test('carries a datagram each way and reports the sender and the local address', async () => {
        const server = pair.server.udp.bind({ address: pair.serverAddress });
        server.onMessage((datagram) => {
          expect(datagram.localAddress).toBe(pair.serverAddress);
          server.send(concat([bytes('re: '), datagram.data]), datagram.address, datagram.port);
        });
        const client = pair.client.udp.bind();
        expect(client.localPort).toBeGreaterThan(0);
        expect(client.send(bytes('question'), pair.serverAddress, server.localPort)).toBe(true);
        const answer = await within(step, 'answer', client.receive());
        expect(text(answer.data)).toBe('re: question');
        expect(answer.address).toBe(pair.serverAddress);
        expect(answer.port).toBe(server.localPort);
        expect(client.stats()['tx-datagrams']).toBe(1);
        expect(client.stats()['rx-datagrams']).toBe(1);
        client.close();
        server.close();
      });

      test(`carries a ${MAX_DATAGRAM}-byte datagram whole and refuses one byte more`, async () => {
        await warmUp();
        const server = pair.server.udp.bind();
        const client = pair.client.udp.bind();
        const big = new Uint8Array(MAX_DATAGRAM).map((_, index) => index * 7);
        expect(client.send(big, pair.serverAddress, server.localPort)).toBe(true);
        const received = await within(step, 'big datagram', server.receive());
        expect(received.data.length).toBe(MAX_DATAGRAM);
        expect(sha256([received.data])).toBe(sha256([big]));
        expect(client.send(new Uint8Array(MAX_DATAGRAM + 1), pair.serverAddress, server.localPort)).toBe(false);
        expect(client.sendWith(MAX_DATAGRAM + 1, () => 0, pair.serverAddress, server.localPort)).toBe(false);
        expect(client.stats()['too-large']).toBe(2);
        client.close();
        server.close();
      });

      test('delivers an empty datagram', async () => {
        const server = pair.server.udp.bind();
        const client = pair.client.udp.bind();
        expect(client.send(new Uint8Array(0), pair.serverAddress, server.localPort)).toBe(true);
        expect((await within(step, 'empty datagram', server.receive())).data.length).toBe(0);
        client.close();
        server.close();
      });

      test('sends only the bytes that sendWith fill reports', async () => {
        const server = pair.server.udp.bind();
        const client = pair.client.udp.bind();
        const sent = client.sendWith(
          100,
          (buffer) => {
            expect(buffer.length).toBeGreaterThanOrEqual(100);
            buffer.set(bytes('built in place'));
            return 14;
          },
          pair.serverAddress,
          server.localPort,
        );
        expect(sent).toBe(true);
        expect(text((await within(step, 'datagram', server.receive())).data)).toBe('built in place');
        client.close();
        server.close();
      });

      test('drops the oldest datagrams when the receive queue is full, and counts them', async () => {
        await warmUp();
        const server = pair.server.udp.bind({ receiveQueueLimit: 4 });
        const client = pair.client.udp.bind();
        for (let index = 0; index < 10; index++) expect(client.send(bytes(`datagram ${index}`), pair.serverAddress, server.localPort)).toBe(true);
        await waitUntil(step, 'all datagrams arrive', () => server.stats()['rx-datagrams'] === 10);
        expect(server.stats()['queue-full']).toBe(6);
        const kept: string[] = [];
        for (let index = 0; index < 4; index++) kept.push(text((await server.receive()).data));
        expect(kept).toEqual(['datagram 6', 'datagram 7', 'datagram 8', 'datagram 9']);
        expect(await settlesWithin(30, server.receive())).toBe(false);
        client.close();
        server.close();
      });

      test('gives onMessage the datagrams queued before it was set, in order', async () => {
        await warmUp();
        const server = pair.server.udp.bind();
        const client = pair.client.udp.bind();
        for (let index = 0; index < 3; index++) client.send(bytes(`early ${index}`), pair.serverAddress, server.localPort);
        await waitUntil(step, 'datagrams arrive', () => server.stats()['rx-datagrams'] === 3);
        const seen: string[] = [];
        server.onMessage((datagram: UdpDatagram) => seen.push(text(datagram.data)));
        expect(seen).toEqual(['early 0', 'early 1', 'early 2']);
        client.send(bytes('late'), pair.serverAddress, server.localPort);
        await waitUntil(step, 'late datagram', () => seen.length === 4);
        expect(seen[3]).toBe('late');
        client.close();
        server.close();
      });

      test('throws AddressInUse when binding a port that is taken', () => {
        const first = pair.server.udp.bind();
        expect(() => pair.server.udp.bind({ port: first.localPort })).toThrow(AddressInUse);
        first.close();
        pair.server.udp.bind({ port: first.localPort }).close();
      });

      test('close rejects a pending receive with ClosedError; send afterwards returns false', async () => {
        const socket = pair.client.udp.bind();
        const receiving = socket.receive();
        socket.close();
        expect(await rejection(receiving)).toBeInstanceOf(ClosedError);
        expect(await rejection(socket.receive())).toBeInstanceOf(ClosedError);
        expect(socket.send(bytes('x'), pair.serverAddress, 9)).toBe(false);
        socket.close();
      });

      test('refuses the limited broadcast address without the broadcast option', () => {
        const socket = pair.client.udp.bind();
        expect(socket.send(bytes('everyone'), IPV4_BROADCAST, 9)).toBe(false);
        expect(socket.stats()['broadcast-not-allowed']).toBe(1);
        socket.close();
      });

      test('rejects a send to port 0 by returning false', () => {
        const socket = pair.client.udp.bind();
        expect(socket.send(bytes('x'), pair.serverAddress, 0)).toBe(false);
        socket.close();
      });
    });
  });
}
