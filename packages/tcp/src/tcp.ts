/**
 * The TCP layer: demultiplexes segments to connections and listeners, answers segments for
 * closed ports with resets (RFC 9293 §3.10.7.1), runs listeners with a backlog and SYN
 * cookies, picks ephemeral ports (RFC 6056), and surfaces ICMP errors to connections.
 */
import {
  AddressError,
  AddressInUse,
  ClosedError,
  CounterSet,
  DecodeError,
  LimitExceeded,
  randomBelow,
  readU16,
  readU32,
} from '@morgana/core';
import type {
  Clock,
  Counters,
  IcmpErrorInfo,
  Ip,
  IpReceiveInfo,
  Ipv4Address,
  Random,
  Tcp,
  TcpConnectOptions,
  TcpFlow,
  TcpListenOptions,
  TcpListener,
} from '@morgana/core';
import { resolveTcpConfig } from './config.js';
import type { ResolvedTcpConfig, TcpConfig } from './config.js';
import { createCubic } from './congestion/cubic.js';
import { createNewReno } from './congestion/newreno.js';
import type { CongestionControl } from './congestion/types.js';
import { Connection, windowShiftFor } from './connection.js';
import type { ConnectionHost, ListenerRef } from './connection.js';
import {
  SYN_COOKIE_MSS,
  cookieMssIndex,
  createSequenceSecrets,
  decodeCookieTimestamp,
  encodeCookieTimestamp,
} from './isn.js';
import { seqAdd, seqGt } from './seq.js';
import { resetFor } from './state.js';
import { TCP_HEADER_LENGTH, TCP_PROTOCOL, TcpField, TcpFlag, emitTcpHeader, fillTcpChecksum, parseTcp, scratchTcpRepr, tcpOptionsLength } from './wire.js';
import type { MutableTcpRepr, TcpChecksumContext, TcpRepr } from './wire.js';

/** What {@link createTcp} needs from below. */
export interface TcpDependencies {
  readonly ip: Ip;
  readonly clock: Clock;
  readonly random: Random;
}

/** The RFC 9293 §3.7.1 default MSS for a peer that sends no MSS option. */
const DEFAULT_MSS = 536;


/** A listening port. */
class Listener implements TcpListener, ListenerRef {
  readonly port: number;
  readonly address: Ipv4Address | undefined;
  readonly backlog: number;
  readonly onConnection: ((flow: TcpFlow) => void) | undefined;
  /** Established connections not yet accepted. */
  readonly queue: Connection[] = [];
  readonly waiters: { resolve: (flow: TcpFlow) => void; reject: (error: Error) => void }[] = [];
  /** Connections in SYN-RECEIVED. */
  halfOpen = 0;
  closed = false;
  private readonly onClose: (listener: Listener) => void;

  constructor(port: number, options: TcpListenOptions, defaultBacklog: number, onClose: (listener: Listener) => void) {
    this.port = port;
    this.address = options.address;
    this.backlog = options.backlog ?? defaultBacklog;
    this.onConnection = options.onConnection;
    this.onClose = onClose;
  }

  /** Half-open plus unaccepted: what the backlog bounds. */
  get pending(): number {
    return this.halfOpen + this.queue.length;
  }

  accept(): Promise<TcpFlow> {
    const next = this.queue.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.closed) return Promise.reject(new ClosedError('the listener is closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    for (const waiter of this.waiters.splice(0)) waiter.reject(new ClosedError('the listener is closed'));
    // Connections nobody accepted are reset, as a closing listening socket does.
    for (const connection of this.queue.splice(0)) connection.abort();
  }
}

/** The TCP layer as this package makes it: the core {@link Tcp} plus closing the whole layer. */
export interface TcpLayer extends Tcp {
  /**
   * Closes every listener and connection: peers get a reset, and pending accepts, reads and
   * writes fail with `ClosedError`. Later listens and connects fail too. Idempotent.
   */
  close(): void;
}

/** Throws AddressError unless `port` is 0-65535 (0 only where `allowZero`). */
function checkPort(port: number, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65_535) throw new AddressError(`not a TCP port: ${port}`);
}

