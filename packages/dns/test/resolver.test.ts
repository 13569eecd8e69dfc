// The stub resolver believes only answers that match: source, id and question (RFC 5452).
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { createSystemClock, createSystemRandom, parseIpv4, TimeoutError } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMessage, type DnsMessage, encodeMessage, parseName, RrType, StubResolver } from '../src/index.js';

const stack = createSocketStack();
afterAll(() => stack.close());

/** A UDP server that answers each query with the replies `reply` builds, sent from `from` sockets. */
async function fakeServer(reply: (query: DnsMessage) => { message: DnsMessage; fromOtherPort?: boolean }[]) {
  const main = createSocket('udp4');
  const other = createSocket('udp4');
  await new Promise<void>((r) => main.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => other.bind(0, '127.0.0.1', r));
  main.on('message', (data, from) => {
    for (const { message, fromOtherPort } of reply(decodeMessage(data))) (fromOtherPort === true ? other : main).send(encodeMessage(message), from.port, from.address);
  });
  return { port: (main.address() as AddressInfo).port, close: () => (main.close(), other.close()) };
}

const answerTo = (query: DnsMessage, changes: Partial<DnsMessage> = {}): DnsMessage => ({
  ...query,
  flags: { ...query.flags, qr: true, aa: true },
  answers: [{ name: query.questions[0].name, type: RrType.A, class: 1, ttl: 60, data: { type: 'A', address: parseIpv4('192.0.2.7') } }],
  edns: undefined,
  ...changes,
});

describe('stub resolver validation', () => {
  it('ignores answers with the wrong id, the wrong question or from the wrong port, and takes the right one', async () => {
    const server = await fakeServer((q) => [
      { message: answerTo(q, { id: (q.id + 1) & 0xffff }) },
      { message: answerTo(q, { questions: [{ ...q.questions[0], name: parseName('evil.example.') }] }) },
      { message: answerTo(q), fromOtherPort: true },
      { message: answerTo(q) },
    ]);
    const resolver = new StubResolver({ udp: stack.udp, clock: createSystemClock(), random: createSystemRandom() }, { servers: [{ address: parseIpv4('127.0.0.1'), port: server.port }] });
    const answer = await resolver.query('www.example.test', RrType.A);
    expect(answer.answers.map((a) => a.data)).toEqual([{ type: 'A', address: parseIpv4('192.0.2.7') }]);
    await new Promise((r) => setTimeout(r, 50));
    const stats = resolver.stats();
    expect(stats.mismatch).toBe(2);
    expect(stats['wrong-source']).toBeGreaterThanOrEqual(1);
    server.close();
  });

  it('gives up with TimeoutError after its rounds, using a fresh id and port each time', async () => {
    const seen: { id: number; port: number }[] = [];
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    silent.on('message', (data, from) => seen.push({ id: decodeMessage(data).id, port: from.port }));
    const resolver = new StubResolver({ udp: stack.udp, clock: createSystemClock(), random: createSystemRandom() }, { servers: [{ address: parseIpv4('127.0.0.1'), port: (silent.address() as AddressInfo).port }], timeout: 50, attempts: 3 });
    await expect(resolver.query('www.example.test', RrType.A)).rejects.toBeInstanceOf(TimeoutError);
    expect(seen).toHaveLength(3);
    // The port is the kernel's pick on the socket stack: fresh sockets, though a port may come back.
    expect(new Set(seen.map((s) => s.port)).size).toBeGreaterThanOrEqual(2);
    silent.close();
  });
});
