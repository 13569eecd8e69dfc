/**
 * ICMPv4 for a host (RFC 792, RFC 1122 §3.2.2): echo replies, ping, the errors transports and
 * the IP layer ask for (rate-limited and only where RFC 1122 allows them), and incoming
 * errors handed to the transport whose datagram caused them.
 */
import {
  ConnectionRefused,
  CounterSet,
  IPV4_ANY,
  IPV4_BROADCAST,
  IpProtocol,
  LimitExceeded,
  TimeoutError,
  UnreachableCode,
  UnreachableError,
  broadcastAddress,
  formatIpv4,
  isLoopbackIpv4,
  isMulticastIpv4,
  networkAddress,
  readU16,
  updateChecksum16,
  writeU16,
  writeU32,
} from '@morgana/core';
import type {
  Clock,
  Counters,
  Icmp,
  IcmpErrorInfo,
  Ipv4,
  Ipv4Address,
  IpReceiveInfo,
  MorganaError,
  PingOptions,
  PingResult,
  Random,
  Timer,
} from '@morgana/core';
import { type Ipv4IcmpHooks, icmpHooksOf } from './hooks.js';
import { ICMP_HEADER_LENGTH, IcmpField, IcmpPacket, IcmpType, TimeExceededCode, isIcmpQueryType } from './icmp-wire.js';
import { TokenBucket } from './rate-limit.js';
import { IPV4_HEADER_LENGTH, IPV4_MAX_LENGTH, Ipv4Packet } from './wire.js';

/** Configuration of {@link createIcmp}. Every field is optional. */
export interface IcmpConfig {
  /**
   * Answer echo requests sent to a broadcast or multicast address. Default false: RFC 1122
   * §3.2.2.6 allows silence, and answering makes the host a "smurf" amplifier.
   */
  readonly replyToBroadcastEcho?: boolean;
  /** ICMP errors sent per second on average (RFC 1812 §4.3.2.8 token bucket); default 100. */
  readonly errorRate?: number;
  /** ICMP errors that may be sent back to back; default 20. */
  readonly errorBurst?: number;
  /** Pings awaiting their reply at once; a further `ping()` rejects with `LimitExceeded`. Default 64. */
  readonly maxOutstandingPings?: number;
}

/** The defaults of {@link IcmpConfig}. */
export const ICMP_DEFAULTS = {
  replyToBroadcastEcho: false,
  errorRate: 100,
  errorBurst: 20,
  maxOutstandingPings: 64,
} as const;

/** Dependencies of {@link createIcmp}. `random` picks the echo identifier (else it is derived from the clock). */
export interface IcmpDeps {
  readonly ip: Ipv4;
  readonly clock: Clock;
  readonly random?: Random;
}

/**
 * An ICMP error, with the quoted datagram, fits in 576 bytes, the datagram size every host
 * accepts (RFC 1812 §4.3.2.3: quote "as much of the original datagram as possible without
 * the length of the ICMP datagram exceeding 576 bytes"; RFC 1122 §3.2.2 asks for at least 8).
 */
const MAX_ERROR_DATAGRAM = 576;
const MAX_QUOTE = MAX_ERROR_DATAGRAM - IPV4_HEADER_LENGTH - ICMP_HEADER_LENGTH;
/** Bytes of the offending transport header RFC 792 quotes, and the least a quote must hold. */
const QUOTED_TRANSPORT_BYTES = 8;
/** Largest echo payload: 65535 less the IPv4 and ICMP headers. */
const MAX_PING_SIZE = IPV4_MAX_LENGTH - IPV4_HEADER_LENGTH - ICMP_HEADER_LENGTH;
const DEFAULT_PING_SIZE = 56;
const DEFAULT_PING_TIMEOUT = 1000;
/** Destination Unreachable code 4 (RFC 792), whose second word carries the next-hop MTU (RFC 1191 §4). */
const FRAGMENTATION_NEEDED = UnreachableCode.fragmentationNeeded;

interface PendingPing {
  readonly destination: Ipv4Address;
  /** Pinged a broadcast or multicast address: any host may answer. */
  readonly anySource: boolean;
  readonly sentAt: number;
  readonly size: number;
  readonly resolve: (result: PingResult) => void;
  readonly reject: (error: MorganaError) => void;
  timer: Timer | undefined;
}

