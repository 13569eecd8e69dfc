import {
  AddressError,
  AddressInUse,
  ClosedError,
  ConnectionRefused,
  IPV4_ANY,
  IPV4_BROADCAST,
  type IcmpErrorInfo,
  type Ipv4Address,
  LimitExceeded,
  type UdpDatagram,
  parseIpv4,
  writeU16,
} from '@morgana/core';
import { createSeededRandom } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UDP_MAX_PAYLOAD_IPV4, UdpPacket, createUdp, emitUdp, parseUdp } from '../src/index.js';
import type { UdpConfig } from '../src/index.js';
import { FakeIcmp, FakeIp } from './fake-ip.js';

const A = parseIpv4('10.0.0.1');
const B = parseIpv4('10.0.0.2');

function setup(config: UdpConfig = {}, seed = 1) {
  const ip = new FakeIp('10.0.0.1');
  const icmp = new FakeIcmp();
  const udp = createUdp({ ip, icmp, random: createSeededRandom(seed) }, config);
  return { ip, icmp, udp };
}

/** A well-formed datagram from B:`from` to `to`:`port`. */
function datagram(port: number, data: Uint8Array, from = B, to: Ipv4Address = A, sourcePort = 5555): Uint8Array {
  return emitUdp({ sourcePort, destinationPort: port }, data, from, to);
}

