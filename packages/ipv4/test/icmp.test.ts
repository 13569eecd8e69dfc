import {
  ConnectionRefused,
  IPV4_ANY,
  IPV4_BROADCAST,
  LimitExceeded,
  MAC_BROADCAST,
  TimeoutError,
  UnreachableCode,
  UnreachableError,
  checksumPartial,
  writeU16,
} from '@morgana/core';
import type { IcmpErrorInfo, IpReceiveInfo, Ipv4Address, PingResult } from '@morgana/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IcmpType, Ipv4Packet, createIcmp, emitIcmp, icmpLength, parseIcmp, parseIpv4 } from '../src/index.js';
import type { IcmpRepr, Ipv4Repr } from '../src/index.js';
import { datagram, ip4, makeHost } from './fakes.js';
import type { TestHost } from './fakes.js';

const UDP = 17;

/** An IPv4 datagram carrying the ICMP message `repr`, from 10.0.0.2 to us unless `fields` say otherwise. */
function icmpDatagram(repr: IcmpRepr, fields: Partial<Ipv4Repr> = {}): Uint8Array {
  const message = new Uint8Array(icmpLength(repr));
  emitIcmp(repr, message);
  return datagram({ protocol: 1, ...fields }, message);
}

/** The ICMP messages a host sent, with their IP headers. */
function icmpSent(host: TestHost): { ip: Ipv4Repr; icmp: IcmpRepr; bytes: Uint8Array }[] {
  return [...host.arp.sent, ...host.ethernet.sent]
    .map((frame) => ({ parsed: parseIpv4(frame.bytes), bytes: frame.bytes }))
    .filter(({ parsed }) => parsed.repr.protocol === 1)
    .map(({ parsed, bytes }) => ({ ip: parsed.repr, icmp: parseIcmp(parsed.payload), bytes }));
}

/** A datagram we (10.0.0.1) sent to 10.0.0.9, as a router or the peer would quote it. */
function ourDatagram(protocol: number, transport: Uint8Array, fields: Partial<Ipv4Repr> = {}): Uint8Array {
  return datagram({ source: ip4('10.0.0.1'), destination: ip4('10.0.0.9'), protocol, ...fields }, transport);
}

function infoAbout(bytes: Uint8Array, broadcast = false): IpReceiveInfo {
  const packet = new Ipv4Packet(bytes);
  return {
    source: packet.source,
    destination: packet.destination,
    protocol: packet.protocol,
    ttl: packet.ttl,
    tos: packet.tos,
    broadcast,
    datagram: bytes,
    checksumVerified: false,
  };
}

const udpHeader = new Uint8Array([0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x12, 0x34, 1, 2, 3, 4]);

describe('echo (RFC 792, RFC 1122 §3.2.2.6)', () => {
  it('answers an echo request with the same identifier, sequence and data, from the address it was sent to', () => {
    const host = makeHost();
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    host.ethernet.inject(icmpDatagram({ kind: 'echo-request', identifier: 0x1234, sequence: 7, data }));
    const [reply] = icmpSent(host);
    expect(reply.icmp).toEqual({ kind: 'echo-reply', identifier: 0x1234, sequence: 7, data });
    expect(reply.ip).toMatchObject({ source: ip4('10.0.0.1'), destination: ip4('10.0.0.2') });
    expect(host.icmp.stats()['echo-replies-sent']).toBe(1);
  });

  it('answers a large echo request whose reply must be fragmented', () => {
    const host = makeHost();
    const data = new Uint8Array(4000).map((_, index) => index);
    const message = new Uint8Array(icmpLength({ kind: 'echo-request', identifier: 1, sequence: 1, data }));
    emitIcmp({ kind: 'echo-request', identifier: 1, sequence: 1, data }, message);
    const peer = makeHost({ address: { address: ip4('10.0.0.2'), length: 24 } });
    peer.ip.write(ip4('10.0.0.1'), 1, message.length, (buffer) => {
      buffer.set(message);
      return message.length;
    });
    expect(peer.arp.sent.length).toBe(3);
    for (const frame of peer.arp.sent) host.ethernet.inject(frame.bytes);
    expect(host.arp.sent.length).toBe(3);
    const replies: Uint8Array[] = [];
    peer.ip.register(1, (payload) => replies.push(payload.slice()));
    for (const frame of host.arp.sent) peer.ethernet.inject(frame.bytes);
    expect(parseIcmp(replies[0])).toEqual({ kind: 'echo-reply', identifier: 1, sequence: 1, data });
  });

  it('ignores echo requests to a broadcast address unless configured to answer', () => {
    const quiet = makeHost();
    quiet.ethernet.inject(icmpDatagram({ kind: 'echo-request', identifier: 1, sequence: 1, data: new Uint8Array(0) }, { destination: IPV4_BROADCAST }), { destination: MAC_BROADCAST });
    expect(icmpSent(quiet)).toEqual([]);
    expect(quiet.icmp.stats()['echo-broadcast-ignored']).toBe(1);
    const loud = makeHost({}, { replyToBroadcastEcho: true });
    loud.ethernet.inject(icmpDatagram({ kind: 'echo-request', identifier: 1, sequence: 1, data: new Uint8Array(0) }, { destination: ip4('10.0.0.255') }), { destination: MAC_BROADCAST });
    expect(icmpSent(loud).map(({ ip }) => ip.source)).toEqual([ip4('10.0.0.1')]);
  });

  it('drops a message whose checksum does not verify, and a truncated one', () => {
    const host = makeHost();
    const bytes = icmpDatagram({ kind: 'echo-request', identifier: 1, sequence: 1, data: new Uint8Array(4) });
    bytes[bytes.length - 1] ^= 1;
    host.ethernet.inject(bytes);
    host.ethernet.inject(datagram({ protocol: 1 }, new Uint8Array(5)));
    expect(icmpSent(host)).toEqual([]);
    expect(host.icmp.stats()).toMatchObject({ 'bad-checksum': 1, truncated: 1 });
  });
});

