/**
 * A stub resolver over any stack's `Udp`/`Tcp`: a random id and a fresh random source port
 * per query (RFC 5452 §9), retries and timeouts from the injected clock, TCP when the answer
 * comes back truncated (RFC 7766 §5), and validation of every response (source, id, question)
 * before it is believed.
 */
import { type Clock, type Counters, CounterSet, DecodeError, type Ipv4Address, type Random, type Tcp, TimeoutError, type Udp, type UdpSocket } from '@morgana/core';
import { type DnsName, nameEquals, parseName } from './name.js';
import { type DnsMessage, Opcode, RrClass } from './types.js';
import { decodeMessage, encodeMessage, MAX_MESSAGE_LENGTH } from './wire.js';

/** A server to ask. */
export interface NameServer {
  readonly address: Ipv4Address;
  /** Default 53. */
  readonly port?: number;
}

/** Configuration of {@link StubResolver}. */
export interface StubResolverConfig {
  readonly servers: readonly NameServer[];
  /** Wait for one UDP answer, ms; doubles per round. Default 1000. */
  readonly timeout?: number;
  /** Rounds over the server list before giving up. Default 3. */
  readonly attempts?: number;
  /** EDNS UDP payload size we advertise; 0 sends no OPT. Default 1232. */
  readonly ednsPayloadSize?: number;
  /** Time limit for a TCP exchange, ms. Default 5000. */
  readonly tcpTimeout?: number;
}

/** Options of one query. */
export interface QueryOptions {
  readonly class?: number;
  /** Recursion desired; default true (a stub asks a recursive server). */
  readonly recursionDesired?: boolean;
  readonly dnssecOk?: boolean;
  /** Ask over TCP from the start. */
  readonly tcp?: boolean;
}

/** A stub resolver. */
export class StubResolver {
  private readonly counters = new CounterSet();

  constructor(
    private readonly deps: { readonly udp: Udp; readonly tcp?: Tcp; readonly clock: Clock; readonly random: Random },
    private readonly config: StubResolverConfig,
  ) {
    if (config.servers.length === 0) throw new RangeError('a resolver needs at least one server');
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  /** Asks for `name`/`type`; rejects with `TimeoutError` when no server answers. */
  async query(name: DnsName | string, type: number, options: QueryOptions = {}): Promise<DnsMessage> {
    const qname = typeof name === 'string' ? parseName(name.endsWith('.') ? name : name + '.') : name;
    const request = (id: number): DnsMessage => ({
      id,
      flags: { qr: false, opcode: Opcode.QUERY, aa: false, tc: false, rd: options.recursionDesired ?? true, ra: false, ad: false, cd: false },
      rcode: 0,
      questions: [{ name: qname, type, class: options.class ?? RrClass.IN }],
      answers: [],
      authorities: [],
      additionals: [],
      edns:
        (this.config.ednsPayloadSize ?? 1232) === 0
          ? undefined
          : { udpPayloadSize: this.config.ednsPayloadSize ?? 1232, version: 0, dnssecOk: options.dnssecOk ?? false, options: [] },
    });
    const attempts = this.config.attempts ?? 3;
    let timeout = this.config.timeout ?? 1000;
    for (let round = 0; round < attempts; round++) {
      for (const server of this.config.servers) {
        const id = this.deps.random.uint32() & 0xffff;
        const message = request(id);
        if (options.tcp === true) {
          const answer = await this.viaTcp(server, message).catch(() => undefined);
          if (answer !== undefined) return answer;
          continue;
        }
        const answer = await this.viaUdp(server, message, timeout);
        if (answer === undefined) continue;
        if (!answer.flags.tc || this.deps.tcp === undefined) return answer;
        this.counters.add('truncated-retry-tcp');
        const full = await this.viaTcp(server, request(this.deps.random.uint32() & 0xffff)).catch(() => undefined);
        if (full !== undefined) return full;
      }
      timeout *= 2;
    }
    throw new TimeoutError(`no answer for ${typeof name === 'string' ? name : qname.join('.')} from ${this.config.servers.length} server(s) after ${attempts} rounds`);
  }

  /** True when `answer` answers `request`: QR set, same id, same question (RFC 5452 §4.2). */
  private matches(request: DnsMessage, answer: DnsMessage): boolean {
    const q = request.questions[0];
    const a = answer.questions[0];
    return answer.flags.qr && answer.id === request.id && a !== undefined && a.type === q.type && a.class === q.class && nameEquals(a.name, q.name);
  }

  private viaUdp(server: NameServer, request: DnsMessage, timeout: number): Promise<DnsMessage | undefined> {
    const port = server.port ?? 53;
    let socket: UdpSocket;
    try {
      socket = this.deps.udp.bind({});
    } catch {
      this.counters.add('bind-failed');
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimer(timeout, () => {
        this.counters.add('timeout');
        socket.close();
        resolve(undefined);
      });
      socket.onMessage((datagram) => {
        if (datagram.address !== server.address || datagram.port !== port) {
          this.counters.add('wrong-source');
          return;
        }
        let answer: DnsMessage;
        try {
          answer = decodeMessage(datagram.data);
        } catch (error) {
          this.counters.add(`malformed-${error instanceof DecodeError ? error.reason : 'unknown'}`);
          return;
        }
        if (!this.matches(request, answer)) {
          this.counters.add('mismatch');
          return;
        }
        timer.cancel();
        socket.close();
        this.counters.add('answers');
        resolve(answer);
      });
      if (!socket.send(encodeMessage(request), server.address, port)) this.counters.add('send-failed');
    });
  }

  private async viaTcp(server: NameServer, request: DnsMessage): Promise<DnsMessage> {
    const tcp = this.deps.tcp;
    if (tcp === undefined) throw new TimeoutError('no TCP for this resolver');
    const limit = this.config.tcpTimeout ?? 5000;
    const flow = await tcp.connect(server.address, server.port ?? 53, { timeout: limit });
    const timer = this.deps.clock.setTimer(limit, () => flow.abort());
    try {
      const bytes = encodeMessage(request, { maxSize: MAX_MESSAGE_LENGTH });
      const framed = new Uint8Array(bytes.length + 2);
      framed[0] = bytes.length >>> 8;
      framed[1] = bytes.length;
      framed.set(bytes, 2);
      await flow.write(framed);
      let buffer = new Uint8Array(0);
      for (;;) {
        const chunk = await flow.read();
        if (chunk === null) throw new DecodeError('truncated', 'the server closed the connection before answering');
        const joined = new Uint8Array(buffer.length + chunk.length);
        joined.set(buffer);
        joined.set(chunk, buffer.length);
        buffer = joined;
        if (buffer.length < 2) continue;
        const length = (buffer[0] << 8) | buffer[1];
        if (buffer.length < 2 + length) continue;
        const answer = decodeMessage(buffer.subarray(2, 2 + length));
        if (!this.matches(request, answer)) throw new DecodeError('mismatch', 'the TCP answer does not match the question');
        this.counters.add('answers-tcp');
        return answer;
      }
    } finally {
      timer.cancel();
      void flow.close().catch(() => undefined);
    }
  }
}