describe('UDP demultiplexing and delivery', () => {
  it('queues datagrams for receive() with the sender and local address', async () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 53 });
    ip.inject(datagram(53, new Uint8Array([1, 2, 3])), { source: B, destination: A });
    const got = await socket.receive();
    expect(got).toEqual({ data: new Uint8Array([1, 2, 3]), address: B, port: 5555, localAddress: A });
    expect(socket.stats()['rx-datagrams']).toBe(1);
  });

  it('resolves a receive() that was waiting before the datagram came, with a copy', async () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 53 });
    const pending = socket.receive();
    const bytes = datagram(53, new Uint8Array([4, 5]));
    ip.inject(bytes, { source: B, destination: A });
    bytes.fill(0);
    expect((await pending).data).toEqual(new Uint8Array([4, 5]));
  });

  it('hands datagrams to onMessage as they arrive, and flushes the queue into it first', () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 53 });
    ip.inject(datagram(53, new Uint8Array([1])), { source: B, destination: A });
    const seen: number[] = [];
    socket.onMessage((d) => seen.push(d.data[0]));
    ip.inject(datagram(53, new Uint8Array([2])), { source: B, destination: A });
    expect(seen).toEqual([1, 2]);
  });

  it('prefers the socket bound to the destination address over the wildcard one', () => {
    const { ip, udp } = setup();
    const wildcardOther = udp.bind({ port: 9, address: parseIpv4('10.0.0.9') });
    const specific = udp.bind({ port: 9, address: A });
    const got: string[] = [];
    specific.onMessage(() => got.push('specific'));
    wildcardOther.onMessage(() => got.push('other'));
    ip.inject(datagram(9, new Uint8Array(1)), { source: B, destination: A });
    ip.inject(datagram(9, new Uint8Array(1), B, parseIpv4('10.0.0.9')), { source: B, destination: parseIpv4('10.0.0.9') });
    expect(got).toEqual(['specific', 'other']);
  });

  it('delivers to a wildcard socket datagrams for any of our addresses and for broadcast', () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 67 });
    const locals: number[] = [];
    socket.onMessage((d) => locals.push(d.localAddress));
    ip.inject(datagram(67, new Uint8Array(1)), { source: B, destination: A });
    ip.inject(datagram(67, new Uint8Array(1), B, IPV4_BROADCAST), { source: B, destination: IPV4_BROADCAST, broadcast: true });
    expect(locals).toEqual([A, IPV4_BROADCAST]);
  });

  it('answers a datagram to a closed port with ICMP port unreachable (RFC 1122 4.1.3.1)', () => {
    const { ip, icmp, udp } = setup();
    ip.inject(datagram(4444, new Uint8Array(3)), { source: B, destination: A });
    expect(icmp.unreachable).toHaveLength(1);
    expect(icmp.unreachable[0].code).toBe(3);
    expect(icmp.unreachable[0].about.source).toBe(B);
    expect(udp.stats()['no-socket']).toBe(1);
  });

  it('leaves the no-error-about-broadcasts rule to icmp, passing it the broadcast flag', () => {
    const { ip, icmp } = setup();
    ip.inject(datagram(4444, new Uint8Array(3), B, IPV4_BROADCAST), { source: B, destination: IPV4_BROADCAST, broadcast: true });
    expect(icmp.unreachable[0].about.broadcast).toBe(true);
  });

  it('counts and drops a datagram with a bad checksum, sending no ICMP error', () => {
    const { ip, icmp, udp } = setup();
    const socket = udp.bind({ port: 53 });
    const bytes = datagram(53, new Uint8Array([1, 2]));
    bytes[8] ^= 1;
    ip.inject(bytes, { source: B, destination: A });
    expect(udp.stats()['bad-checksum']).toBe(1);
    expect(socket.stats()['rx-datagrams']).toBeUndefined();
    expect(icmp.unreachable).toHaveLength(0);
  });

  it('accepts a zero checksum, and skips verification when the device verified it', () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 53 });
    const zero = datagram(53, new Uint8Array([1]));
    new UdpPacket(zero).checksum = 0;
    ip.inject(zero, { source: B, destination: A });
    const wrong = datagram(53, new Uint8Array([2]));
    new UdpPacket(wrong).checksum ^= 0x1234;
    ip.inject(wrong, { source: B, destination: A, checksumVerified: true });
    expect(socket.stats()['rx-datagrams']).toBe(2);
  });

  it('drops and counts a truncated datagram and one whose length exceeds the IP payload', () => {
    const { ip, udp } = setup();
    udp.bind({ port: 53 });
    ip.inject(new Uint8Array(5), { source: B, destination: A });
    const long = datagram(53, new Uint8Array(4));
    writeU16(long, 4, 40);
    ip.inject(long, { source: B, destination: A });
    const short = datagram(53, new Uint8Array(4));
    writeU16(short, 4, 3);
    ip.inject(short, { source: B, destination: A });
    expect(udp.stats()).toMatchObject({ truncated: 1, 'length-exceeds-ip-payload': 1, 'bad-length': 1 });
    expect(udp.stats()['rx-delivered']).toBeUndefined();
  });

  it('delivers only the bytes the length field covers when the IP payload is longer', async () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 53 });
    const bytes = datagram(53, new Uint8Array([1, 2, 3]));
    const padded = new Uint8Array(bytes.length + 4);
    padded.set(bytes);
    ip.inject(padded, { source: B, destination: A });
    expect((await socket.receive()).data).toEqual(new Uint8Array([1, 2, 3]));
    expect(udp.stats().trimmed).toBe(1);
  });

  it('discards datagrams from a broadcast or multicast source (RFC 1122 4.1.3.6)', () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 53 });
    for (const source of [IPV4_BROADCAST, parseIpv4('224.0.0.1')]) {
      ip.inject(datagram(53, new Uint8Array(1), source), { source, destination: A });
    }
    expect(udp.stats()['bad-source']).toBe(2);
    expect(socket.stats()['rx-datagrams']).toBeUndefined();
  });

  it('never throws out of the receive path, whatever the bytes', () => {
    const { ip, udp } = setup();
    udp.bind({ port: 53 }).onMessage(() => undefined);
    udp.bind({ port: 0 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), fc.boolean(), (bytes, verified, broadcast) => {
        // Aim some inputs at the bound port so they get past the demultiplexer.
        if (bytes.length >= 4 && bytes[0] % 2 === 0) writeU16(bytes, 2, 53);
        ip.inject(bytes, { source: B, destination: broadcast ? IPV4_BROADCAST : A, checksumVerified: verified, broadcast });
      }),
      { numRuns: 1000 },
    );
  });

  it('counts a throwing message handler without unwinding into the receive path', async () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 53 });
    socket.onMessage(() => {
      throw new Error('application bug');
    });
    const uncaught: unknown[] = [];
    const listener = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', listener);
    try {
      expect(() => ip.inject(datagram(53, new Uint8Array(1)), { source: B, destination: A })).not.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 0));
    } finally {
      process.off('uncaughtException', listener);
    }
    expect(socket.stats()['handler-errors']).toBe(1);
    expect(uncaught).toHaveLength(1);
  });
});