describe('ping', () => {
  /** Answers the last echo request the host sent, as the peer would. */
  function answer(host: TestHost, mutate: (repr: IcmpRepr & { kind: 'echo-reply' }) => Partial<IcmpRepr> = () => ({}), fields: Partial<Ipv4Repr> = {}): void {
    const requests = icmpSent(host).filter(({ icmp }) => icmp.kind === 'echo-request');
    const { ip, icmp } = requests[requests.length - 1];
    if (icmp.kind !== 'echo-request') throw new Error('not an echo request');
    const reply = { ...icmp, kind: 'echo-reply' as const };
    host.ethernet.inject(icmpDatagram({ ...reply, ...mutate(reply) } as IcmpRepr, { source: ip.destination, ttl: 61, ...fields }));
  }

  it('resolves with the round-trip time on the virtual clock, the reply TTL and size', async () => {
    const host = makeHost();
    const result = host.icmp.ping(ip4('10.0.0.9'));
    host.clock.advance(7);
    answer(host);
    await expect(result).resolves.toEqual({ rtt: 7, ttl: 61, size: 56 });
    expect(host.clock.pendingTimers()).toBe(0);
  });

  it('sends the size, TTL and destination asked for', () => {
    const host = makeHost();
    void host.icmp.ping(ip4('8.8.8.8'), { size: 100, ttl: 3 }).catch(() => undefined);
    const [request] = icmpSent(host);
    expect(request.ip).toMatchObject({ destination: ip4('8.8.8.8'), ttl: 3 });
    expect(request.icmp.kind === 'echo-request' && request.icmp.data.length).toBe(100);
    expect(host.arp.sent[0].nextHop).toBe(ip4('10.0.0.254'));
  });

  it('rejects with TimeoutError when no reply comes in time, and leaves no timer', async () => {
    const host = makeHost();
    const result = host.icmp.ping(ip4('10.0.0.9'), { timeout: 500 });
    host.clock.advance(499);
    host.clock.advance(1);
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
    expect(host.clock.pendingTimers()).toBe(0);
    answer(host);
    expect(host.icmp.stats()['echo-unmatched']).toBe(1);
  });

  it('matches replies by identifier, sequence, source and data', async () => {
    const host = makeHost();
    const first = host.icmp.ping(ip4('10.0.0.9'));
    const second = host.icmp.ping(ip4('10.0.0.9'));
    answer(host, (reply) => ({ identifier: reply.identifier ^ 1 }));
    answer(host, () => ({}), { source: ip4('10.0.0.8') });
    answer(host, (reply) => ({ data: reply.data.map((byte) => byte ^ 1) }));
    expect(host.icmp.stats()).toMatchObject({ 'echo-unmatched': 1, 'echo-mismatch': 2 });
    host.clock.advance(3);
    answer(host);
    await expect(second).resolves.toMatchObject({ rtt: 3 });
    host.clock.advance(2000);
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
  });

  it('bounds the number of outstanding pings (maxOutstandingPings)', async () => {
    const host = makeHost({}, { maxOutstandingPings: 2 });
    const pending = [host.icmp.ping(ip4('10.0.0.9')), host.icmp.ping(ip4('10.0.0.9'))];
    await expect(host.icmp.ping(ip4('10.0.0.9'))).rejects.toBeInstanceOf(LimitExceeded);
    expect(host.icmp.stats()['ping-limit']).toBe(1);
    host.clock.advance(1000);
    await Promise.allSettled(pending);
    const again = host.icmp.ping(ip4('10.0.0.9'));
    answer(host);
    await expect(again).resolves.toBeDefined();
  });

  it('rejects at once with UnreachableError when there is no route, and on an ICMP error about the request', async () => {
    const host = makeHost({ gateway: undefined });
    await expect(host.icmp.ping(ip4('8.8.8.8'))).rejects.toBeInstanceOf(UnreachableError);
    const result = host.icmp.ping(ip4('10.0.0.9'));
    const [request] = icmpSent(host);
    host.ethernet.inject(icmpDatagram({ kind: 'destination-unreachable', code: UnreachableCode.host, nextHopMtu: 0, quoted: request.bytes.subarray(0, 28) }, { source: ip4('10.0.0.254') }));
    await expect(result).rejects.toBeInstanceOf(UnreachableError);
    expect(host.clock.pendingTimers()).toBe(0);
  });
});

