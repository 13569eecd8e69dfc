// What is particular to UDP on the socket stack: broadcast through the kernel, Node peers, its limits.
import dgram from 'node:dgram';
import { AddressError, ClosedError, IPV4_ANY, parseIpv4 } from '@morgana/core';
import { UDP_MAX_PAYLOAD, createSocketStack } from '@morgana/socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytes, text, waitUntil, within } from './conformance/helpers.js';

const loopback = parseIpv4('127.0.0.1');
/** The loopback network's directed broadcast address: the kernel treats it as broadcast, and it never leaves the host. */
const loopbackBroadcast = parseIpv4('127.255.255.255');

describe('UDP on the socket stack', () => {
  let stack: ReturnType<typeof createSocketStack>;

  beforeEach(() => {
    stack = createSocketStack();
  });

  afterEach(() => stack.close());

  it('exchanges datagrams with a plain node:dgram peer', async () => {
    const peer = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
    peer.on('message', (message, remote) => peer.send(Buffer.concat([Buffer.from('ack '), message]), remote.port, remote.address));
    try {
      const socket = stack.udp.bind();
      socket.send(bytes('hello'), loopback, peer.address().port);
      const answer = await within(5_000, 'answer', socket.receive());
      expect(text(answer.data)).toBe('ack hello');
      expect(answer.port).toBe(peer.address().port);
    } finally {
      peer.close();
    }
  });

  it('sends to a broadcast address only with the broadcast option: without it the kernel refuses and the error is counted', async () => {
    const receiver = stack.udp.bind();
    const seen: string[] = [];
    receiver.onMessage((datagram) => seen.push(text(datagram.data)));
    const plain = stack.udp.bind();
    // The kernel's refusal (EACCES) comes asynchronously: send said true, the error is counted.
    expect(plain.send(bytes('refused'), loopbackBroadcast, receiver.localPort)).toBe(true);
    await waitUntil(5_000, 'send error counted', () => plain.stats()['send-errors'] === 1);
    const broadcaster = stack.udp.bind({ broadcast: true });
    expect(broadcaster.send(bytes('to everyone'), loopbackBroadcast, receiver.localPort)).toBe(true);
    await waitUntil(5_000, 'broadcast received', () => seen.length === 1);
    expect(seen).toEqual(['to everyone']);
    expect(stack.udp.stats()['send-errors']).toBe(1);
  });

  it('reports the bound address as the local address (Node does not tell the destination)', async () => {
    const specific = stack.udp.bind({ address: loopback });
    const wildcard = stack.udp.bind();
    expect(specific.localAddress).toBe(loopback);
    expect(wildcard.localAddress).toBe(IPV4_ANY);
    const sender = stack.udp.bind();
    sender.send(bytes('a'), loopback, specific.localPort);
    sender.send(bytes('b'), loopback, wildcard.localPort);
    expect((await within(5_000, 'specific', specific.receive())).localAddress).toBe(loopback);
    expect((await within(5_000, 'wildcard', wildcard.receive())).localAddress).toBe(IPV4_ANY);
  });

  it('copies what send is given, so the caller may reuse its buffer at once', async () => {
    const receiver = stack.udp.bind();
    const sender = stack.udp.bind();
    const buffer = new Uint8Array(1000);
    for (let round = 0; round < 20; round++) {
      buffer.fill(round);
      expect(sender.send(buffer, loopback, receiver.localPort)).toBe(true);
    }
    for (let round = 0; round < 20; round++) {
      const datagram = await within(5_000, 'datagram', receiver.receive());
      expect(datagram.data.every((byte) => byte === round)).toBe(true);
    }
  });

  it('bounds the receive queue in bytes too (receiveQueueBytes), dropping the oldest', async () => {
    const small = createSocketStack({ receiveQueueBytes: 1000 });
    try {
      const receiver = small.udp.bind();
      const sender = small.udp.bind();
      for (let index = 0; index < 4; index++) sender.send(new Uint8Array(400).fill(index), loopback, receiver.localPort);
      // A datagram larger than the whole queue cannot be kept at all.
      sender.send(new Uint8Array(1001), loopback, receiver.localPort);
      await waitUntil(5_000, 'all arrive', () => receiver.stats()['rx-datagrams'] === 5);
      expect(receiver.stats()['queue-full']).toBe(3);
      expect((await receiver.receive()).data[0]).toBe(2);
      expect((await receiver.receive()).data[0]).toBe(3);
    } finally {
      await small.close();
    }
  });

  it('counts a handler that throws, and the error still surfaces', async () => {
    const receiver = stack.udp.bind();
    const surfaced = new Promise<unknown>((resolve) => {
      const listener = (error: unknown): void => {
        process.off('uncaughtException', listener);
        resolve(error);
      };
      process.on('uncaughtException', listener);
    });
    receiver.onMessage(() => {
      throw new Error('handler bug');
    });
    stack.udp.bind().send(bytes('x'), loopback, receiver.localPort);
    expect(await within(5_000, 'surfaced', surfaced)).toMatchObject({ message: 'handler bug' });
    expect(receiver.stats()['handler-errors']).toBe(1);
  });

  it('checks ports and sizes before Node sees them', () => {
    expect(() => stack.udp.bind({ port: 70_000 })).toThrow(AddressError);
    const socket = stack.udp.bind();
    expect(socket.sendWith(UDP_MAX_PAYLOAD, (buffer) => buffer.length, loopback, 9)).toBe(true);
    expect(() => socket.sendWith(10, () => 11, loopback, 9)).toThrow(RangeError);
    expect(socket.send(bytes('x'), loopback, 65_536)).toBe(false);
    expect(socket.stats()['bad-port']).toBe(1);
  });

  it('closes every socket with the stack; bind afterwards throws ClosedError', async () => {
    const socket = stack.udp.bind();
    const port = socket.localPort;
    const pending = socket.receive().catch((error: unknown) => error);
    await stack.close();
    expect(await pending).toBeInstanceOf(ClosedError);
    expect(() => stack.udp.bind()).toThrow(ClosedError);
    const other = createSocketStack();
    try {
      other.udp.bind({ port }).close();
    } finally {
      await other.close();
    }
  });
});