describe('UDP receive queue', () => {
  it('drops the oldest datagram when the queue holds receiveQueueLimit (config default)', async () => {
    const { ip, udp } = setup({ receiveQueueLimit: 3 });
    const socket = udp.bind({ port: 53 });
    for (let i = 0; i < 5; i++) ip.inject(datagram(53, new Uint8Array([i])), { source: B, destination: A });
    expect(socket.stats()['queue-full']).toBe(2);
    expect(udp.stats()['queue-full']).toBe(2);
    const got = [await socket.receive(), await socket.receive(), await socket.receive()].map((d) => d.data[0]);
    expect(got).toEqual([2, 3, 4]);
  });

  it('takes a per-socket receiveQueueLimit over the layer default', () => {
    const { ip, udp } = setup({ receiveQueueLimit: 100 });
    const socket = udp.bind({ port: 53, receiveQueueLimit: 1 });
    for (let i = 0; i < 4; i++) ip.inject(datagram(53, new Uint8Array([i])), { source: B, destination: A });
    expect(socket.stats()['queue-full']).toBe(3);
  });

  it('bounds queued bytes by receiveQueueBytes', async () => {
    const { ip, udp } = setup({ receiveQueueBytes: 1000 });
    const socket = udp.bind({ port: 53 });
    for (let i = 0; i < 3; i++) ip.inject(datagram(53, new Uint8Array(400).fill(i)), { source: B, destination: A });
    ip.inject(datagram(53, new Uint8Array(1001)), { source: B, destination: A });
    expect(socket.stats()['queue-full']).toBe(2);
    expect((await socket.receive()).data[0]).toBe(1);
    expect((await socket.receive()).data[0]).toBe(2);
  });

  it('keeps memory bounded under a long flood', () => {
    const { ip, udp } = setup({ receiveQueueLimit: 16 });
    const socket = udp.bind({ port: 53 });
    const bytes = datagram(53, new Uint8Array(100));
    for (let i = 0; i < 10_000; i++) ip.inject(bytes, { source: B, destination: A });
    expect(socket.stats()['queue-full']).toBe(10_000 - 16);
  });

  it('rejects pending and later receive() calls with ClosedError on close', async () => {
    const { udp } = setup();
    const socket = udp.bind({ port: 53 });
    const pending = socket.receive();
    socket.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    await expect(socket.receive()).rejects.toBeInstanceOf(ClosedError);
    socket.close();
  });

  it('frees the port on close, and closing the layer closes every socket', async () => {
    const { ip, icmp, udp } = setup();
    const socket = udp.bind({ port: 53 });
    socket.close();
    const again = udp.bind({ port: 53 });
    const other = udp.bind({ port: 54 });
    const pending = other.receive();
    udp.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    ip.inject(datagram(53, new Uint8Array(1)), { source: B, destination: A });
    expect(icmp.unreachable).toHaveLength(1);
    expect(again.send(new Uint8Array(1), B, 1)).toBe(false);
    expect(again.stats()['socket-closed']).toBe(1);
  });
});