class IcmpLayer implements Icmp {
  private readonly counters = new CounterSet();
  private readonly hooks: Ipv4IcmpHooks | undefined;
  private readonly bucket: TokenBucket;
  private readonly replyToBroadcastEcho: boolean;
  private readonly maxOutstandingPings: number;
  /** Outstanding pings by sequence number (all share one identifier). */
  private readonly pings = new Map<number, PendingPing>();
  private readonly identifier: number;
  private nextSequence = 0;

  // The message being sent; `ip.write` calls the fill functions synchronously.
  private txRequest: Uint8Array = EMPTY;
  private txType = 0;
  private txCode = 0;
  private txRest = 0;
  private txSequence = 0;
  private txPingSize = 0;

  constructor(
    private readonly ip: Ipv4,
    private readonly clock: Clock,
    random: Random | undefined,
    config: IcmpConfig,
  ) {
    this.replyToBroadcastEcho = config.replyToBroadcastEcho ?? ICMP_DEFAULTS.replyToBroadcastEcho;
    this.maxOutstandingPings = config.maxOutstandingPings ?? ICMP_DEFAULTS.maxOutstandingPings;
    this.bucket = new TokenBucket(clock, config.errorRate ?? ICMP_DEFAULTS.errorRate, config.errorBurst ?? ICMP_DEFAULTS.errorBurst);
    this.identifier = random !== undefined ? random.uint32() & 0xffff : Math.floor(clock.wallTime()) & 0xffff;
    ip.register(IpProtocol.icmp, this.input);
    this.hooks = icmpHooksOf(ip);
    this.hooks?.setErrorReporter({
      protocolUnreachable: (about) => this.destinationUnreachable(UnreachableCode.protocol, about),
      reassemblyTimeExceeded: (first) => this.sendError(IcmpType.timeExceeded, TimeExceededCode.reassembly, 0, first, false),
    });
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  // --------------------------------------------------------------------------------- ping

  ping(destination: Ipv4Address, options?: PingOptions): Promise<PingResult> {
    return new Promise<PingResult>((resolve, reject) => {
      const size = options?.size ?? DEFAULT_PING_SIZE;
      const timeout = options?.timeout ?? DEFAULT_PING_TIMEOUT;
      if (!Number.isInteger(size) || size < 0 || size > MAX_PING_SIZE) {
        reject(new LimitExceeded('size', `ping size must be an integer from 0 to ${MAX_PING_SIZE}, not ${size}`));
        return;
      }
      if (this.pings.size >= this.maxOutstandingPings) {
        this.counters.add('ping-limit');
        reject(new LimitExceeded('maxOutstandingPings', `${this.pings.size} pings already await a reply`));
        return;
      }
      const sequence = this.allocateSequence();
      const ping: PendingPing = {
        destination,
        anySource: destination === IPV4_BROADCAST || isMulticastIpv4(destination) || this.isSubnetBroadcast(destination),
        sentAt: this.clock.now(),
        size,
        resolve,
        reject,
        timer: undefined,
      };
      this.pings.set(sequence, ping);
      this.txSequence = sequence;
      this.txPingSize = size;
      const ttl = options?.ttl;
      const sent = this.ip.write(destination, IpProtocol.icmp, ICMP_HEADER_LENGTH + size, this.fillEchoRequest, ttl === undefined ? undefined : { ttl });
      if (!sent) {
        this.pings.delete(sequence);
        this.counters.add('ping-send-failed');
        reject(new UnreachableError(`cannot send to ${formatIpv4(destination)}: no route, or the link refused the datagram`));
        return;
      }
      this.counters.add('echo-requests-sent');
      // A synchronous network may already have answered.
      if (this.pings.get(sequence) !== ping) return;
      ping.timer = this.clock.setTimer(timeout, () => {
        if (this.pings.get(sequence) !== ping) return;
        this.pings.delete(sequence);
        this.counters.add('ping-timeout');
        reject(new TimeoutError(`no echo reply from ${formatIpv4(destination)} within ${timeout} ms`));
      });
    });
  }

  /** The next sequence number not held by an outstanding ping. */
  private allocateSequence(): number {
    for (;;) {
      const sequence = this.nextSequence;
      this.nextSequence = (this.nextSequence + 1) & 0xffff;
      if (!this.pings.has(sequence)) return sequence;
    }
  }

  private readonly fillEchoRequest = (buffer: Uint8Array): number => {
    const length = ICMP_HEADER_LENGTH + this.txPingSize;
    const message = buffer.subarray(0, length);
    message[IcmpField.type] = IcmpType.echoRequest;
    message[IcmpField.code] = 0;
    writeU16(message, IcmpField.identifier, this.identifier);
    writeU16(message, IcmpField.sequence, this.txSequence);
    for (let i = 0; i < this.txPingSize; i++) message[ICMP_HEADER_LENGTH + i] = echoPattern(this.txSequence, i);
    new IcmpPacket(message).fillChecksum();
    return length;
  };

  // ------------------------------------------------------------------------------ receive

  private readonly input = (payload: Uint8Array, info: IpReceiveInfo): void => {
    this.counters.add('rx-messages');
    const packet = new IcmpPacket(payload);
    const problem = packet.check();
    if (problem !== undefined) {
      this.counters.add(problem);
      return;
    }
    switch (packet.type) {
      case IcmpType.echoRequest:
        if (packet.code === 0) this.inputEchoRequest(payload, info);
        else this.counters.add('bad-code');
        return;
      case IcmpType.echoReply:
        if (packet.code === 0) this.inputEchoReply(packet, info);
        else this.counters.add('bad-code');
        return;
      case IcmpType.destinationUnreachable:
      case IcmpType.timeExceeded:
      case IcmpType.parameterProblem:
        this.inputError(packet, info);
        return;
      case IcmpType.sourceQuench:
        // RFC 6633 §2: hosts MUST silently ignore Source Quench.
        this.counters.add('source-quench-ignored');
        return;
      case IcmpType.redirect:
        // Routing stays as configured: accepting redirects lets anyone on the link divert traffic.
        this.counters.add('redirect-ignored');
        return;
      default:
        this.counters.add('unsupported-type');
    }
  };

  /** RFC 1122 §3.2.2.6: every host MUST answer an echo request with an echo reply. */
  private inputEchoRequest(request: Uint8Array, info: IpReceiveInfo): void {
    this.counters.add('echo-requests');
    if (info.broadcast && !this.replyToBroadcastEcho) {
      this.counters.add('echo-broadcast-ignored');
      return;
    }
    if (!this.isSingleHost(info.source) || this.ip.address() === IPV4_ANY) {
      this.counters.add('echo-unanswerable');
      return;
    }
    // RFC 1122 §3.2.2.6: the reply comes from the address the request was sent to, unless
    // that was a broadcast or multicast address.
    const source = info.broadcast ? this.ip.sourceFor(info.source) : info.destination;
    this.txRequest = request;
    const sent = this.ip.write(info.source, IpProtocol.icmp, request.length, this.fillEchoReply, { source });
    this.txRequest = EMPTY;
    this.counters.add(sent ? 'echo-replies-sent' : 'tx-failed');
  }

  private readonly fillEchoReply = (buffer: Uint8Array): number => {
    const request = this.txRequest;
    buffer.set(request);
    buffer[IcmpField.type] = IcmpType.echoReply;
    // Only the type changed: update the checksum incrementally (RFC 1624 eqn. 3).
    const checksum = updateChecksum16(readU16(request, IcmpField.checksum), (IcmpType.echoRequest << 8) | request[IcmpField.code], (IcmpType.echoReply << 8) | request[IcmpField.code]);
    writeU16(buffer, IcmpField.checksum, checksum);
    return request.length;
  };

  private inputEchoReply(packet: IcmpPacket, info: IpReceiveInfo): void {
    this.counters.add('echo-replies');
    const ping = packet.identifier === this.identifier ? this.pings.get(packet.sequence) : undefined;
    if (ping === undefined) {
      this.counters.add('echo-unmatched');
      return;
    }
    const data = packet.data;
    if ((!ping.anySource && info.source !== ping.destination) || !isEchoPattern(data, packet.sequence, ping.size)) {
      this.counters.add('echo-mismatch');
      return;
    }
    this.pings.delete(packet.sequence);
    ping.timer?.cancel();
    ping.resolve({ rtt: this.clock.now() - ping.sentAt, ttl: info.ttl, size: data.length });
  }

  /**
   * An error about a datagram we sent (RFC 1122 §3.2.2.1, 3.2.2.4, 3.2.2.5: these MUST reach
   * the transport). The quote must look like one of ours: a sound header from our address and
   * at least the 8 bytes of transport header RFC 792 promises, so a forged error cannot reset
   * a connection it cannot name (RFC 5927 §4.1).
   */
  private inputError(packet: IcmpPacket, info: IpReceiveInfo): void {
    this.counters.add('errors-received');
    const quoted = packet.data;
    const header = new Ipv4Packet(quoted);
    if (quoted.length < IPV4_HEADER_LENGTH || header.version !== 4 || header.headerLength < IPV4_HEADER_LENGTH) {
      this.counters.add('error-bad-quote');
      return;
    }
    const headerLength = header.headerLength;
    if (quoted.length < headerLength + QUOTED_TRANSPORT_BYTES || header.fragmentOffset !== 0) {
      this.counters.add('error-bad-quote');
      return;
    }
    const local = this.ip.address();
    if (local !== IPV4_ANY && header.source !== local) {
      this.counters.add('error-not-ours');
      return;
    }
    const type = packet.type;
    const code = packet.code;
    const protocol = header.protocol;
    const error: IcmpErrorInfo = {
      type,
      code,
      source: header.source,
      destination: header.destination,
      protocol,
      transportHeader: quoted.slice(headerLength),
      nextHopMtu: type === IcmpType.destinationUnreachable && code === FRAGMENTATION_NEEDED ? packet.nextHopMtu : 0,
      error: errorFor(type, code, header.destination, info.source),
    };
    if (protocol === IpProtocol.icmp) {
      this.pingError(error);
      return;
    }
    if (this.hooks?.deliverIcmpError(error) === true) this.counters.add('errors-delivered');
    else this.counters.add('error-no-handler');
  }

  /** An error about one of our echo requests fails that ping at once. */
  private pingError(error: IcmpErrorInfo): void {
    const quotedIcmp = error.transportHeader;
    const ping = quotedIcmp[IcmpField.type] === IcmpType.echoRequest && readU16(quotedIcmp, IcmpField.identifier) === this.identifier
      ? this.pings.get(readU16(quotedIcmp, IcmpField.sequence))
      : undefined;
    if (ping === undefined || (!ping.anySource && error.destination !== ping.destination)) {
      this.counters.add('error-no-handler');
      return;
    }
    this.pings.delete(readU16(quotedIcmp, IcmpField.sequence));
    ping.timer?.cancel();
    this.counters.add('errors-delivered');
    ping.reject(error.error);
  }

  // ------------------------------------------------------------------------------- errors

  destinationUnreachable(code: number, about: IpReceiveInfo): void {
    this.sendError(IcmpType.destinationUnreachable, code, 0, about.datagram, about.broadcast);
  }

  /**
   * Sends an error about `datagram` where RFC 1122 §3.2.2 allows one: never about an ICMP
   * error, a datagram to a broadcast or multicast address (or in a link-layer broadcast,
   * which `broadcast` reports), a fragment other than the first, or a datagram whose source
   * does not name a single host; and never faster than the token bucket allows.
   */
  private sendError(type: number, code: number, rest: number, datagram: Uint8Array, broadcast: boolean): void {
    const about = new Ipv4Packet(datagram);
    if (about.check(false) !== undefined) {
      this.counters.add('error-suppressed-malformed');
      return;
    }
    if (broadcast || this.isBroadcastDestination(about.destination)) {
      this.counters.add('error-suppressed-broadcast');
      return;
    }
    if (about.fragmentOffset !== 0) {
      this.counters.add('error-suppressed-fragment');
      return;
    }
    if (!this.isSingleHost(about.source)) {
      this.counters.add('error-suppressed-source');
      return;
    }
    const headerLength = about.headerLength;
    if (about.protocol === IpProtocol.icmp && (about.totalLength <= headerLength || !isIcmpQueryType(datagram[headerLength]))) {
      this.counters.add('error-suppressed-icmp-error');
      return;
    }
    const source = this.ip.sourceFor(about.source);
    if (source === IPV4_ANY) {
      this.counters.add('error-suppressed-unconfigured');
      return;
    }
    if (!this.bucket.take()) {
      this.counters.add('rate-limited');
      return;
    }
    this.txType = type;
    this.txCode = code;
    this.txRest = rest;
    this.txRequest = datagram.subarray(0, Math.min(about.totalLength, MAX_QUOTE));
    const sent = this.ip.write(about.source, IpProtocol.icmp, ICMP_HEADER_LENGTH + this.txRequest.length, this.fillError, { source });
    this.txRequest = EMPTY;
    this.counters.add(sent ? 'errors-sent' : 'tx-failed');
  }

  private readonly fillError = (buffer: Uint8Array): number => {
    const quote = this.txRequest;
    const length = ICMP_HEADER_LENGTH + quote.length;
    const message = buffer.subarray(0, length);
    message[IcmpField.type] = this.txType;
    message[IcmpField.code] = this.txCode;
    writeU32(message, IcmpField.identifier, this.txRest);
    message.set(quote, ICMP_HEADER_LENGTH);
    new IcmpPacket(message).fillChecksum();
    return length;
  };

  // ---------------------------------------------------------------------------- addresses

  /**
   * RFC 1122 §3.2.2: a source that "does not define a single host": zero, loopback,
   * broadcast (limited or our subnet's), multicast, or class E (240/4).
   */
  private isSingleHost(address: Ipv4Address): boolean {
    return address !== IPV4_ANY && !isLoopbackIpv4(address) && address >>> 28 < 0xe && !this.isSubnetBroadcast(address);
  }

  private isBroadcastDestination(address: Ipv4Address): boolean {
    return address === IPV4_BROADCAST || address === IPV4_ANY || isMulticastIpv4(address) || this.isSubnetBroadcast(address);
  }

  /** Our subnet's directed broadcast, or its obsolete all-zeros form (RFC 1122 §3.3.6). */
  private isSubnetBroadcast(address: Ipv4Address): boolean {
    const prefix = this.ip.config().address;
    if (prefix.address === IPV4_ANY || prefix.length > 30) return false;
    return address === broadcastAddress(prefix) || address === networkAddress(prefix);
  }
}

const EMPTY = new Uint8Array(0);

/** The payload byte at `index` of the echo request with `sequence`: checkable without keeping a copy. */
function echoPattern(sequence: number, index: number): number {
  return (sequence + index) & 0xff;
}

function isEchoPattern(data: Uint8Array, sequence: number, size: number): boolean {
  if (data.length !== size) return false;
  for (let i = 0; i < size; i++) if (data[i] !== echoPattern(sequence, i)) return false;
  return true;
}

/** The error a socket reports for an ICMP error (RFC 1122 §4.2.3.9 maps port unreachable to a refusal). */
function errorFor(type: number, code: number, destination: Ipv4Address, reporter: Ipv4Address): MorganaError {
  const where = `${formatIpv4(destination)} (reported by ${formatIpv4(reporter)})`;
  if (type === IcmpType.destinationUnreachable) {
    if (code === UnreachableCode.port) return new ConnectionRefused(`port unreachable at ${where}`);
    return new UnreachableError(`${UNREACHABLE_REASONS[code] ?? `destination unreachable (code ${code})`}: ${where}`);
  }
  if (type === IcmpType.timeExceeded) {
    return new UnreachableError(`${code === TimeExceededCode.reassembly ? 'fragment reassembly time exceeded' : 'TTL exceeded in transit'}: ${where}`);
  }
  return new UnreachableError(`parameter problem (code ${code}) in a datagram to ${where}`);
}

/** Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
const UNREACHABLE_REASONS: Readonly<Record<number, string>> = {
  0: 'network unreachable',
  1: 'host unreachable',
  2: 'protocol unreachable',
  3: 'port unreachable',
  4: 'fragmentation needed and DF set',
  5: 'source route failed',
  6: 'destination network unknown',
  7: 'destination host unknown',
  9: 'network administratively prohibited',
  10: 'host administratively prohibited',
  11: 'network unreachable for type of service',
  12: 'host unreachable for type of service',
  13: 'communication administratively prohibited',
};

/**
 * Makes the ICMP layer of `ip`: registers protocol 1 on it, answers echo requests, sends
 * pings, sends the errors transports ask for and, when `ip` was made by `createIpv4`, the
 * errors the IP layer detects itself, and hands incoming errors to the transport registered
 * with `ip.onIcmpError`.
 */
export function createIcmp(deps: IcmpDeps, config: IcmpConfig = {}): Icmp {
  return new IcmpLayer(deps.ip, deps.clock, deps.random, config);
}
