import { ConnectionReset, type Flow, concatBytes, createSystemClock, utf8Decode, utf8Encode } from '@morgana/core';
import { createNodeSshCrypto } from '@morgana/ssh-crypto-node';
import { describe, expect, it } from 'vitest';
import { MSG, type SshChannel, SshConnection, connectSsh, createTransport, encode, generateEd25519Key } from '../src/index.js';
import { createFlowPair } from './memory-flow.js';

const crypto = createNodeSshCrypto();
const hostKey = generateEd25519Key(crypto);
const clock = createSystemClock();

/**
 * A minimal server for the client's side of tcpip-forward: it accepts any login, answers
 * global requests with `onGlobalRequest`, and can open forwarded-tcpip channels.
 */
function scriptedServer(flow: Flow): { connection: SshConnection; requests: string[] } {
  const transport = createTransport(flow, { role: 'server', hostKey }, { crypto, clock });
  const connection = new SshConnection(transport);
  const requests: string[] = [];
  transport.handler = {
    onMessage(payload) {
      if (payload[0] === MSG.SERVICE_REQUEST) void transport.send(encode((w) => w.u8(MSG.SERVICE_ACCEPT).string('ssh-userauth')));
      else if (payload[0] === MSG.USERAUTH_REQUEST) void transport.send(Uint8Array.of(MSG.USERAUTH_SUCCESS));
      else connection.handle(payload);
    },
    onClose: (error) => connection.fail(error ?? new ConnectionReset('closed')),
  };
  transport.start().catch(() => undefined);
  return { connection, requests };
}

/** Gathers every write made in one turn of the event loop into one write, so the peer reads them together. */
function coalescing(flow: Flow): Flow {
  let pending: Uint8Array[] = [];
  let flushed: Promise<void> | undefined;
  return {
    ...flow,
    write(data) {
      pending.push(data.slice());
      flushed ??= new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
        const batch = concatBytes(pending);
        pending = [];
        flushed = undefined;
        return flow.write(batch);
      });
      return flushed;
    },
  };
}

const forwardedOpen = (connection: SshConnection, address: string, port: number): Promise<SshChannel> =>
  connection.open('forwarded-tcpip', encode((w) => w.string(address).u32(port).string('192.0.2.7').u32(5555)));

const login = (flow: Flow) => connectSsh(flow, { crypto, clock, user: 'alice', password: 'any', verifyHostKey: () => true });

describe('remote forwarding from the client (RFC 4254 §7.1)', () => {
  it('learns the port the server chose for 0 and takes a connection opened in the same read as the reply', async () => {
    const [a, b] = createFlowPair();
    const { connection } = scriptedServer(coalescing(b));
    const asked: string[] = [];
    connection.onGlobalRequest = (name, data) => {
      asked.push(`${name} ${data.text()} ${data.u32()}`);
      // The first connection follows the reply in the same segment, before the client's await resumes.
      queueMicrotask(() => {
        void forwardedOpen(connection, '127.0.0.1', 4711).then(async (channel) => {
          await channel.write(utf8Encode('ping'));
          await channel.shutdown();
        });
      });
      return encode((w) => w.u32(4711));
    };
    const client = await login(a);
    const received: string[] = [];
    const origins: string[] = [];
    const forward = await client.remoteForward('127.0.0.1', 0, (channel, origin) => {
      origins.push(`${origin.address}:${origin.port} ${origin.originatorAddress}:${origin.originatorPort}`);
      void (async () => {
        for (let chunk = await channel.read(); chunk !== null; chunk = await channel.read()) received.push(utf8Decode(chunk));
        await channel.close();
      })().catch(() => undefined);
    });
    expect(forward.port).toBe(4711);
    expect(asked).toEqual(['tcpip-forward 127.0.0.1 0']);
    for (let i = 0; i < 500 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(received).toEqual(['ping']);
    expect(origins).toEqual(['127.0.0.1:4711 192.0.2.7:5555']);
    await client.close();
  });

  it('refuses forwarded-tcpip channels for ports it did not ask for, and after cancel (RFC 4254 §7.2)', async () => {
    const [a, b] = createFlowPair();
    const { connection } = scriptedServer(b);
    const asked: string[] = [];
    connection.onGlobalRequest = (name, data) => {
      asked.push(`${name} ${data.text()} ${data.u32()}`);
      return new Uint8Array(0);
    };
    const client = await login(a);
    const forward = await client.remoteForward('0.0.0.0', 2222, () => undefined);
    expect(forward.port).toBe(2222);
    await expect(forwardedOpen(connection, '0.0.0.0', 2223)).rejects.toThrow('channel open failed (1)');
    await expect(forwardedOpen(connection, '127.0.0.1', 2222)).rejects.toThrow('channel open failed (1)');
    const accepted = await forwardedOpen(connection, '0.0.0.0', 2222);
    accepted.abort();
    await forward.cancel();
    expect(asked).toEqual(['tcpip-forward 0.0.0.0 2222', 'cancel-tcpip-forward 0.0.0.0 2222']);
    await expect(forwardedOpen(connection, '0.0.0.0', 2222)).rejects.toThrow('channel open failed (1)');
    await client.close();
  });

  it('rejects when the server refuses to listen', async () => {
    const [a, b] = createFlowPair();
    scriptedServer(b);
    const client = await login(a);
    await expect(client.remoteForward('127.0.0.1', 80, () => undefined)).rejects.toThrow('server refused to listen on 127.0.0.1:80');
    // The connection is still usable afterwards.
    await expect(client.remoteForward('127.0.0.1', 81, () => undefined)).rejects.toThrow('refused');
    await client.close();
  });
});
