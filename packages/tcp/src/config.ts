/** Configuration of {@link createTcp}: every limit and timeout, with its default and the reason for it. */
import type { CongestionControlFactory } from './congestion/types.js';

/** A congestion controller by name, or a factory for your own. */
export type CongestionControlChoice = 'newreno' | 'cubic' | CongestionControlFactory;

/** Options of a TCP layer. Every field is optional; defaults are listed on each. */
export interface TcpConfig {
  /** Bytes a connection buffers for sending (unacknowledged plus unsent); default 256 KiB. `write` waits for room. */
  readonly sendBufferSize?: number;
  /** Bytes a connection buffers in order for the application; this is the largest window we offer. Default 256 KiB. */
  readonly receiveBufferSize?: number;
  /** Bytes of out-of-order data held for reassembly per connection; default 256 KiB (at most the receive buffer). */
  readonly outOfOrderLimit?: number;
  /** Out-of-order segments held per connection, whatever their size; default 256. */
  readonly outOfOrderSegments?: number;
  /** Connections in any state (TIME-WAIT and half-open included); default 16 384. */
  readonly maxConnections?: number;
  /** Listen backlog when `listen` is given none; default 128. */
  readonly defaultBacklog?: number;
  /** Answer SYNs with SYN cookies when a listener's backlog is full; default true. */
  readonly synCookies?: boolean;
  /**
   * Maximum segment lifetime, ms; TIME-WAIT lasts 2·MSL. Default 30 000 (a 60 s TIME-WAIT, as
   * Linux uses): RFC 9293 §3.4.2 suggests 2 minutes, which only ties up ports longer.
   */
  readonly msl?: number;
  /** Initial retransmission timeout, ms; default 1000 (RFC 6298 §2.1). */
  readonly initialRto?: number;
  /** Lower bound of the RTO, ms; default 200 (Linux; RFC 6298 §2.4 says 1000). */
  readonly minRto?: number;
  /** Upper bound of the RTO and of the persist interval, ms; default 60 000 (RFC 6298 §2.5). */
  readonly maxRto?: number;
  /** Retransmissions of one segment before the connection is dropped; default 15 (Linux's tcp_retries2). */
  readonly maxRetransmits?: number;
  /** Retransmissions of a SYN or SYN-ACK before giving up; default 6. */
  readonly synRetries?: number;
  /**
   * Delayed-ACK timeout, ms; default 40 (Linux's minimum; RFC 1122 4.2.3.2 allows up to 500,
   * and an ACK still goes out at least every second full-sized segment).
   */
  readonly delayedAckTimeout?: number;
  /** Congestion controller; default `'cubic'` (RFC 9438), like Linux. */
  readonly congestionControl?: CongestionControlChoice;
  /** Largest MSS we advertise; default 65 495. The route MTU less 40 lowers it. */
  readonly mss?: number;
  /** Offer window scaling (RFC 7323 §2); default true. */
  readonly windowScaling?: boolean;
  /** Offer timestamps (RFC 7323 §3, §4, §5); default true. */
  readonly timestamps?: boolean;
  /** Offer SACK (RFC 2018); default true. */
  readonly sack?: boolean;
  /** Idle time before the first keepalive probe, ms; default 7 200 000 (RFC 1122 4.2.3.6: at least two hours). */
  readonly keepAliveIdle?: number;
  /** Interval between keepalive probes, ms; default 75 000. */
  readonly keepAliveInterval?: number;
  /** Unanswered keepalive probes before the connection is dropped; default 9. */
  readonly keepAliveProbes?: number;
  /** Time an orphaned connection waits in FIN-WAIT-2 for the peer's FIN, ms; default 60 000 (Linux's tcp_fin_timeout). */
  readonly finWait2Timeout?: number;
  /** Challenge ACKs sent per second over all connections (RFC 5961 §7); default 1000. */
  readonly challengeAckLimit?: number;
  /** Connect timeout when `connect` is given none, ms; default 30 000. */
  readonly connectTimeout?: number;
  /** Ephemeral port range for `connect` (RFC 6056); default 49 152 to 65 535. */
  readonly ephemeralPortMin?: number;
  readonly ephemeralPortMax?: number;
}

/** {@link TcpConfig} with every default filled in. */
export type ResolvedTcpConfig = { readonly [K in keyof TcpConfig]-?: NonNullable<TcpConfig[K]> };

/** Fills in defaults and checks ranges; throws RangeError naming the field. */
export function resolveTcpConfig(config: TcpConfig = {}): ResolvedTcpConfig {
  const receiveBufferSize = config.receiveBufferSize ?? 256 * 1024;
  const resolved: ResolvedTcpConfig = {
    sendBufferSize: config.sendBufferSize ?? 256 * 1024,
    receiveBufferSize,
    outOfOrderLimit: Math.min(config.outOfOrderLimit ?? 256 * 1024, receiveBufferSize),
    outOfOrderSegments: config.outOfOrderSegments ?? 256,
    maxConnections: config.maxConnections ?? 16_384,
    defaultBacklog: config.defaultBacklog ?? 128,
    synCookies: config.synCookies ?? true,
    msl: config.msl ?? 30_000,
    initialRto: config.initialRto ?? 1000,
    minRto: config.minRto ?? 200,
    maxRto: config.maxRto ?? 60_000,
    maxRetransmits: config.maxRetransmits ?? 15,
    synRetries: config.synRetries ?? 6,
    delayedAckTimeout: config.delayedAckTimeout ?? 40,
    congestionControl: config.congestionControl ?? 'cubic',
    mss: config.mss ?? 65_495,
    windowScaling: config.windowScaling ?? true,
    timestamps: config.timestamps ?? true,
    sack: config.sack ?? true,
    keepAliveIdle: config.keepAliveIdle ?? 7_200_000,
    keepAliveInterval: config.keepAliveInterval ?? 75_000,
    keepAliveProbes: config.keepAliveProbes ?? 9,
    finWait2Timeout: config.finWait2Timeout ?? 60_000,
    challengeAckLimit: config.challengeAckLimit ?? 1000,
    connectTimeout: config.connectTimeout ?? 30_000,
    ephemeralPortMin: config.ephemeralPortMin ?? 49_152,
    ephemeralPortMax: config.ephemeralPortMax ?? 65_535,
  };
  positive('sendBufferSize', resolved.sendBufferSize);
  positive('receiveBufferSize', resolved.receiveBufferSize);
  if (resolved.receiveBufferSize > 1 << 30) throw new RangeError('receiveBufferSize must be at most 1 GiB (RFC 7323 §2.3)');
  positive('outOfOrderSegments', resolved.outOfOrderSegments);
  positive('maxConnections', resolved.maxConnections);
  positive('defaultBacklog', resolved.defaultBacklog);
  positive('msl', resolved.msl);
  positive('delayedAckTimeout', resolved.delayedAckTimeout);
  if (resolved.delayedAckTimeout > 500) throw new RangeError('delayedAckTimeout must be at most 500 ms (RFC 1122 4.2.3.2)');
  if (resolved.mss < 88 || resolved.mss > 65_495) throw new RangeError('mss must be in [88, 65495]');
  if (
    resolved.ephemeralPortMin < 1 ||
    resolved.ephemeralPortMax > 65_535 ||
    resolved.ephemeralPortMin > resolved.ephemeralPortMax
  ) {
    throw new RangeError('ephemeral port range must be within [1, 65535]');
  }
  return resolved;
}

function positive(name: string, value: number): void {
  if (!(value > 0)) throw new RangeError(`${name} must be positive, got ${value}`);
}
