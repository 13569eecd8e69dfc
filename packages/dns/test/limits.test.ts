// Every limit of the DNS server is hit once: the answer cache, the rate-limit table, TCP
// connections, TCP idle time; and RFC 7766 pipelining on one connection.
import { connect, type Socket } from 'node:net';
import { createSystemClock, type Ipv4Address } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { VirtualClock } from '@morgana/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthoritativeServer, decodeMessage, type DnsMessage, encodeMessage, Opcode, parseName, parseZone, RrType, serveDns } from '../src/index.js';
import { freePort } from './peers.js';

const zone = parseZone('$TTL 60\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n', { origin: 'limits.test.' });
const query = (name: string, id = 1): Uint8Array =>
  encodeMessage({
    id,
    flags: { qr: false, opcode: Opcode.QUERY, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false },
    rcode: 0,
    questions: [{ name: parseName(name), type: RrType.A, class: 1 }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: undefined,
  } satisfies DnsMessage);
const framed = (bytes: Uint8Array) => Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 255]), bytes]);

describe('DNS server limits', () => {
  it('keeps at most cacheLimit memoised answers, evicting the oldest', () => {
    const server = new AuthoritativeServer({ zones: [zone], clock: new VirtualClock(), rateLimit: false, cacheLimit: 3 });
    for (let i = 0; i < 10; i++) server.answer(query(`n${i}.limits.test.`), { transport: 'udp', source: 1 as Ipv4Address });
    expect(server.stats().cacheEntries).toBe(3);
    expect(server.stats()['cache-evicted']).toBe(7);
  });

  it('tracks at most tableLimit client prefixes for rate limiting', () => {
    const server = new AuthoritativeServer({ zones: [zone], clock: new VirtualClock(), rateLimit: { responsesPerSecond: 5, tableLimit: 4 } });
    for (let i = 0; i < 10; i++) server.answer(query('www.limits.test.'), { transport: 'udp', source: ((10 << 24) | (i << 8)) as Ipv4Address });
    expect(server.stats()['rrl-table-evicted']).toBe(6);
  });

  const clock = createSystemClock();
  const stack = createSocketStack();
  afterAll(() => stack.close());

  const open = (port: number) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    });
  const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

  it('answers pipelined TCP queries on one connection (RFC 7766 §6.2.1.1)', async () => {
    const service = serveDns({ server: new AuthoritativeServer({ zones: [zone], clock, rateLimit: false }), clock, tcp: stack.tcp, port: await freePort() });
    await new Promise((r) => setTimeout(r, 30));
    const socket = await open(service.port);
    let received = Buffer.alloc(0);
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        let offset = 0;
        let count = 0;
        while (offset + 2 <= received.length) {
          const length = received.readUInt16BE(offset);
          if (offset + 2 + length > received.length) break;
          offset += 2 + length;
          count++;
        }
        if (count === 3) resolve();
      });
    });
    socket.write(Buffer.concat([framed(query('www.limits.test.', 1)), framed(query('ns.limits.test.', 2)), framed(query('nope.limits.test.', 3))]));
    await done;
    const ids: number[] = [];
    for (let offset = 0; offset < received.length; ) {
      const length = received.readUInt16BE(offset);
      ids.push(decodeMessage(received.subarray(offset + 2, offset + 2 + length)).id);
      offset += 2 + length;
    }
    expect(ids.sort()).toEqual([1, 2, 3]);
    socket.destroy();
    service.close();
  });

  it('closes TCP connections idle longer than tcpIdleTimeout and refuses those beyond maxTcpConnections', async () => {
    const service = serveDns({ server: new AuthoritativeServer({ zones: [zone], clock, rateLimit: false }), clock, tcp: stack.tcp, port: await freePort(), tcpIdleTimeout: 300, maxTcpConnections: 2 });
    await new Promise((r) => setTimeout(r, 30));
    const a = await open(service.port);
    const b = await open(service.port);
    await new Promise((r) => setTimeout(r, 50));
    // The third is reset as soon as it is accepted, maybe before our connect completes.
    const c = connect(service.port, '127.0.0.1');
    c.on('error', () => undefined);
    await closed(c);
    expect(service.stats()['tcp-refused-limit']).toBe(1);
    await Promise.all([closed(a), closed(b)]);
    expect(service.stats()['tcp-idle-closed']).toBe(2);
    service.close();
  });
});

