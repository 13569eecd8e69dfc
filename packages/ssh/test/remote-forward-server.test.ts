import { ConnectionRefused, ConnectionReset, CounterSet, DecodeError, type Flow, type Stack, type Tcp, type TcpFlow, concatBytes, createSystemClock, formatIpv4, parseIpv4, utf8Decode } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ForwardedOrigin, type SshChannel, type SshServerOptions, MSG, REMOTE_FORWARD_DEFAULTS, RemoteForwards, SshConnection, SshReader, type SshTransport, connectSsh, encode, forwardBindAddress, generateEd25519Key, serveSshConnection } from '../src/index.js';
import { createFlowPair } from './memory-flow.js';

const crypto = createNodeSshCrypto();
const hostKey = generateEd25519Key(crypto);
const clock = createSystemClock();
const LOOPBACK = parseIpv4('127.0.0.1');

let stack: Stack;
beforeEach(() => {
  stack = createSocketStack();
});
afterEach(async () => {
  await stack.close();
});

function pair(serverExtra: Partial<SshServerOptions> = {}, windowSize?: number) {
  const [a, b] = createFlowPair();
  const server = serveSshConnection(b, { crypto, clock, hostKey, checkPassword: (user, password) => user === 'alice' && password === 'secret', ...serverExtra });
  const client = connectSsh(a, { crypto, clock, user: 'alice', password: 'secret', verifyHostKey: () => true, channels: windowSize === undefined ? {} : { windowSize } });
  return { server, client };
}

/** Serves every forwarded channel as an echo, recording where each came from. */
function echo(origins: ForwardedOrigin[]): (channel: SshChannel, origin: ForwardedOrigin) => void {
  return (channel, origin) => {
    origins.push(origin);
    void (async () => {
      for (let chunk = await channel.read(); chunk !== null; chunk = await channel.read()) await channel.write(chunk);
      await channel.shutdown();
      await channel.close();
    })().catch(() => channel.abort());
  };
}

/** Sends `data` through `flow` and collects everything that comes back until EOF. */
async function roundTrip(flow: Flow, data: Uint8Array): Promise<Uint8Array> {
  const received: Uint8Array[] = [];
  const reading = (async () => {
    for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) received.push(chunk.slice());
  })();
  for (let offset = 0; offset < data.length; offset += 100_000) await flow.write(data.subarray(offset, offset + 100_000));
  await flow.shutdown();
  await reading;
  await flow.close();
  return concatBytes(received);
}

const refusedConnect = async (port: number): Promise<void> => {
  await expect(stack.tcp.connect(LOOPBACK, port)).rejects.toBeInstanceOf(ConnectionRefused);
};