describe('UDP sending', () => {
  it('writes a header and checksum the receiver verifies, from the socket port', () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 1234 });
    expect(socket.send(new Uint8Array([9, 8, 7]), B, 53)).toBe(true);
    const sent = ip.written[0];
    expect(sent.source).toBe(A);
    const parsed = parseUdp(sent.bytes, A, B);
    expect(parsed.repr).toEqual({ sourcePort: 1234, destinationPort: 53 });
    expect(parsed.payload).toEqual(new Uint8Array([9, 8, 7]));
    expect(socket.stats()).toMatchObject({ 'tx-datagrams': 1, 'tx-bytes': 3 });
  });

  it('sends from the bound address of a socket bound to one', () => {
    const { ip, udp } = setup();
    const other = parseIpv4('10.0.0.77');
    udp.bind({ port: 1, address: other }).send(new Uint8Array(1), B, 53);
    expect(ip.written[0].source).toBe(other);
    expect(() => parseUdp(ip.written[0].bytes, other, B)).not.toThrow();
  });

  it('builds the payload in place with sendWith, sending only what fill used', () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 1 });
    expect(
      socket.sendWith(
        100,
        (buffer) => {
          expect(buffer.length).toBe(100);
          buffer.set([1, 2, 3, 4]);
          return 4;
        },
        B,
        53,
      ),
    ).toBe(true);
    expect(parseUdp(ip.written[0].bytes, A, B).payload).toEqual(new Uint8Array([1, 2, 3, 4]));
  });

  it('refuses a fill that claims more than it was given', () => {
    const { udp } = setup();
    expect(() => udp.bind({ port: 1 }).sendWith(4, () => 5, B, 53)).toThrow(RangeError);
  });

  it('sends up to 65507 payload bytes and refuses more', () => {
    const { udp } = setup();
    const socket = udp.bind({ port: 1 });
    expect(socket.send(new Uint8Array(UDP_MAX_PAYLOAD_IPV4), B, 53)).toBe(true);
    expect(socket.send(new Uint8Array(UDP_MAX_PAYLOAD_IPV4 + 1), B, 53)).toBe(false);
    expect(socket.stats()['too-large']).toBe(1);
  });

  it('refuses destination port 0', () => {
    const { udp } = setup();
    const socket = udp.bind({ port: 1 });
    expect(socket.send(new Uint8Array(1), B, 0)).toBe(false);
    expect(udp.stats()['bad-port']).toBe(1);
  });

  it('sends to broadcast addresses only from a socket with broadcast: true', () => {
    const { ip, udp } = setup();
    const plain = udp.bind({ port: 1 });
    const directed = parseIpv4('10.0.0.255');
    expect(plain.send(new Uint8Array(1), IPV4_BROADCAST, 67)).toBe(false);
    expect(plain.send(new Uint8Array(1), directed, 67)).toBe(false);
    expect(plain.stats()['broadcast-not-allowed']).toBe(2);
    const caster = udp.bind({ port: 2, broadcast: true });
    expect(caster.send(new Uint8Array(1), IPV4_BROADCAST, 67)).toBe(true);
    expect(caster.send(new Uint8Array(1), directed, 67)).toBe(true);
    expect(ip.written.map((w) => w.destination)).toEqual([IPV4_BROADCAST, directed]);
  });

  it('counts a datagram the IP layer could not send', () => {
    const { ip, udp } = setup();
    ip.accept = false;
    const socket = udp.bind({ port: 1 });
    expect(socket.send(new Uint8Array(1), B, 53)).toBe(false);
    expect(socket.stats()['ip-dropped']).toBe(1);
  });
});