describe('errors sent (RFC 1122 §3.2.2)', () => {
  it('answers an unknown protocol with Protocol Unreachable quoting the header and 8 bytes', () => {
    const host = makeHost();
    const offending = datagram({ protocol: 99, ttl: 30 }, new Uint8Array(40).fill(0xab));
    host.ethernet.inject(offending);
    const [error] = icmpSent(host);
    expect(error.ip).toMatchObject({ source: ip4('10.0.0.1'), destination: ip4('10.0.0.2') });
    expect(error.icmp).toEqual({ kind: 'destination-unreachable', code: UnreachableCode.protocol, nextHopMtu: 0, quoted: offending });
  });

  it('sends Port Unreachable when a transport asks', () => {
    const host = makeHost();
    host.ip.register(UDP, (_payload, info) => host.icmp.destinationUnreachable(UnreachableCode.port, info));
    const offending = datagram({}, udpHeader);
    host.ethernet.inject(offending);
    expect(icmpSent(host)[0].icmp).toMatchObject({ kind: 'destination-unreachable', code: 3, quoted: offending });
  });

  it('quotes no more than fits a 576-byte datagram (RFC 1812 §4.3.2.3)', () => {
    const host = makeHost();
    const offending = datagram({ protocol: 99 }, new Uint8Array(1000));
    host.ethernet.inject(offending);
    const [error] = icmpSent(host);
    expect(error.bytes.length).toBe(576);
    expect(error.icmp.kind === 'destination-unreachable' && error.icmp.quoted).toEqual(offending.subarray(0, 548));
  });

  it('never sends an error about an ICMP error, but does about an ICMP query', () => {
    const host = makeHost();
    const error = new Uint8Array(36);
    emitIcmp({ kind: 'time-exceeded', code: 0, quoted: new Uint8Array(28) }, error);
    host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({ protocol: 1 }, error)));
    const unknownType = new Uint8Array(8);
    emitIcmp({ kind: 'other', type: 42, code: 0, rest: 0, data: new Uint8Array(0) }, unknownType);
    host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({ protocol: 1 }, unknownType)));
    expect(icmpSent(host)).toEqual([]);
    expect(host.icmp.stats()['error-suppressed-icmp-error']).toBe(2);
    const query = new Uint8Array(8);
    emitIcmp({ kind: 'echo-request', identifier: 1, sequence: 1, data: new Uint8Array(0) }, query);
    host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({ protocol: 1 }, query)));
    expect(icmpSent(host).length).toBe(1);
  });

  it('never sends an error about a broadcast, a multicast, or a link-layer broadcast', () => {
    const host = makeHost();
    for (const destination of ['255.255.255.255', '10.0.0.255', '224.0.0.9']) {
      host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({ destination: ip4(destination) }, udpHeader)));
    }
    host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({}, udpHeader), true));
    host.ethernet.inject(datagram({ destination: IPV4_BROADCAST, protocol: 99 }, udpHeader), { destination: MAC_BROADCAST });
    expect(icmpSent(host)).toEqual([]);
    expect(host.icmp.stats()['error-suppressed-broadcast']).toBe(5);
  });

  it('never sends an error about a fragment other than the first', () => {
    const host = makeHost();
    host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({ fragmentOffset: 8 }, udpHeader)));
    host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({ moreFragments: true }, udpHeader)));
    expect(icmpSent(host).length).toBe(1);
    expect(host.icmp.stats()['error-suppressed-fragment']).toBe(1);
  });

  it('never sends an error about a datagram whose source is not a single host', () => {
    const host = makeHost();
    for (const source of ['0.0.0.0', '127.0.0.1', '240.0.0.1', '10.0.0.255', '10.0.0.0', '224.0.0.1']) {
      host.icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({ source: ip4(source) }, udpHeader)));
    }
    expect(icmpSent(host)).toEqual([]);
    expect(host.icmp.stats()['error-suppressed-source']).toBe(6);
  });

  it('rate-limits errors with a token bucket (errorRate, errorBurst)', () => {
    const host = makeHost({}, { errorRate: 2, errorBurst: 3 });
    const send = (count: number) => {
      for (let i = 0; i < count; i++) host.ethernet.inject(datagram({ protocol: 99, identification: i }));
    };
    send(5);
    expect(icmpSent(host).length).toBe(3);
    expect(host.icmp.stats()['rate-limited']).toBe(2);
    host.clock.advance(500);
    send(2);
    expect(icmpSent(host).length).toBe(4);
    host.clock.advance(10_000);
    send(5);
    expect(icmpSent(host).length).toBe(7);
  });

  it('sends Time Exceeded (code 1) when reassembly times out after fragment 0 arrived (RFC 1122 §3.3.2)', () => {
    const host = makeHost();
    const first = datagram({ moreFragments: true, identification: 1 }, new Uint8Array(16).fill(3));
    host.ethernet.inject(first);
    host.ethernet.inject(datagram({ fragmentOffset: 32, identification: 2 }, new Uint8Array(4)));
    host.clock.advance(30_000);
    const errors = icmpSent(host);
    expect(errors.length).toBe(1);
    expect(errors[0].icmp).toEqual({ kind: 'time-exceeded', code: 1, quoted: first });
    expect(errors[0].ip.destination).toBe(ip4('10.0.0.2'));
  });

  it('sends nothing while unconfigured, having no address to send from', () => {
    const host = makeHost({ address: { address: IPV4_ANY, length: 0 }, gateway: undefined });
    host.ethernet.inject(datagram({ destination: ip4('10.0.0.1'), protocol: 99 }));
    host.ethernet.inject(icmpDatagram({ kind: 'echo-request', identifier: 1, sequence: 1, data: new Uint8Array(0) }));
    expect(icmpSent(host)).toEqual([]);
  });
});