describe('server-side remote forwarding (RFC 4254 §7.1, §7.2)', () => {
  it('binds a port of its choice for port 0, replies with it, and carries 1 MB both ways through a forwarded-tcpip channel', async () => {
    // A small client window makes the server wait for window adjustments many times over.
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp } }, 64 * 1024);
    const c = await client;
    const origins: ForwardedOrigin[] = [];
    const forward = await c.remoteForward('127.0.0.1', 0, echo(origins));
    expect(forward.port).toBeGreaterThan(0);
    expect(server.remoteForwards()).toBe(1);
    const flow = await stack.tcp.connect(LOOPBACK, forward.port);
    const data = crypto.randomBytes(1024 * 1024);
    const back = await roundTrip(flow, data);
    expect(back.length).toBe(data.length);
    expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
    expect(origins).toEqual([{ address: '127.0.0.1', port: forward.port, originatorAddress: formatIpv4(flow.localAddress), originatorPort: flow.localPort }]);
    expect(server.stats()['forward-connections']).toBe(1);
    await c.close();
  });

  it('listens on the requested fixed port and refuses a second forward of the same one', async () => {
    const probe = stack.tcp.listen(0, { address: LOOPBACK });
    while (probe.port === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const port = probe.port;
    probe.close();
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp } });
    const c = await client;
    const forward = await c.remoteForward('localhost', port, echo([]));
    expect(forward.port).toBe(port);
    await expect(c.remoteForward('localhost', port, echo([]))).rejects.toThrow('refused');
    expect(server.stats()['forward-duplicate']).toBe(1);
    const flow = await stack.tcp.connect(LOOPBACK, port);
    expect(utf8Decode(await roundTrip(flow, new TextEncoder().encode('hello')))).toBe('hello');
    await c.close();
  });

  it('stops listening on cancel-tcpip-forward and refuses to cancel an unknown forward', async () => {
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp } });
    const c = await client;
    const forward = await c.remoteForward('127.0.0.1', 0, echo([]));
    await forward.cancel();
    expect(server.remoteForwards()).toBe(0);
    await refusedConnect(forward.port);
    expect(await c.connection.globalRequest('cancel-tcpip-forward', encode((w) => w.string('127.0.0.1').u32(1)))).toBeNull();
    expect(server.stats()['forward-cancel-unknown']).toBe(1);
    await c.close();
  });

  it('refuses forwards past maxForwards and grants one again after a cancel', async () => {
    expect(REMOTE_FORWARD_DEFAULTS.maxForwards).toBe(8);
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp, config: { maxForwards: 2 } } });
    const c = await client;
    const first = await c.remoteForward('127.0.0.1', 0, echo([]));
    await c.remoteForward('127.0.0.1', 0, echo([]));
    await expect(c.remoteForward('127.0.0.1', 0, echo([]))).rejects.toThrow('refused');
    expect(server.stats()['forward-limit']).toBe(1);
    expect(server.remoteForwards()).toBe(2);
    await first.cancel();
    await c.remoteForward('127.0.0.1', 0, echo([]));
    expect(server.remoteForwards()).toBe(2);
    await c.close();
  });

  it('refuses tcpip-forward when the server has no remoteForward option', async () => {
    const { client } = pair();
    const c = await client;
    await expect(c.remoteForward('127.0.0.1', 0, echo([]))).rejects.toThrow('server refused to listen on 127.0.0.1:0');
    await c.close();
  });

  it('grants only loopback addresses by default, and asks a custom policy with the user', async () => {
    const asked: string[] = [];
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp } });
    const c = await client;
    await expect(c.remoteForward('0.0.0.0', 0, echo([]))).rejects.toThrow('refused');
    await expect(c.remoteForward('', 0, echo([]))).rejects.toThrow('refused');
    await expect(c.remoteForward('example.invalid', 0, echo([]))).rejects.toThrow('refused');
    expect(server.stats()['forward-refused']).toBe(2);
    expect(server.stats()['forward-bad-address']).toBe(1);
    await c.close();

    const custom = pair({
      remoteForward: {
        tcp: stack.tcp,
        allow: (request) => {
          asked.push(`${request.user} ${request.address} ${formatIpv4(request.bindAddress)} ${request.port}`);
          return request.port === 0;
        },
      },
    });
    const d = await custom.client;
    await expect(d.remoteForward('127.0.0.1', 1, echo([]))).rejects.toThrow('refused');
    const granted = await d.remoteForward('0.0.0.0', 0, echo([]));
    expect(asked).toEqual(['alice 127.0.0.1 127.0.0.1 1', 'alice 0.0.0.0 0.0.0.0 0']);
    const flow = await stack.tcp.connect(LOOPBACK, granted.port);
    expect(utf8Decode(await roundTrip(flow, new TextEncoder().encode('any')))).toBe('any');
    await d.close();
  });

  it('closes every listener when the connection ends', async () => {
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp } });
    const c = await client;
    const ports = [(await c.remoteForward('127.0.0.1', 0, echo([]))).port, (await c.remoteForward('localhost', 0, echo([]))).port];
    await c.close();
    await server.closed;
    expect(server.remoteForwards()).toBe(0);
    for (const port of ports) await refusedConnect(port);
  });

  it('resets the TCP connection when the client refuses the forwarded-tcpip channel', async () => {
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp } });
    const c = await client;
    // Asked for behind the client's back: the client refuses channels for a forward it did not register.
    const reply = await c.connection.globalRequest('tcpip-forward', encode((w) => w.string('127.0.0.1').u32(0)));
    expect(reply).not.toBeNull();
    const port = new SshReader(reply ?? new Uint8Array(0)).u32();
    // The reset may come before connect() resolves or during the read.
    await expect((async () => {
      const flow = await stack.tcp.connect(LOOPBACK, port);
      for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read());
      throw new Error('closed without a reset');
    })()).rejects.toBeInstanceOf(ConnectionReset);
    expect(server.stats()['forward-open-failed']).toBe(1);
    await c.close();
  });

  it('gives up on a port-0 bind the stack never reports within bindTimeoutMs', async () => {
    // A stack whose address-specific listener never finishes binding.
    const stuck: Tcp = {
      ...stack.tcp,
      listen: () => ({ port: 0, accept: () => new Promise(() => undefined), close: () => undefined }),
    };
    const { server, client } = pair({ remoteForward: { tcp: stuck, config: { bindTimeoutMs: 30 } } });
    const c = await client;
    await expect(c.remoteForward('127.0.0.1', 0, echo([]))).rejects.toThrow('refused');
    expect(server.stats()['forward-bind-timeout']).toBe(1);
    expect(server.remoteForwards()).toBe(0);
    await c.close();
  });

  it('refuses a port that is already taken on the stack', async () => {
    const taken = stack.tcp.listen(0);
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp, allow: () => true } });
    const c = await client;
    await expect(c.remoteForward('0.0.0.0', taken.port, echo([]))).rejects.toThrow('refused');
    expect(server.stats()['forward-bind-failed']).toBe(1);
    taken.close();
    await c.close();
  });

  it('disconnects with a protocol error on a truncated tcpip-forward request', async () => {
    const { server, client } = pair({ remoteForward: { tcp: stack.tcp } });
    const c = await client;
    await expect(c.connection.globalRequest('tcpip-forward', encode((w) => w.string('127.0.0.1')))).rejects.toThrow();
    await server.closed;
    expect(server.stats()['protocol-error']).toBe(1);
  });

  it('maps RFC 4254 §7.1 addresses onto the IPv4 stack', () => {
    expect(forwardBindAddress('')).toBe(0);
    expect(forwardBindAddress('0.0.0.0')).toBe(0);
    expect(forwardBindAddress('localhost')).toBe(LOOPBACK);
    expect(forwardBindAddress('10.1.2.3')).toBe(parseIpv4('10.1.2.3'));
    expect(forwardBindAddress('::')).toBeUndefined();
    expect(forwardBindAddress('host.example')).toBeUndefined();
  });
});