/** Creates a TCP layer over `deps.ip`, registered for protocol 6. */
export function createTcp(deps: TcpDependencies, config?: TcpConfig): TcpLayer {
  const { ip, clock, random } = deps;
  const resolved: ResolvedTcpConfig = resolveTcpConfig(config);
  const counters = new CounterSet();
  const secrets = createSequenceSecrets(random);
  /** localPort → (remoteAddress·2^16 + remotePort) → connection (chained by local address). */
  const table = new Map<number, Map<number, Connection>>();
  const listeners = new Map<number, Listener>();
  let connectionCount = 0;
  let challengeWindowStart = -Infinity;
  let challengeCount = 0;
  const rcvWscale = resolved.windowScaling ? windowShiftFor(resolved.receiveBufferSize) : 0;

  const lookup = (local: Ipv4Address, localPort: number, remote: Ipv4Address, remotePort: number): Connection | undefined => {
    const ports = table.get(localPort);
    if (ports === undefined) return undefined;
    let connection = ports.get(remote * 65536 + remotePort);
    while (connection !== undefined && connection.localAddress !== local) connection = connection.next;
    return connection;
  };

  const insert = (connection: Connection): void => {
    let ports = table.get(connection.localPort);
    if (ports === undefined) {
      ports = new Map();
      table.set(connection.localPort, ports);
    }
    const key = connection.remoteAddress * 65536 + connection.remotePort;
    connection.next = ports.get(key);
    ports.set(key, connection);
    connectionCount++;
  };

  const remove = (connection: Connection): void => {
    const ports = table.get(connection.localPort);
    if (ports === undefined) return;
    const key = connection.remoteAddress * 65536 + connection.remotePort;
    let head = ports.get(key);
    if (head === connection) {
      head = connection.next;
      if (head === undefined) ports.delete(key);
      else ports.set(key, head);
    } else {
      while (head !== undefined && head.next !== connection) head = head.next;
      if (head === undefined) return;
      head.next = connection.next;
    }
    connection.next = undefined;
    connectionCount--;
    if (ports.size === 0) table.delete(connection.localPort);
  };

  // The time of the event being handled, read once per event: clock reads cost.
  let nowCache = 0;
  let depth = 0;
  const enter = (): void => {
    if (depth++ === 0) nowCache = clock.now();
  };
  const leave = (): void => {
    depth--;
  };

  const host: ConnectionHost = {
    config: resolved,
    clock,
    ip,
    counters,
    traffic: { segmentsSent: 0, segmentsReceived: 0 },
    now: () => (depth > 0 ? nowCache : clock.now()),
    enter,
    leave,
    createCongestionControl(mss: number, now: number, sack: boolean): CongestionControl {
      const choice = resolved.congestionControl;
      if (choice === 'newreno') return createNewReno({ mss, now, sack });
      if (choice === 'cubic') return createCubic({ mss, now, sack });
      return choice({ mss, now, sack });
    },
    allowChallengeAck(): boolean {
      const now = clock.now();
      if (now - challengeWindowStart >= 1000) {
        challengeWindowStart = now;
        challengeCount = 0;
      }
      if (challengeCount >= resolved.challengeAckLimit) return false;
      challengeCount++;
      return true;
    },
    established(connection: Connection): void {
      const listener = connection.listener as Listener;
      if (connection.halfOpen) {
        connection.halfOpen = false;
        listener.halfOpen--;
      }
      if (listener.closed) {
        connection.abort();
        return;
      }
      counters.add('connections-accepted');
      if (listener.onConnection !== undefined) {
        listener.onConnection(connection);
        return;
      }
      const waiter = listener.waiters.shift();
      if (waiter !== undefined) waiter.resolve(connection);
      else listener.queue.push(connection);
    },
    closed(connection: Connection): void {
      remove(connection);
      const listener = connection.listener as Listener | undefined;
      if (listener !== undefined) {
        if (connection.halfOpen) {
          connection.halfOpen = false;
          listener.halfOpen--;
        }
        const queued = listener.queue.indexOf(connection);
        if (queued >= 0) listener.queue.splice(queued, 1);
      }
    },
  };

  // Stateless replies (resets for closed ports, SYN-cookie SYN-ACKs): one scratch header and fill.
  const reply: MutableTcpRepr = scratchTcpRepr();
  let replySource = 0 as Ipv4Address;
  let replyDestination = 0 as Ipv4Address;
  const fillReply = (buffer: Uint8Array): number => {
    const length = emitTcpHeader(reply, buffer);
    if (!ip.txChecksumOffload) fillTcpChecksum(buffer, length, replySource, replyDestination);
    return length;
  };
  const sendReply = (source: Ipv4Address, destination: Ipv4Address): void => {
    replySource = source;
    replyDestination = destination;
    host.traffic.segmentsSent++;
    // With checksum offload the IP layer seeds the field for the device (see connection.ts).
    const options = ip.txChecksumOffload ? { source, checksumOffset: TcpField.checksum } : { source };
    if (!ip.write(destination, TCP_PROTOCOL, TCP_HEADER_LENGTH + tcpOptionsLength(reply), fillReply, options)) {
      counters.add('ip-write-failed');
    }
  };
  const clearReplyOptions = (): void => {
    reply.mss = undefined;
    reply.windowScale = undefined;
    reply.sackPermitted = false;
    reply.tsVal = undefined;
    reply.tsEcr = undefined;
    reply.window = 0;
  };

  /** RFC 9293 §3.10.7.1: a segment for no connection is answered with a reset (never a reset for a reset). */
  const sendResetFor = (segment: TcpRepr, info: IpReceiveInfo): void => {
    const rst = resetFor(segment.flags, segment.seq, segment.ack, segment.payload.length);
    if (rst === undefined) return;
    counters.add('resets-sent');
    clearReplyOptions();
    reply.sourcePort = segment.destinationPort;
    reply.destinationPort = segment.sourcePort;
    reply.seq = rst.seq;
    reply.ack = rst.ack;
    reply.flags = rst.flags;
    sendReply(info.destination, info.source);
  };

  const tsNow = (offset: number): number => (Math.floor(clock.now()) + offset) >>> 0;

  /** A SYN answered without state: the cookie is our ISN (Linux-style encoding in isn.ts). */
  const sendCookie = (segment: TcpRepr, info: IpReceiveInfo): void => {
    const routeMss = ip.mtu(info.source) - TCP_HEADER_LENGTH;
    const mssIndex = cookieMssIndex(Math.min(segment.mss ?? DEFAULT_MSS, routeMss));
    const now = clock.now();
    const cookie = secrets.cookie(now, info.destination, segment.destinationPort, info.source, segment.sourcePort, segment.seq, mssIndex);
    counters.add('syn-cookies-sent');
    clearReplyOptions();
    reply.sourcePort = segment.destinationPort;
    reply.destinationPort = segment.sourcePort;
    reply.seq = cookie;
    reply.ack = seqAdd(segment.seq, 1);
    reply.flags = TcpFlag.syn | TcpFlag.ack;
    reply.window = Math.min(resolved.receiveBufferSize, 0xffff);
    reply.mss = Math.min(resolved.mss, routeMss);
    // Without timestamps there is nowhere to keep window scale and SACK: the cookie connection goes without.
    if (resolved.timestamps && segment.tsVal !== undefined) {
      const peerScale = resolved.windowScaling ? segment.windowScale : undefined;
      const sack = resolved.sack && segment.sackPermitted;
      const offset = secrets.timestampOffset(info.destination, info.source);
      reply.tsVal = encodeCookieTimestamp(tsNow(offset), peerScale === undefined ? undefined : Math.min(peerScale, 14), sack);
      reply.tsEcr = segment.tsVal;
      reply.sackPermitted = sack;
      reply.windowScale = peerScale === undefined ? undefined : rcvWscale;
    }
    sendReply(info.destination, info.source);
  };

  /** An ACK for a listener with no half-open connection: a returning SYN cookie, or garbage. */
  const acceptCookie = (listener: Listener, segment: TcpRepr, info: IpReceiveInfo): boolean => {
    const iss = (segment.ack - 1) >>> 0;
    const irs = (segment.seq - 1) >>> 0;
    const index = secrets.checkCookie(clock.now(), info.destination, segment.destinationPort, info.source, segment.sourcePort, irs, iss);
    if (index < 0) {
      counters.add('syn-cookie-invalid');
      return false;
    }
    if (connectionCount >= resolved.maxConnections) {
      counters.add('connection-limit');
      return true;
    }
    if (listener.queue.length >= listener.backlog) {
      counters.add('accept-queue-full');
      return true;
    }
    let windowScale: number | undefined;
    let sackPermitted = false;
    let tsVal: number | undefined;
    if (resolved.timestamps && segment.tsEcr !== undefined && segment.tsVal !== undefined) {
      const options = decodeCookieTimestamp(segment.tsEcr);
      windowScale = options.windowScale;
      sackPermitted = options.sackPermitted;
      tsVal = segment.tsVal;
    }
    counters.add('syn-cookies-accepted');
    const connection = new Connection(host, info.destination, segment.destinationPort, info.source, segment.sourcePort);
    insert(connection);
    connection.openFromCookie(
      iss,
      irs,
      secrets.timestampOffset(info.destination, info.source),
      { mss: SYN_COOKIE_MSS[index], windowScale, sackPermitted, tsVal },
      rcvWscale,
      listener,
    );
    if (connection.state !== 'CLOSED') connection.receive(segment);
    return true;
  };

  const listenerInput = (segment: TcpRepr, info: IpReceiveInfo, minIss: number | undefined): void => {
    let listener = listeners.get(segment.destinationPort);
    if (listener !== undefined && listener.address !== undefined && listener.address !== info.destination) listener = undefined;
    const flags = segment.flags;
    if (listener === undefined) {
      counters.add('no-listener');
      sendResetFor(segment, info);
      return;
    }
    // RFC 9293 §3.10.7.2: in LISTEN, a RST is ignored, an ACK is answered with a reset
    // (unless it returns a SYN cookie), and only a SYN opens a connection.
    if ((flags & TcpFlag.rst) !== 0) {
      counters.add('listen-rst');
      return;
    }
    if ((flags & TcpFlag.ack) !== 0) {
      if ((flags & TcpFlag.syn) === 0 && resolved.synCookies && acceptCookie(listener, segment, info)) return;
      counters.add('listen-bad-ack');
      sendResetFor(segment, info);
      return;
    }
    if ((flags & TcpFlag.syn) === 0) {
      counters.add('listen-no-syn');
      return;
    }
    if (listener.pending >= listener.backlog) {
      if (resolved.synCookies) {
        sendCookie(segment, info);
      } else {
        counters.add('backlog-full');
      }
      return;
    }
    if (connectionCount >= resolved.maxConnections) {
      counters.add('connection-limit');
      return;
    }
    const now = clock.now();
    let iss = secrets.isn(now, info.destination, segment.destinationPort, info.source, segment.sourcePort);
    // RFC 6191 / RFC 9293 §3.4.1: a reused 4-tuple starts above the old incarnation's sequence space.
    if (minIss !== undefined && !seqGt(iss, minIss)) iss = minIss;
    const connection = new Connection(host, info.destination, segment.destinationPort, info.source, segment.sourcePort);
    insert(connection);
    connection.halfOpen = true;
    listener.halfOpen++;
    counters.add('passive-opens');
    connection.openPassive(iss, secrets.timestampOffset(info.destination, info.source), segment, listener);
  };

  /**
   * RFC 6191 (and RFC 9293 §3.6.1): a SYN may reopen a 4-tuple in TIME-WAIT when its timestamp
   * is newer than the last one seen, or, without timestamps, when its sequence number is above
   * the old connection's.
   */
  const timeWaitAcceptsSyn = (connection: Connection, segment: TcpRepr): boolean => {
    const lastTimestamp = connection.timeWaitTimestamp();
    if (lastTimestamp !== undefined && segment.tsVal !== undefined) return seqGt(segment.tsVal, lastTimestamp);
    return seqGt(segment.seq, connection.rcvNxt);
  };

  const context: { -readonly [K in keyof TcpChecksumContext]: TcpChecksumContext[K] } = { source: 0 as Ipv4Address, destination: 0 as Ipv4Address };

  const input = (payload: Uint8Array, info: IpReceiveInfo): void => {
    host.traffic.segmentsReceived++;
    if (info.broadcast) {
      // RFC 1122 4.2.3.10: TCP never talks to broadcast or multicast addresses.
      counters.add('broadcast');
      return;
    }
    let segment: TcpRepr;
    try {
      if (info.checksumVerified) {
        segment = parseTcp(payload);
      } else {
        context.source = info.source;
        context.destination = info.destination;
        segment = parseTcp(payload, context);
      }
    } catch (error) {
      if (error instanceof DecodeError) {
        counters.add(error.reason);
        return;
      }
      throw error;
    }
    const connection = lookup(info.destination, segment.destinationPort, info.source, segment.sourcePort);
    if (connection === undefined) {
      listenerInput(segment, info, undefined);
      return;
    }
    const flags = segment.flags;
    if (
      connection.state === 'TIME-WAIT' &&
      (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst)) === TcpFlag.syn &&
      timeWaitAcceptsSyn(connection, segment)
    ) {
      counters.add('time-wait-reused');
      const minIss = seqAdd(connection.sndMax, 65_536);
      connection.discard();
      listenerInput(segment, info, minIss);
      return;
    }
    connection.receive(segment);
  };

  ip.register(TCP_PROTOCOL, (payload: Uint8Array, info: IpReceiveInfo) => {
    enter();
    try {
      input(payload, info);
    } finally {
      leave();
    }
  });

  ip.onIcmpError(TCP_PROTOCOL, (error: IcmpErrorInfo) => {
    const header = error.transportHeader;
    if (header.length < 8) {
      counters.add('icmp-truncated');
      return;
    }
    const connection = lookup(error.source, readU16(header, 0), error.destination, readU16(header, 2));
    if (connection === undefined) {
      counters.add('icmp-no-connection');
      return;
    }
    connection.icmpError(error.type, error.code, readU32(header, 4), error.nextHopMtu, error.error);
  });

  const pickListenPort = (): number => {
    const min = resolved.ephemeralPortMin;
    const count = resolved.ephemeralPortMax - min + 1;
    const start = randomBelow(random, count);
    for (let i = 0; i < count; i++) {
      const port = min + ((start + i) % count);
      if (!listeners.has(port) && !table.has(port)) return port;
    }
    return -1;
  };

  const pickPort = (local: Ipv4Address, remote: Ipv4Address, remotePort: number): number => {
    // RFC 6056 §3.3.1 (Algorithm 1): a random start, then the next free port.
    const min = resolved.ephemeralPortMin;
    const count = resolved.ephemeralPortMax - min + 1;
    const start = randomBelow(random, count);
    for (let i = 0; i < count; i++) {
      const port = min + ((start + i) % count);
      if (listeners.has(port)) continue;
      if (lookup(local, port, remote, remotePort) === undefined) return port;
    }
    return -1;
  };

  let layerClosed = false;

  return {
    listen(requested: number, options: TcpListenOptions = {}): TcpListener {
      checkPort(requested, true);
      if (layerClosed) throw new ClosedError('the TCP layer is closed');
      // Port 0 picks a free port from the ephemeral range, as bind(2) does.
      const port = requested === 0 ? pickListenPort() : requested;
      if (port < 0) throw new AddressInUse('no free port to listen on');
      if (listeners.has(port)) throw new AddressInUse(`TCP port ${port} is already listening`);
      const listener = new Listener(port, options, resolved.defaultBacklog, (closed) => {
        if (listeners.get(closed.port) === closed) listeners.delete(closed.port);
      });
      listeners.set(port, listener);
      return listener;
    },

    async connect(address: Ipv4Address, port: number, options: TcpConnectOptions = {}): Promise<TcpFlow> {
      checkPort(port, false);
      if (layerClosed) throw new ClosedError('the TCP layer is closed');
      if (connectionCount >= resolved.maxConnections) {
        counters.add('connection-limit');
        throw new LimitExceeded('maxConnections', `${connectionCount} connections open (maxConnections)`);
      }
      const local = ip.sourceFor(address);
      let localPort = options.localPort ?? 0;
      if (localPort !== 0) {
        if (lookup(local, localPort, address, port) !== undefined) throw new AddressInUse(`${localPort} to ${port} is in use`);
      } else {
        localPort = pickPort(local, address, port);
        if (localPort < 0) throw new AddressInUse('no free ephemeral port toward this destination');
      }
      const connection = new Connection(host, local, localPort, address, port);
      insert(connection);
      if (options.noDelay === true) connection.setNoDelay(true);
      counters.add('active-opens');
      const iss = secrets.isn(clock.now(), local, localPort, address, port);
      await connection.openActive(iss, secrets.timestampOffset(local, address), options.timeout ?? resolved.connectTimeout);
      return connection;
    },

    close(): void {
      if (layerClosed) return;
      layerClosed = true;
      for (const listener of [...listeners.values()]) listener.close();
      for (const ports of [...table.values()]) {
        for (const first of [...ports.values()]) {
          for (let connection: Connection | undefined = first; connection !== undefined; ) {
            const next: Connection | undefined = connection.next;
            connection.closeForLayer();
            connection = next;
          }
        }
      }
    },

    stats(): Counters {
      return {
        ...counters.snapshot(),
        'segments-received': host.traffic.segmentsReceived,
        'segments-sent': host.traffic.segmentsSent,
        connections: connectionCount,
        listeners: listeners.size,
      };
    },
  };
}