describe('errors received (RFC 1122 §3.2.2.1, §3.2.2.4, §3.2.2.5)', () => {
  function withUdp(): TestHost & { errors: IcmpErrorInfo[] } {
    const host = makeHost();
    const errors: IcmpErrorInfo[] = [];
    host.ip.onIcmpError(UDP, (error) => errors.push(error));
    return { ...host, errors };
  }

  const unreachable = (code: number, quoted: Uint8Array, nextHopMtu = 0): IcmpRepr => ({ kind: 'destination-unreachable', code, nextHopMtu, quoted });

  it('hands Port Unreachable to the transport as ConnectionRefused, with the quoted transport header', () => {
    const host = withUdp();
    host.ethernet.inject(icmpDatagram(unreachable(3, ourDatagram(UDP, udpHeader)), { source: ip4('10.0.0.9') }));
    expect(host.errors.length).toBe(1);
    const [error] = host.errors;
    expect(error).toMatchObject({ type: 3, code: 3, source: ip4('10.0.0.1'), destination: ip4('10.0.0.9'), protocol: UDP, nextHopMtu: 0 });
    expect(error.error).toBeInstanceOf(ConnectionRefused);
    expect(Array.from(error.transportHeader)).toEqual(Array.from(udpHeader));
  });

  it('hands other unreachables, Time Exceeded and Parameter Problem over as UnreachableError', () => {
    const host = withUdp();
    const quoted = ourDatagram(UDP, udpHeader);
    host.ethernet.inject(icmpDatagram(unreachable(1, quoted), { source: ip4('10.0.0.254') }));
    host.ethernet.inject(icmpDatagram({ kind: 'time-exceeded', code: 0, quoted }, { source: ip4('10.0.0.254') }));
    host.ethernet.inject(icmpDatagram({ kind: 'parameter-problem', code: 0, pointer: 4, quoted }, { source: ip4('10.0.0.254') }));
    expect(host.errors.map((error) => [error.type, error.error instanceof UnreachableError])).toEqual([
      [3, true],
      [11, true],
      [12, true],
    ]);
  });

  it('passes on the next-hop MTU of "fragmentation needed" (RFC 1191 §4)', () => {
    const host = withUdp();
    host.ethernet.inject(icmpDatagram(unreachable(4, ourDatagram(UDP, udpHeader, { dontFragment: true }), 1280), { source: ip4('10.0.0.254') }));
    expect(host.errors[0]).toMatchObject({ code: 4, nextHopMtu: 1280 });
  });

  it('drops errors whose quote is not one of our datagrams or is too short (RFC 5927 §4.1)', () => {
    const host = withUdp();
    host.ethernet.inject(icmpDatagram(unreachable(3, ourDatagram(UDP, udpHeader, { source: ip4('10.0.0.5') }))));
    host.ethernet.inject(icmpDatagram(unreachable(3, ourDatagram(UDP, udpHeader).subarray(0, 27))));
    host.ethernet.inject(icmpDatagram(unreachable(3, ourDatagram(UDP, udpHeader, { fragmentOffset: 8 }))));
    host.ethernet.inject(icmpDatagram(unreachable(3, new Uint8Array(30))));
    expect(host.errors).toEqual([]);
    expect(host.icmp.stats()).toMatchObject({ 'error-not-ours': 1, 'error-bad-quote': 3 });
  });

  it('counts errors for a protocol no transport listens to', () => {
    const host = withUdp();
    host.ethernet.inject(icmpDatagram(unreachable(3, ourDatagram(6, udpHeader))));
    expect(host.icmp.stats()['error-no-handler']).toBe(1);
  });

  it('ignores Source Quench (RFC 6633) and Redirect', () => {
    const host = withUdp();
    const quoted = ourDatagram(UDP, udpHeader);
    host.ethernet.inject(icmpDatagram({ kind: 'other', type: IcmpType.sourceQuench, code: 0, rest: 0, data: quoted }));
    host.ethernet.inject(icmpDatagram({ kind: 'other', type: IcmpType.redirect, code: 1, rest: ip4('10.0.0.66'), data: quoted }));
    expect(host.errors).toEqual([]);
    expect(host.icmp.stats()).toMatchObject({ 'source-quench-ignored': 1, 'redirect-ignored': 1 });
    host.ip.write(ip4('8.8.8.8'), UDP, 0, () => 0);
    expect(host.arp.sent[host.arp.sent.length - 1].nextHop).toBe(ip4('10.0.0.254'));
  });

  it('never throws on arbitrary ICMP messages', () => {
    const host = withUdp();
    const results: Promise<PingResult>[] = [];
    for (let i = 0; i < 8; i++) results.push(host.icmp.ping(ip4('10.0.0.9'), { timeout: 100_000 }));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 255 }),
        fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.constant(ourDatagram(UDP, udpHeader)), fc.constant(ourDatagram(1, new Uint8Array(8)))),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.boolean(),
        (type, code, data, rest, broadcast) => {
          const message = new Uint8Array(8 + data.length);
          message[0] = type;
          message[1] = code;
          message[4] = rest >>> 24;
          message[5] = rest >>> 16;
          message[6] = rest >>> 8;
          message[7] = rest;
          message.set(data, 8);
          writeU16(message, 2, ~checksumPartial(message) & 0xffff);
          const bytes = datagram({ protocol: 1, destination: broadcast ? IPV4_BROADCAST : ip4('10.0.0.1') }, message);
          expect(() => host.ethernet.inject(bytes, broadcast ? { destination: MAC_BROADCAST } : {})).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
    host.clock.advance(100_000);
    return Promise.allSettled(results);
  });
});

describe('with a foreign IP layer', () => {
  it('still pings and sends errors through any Ipv4 implementation', () => {
    const host = makeHost();
    const sent: { destination: Ipv4Address; bytes: Uint8Array }[] = [];
    const foreign = {
      ...host.ip,
      address: () => host.ip.address(),
      config: () => host.ip.config(),
      sourceFor: () => ip4('10.0.0.1'),
      register: () => undefined,
      write: (destination: Ipv4Address, _protocol: number, size: number, fill: (buffer: Uint8Array) => number) => {
        const buffer = new Uint8Array(size);
        sent.push({ destination, bytes: buffer.subarray(0, fill(buffer)) });
        return true;
      },
    };
    const icmp = createIcmp({ ip: foreign, clock: host.clock });
    void icmp.ping(ip4('10.0.0.9')).catch(() => undefined);
    icmp.destinationUnreachable(UnreachableCode.port, infoAbout(datagram({}, udpHeader)));
    expect(sent.map(({ bytes }) => parseIcmp(bytes).kind)).toEqual(['echo-request', 'destination-unreachable']);
    host.clock.advance(1000);
  });
});