/** A connection whose transport only records what is sent. */
function bareConnection(): { conn: SshConnection; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const transport = { send: async (payload: Uint8Array) => void sent.push(payload), lastReceivedSequence: () => 0 } as unknown as SshTransport;
  return { conn: new SshConnection(transport), sent };
}

const globalRequest = (name: string): Uint8Array => encode((w) => w.u8(MSG.GLOBAL_REQUEST).string(name).boolean(true));

describe('deferred global request replies (RFC 4254 §4)', () => {
  it('sends replies in request order when an earlier answer is deferred', async () => {
    const { conn, sent } = bareConnection();
    let settle!: (answer: Uint8Array | false) => void;
    conn.onGlobalRequest = (name) => (name === 'slow' ? new Promise((resolve) => (settle = resolve)) : name === 'fast' ? encode((w) => w.u32(7)) : false);
    conn.handle(globalRequest('slow'));
    conn.handle(globalRequest('fast'));
    conn.handle(globalRequest('other'));
    const sentAll = conn.globalRepliesSent();
    await Promise.resolve();
    expect(sent).toEqual([]);
    settle(false);
    await sentAll;
    expect(sent).toEqual([Uint8Array.of(MSG.REQUEST_FAILURE), encode((w) => w.u8(MSG.REQUEST_SUCCESS).u32(7)), Uint8Array.of(MSG.REQUEST_FAILURE)]);
    // Idle again: the next reply goes out at once.
    conn.handle(globalRequest('fast'));
    expect(sent).toHaveLength(4);
  });

  it('answers FAILURE when a deferred answer rejects', async () => {
    const { conn, sent } = bareConnection();
    conn.onGlobalRequest = () => Promise.reject(new Error('bind failed'));
    conn.handle(globalRequest('x'));
    await conn.globalRepliesSent();
    expect(sent).toEqual([Uint8Array.of(MSG.REQUEST_FAILURE)]);
  });
});

/**
 * A Tcp whose listeners take connections from `dial()`: in-memory flows, so the test sees how
 * much the server reads from the TCP side and can hold its writes.
 */
function memoryTcp(): { tcp: Tcp; dial: (port: number, hold?: Promise<void>) => { flow: Flow; served: () => number } } {
  const listeners = new Map<number, (flow: TcpFlow) => void>();
  const tcp = {
    listen(port: number, options: { onConnection?: (flow: TcpFlow) => void } = {}) {
      const bound = port === 0 ? 40_000 + listeners.size : port;
      if (options.onConnection) listeners.set(bound, options.onConnection);
      return { port: bound, accept: () => new Promise<TcpFlow>(() => undefined), close: () => listeners.delete(bound) };
    },
  } as unknown as Tcp;
  const dial = (port: number, hold?: Promise<void>) => {
    const [outside, inside] = createFlowPair();
    let served = 0;
    const flow = {
      ...inside,
      async read() {
        const chunk = await inside.read();
        served += chunk?.length ?? 0;
        return chunk;
      },
      async write(data: Uint8Array) {
        await hold;
        await inside.write(data);
      },
      remoteAddress: parseIpv4('192.0.2.9'),
      remotePort: 6000,
    } as unknown as TcpFlow;
    const onConnection = listeners.get(port);
    if (!onConnection) throw new Error(`nothing listens on ${port}`);
    onConnection(flow);
    return { flow: outside, served: () => served };
  };
  return { tcp, dial };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 1));
};