describe('UDP ports', () => {
  it('refuses a second wildcard or overlapping bind with AddressInUse', () => {
    const { udp } = setup();
    udp.bind({ port: 53 });
    expect(() => udp.bind({ port: 53 })).toThrow(AddressInUse);
    expect(() => udp.bind({ port: 53, address: A })).toThrow(AddressInUse);
    udp.bind({ port: 54, address: A });
    udp.bind({ port: 54, address: B });
    expect(() => udp.bind({ port: 54 })).toThrow(AddressInUse);
    expect(() => udp.bind({ port: 54, address: A })).toThrow(AddressInUse);
  });

  it('refuses ports outside 0..65535', () => {
    const { udp } = setup();
    expect(() => udp.bind({ port: 65536 })).toThrow(AddressError);
    expect(() => udp.bind({ port: -1 })).toThrow(AddressError);
    expect(() => udp.bind({ port: 1.5 })).toThrow(AddressError);
  });

  it('picks ephemeral ports in the configured range, randomly, never a bound one (RFC 6056)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.uniqueArray(fc.integer({ min: 49152, max: 49200 }), { maxLength: 40 }), (seed, taken) => {
        const { udp } = setup({ ephemeralPortMin: 49152, ephemeralPortMax: 49200 }, seed);
        for (const port of taken) udp.bind({ port, address: port % 2 === 0 ? IPV4_ANY : A });
        const socket = udp.bind();
        expect(socket.localPort).toBeGreaterThanOrEqual(49152);
        expect(socket.localPort).toBeLessThanOrEqual(49200);
        expect(taken).not.toContain(socket.localPort);
      }),
      { numRuns: 200 },
    );
    const first = new Set<number>();
    for (let seed = 0; seed < 20; seed++) first.add(setup({}, seed).udp.bind().localPort);
    expect(first.size).toBeGreaterThan(15);
  });

  it('throws AddressInUse when every ephemeral port is taken', () => {
    const { udp } = setup({ ephemeralPortMin: 60000, ephemeralPortMax: 60003 });
    const ports = new Set<number>();
    for (let i = 0; i < 4; i++) ports.add(udp.bind().localPort);
    expect([...ports].sort()).toEqual([60000, 60001, 60002, 60003]);
    expect(() => udp.bind()).toThrow(AddressInUse);
  });

  it('throws LimitExceeded past socketLimit', () => {
    const { udp } = setup({ socketLimit: 2 });
    const first = udp.bind();
    udp.bind();
    expect(() => udp.bind()).toThrow(LimitExceeded);
    first.close();
    expect(() => udp.bind()).not.toThrow();
  });

  it('rejects an inverted ephemeral range', () => {
    expect(() => setup({ ephemeralPortMin: 50000, ephemeralPortMax: 40000 })).toThrow(RangeError);
  });
});

describe('ICMP errors for UDP sockets (RFC 1122 4.1.3.3)', () => {
  function icmpError(localPort: number, remotePort: number, type = 3, code = 3): IcmpErrorInfo {
    const header = new Uint8Array(8);
    writeU16(header, 0, localPort);
    writeU16(header, 2, remotePort);
    return { type, code, source: A, destination: B, protocol: 17, transportHeader: header, nextHopMtu: 0, error: new ConnectionRefused() };
  }

  it('counts the error on the socket that sent the datagram and reports it to onError', async () => {
    const { ip, udp } = setup();
    const socket = udp.bind({ port: 4000 });
    const errors: { port: number; address: number; code: string }[] = [];
    socket.onError((e) => errors.push({ port: e.port, address: e.address, code: e.error.code }));
    const pending = socket.receive();
    ip.errorHandler?.(icmpError(4000, 53));
    ip.errorHandler?.(icmpError(4000, 53, 11, 0));
    expect(errors).toEqual([
      { port: 53, address: B, code: 'REFUSED' },
      { port: 53, address: B, code: 'REFUSED' },
    ]);
    expect(socket.stats()).toMatchObject({ 'icmp-errors': 2, 'icmp-unreachable': 1, 'icmp-time-exceeded': 1 });
    // The pending receive is not failed by an error about one peer.
    ip.inject(datagram(4000, new Uint8Array([1])), { source: B, destination: A });
    expect((await pending).data).toEqual(new Uint8Array([1]));
  });

  it('counts errors for no socket and errors too short to name a port', () => {
    const { ip, udp } = setup();
    ip.errorHandler?.(icmpError(4001, 53));
    ip.errorHandler?.({ ...icmpError(4001, 53), transportHeader: new Uint8Array(2) });
    expect(udp.stats()).toMatchObject({ 'icmp-error-no-socket': 1, 'icmp-error-truncated': 1 });
  });
});