describe('forwarded-tcpip flow control (RFC 4254 §5.2)', () => {
  it('stops reading the TCP connection while the client leaves the channel window full, then delivers everything', async () => {
    const memory = memoryTcp();
    const window = 128 * 1024;
    const { client } = pair({ remoteForward: { tcp: memory.tcp } }, window);
    const c = await client;
    let channel: SshChannel | undefined;
    const forward = await c.remoteForward('127.0.0.1', 0, (opened) => (channel = opened));
    const { flow, served } = memory.dial(forward.port);
    const data = crypto.randomBytes(4 * 1024 * 1024);
    for (let offset = 0; offset < data.length; offset += 64 * 1024) await flow.write(data.subarray(offset, offset + 64 * 1024));
    await flow.shutdown();
    await settle();
    // The server read at most the client's window and the chunk it was writing when it ran out.
    expect(served()).toBeLessThanOrEqual(window + 64 * 1024);
    if (!channel) throw new Error('no forwarded-tcpip channel arrived');
    const opened = channel;
    const received: Uint8Array[] = [];
    for (let chunk = await opened.read(); chunk !== null; chunk = await opened.read()) received.push(chunk.slice());
    expect(Buffer.from(concatBytes(received)).equals(Buffer.from(data))).toBe(true);
    await c.close();
  });

  it('stops granting window to the client while the TCP connection does not take its writes', async () => {
    const memory = memoryTcp();
    const window = 64 * 1024;
    const { client } = pair({ remoteForward: { tcp: memory.tcp }, channels: { windowSize: window } });
    const c = await client;
    let channel: SshChannel | undefined;
    const forward = await c.remoteForward('127.0.0.1', 0, (opened) => (channel = opened));
    let release!: () => void;
    const { flow } = memory.dial(forward.port, new Promise<void>((resolve) => (release = resolve)));
    await settle();
    if (!channel) throw new Error('no forwarded-tcpip channel arrived');
    const opened = channel;
    const data = crypto.randomBytes(1024 * 1024);
    let written = false;
    const writing = opened.write(data).then(() => (written = true));
    await settle();
    // At most one window went out; the rest waits for a window adjustment that the held TCP write blocks.
    expect(written).toBe(false);
    expect(opened.remoteWindow).toBe(0);
    release();
    await writing;
    await opened.shutdown();
    const received: Uint8Array[] = [];
    for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) received.push(chunk.slice());
    expect(Buffer.from(concatBytes(received)).equals(Buffer.from(data))).toBe(true);
    await c.close();
  });
});

describe('tcpip-forward request decoding', () => {
  it('arbitrary request bytes either decode or throw DecodeError, never anything else', () => {
    const memory = memoryTcp();
    const { conn } = bareConnection();
    fc.assert(
      fc.property(fc.constantFrom('tcpip-forward', 'cancel-tcpip-forward'), fc.uint8Array({ maxLength: 40 }), (name, bytes) => {
        const forwards = new RemoteForwards(conn, { tcp: memory.tcp, allow: () => true }, clock, new CounterSet());
        try {
          forwards.handle(name, new SshReader(bytes), 'alice');
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
        forwards.closeAll();
      }),
      { numRuns: 300 },
    );
  });

  it('accepts exactly the address string and port, nothing after them', () => {
    const { conn } = bareConnection();
    const forwards = new RemoteForwards(conn, { tcp: memoryTcp().tcp }, clock, new CounterSet());
    expect(() => forwards.handle('cancel-tcpip-forward', new SshReader(encode((w) => w.string('127.0.0.1').u32(1).u8(0))), 'alice')).toThrow(DecodeError);
    expect(forwards.handle('cancel-tcpip-forward', new SshReader(encode((w) => w.string('127.0.0.1').u32(1))), 'alice')).toBe(false);
    expect(forwards.handle('keepalive@openssh.com', new SshReader(new Uint8Array(0)), 'alice')).toBeUndefined();
  });
});