describe('UDP between two layers', () => {
  it('carries any datagram unchanged from one socket to the other', () => {
    const left = setup({}, 1);
    const right = new FakeIp('10.0.0.2');
    const rightUdp = createUdp({ ip: right, random: createSeededRandom(2) });
    left.ip.peer = right;
    left.ip.record = false;
    const server = rightUdp.bind({ port: 7 });
    let last: UdpDatagram | undefined;
    server.onMessage((d) => {
      last = { ...d, data: d.data.slice() };
    });
    const client = left.udp.bind();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (data) => {
        last = undefined;
        expect(client.send(data, B, 7)).toBe(true);
        expect(last).toEqual({ data, address: A, port: client.localPort, localAddress: B });
      }),
      { numRuns: 200 },
    );
  });
});

describe('UDP socket table against a model', () => {
  const ADDRESSES = [IPV4_ANY, A, B];
  type Op = { kind: 'bind'; address: Ipv4Address; port: number } | { kind: 'close'; index: number } | { kind: 'probe'; address: Ipv4Address; port: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('bind' as const), address: fc.constantFrom(...ADDRESSES), port: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ kind: fc.constant('close' as const), index: fc.nat() }),
    fc.record({ kind: fc.constant('probe' as const), address: fc.constantFrom(A, B), port: fc.integer({ min: 1, max: 4 }) }),
  );

  it('binds, refuses, unbinds and demultiplexes as a list of (address, port) pairs would', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        // Ports 1-4 explicitly; port 0 draws from a four-port ephemeral range.
        const { ip, udp } = setup({ ephemeralPortMin: 60000, ephemeralPortMax: 60003 });
        const model: { address: Ipv4Address; port: number; id: number }[] = [];
        const sockets = new Map<number, ReturnType<typeof udp.bind>>();
        let nextId = 0;
        let delivered: number | undefined;
        for (const step of ops) {
          if (step.kind === 'bind') {
            const conflicts = (port: number) =>
              model.some((entry) => entry.port === port && (entry.address === IPV4_ANY || step.address === IPV4_ANY || entry.address === step.address));
            const ephemeralFree = [60000, 60001, 60002, 60003].filter((port) => !model.some((entry) => entry.port === port));
            const shouldFail = step.port === 0 ? ephemeralFree.length === 0 : conflicts(step.port);
            if (shouldFail) {
              expect(() => udp.bind({ address: step.address, port: step.port })).toThrow(AddressInUse);
              continue;
            }
            const socket = udp.bind({ address: step.address, port: step.port });
            if (step.port === 0) expect(ephemeralFree).toContain(socket.localPort);
            const id = nextId++;
            socket.onMessage(() => {
              delivered = id;
            });
            model.push({ address: step.address, port: socket.localPort, id });
            sockets.set(id, socket);
          } else if (step.kind === 'close') {
            if (model.length === 0) continue;
            const [entry] = model.splice(step.index % model.length, 1);
            sockets.get(entry.id)?.close();
          } else {
            const exact = model.find((entry) => entry.port === step.port && entry.address === step.address);
            const wildcard = model.find((entry) => entry.port === step.port && entry.address === IPV4_ANY);
            delivered = undefined;
            const source = parseIpv4('10.0.0.9');
            ip.inject(datagram(step.port, new Uint8Array(1), source, step.address), { source, destination: step.address });
            expect(delivered).toBe((exact ?? wildcard)?.id);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
