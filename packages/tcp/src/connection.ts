/**
 * One TCP connection: the transmission control block (RFC 9293 §3.3.1), segment processing
 * (RFC 9293 §3.10.7), output, timers, and the {@link TcpFlow} the application holds.
 *
 * State changes go through the pure {@link transition} function; this file does the side
 * effects. All timers share one clock timer per connection, armed at the earliest deadline.
 */
import {
  ClosedError,
  ConnectionRefused,
  ConnectionReset,
  TimeoutError,
  concatBytes,
} from '@morgana/core';
import type { Clock, CounterSet, Ip, IpWriteOptions, Ipv4Address, MorganaError, TcpFlow, TcpInfo, TcpState, Timer } from '@morgana/core';
import { Reassembly, SendRing } from './buffers.js';
import type { ResolvedTcpConfig } from './config.js';
import type { AckSample, CongestionControl } from './congestion/types.js';
import { RttEstimator } from './rtt.js';
import { SackScoreboard } from './scoreboard.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from './seq.js';
import {
  classifyAck,
  classifyReset,
  finQueued,
  isSynchronized,
  segmentAcceptable,
  segmentLength,
  synSentAckAcceptable,
  transition,
} from './state.js';
import type { TcpEvent } from './state.js';
import { MAX_WINDOW_SCALE, NO_SACK, TCP_HEADER_LENGTH, TCP_PROTOCOL, TcpField, TcpFlag, emitTcpHeader, fillTcpChecksum, scratchTcpRepr, tcpOptionsLength } from './wire.js';
import type { MutableTcpRepr, TcpRepr } from './wire.js';

/** What a connection needs from the TCP layer that owns it. */
export interface ConnectionHost {
  readonly config: ResolvedTcpConfig;
  readonly clock: Clock;
  readonly ip: Ip;
  readonly counters: CounterSet;
  /** A congestion controller for a connection with this SMSS. */
  createCongestionControl(mss: number, now: number, sack: boolean): CongestionControl;
  /** RFC 5961 §7: true when one more challenge ACK fits this second's budget. */
  allowChallengeAck(): boolean;
  /** A passive connection reached ESTABLISHED: hand it to its listener. */
  established(connection: Connection): void;
  /** The connection reached CLOSED: forget it. */
  closed(connection: Connection): void;
  /** Hot counters, kept as plain fields. */
  readonly traffic: { segmentsSent: number; segmentsReceived: number };
  /** The clock's time, read once per event (segment, timer, API call) while one is being handled. */
  now(): number;
  /** Starts handling an event: `now()` is read once until the matching {@link leave}. */
  enter(): void;
  leave(): void;
}

/** What a connection knows of the listener that accepted it. */
export interface ListenerRef {
  readonly port: number;
}

/** Options negotiated from the peer's SYN (or SYN-ACK). */
export interface PeerSynOptions {
  readonly mss: number | undefined;
  readonly windowScale: number | undefined;
  readonly sackPermitted: boolean;
  readonly tsVal: number | undefined;
}

/** The RFC 9293 §3.7.1 default send MSS when the peer sends no MSS option (IPv4). */
const DEFAULT_MSS = 536;
/** Timestamps option bytes in every segment once negotiated (NOP, NOP, kind, length, 8 bytes). */
const TIMESTAMP_OPTION_LENGTH = 12;
/** RFC 7323 §5.5: TS.Recent is invalid after 24 days of idleness. */
const PAWS_IDLE_LIMIT = 24 * 24 * 60 * 60 * 1000;
/** Duplicate ACKs that signal a loss (RFC 5681 §3.2). */
const DUP_THRESHOLD = 3;
/** Size of a receive block, bytes (at most the receive buffer). */
const RECEIVE_BLOCK = 64 * 1024;
/** A block with less room than this is let go after a read, so an idle connection keeps none. */
const RECEIVE_BLOCK_MIN_ROOM = 16 * 1024;
/** Smallest MSS a PMTU report can push us to (RFC 1191 §3: 68-byte MTU less headers, rounded as Linux does). */
const MIN_PMTU_MSS = 88;

/**
 * With a device that offloads checksums, the segment leaves its checksum zeroed and the IP
 * layer seeds it with the pseudo-header sum for the device to finish (CHECKSUM_PARTIAL).
 */
const CHECKSUM_BY_IP: IpWriteOptions = { checksumOffset: TcpField.checksum };


/** The header of the segment being sent: one object, reused (no allocation per segment). */
const txRepr: MutableTcpRepr = scratchTcpRepr();
const txBlockStore = [0, 1, 2, 3].map(() => ({ left: 0, right: 0 }));
/** `txBlockViews[n]`: the first n blocks of the store, so SACK lists need no allocation. */
const txBlockViews = [0, 1, 2, 3, 4].map((n) => txBlockStore.slice(0, n));
let txRing: SendRing | undefined;
let txDataOffset = 0;
let txDataLength = 0;
let txChecksum = false;
let txSource = 0 as Ipv4Address;
let txDestination = 0 as Ipv4Address;

/** Builds the segment described by the tx* variables in place: header, one copy of payload, checksum. */
function fillSegment(buffer: Uint8Array): number {
  const headerLength = emitTcpHeader(txRepr, buffer);
  if (txDataLength > 0 && txRing !== undefined) txRing.copyOut(txDataOffset, txDataLength, buffer, headerLength);
  const length = headerLength + txDataLength;
  if (txChecksum) fillTcpChecksum(buffer, length, txSource, txDestination);
  return length;
}

/** A pending `write`: the rest of its data and how to settle it. */
interface PendingWrite {
  data: Uint8Array;
  offset: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A pending `read`. */
interface PendingRead {
  resolve: (chunk: Uint8Array | null) => void;
  reject: (error: Error) => void;
}

/** A waiter for a state (`shutdown`, `close`, `connect`). */
interface StateWaiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A TCP connection and the flow its application reads and writes. */
export class Connection implements TcpFlow {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
  /** Chains connections that share remote address and ports but not the local address (rare). */
  next: Connection | undefined;
  /** The listener that accepted this connection (undefined for active ones). */
  listener: ListenerRef | undefined;
  /** Counted in the listener's half-open total (SYN-RECEIVED, not yet handed out). */
  halfOpen = false;

  state: TcpState = 'CLOSED';
  private readonly host: ConnectionHost;
  private readonly config: ResolvedTcpConfig;
  private readonly clock: Clock;

  // Send sequence variables (RFC 9293 §3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent plus one: SND.NXT moves back below it after a timeout. */
  sndMax = 0;
  sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  /** Largest window the peer offered (RFC 5961 §5.2 MAX.SND.WND; sender SWS avoidance). */
  private maxSndWnd = 0;
  private sndWscale = 0;
  /** Sender MSS from the peer's option and our route (RFC 9293 §3.7.1), options not subtracted. */
  private sndMss = DEFAULT_MSS;

  // Receive sequence variables.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we last advertised: never moved left (RFC 9293 §3.8.6.2.2). */
  private rcvAdv = 0;
  private rcvWscale = 0;
  /** The MSS we advertise. */
  private advertisedMss: number;
  /** Largest payload the peer has sent: "full-sized" for delayed ACKs (RFC 1122 4.2.3.2). */
  private rcvMss = DEFAULT_MSS;

  // Negotiated options.
  private tsEnabled = false;
  private tsRecent = 0;
  private tsRecentAt = 0;
  private tsOffset = 0;
  private lastAckSent = 0;
  private sackEnabled = false;
  private wantTimestamps: boolean;
  private wantSack: boolean;
  private wantWindowScale: boolean;
  /** Peer options from its SYN, for the SYN-ACK we send (passive and simultaneous open). */
  private peerOfferedWscale = false;

  // Buffers.
  private readonly sendRing: SendRing;
  /** Sequence number of the first byte in `sendRing`. */
  private ringSeq = 0;
  /** The user finished sending (shutdown or close): a FIN follows the queued data. */
  private finRequested = false;
  /** Sequence number our FIN occupies, once sent. */
  private finSeq: number | undefined;
  /** Owned chunks for the application, in order, before the block's unread bytes. */
  private readonly receiveQueue: Uint8Array[] = [];
  /** Bytes the application has not read (queue plus block). */
  private receiveQueued = 0;
  /**
   * In-order payload is copied into this block, and a read hands out the unread part as a
   * subarray: one copy per byte from frame to application, no per-read concatenation.
   */
  private block: Uint8Array | undefined;
  private blockStart = 0;
  private blockEnd = 0;
  private reassembly: Reassembly | undefined;
  /** The peer's FIN was processed: reads end with null once the queue drains. */
  private peerFinished = false;
  /** The user closed both directions: received data is acknowledged and discarded. */
  private discardInput = false;

  // Congestion control and loss recovery.
  private cc: CongestionControl | undefined;
  /** RFC 6675 scoreboard, created when the first SACK block arrives. */
  private scoreboard: SackScoreboard | undefined;
  private readonly rtt: RttEstimator;
  private dupAcks = 0;
  private inRecovery = false;
  /** RFC 6582 "recover": SND.MAX when the last recovery began. */
  private recoverSeq = 0;
  private firstPartialAck = false;
  /** Classic RTT timing when timestamps are off: the sequence number timed and when. */
  private rttSeq: number | undefined;
  private rttStart = 0;
  /** Retransmissions of the segment at SND.UNA in a row (timeouts). */
  private timeoutCount = 0;
  /** SYN or SYN-ACK retransmissions. */
  private synRetransmits = 0;
  private lastSendTime = 0;

  // Timers: deadlines in clock ms, Infinity when off; one clock timer at the earliest.
  private rtoDeadline = Infinity;
  private persistDeadline = Infinity;
  private persistBackoff = 0;
  private delayedAckDeadline = Infinity;
  private keepAliveDeadline = Infinity;
  private lingerDeadline = Infinity;
  private connectDeadline = Infinity;
  private timer: Timer | undefined;
  private timerAt = Infinity;
  private readonly onTimerBound: () => void;

  // ACK scheduling.
  private ackNow = false;
  private fullSegmentsUnacked = 0;

  // User options.
  private noDelay = false;
  private keepAlive = false;
  private keepAliveIdle: number;
  private keepAliveProbesSent = 0;

  // Errors and waiters.
  private finished = false;
  private error: MorganaError | undefined;
  /** An ICMP soft error, reported if the connection later times out (RFC 1122 4.2.3.9). */
  private softError: MorganaError | undefined;
  private readers: PendingRead[] | undefined;
  private writers: PendingWrite[] | undefined;
  private shutdownWaiters: StateWaiter[] | undefined;
  private closeWaiters: StateWaiter[] | undefined;
  private connectWaiter: StateWaiter | undefined;

  // Statistics.
  retransmits = 0;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(
    host: ConnectionHost,
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
  ) {
    this.host = host;
    this.config = host.config;
    this.clock = host.clock;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    const config = host.config;
    this.sendRing = new SendRing(config.sendBufferSize);
    this.rtt = new RttEstimator({ initialRto: config.initialRto, minRto: config.minRto, maxRto: config.maxRto });
    this.advertisedMss = Math.min(config.mss, host.ip.mtu(remoteAddress) - TCP_HEADER_LENGTH);
    this.wantTimestamps = config.timestamps;
    this.wantSack = config.sack;
    this.wantWindowScale = config.windowScaling;
    this.keepAliveIdle = config.keepAliveIdle;
    this.onTimerBound = () => {
      host.enter();
      try {
        this.onTimer();
      } finally {
        host.leave();
      }
    };
  }

  // ---------------------------------------------------------------------------------------
  // Opening

  /** Active open: sends a SYN (RFC 9293 §3.10.1). Resolves on ESTABLISHED. */
  openActive(iss: number, tsOffset: number, timeout: number): Promise<void> {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.ringSeq = seqAdd(iss, 1);
    this.recoverSeq = iss;
    this.tsOffset = tsOffset;
    this.rcvWscale = this.wantWindowScale ? windowShiftFor(this.config.receiveBufferSize) : 0;
    this.setState('active-open');
    this.connectDeadline = this.host.now() + timeout;
    const promise = new Promise<void>((resolve, reject) => {
      this.connectWaiter = { resolve, reject };
    });
    this.sendSyn();
    return promise;
  }

  /** Passive open from a SYN that a listener accepted: sends a SYN-ACK (RFC 9293 §3.10.7.2). */
  openPassive(iss: number, tsOffset: number, syn: TcpRepr, listener: ListenerRef): void {
    this.listener = listener;
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.ringSeq = seqAdd(iss, 1);
    this.recoverSeq = iss;
    this.tsOffset = tsOffset;
    this.state = 'LISTEN';
    this.receiveSynOptions(syn);
    this.setState('rcv-syn');
    this.sendSyn();
  }

  /**
   * A connection completed by a SYN cookie (the listener kept no state): ESTABLISHED at once
   * with the options the cookie carried. The caller then feeds it the ACK segment.
   */
  openFromCookie(iss: number, irs: number, tsOffset: number, options: PeerSynOptions, rcvWscale: number, listener: ListenerRef): void {
    this.listener = listener;
    this.iss = iss;
    this.sndUna = seqAdd(iss, 1);
    this.sndNxt = this.sndUna;
    this.sndMax = this.sndUna;
    this.ringSeq = this.sndUna;
    this.recoverSeq = this.sndUna;
    this.tsOffset = tsOffset;
    this.irs = irs;
    this.rcvNxt = seqAdd(irs, 1);
    // The window our cookie SYN-ACK offered (unscaled, RFC 7323 §2.2).
    this.rcvAdv = seqAdd(this.rcvNxt, Math.min(this.config.receiveBufferSize, 0xffff));
    this.lastAckSent = this.rcvNxt;
    this.rcvWscale = options.windowScale === undefined ? 0 : rcvWscale;
    this.sndWscale = options.windowScale === undefined ? 0 : Math.min(options.windowScale, MAX_WINDOW_SCALE);
    this.tsEnabled = options.tsVal !== undefined;
    if (options.tsVal !== undefined) this.updateTsRecent(options.tsVal);
    this.sackEnabled = options.sackPermitted;
    this.setSendMss(options.mss);
    this.sndWl1 = irs;
    this.sndWl2 = this.sndUna;
    this.state = 'SYN-RECEIVED';
    this.setState('rcv-ack-of-syn');
    this.onEstablished();
  }

  /** Reads the peer's SYN options (RFC 9293 §3.7.1, RFC 7323 §2.2, §3.2, RFC 2018 §2). */
  private receiveSynOptions(syn: TcpRepr): void {
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcvAdv = this.rcvNxt;
    this.lastAckSent = this.rcvNxt;
    // Window scaling only when both sides offer it (RFC 7323 §2.2); the shift is capped at 14.
    this.peerOfferedWscale = syn.windowScale !== undefined;
    if (this.wantWindowScale && syn.windowScale !== undefined) {
      this.sndWscale = Math.min(syn.windowScale, MAX_WINDOW_SCALE);
      if (this.rcvWscale === 0 && this.state !== 'SYN-SENT') this.rcvWscale = windowShiftFor(this.config.receiveBufferSize);
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.tsEnabled = this.wantTimestamps && syn.tsVal !== undefined;
    if (this.tsEnabled) this.updateTsRecent(syn.tsVal as number);
    this.sackEnabled = this.wantSack && syn.sackPermitted;
    this.setSendMss(syn.mss);
    // The window in a SYN is never scaled (RFC 7323 §2.2).
    this.sndWnd = syn.window;
    this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
  }

  private setSendMss(peerMss: number | undefined): void {
    const routeMss = this.host.ip.mtu(this.remoteAddress) - TCP_HEADER_LENGTH;
    this.sndMss = Math.max(MIN_PMTU_MSS, Math.min(peerMss ?? DEFAULT_MSS, routeMss));
  }

  /** SMSS: the data a full-sized segment carries, options subtracted (RFC 6691). */
  private get segmentSize(): number {
    return this.sndMss - (this.tsEnabled ? TIMESTAMP_OPTION_LENGTH : 0);
  }

  /** Sends our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) at ISS, and arms its retransmission. */
  private sendSyn(): void {
    const synAck = this.state === 'SYN-RECEIVED';
    const flags = synAck ? TcpFlag.syn | TcpFlag.ack : TcpFlag.syn;
    this.transmit(this.iss, flags, 0, 0, true);
    if (seqGt(seqAdd(this.iss, 1), this.sndMax)) this.sndMax = seqAdd(this.iss, 1);
    this.sndNxt = this.sndMax;
    this.rtoDeadline = this.host.now() + this.rtt.rto;
    this.schedule();
  }

  private onEstablished(): void {
    this.cc = this.host.createCongestionControl(this.segmentSize, this.host.now(), this.sackEnabled);
    if (this.synRetransmits > 0) this.rtt.startDataAfterSynRetransmit();
    this.connectDeadline = Infinity;
    this.resetKeepAlive();
    if (this.listener !== undefined) this.host.established(this);
    const waiter = this.connectWaiter;
    if (waiter !== undefined) {
      this.connectWaiter = undefined;
      waiter.resolve();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Segment arrival (RFC 9293 §3.10.7)

  /** Processes one segment for this connection. */
  receive(segment: TcpRepr): void {
    const counters = this.host.counters;
    if (this.state === 'SYN-SENT') {
      this.receiveInSynSent(segment);
      this.output();
      return;
    }
    if (!isSynchronized(this.state)) {
      counters.add('not-synchronized');
      return;
    }
    const flags = segment.flags;
    const isRst = (flags & TcpFlag.rst) !== 0;
    const now = this.host.now();

    // RFC 7323 §5.3 R1: PAWS, before the sequence number check.
    if (this.tsEnabled && !isRst) {
      if (segment.tsVal === undefined) {
        // RFC 7323 §3.2: once negotiated, a non-RST segment without timestamps is dropped.
        counters.add('missing-timestamp');
        return;
      }
      if (seqLt(segment.tsVal, this.tsRecent) && now - this.tsRecentAt < PAWS_IDLE_LIMIT) {
        counters.add('paws-rejected');
        this.ackNow = true;
        this.output();
        return;
      }
    }

    if (
      this.state === 'SYN-RECEIVED' &&
      this.listener === undefined &&
      segment.seq === this.irs &&
      (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst)) === (TcpFlag.syn | TcpFlag.ack) &&
      seqGt(segment.ack, this.sndUna) &&
      seqLe(segment.ack, this.sndNxt)
    ) {
      // Simultaneous open (RFC 9293 §3.5 Figure 8): the peer's SYN-ACK acknowledges our SYN.
      this.sndUna = segment.ack;
      this.sndWnd = segment.window;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = segment.seq;
      this.sndWl2 = segment.ack;
      this.rtoDeadline = Infinity;
      this.setState('rcv-ack-of-syn');
      this.onEstablished();
      this.ackNow = true;
      this.output();
      return;
    }

    if (this.state === 'SYN-RECEIVED' && segment.seq === this.irs && (flags & (TcpFlag.syn | TcpFlag.ack | TcpFlag.rst)) === TcpFlag.syn) {
      // The peer retransmitted its SYN: our SYN-ACK was lost; send it again.
      counters.add('syn-retransmit-received');
      this.transmit(this.iss, TcpFlag.syn | TcpFlag.ack, 0, 0, true);
      return;
    }

    if (this.state === 'TIME-WAIT' && (flags & (TcpFlag.fin | TcpFlag.rst | TcpFlag.syn)) === TcpFlag.fin) {
      if (seqAdd(segment.seq, segment.payload.length + 1) === this.rcvNxt) {
        // "The only thing that can arrive in this state is a retransmission of the remote FIN.
        // Acknowledge it, and restart the 2 MSL timeout" (RFC 9293 §3.10.7.4, eighth step).
        counters.add('time-wait-fin');
        this.lingerDeadline = now + 2 * this.config.msl;
        this.ackNow = true;
        this.output();
        return;
      }
    }

    // First: the sequence number (RFC 9293 §3.10.7.4, with zero-window allowance).
    let seq = segment.seq;
    let payload = segment.payload;
    let fin = (flags & TcpFlag.fin) !== 0;
    const length = segmentLength(flags, payload.length);
    const rcvWnd = this.receiveWindow();
    let acceptable = segmentAcceptable(seq, length, this.rcvNxt, rcvWnd);
    // "Special allowance should be made to accept valid ACKs, URGs, and RSTs" with a zero window
    // (RFC 9293 §3.10.7.4): a segment exactly at RCV.NXT keeps its control bits, its data is trimmed.
    if (!acceptable && rcvWnd === 0 && seq === this.rcvNxt) acceptable = true;
    if (!acceptable) {
      counters.add('out-of-window');
      if (!isRst) {
        this.ackNow = true;
        this.output();
      }
      return;
    }

    // Second: RST (RFC 5961 §3.2).
    if (isRst) {
      const verdict = classifyReset(seq, this.rcvNxt, rcvWnd);
      if (verdict === 'accept') {
        counters.add('resets-received');
        this.receiveReset();
      } else if (verdict === 'challenge') {
        this.sendChallengeAck();
      }
      return;
    }

    // Fourth: SYN in a synchronized state gets a challenge ACK (RFC 5961 §4.2).
    if ((flags & TcpFlag.syn) !== 0) {
      counters.add('syn-in-window');
      this.sendChallengeAck();
      return;
    }

    // Trim to the window: bytes before RCV.NXT are old, bytes past the window are dropped.
    const before = seqDiff(this.rcvNxt, seq);
    if (before > 0) {
      payload = payload.subarray(Math.min(before, payload.length));
      seq = this.rcvNxt;
    }
    const windowRoom = seqDiff(seqAdd(this.rcvNxt, rcvWnd), seq);
    if (payload.length > windowRoom) {
      payload = payload.subarray(0, Math.max(0, windowRoom));
      fin = false;
      counters.add('trimmed-to-window');
      // Tell the sender where the window ends (this answers its zero-window probes too).
      this.ackNow = true;
    }

    // Fifth: the ACK field.
    if ((flags & TcpFlag.ack) === 0) {
      counters.add('no-ack');
      return;
    }
    // RFC 7323 §4.3: TS.Recent from segments that are in sequence at the left edge.
    if (this.tsEnabled && segment.tsVal !== undefined && seqLe(segment.seq, this.lastAckSent)) {
      if (seqGe(segment.tsVal, this.tsRecent)) this.updateTsRecent(segment.tsVal);
    }
    if (this.state === 'SYN-RECEIVED') {
      if (!(seqGt(segment.ack, this.sndUna) && seqLe(segment.ack, this.sndNxt))) {
        // RFC 9293 §3.10.7.4: an unacceptable ACK in SYN-RECEIVED is answered with a reset.
        counters.add('bad-ack-syn-received');
        this.sendReset(segment.ack);
        return;
      }
      this.sndWnd = segment.window << this.sndWscale;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = segment.seq;
      this.sndWl2 = segment.ack;
      // The SYN-ACK's round trip is the passive side's first RTT sample (RFC 6298 §2.2), unless
      // the SYN-ACK was retransmitted (Karn, RFC 6298 §3) and the ACK carries no echo.
      if (this.tsEnabled && segment.tsEcr !== undefined && segment.tsEcr !== 0) this.rtt.sample(seqDiff(this.tsNow(), segment.tsEcr), 'timestamp');
      else if (this.synRetransmits === 0) this.rtt.sample(now - this.lastSendTime, 'new-data');
      this.setState('rcv-ack-of-syn');
      this.onEstablished();
      if ((this.state as TcpState) !== 'ESTABLISHED') return;
    }
    if (!this.receiveAck(segment, payload.length, fin, now)) return;
    if (this.state === 'CLOSED') return;
    if (this.state === 'TIME-WAIT') {
      // Only a retransmitted FIN can arrive: acknowledge it and restart 2·MSL (RFC 9293 §3.10.7.4).
      if (fin) {
        this.lingerDeadline = now + 2 * this.config.msl;
        this.ackNow = true;
      }
      this.resetKeepAlive();
      this.output();
      return;
    }

    // Seventh: segment text.
    if (payload.length > 0) this.receiveText(seq, payload);
    // Eighth: FIN.
    if (fin) this.receiveFin(seqAdd(seq, payload.length));
    this.resetKeepAlive();
    this.output();
  }

  /** RFC 9293 §3.10.7.3: a segment in SYN-SENT. */
  private receiveInSynSent(segment: TcpRepr): void {
    const flags = segment.flags;
    const counters = this.host.counters;
    const hasAck = (flags & TcpFlag.ack) !== 0;
    if (hasAck && !synSentAckAcceptable(segment.ack, this.iss, this.sndNxt)) {
      counters.add('bad-ack-syn-sent');
      if ((flags & TcpFlag.rst) === 0) this.sendReset(segment.ack);
      return;
    }
    if ((flags & TcpFlag.rst) !== 0) {
      // Only a RST that acknowledges our SYN refuses the connection (RFC 9293, RFC 5961 §3.2).
      if (hasAck) {
        counters.add('resets-received');
        this.fail(new ConnectionRefused(`connection refused by ${formatEndpoint(this.remoteAddress, this.remotePort)}`), 'rcv-rst');
      }
      return;
    }
    if ((flags & TcpFlag.syn) === 0) {
      counters.add('syn-sent-no-syn');
      return;
    }
    this.receiveSynOptions(segment);
    if (this.tsEnabled && segment.tsEcr !== undefined && hasAck && this.synRetransmits === 0) {
      this.rtt.sample(this.tsNow() - segment.tsEcr, 'timestamp');
    }
    if (hasAck) {
      this.sndUna = segment.ack;
      this.sndWl1 = segment.seq;
      this.sndWl2 = segment.ack;
      this.rtoDeadline = Infinity;
      if (!this.tsEnabled && this.synRetransmits === 0) this.rtt.sample(this.host.now() - this.lastSendTime, 'new-data');
      this.setState('rcv-syn-ack');
      this.onEstablished();
      this.ackNow = true;
      // Data in the SYN-ACK is processed as text (RFC 9293 §3.10.7.3 "continue processing at the sixth step").
      if (segment.payload.length > 0) this.receiveText(this.rcvNxt, segment.payload);
      if ((flags & TcpFlag.fin) !== 0) this.receiveFin(seqAdd(this.rcvNxt, 0));
      return;
    }
    // Simultaneous open (RFC 9293 §3.5 Figure 8): SYN-RECEIVED, send SYN-ACK at ISS.
    counters.add('simultaneous-open');
    this.setState('rcv-syn');
    this.transmit(this.iss, TcpFlag.syn | TcpFlag.ack, 0, 0, true);
  }

  /**
   * The fifth check (RFC 9293 §3.10.7.4) with RFC 5961 §5.2. Returns false when the segment
   * must be dropped.
   */
  private receiveAck(segment: TcpRepr, payloadLength: number, fin: boolean, now: number): boolean {
    const ack = segment.ack;
    const counters = this.host.counters;
    const verdict = classifyAck(ack, this.sndUna, this.sndMax, this.maxSndWnd);
    if (verdict === 'future') {
      counters.add('ack-future');
      this.ackNow = true;
      this.output();
      return false;
    }
    if (verdict === 'too-old') {
      counters.add('ack-too-old');
      this.sendChallengeAck();
      return false;
    }
    // Window update (RFC 9293 §3.10.7.4): only from a segment newer than the last update.
    const window = segment.window << this.sndWscale;
    let windowChanged = false;
    if (seqLt(this.sndWl1, segment.seq) || (this.sndWl1 === segment.seq && seqLe(this.sndWl2, ack))) {
      windowChanged = window !== this.sndWnd;
      this.sndWnd = window;
      this.sndWl1 = segment.seq;
      this.sndWl2 = ack;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
      if (window > 0) {
        this.persistDeadline = Infinity;
        this.persistBackoff = 0;
      }
    }
    // RFC 6675 Update(): the cumulative part, then the SACK blocks (RFC 2018 §3).
    let sacked = 0;
    const blocks = segment.sackBlocks;
    if (this.sackEnabled && (blocks.length > 0 || this.scoreboard !== undefined)) {
      const board = (this.scoreboard ??= new SackScoreboard({ mss: this.segmentSize }, this.sndUna));
      if (verdict === 'acceptable') board.onCumulativeAck(ack);
      for (let i = 0; i < blocks.length; i++) sacked += board.addSackBlock(blocks[i].left, blocks[i].right, this.sndMax);
    }
    if (verdict === 'acceptable') {
      this.newAck(segment, ack, now, sacked);
    } else if (
      ack === this.sndUna &&
      this.sndMax !== this.sndUna &&
      this.state !== 'TIME-WAIT' &&
      (sacked > 0 || (payloadLength === 0 && !fin && !windowChanged))
    ) {
      // A duplicate ACK: RFC 5681 §2's definition, or one that SACKs new data (RFC 6675 §2).
      this.duplicateAck(now, sacked);
    }
    return true;
  }

  /** An ACK above SND.UNA. */
  private newAck(segment: TcpRepr, ack: number, now: number, sacked: number): void {
    const acked = seqDiff(ack, this.sndUna);
    const flightBefore = seqDiff(this.sndMax, this.sndUna);
    // RFC 7661: the application, not cwnd, limits the sender when nothing waits to be sent and
    // the data out (from SND.NXT, which a timeout moves back) leaves cwnd unused.
    const appLimited =
      seqDiff(seqAdd(this.ringSeq, this.sendRing.length), this.sndNxt) <= 0 &&
      seqDiff(this.sndNxt, this.sndUna) + this.segmentSize <= (this.cc?.cwnd ?? 0);
    // Data bytes acknowledged: our FIN occupies one sequence number after the data.
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.ringSeq)), this.sendRing.length);
    if (dataAcked > 0) {
      this.sendRing.consume(dataAcked);
      this.ringSeq = seqAdd(this.ringSeq, dataAcked);
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.timeoutCount = 0;
    this.dupAcks = 0;

    // RTT: timestamps (RFC 7323 §4) or one timed segment with Karn's rule (RFC 6298 §3).
    let rttSample: number | undefined;
    if (this.tsEnabled && segment.tsEcr !== undefined && segment.tsEcr !== 0) {
      const sample = seqDiff(this.tsNow(), segment.tsEcr);
      if (sample >= 0 && this.rtt.sample(sample, 'timestamp', RttEstimator.expectedSamples(flightBefore, this.segmentSize))) {
        rttSample = sample;
      }
    } else if (this.rttSeq !== undefined && seqGe(ack, this.rttSeq)) {
      const sample = now - this.rttStart;
      if (this.rtt.sample(sample, 'new-data')) rttSample = sample;
      this.rttSeq = undefined;
    }

    // Congestion control and loss recovery (RFC 5681 §3, RFC 6582 §3.2, RFC 6675 §5).
    const cc = this.cc;
    if (cc !== undefined) {
      const sample: AckSample = {
        now,
        ackedBytes: acked,
        sackedBytes: sacked,
        rtt: rttSample,
        inFlight: flightBefore,
        appLimited,
      };
      if (this.inRecovery) {
        if (seqGe(ack, this.recoverSeq)) {
          cc.onRecoveryAck(sample, false);
          this.inRecovery = false;
          cc.onExitRecovery(now, seqDiff(this.sndMax, ack));
        } else {
          cc.onRecoveryAck(sample, true);
          // NewReno: a partial ACK means the next hole is lost too (RFC 6582 §3.2 step 5).
          // With SACK, NextSeg() picks the retransmissions in output().
          if (this.scoreboard === undefined || !this.scoreboard.inRecovery) this.retransmitFirst();
          if (this.firstPartialAck) {
            this.firstPartialAck = false;
            this.rtoDeadline = now + this.rtt.rto;
          }
        }
      } else {
        cc.onAck(sample);
        // RFC 6675 §5: SACK information alone (IsLost(HighACK + 1)) may start recovery.
        if (this.scoreboard !== undefined && this.sndUna !== this.sndMax && this.scoreboard.shouldEnterRecovery(0)) {
          this.enterRecovery(now);
        }
      }
    }

    // Our FIN acknowledged?
    if (this.finSeq !== undefined && seqGt(ack, this.finSeq)) this.finAcked();
    if (this.state === 'CLOSED') return;

    // RFC 6298 §5.2-5.3: stop the timer when everything is acknowledged, else restart it
    // (in recovery, only on the first partial ACK: RFC 6582 §4.1's "Impatient" variant).
    if (this.sndUna === this.sndMax) this.rtoDeadline = Infinity;
    else if (!this.inRecovery) this.rtoDeadline = now + this.rtt.rto;
    this.wakeWriters();
  }

  private duplicateAck(now: number, sacked: number): void {
    this.dupAcks++;
    const cc = this.cc;
    if (cc === undefined) return;
    const inFlight = seqDiff(this.sndMax, this.sndUna);
    const sample: AckSample = { now, ackedBytes: 0, sackedBytes: sacked, rtt: undefined, inFlight, appLimited: false };
    if (this.inRecovery) {
      cc.onRecoveryAck(sample, true);
      return;
    }
    const board = this.scoreboard;
    const enter =
      board !== undefined
        ? board.shouldEnterRecovery(this.dupAcks)
        : this.dupAcks === DUP_THRESHOLD && seqGe(this.sndUna, this.recoverSeq);
    if (enter) this.enterRecovery(now);
    else cc.onAck(sample);
  }

  /**
   * Loss detected: fast retransmit and recovery. RFC 6582 §3.2 step 2 (NewReno) or RFC 6675 §5
   * steps 4.1-4.3 (SACK): remember the recovery point, tell the controller, retransmit the
   * first unacknowledged segment at once.
   */
  private enterRecovery(now: number): void {
    const cc = this.cc as CongestionControl;
    this.host.counters.add('fast-retransmits');
    this.inRecovery = true;
    this.firstPartialAck = true;
    this.recoverSeq = this.sndMax;
    cc.onEnterRecovery(now, seqDiff(this.sndMax, this.sndUna));
    const board = this.scoreboard;
    if (board !== undefined) {
      board.enterRecovery(this.sndMax);
      let end = seqAdd(this.sndUna, this.segmentSize);
      if (board.rangeCount > 0 && seqLt(board.rangeStart(0), end)) end = board.rangeStart(0);
      const covered = this.retransmitRange(this.sndUna, end);
      if (covered > 0) board.markRetransmitted(seqAdd(this.sndUna, covered));
    } else {
      this.retransmitFirst();
    }
    this.rtoDeadline = now + this.rtt.rto;
  }

  /** Our FIN was acknowledged. */
  private finAcked(): void {
    this.settleShutdown();
    this.setState('rcv-ack-of-fin');
    if (this.state === 'FIN-WAIT-2' && this.discardInput) {
      // An orphaned connection waits for the peer's FIN only so long (Linux's tcp_fin_timeout).
      this.lingerDeadline = this.host.now() + this.config.finWait2Timeout;
    }
    if (this.state === 'TIME-WAIT') this.enterTimeWait();
    else if (this.state === 'CLOSED') this.finish(undefined);
  }

  /** Seventh step: in-window data, in order or not. */
  private receiveText(seq: number, payload: Uint8Array): void {
    const counters = this.host.counters;
    if (this.state !== 'ESTABLISHED' && this.state !== 'FIN-WAIT-1' && this.state !== 'FIN-WAIT-2') {
      // RFC 9293 §3.10.7.4 seventh step: text after the peer's FIN is ignored.
      counters.add('data-after-fin');
      return;
    }
    if (payload.length > this.rcvMss) this.rcvMss = Math.min(payload.length, this.advertisedMss);
    if (seq !== this.rcvNxt) {
      // Out of order: keep it and acknowledge at once (RFC 5681 §4.2) so SACK and fast retransmit work.
      const reassembly = (this.reassembly ??= new Reassembly(this.config.outOfOrderLimit, this.config.outOfOrderSegments));
      if (!reassembly.insert(seq, payload)) counters.add('out-of-order-full');
      counters.add('out-of-order');
      this.ackNow = true;
      return;
    }
    this.deliver(payload, true);
    this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
    const reassembly = this.reassembly;
    if (reassembly !== undefined && !reassembly.empty) {
      const chunks = reassembly.takeInOrder(this.rcvNxt);
      if (chunks !== undefined) {
        for (const chunk of chunks) {
          this.deliver(chunk, false);
          this.rcvNxt = seqAdd(this.rcvNxt, chunk.length);
        }
      }
      // Filling a hole is acknowledged at once (RFC 5681 §4.2).
      this.ackNow = true;
      if (reassembly.finSeq !== undefined && reassembly.finSeq === this.rcvNxt) {
        reassembly.finSeq = undefined;
        this.receiveFin(this.rcvNxt);
      }
    } else if (payload.length >= this.rcvMss) {
      // RFC 1122 4.2.3.2: an ACK for at least every second full-sized segment.
      if (++this.fullSegmentsUnacked >= 2) this.ackNow = true;
    }
    if (!this.ackNow && this.delayedAckDeadline === Infinity) {
      this.delayedAckDeadline = this.host.now() + this.config.delayedAckTimeout;
      this.schedule();
    }
  }

  /**
   * Queues in-order bytes for the application. `payload` is a view of the frame (copied) when
   * `copy`, or an owned piece from reassembly.
   */
  private deliver(payload: Uint8Array, copy: boolean): void {
    const length = payload.length;
    this.bytesReceived += length;
    if (this.discardInput) return;
    const readers = this.readers;
    if (readers !== undefined && readers.length > 0 && this.receiveQueued === 0) {
      (readers.shift() as PendingRead).resolve(copy ? payload.slice() : payload);
      return;
    }
    this.receiveQueued += length;
    if (!copy) {
      this.flushBlock();
      this.receiveQueue.push(payload);
      return;
    }
    let block = this.block;
    if (block === undefined || block.length - this.blockEnd < length) {
      this.flushBlock();
      block = new Uint8Array(Math.max(length, Math.min(RECEIVE_BLOCK, this.config.receiveBufferSize)));
      this.block = block;
      this.blockStart = 0;
      this.blockEnd = 0;
    }
    block.set(payload, this.blockEnd);
    this.blockEnd += length;
  }

  /** Moves the block's unread bytes to the queue (to keep order before an owned piece). */
  private flushBlock(): void {
    const block = this.block;
    if (block !== undefined && this.blockEnd > this.blockStart) {
      this.receiveQueue.push(block.subarray(this.blockStart, this.blockEnd));
      this.blockStart = this.blockEnd;
    }
  }

  /** Takes the oldest unread chunk (all of the block's unread bytes when nothing is queued before them). */
  private takeReceived(): Uint8Array {
    let chunk: Uint8Array;
    const queue = this.receiveQueue;
    if (queue.length === 0) {
      chunk = (this.block as Uint8Array).subarray(this.blockStart, this.blockEnd);
      this.blockStart = this.blockEnd;
    } else {
      chunk = queue.shift() as Uint8Array;
    }
    this.receiveQueued -= chunk.length;
    const block = this.block;
    if (block !== undefined && this.blockStart === this.blockEnd && block.length - this.blockEnd < RECEIVE_BLOCK_MIN_ROOM) {
      this.block = undefined;
    }
    return chunk;
  }

  private clearReceived(): void {
    this.receiveQueue.length = 0;
    this.receiveQueued = 0;
    this.block = undefined;
    this.blockStart = 0;
    this.blockEnd = 0;
  }

  /** Eighth step: the peer's FIN at `finSeq`. */
  private receiveFin(finSeq: number): void {
    if (finSeq !== this.rcvNxt) {
      // The FIN arrived ahead of missing data: remember it for when the hole fills.
      const reassembly = (this.reassembly ??= new Reassembly(this.config.outOfOrderLimit, this.config.outOfOrderSegments));
      reassembly.finSeq = finSeq;
      this.ackNow = true;
      return;
    }
    if (this.peerFinished) {
      this.ackNow = true;
      return;
    }
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.peerFinished = true;
    this.ackNow = true;
    this.setState('rcv-fin');
    this.wakeReaders();
    if (this.state === 'TIME-WAIT') this.enterTimeWait();
  }

  private receiveReset(): void {
    if (this.state === 'SYN-RECEIVED' && this.listener !== undefined) {
      // A passive half-open connection just goes away (RFC 9293 §3.10.7.4 second check).
      this.finish(undefined, 'rcv-rst');
      return;
    }
    if (this.state === 'SYN-RECEIVED') {
      this.fail(new ConnectionRefused(`connection refused by ${formatEndpoint(this.remoteAddress, this.remotePort)}`), 'rcv-rst');
      return;
    }
    if (this.state === 'CLOSING' || this.state === 'LAST-ACK' || this.state === 'TIME-WAIT') {
      this.finish(undefined, 'rcv-rst');
      return;
    }
    this.fail(new ConnectionReset(), 'rcv-rst');
  }

  // ---------------------------------------------------------------------------------------
  // Output

  /** The window we offer now (RFC 9293 §3.8.6.2.2: the right edge never moves left). */
  private receiveWindow(): number {
    return Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
  }

  /**
   * Moves the advertised right edge by receiver-side SWS avoidance (RFC 9293 §3.8.6.2.2):
   * only when it can grow by min(RCV.BUFF / 2, Eff.snd.MSS). Returns the window field.
   */
  private windowField(): number {
    const buffer = this.config.receiveBufferSize;
    const free = Math.max(0, buffer - this.receiveQueued);
    const edge = seqAdd(this.rcvNxt, free);
    if (seqLt(this.rcvAdv, this.rcvNxt)) this.rcvAdv = this.rcvNxt;
    if (seqDiff(edge, this.rcvAdv) >= Math.min(buffer >>> 1, this.advertisedMss)) this.rcvAdv = edge;
    const shift = this.rcvWscale;
    // Round up so the scaled window never retracts the edge we already promised.
    let field = (seqDiff(this.rcvAdv, this.rcvNxt) + (1 << shift) - 1) >>> shift;
    if (field > 0xffff) field = 0xffff;
    this.rcvAdv = seqMax(this.rcvAdv, seqAdd(this.rcvNxt, field << shift));
    return field;
  }

  /** Sends what the windows allow, then an ACK if one is owed and no segment carried it. */
  output(): void {
    const state = this.state;
    if (state === 'CLOSED' || state === 'LISTEN') return;
    if (state === 'SYN-SENT' || state === 'SYN-RECEIVED') {
      if (this.ackNow) this.sendAck();
      this.schedule();
      return;
    }
    let sent = false;
    if (this.cc !== undefined && (state === 'ESTABLISHED' || state === 'CLOSE-WAIT' || finQueued(state))) {
      sent = this.sendData();
    }
    if (!sent && this.ackNow) this.sendAck();
    this.schedule();
  }

  /** Sends new data (and our FIN) within the send and congestion windows. Returns true if anything went out. */
  private sendData(): boolean {
    const cc = this.cc as CongestionControl;
    const mss = this.segmentSize;
    let sent = false;
    const now = this.host.now();
    if (this.inRecovery && this.scoreboard !== undefined && this.scoreboard.inRecovery) return this.sendInSackRecovery(cc, mss, now);
    if (this.sndMax === this.sndUna && now - this.lastSendTime > this.rtt.rto && this.bytesSent > 0) {
      // RFC 5681 §4.1: restart from the restart window after an idle period.
      cc.onIdleRestart(now);
    }
    for (;;) {
      const dataEnd = seqAdd(this.ringSeq, this.sendRing.length);
      const unsent = Math.max(0, seqDiff(dataEnd, this.sndNxt));
      // Our FIN still to (re)send: SND.NXT has not passed the sequence number it occupies.
      const wantFin = this.finSeq !== undefined && seqLe(this.sndNxt, this.finSeq);
      if (unsent === 0 && !wantFin) break;
      const windowRoom = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const flight = seqDiff(this.sndNxt, this.sndUna);
      const cwndRoom = cc.cwnd - flight;
      let length = Math.min(unsent, mss, windowRoom, cwndRoom);
      if (length < 0) length = 0;
      if (length < unsent) {
        if (length === 0) {
          this.armPersistIfStalled(unsent);
          break;
        }
        if (length < mss) {
          // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): no small segment while more data waits,
          // unless it is at least half the largest window the peer offered.
          if (length < this.maxSndWnd >>> 1 || cwndRoom < mss) {
            this.armPersistIfStalled(unsent);
            break;
          }
        }
      } else if (length > 0 && length < mss && flight > 0 && !this.noDelay && !this.finRequested) {
        // Nagle (RFC 1122 4.2.3.4): one small segment in flight at a time.
        break;
      }
      let withFin = wantFin && length === unsent && windowRoom >= length;
      if (length === 0 && !withFin) break;
      let flags = TcpFlag.ack;
      if (length > 0 && length === unsent) flags |= TcpFlag.psh;
      if (withFin) flags |= TcpFlag.fin;
      const seq = this.sndNxt;
      const isRetransmit = seqLt(seq, this.sndMax);
      const requested = length;
      length = this.transmit(seq, flags, seqDiff(seq, this.ringSeq), length, false);
      if (length < requested) withFin = false;
      if (isRetransmit) this.countRetransmit();
      else this.bytesSent += length;
      if (this.rttSeq === undefined && !this.tsEnabled && !isRetransmit && length > 0) {
        this.rttSeq = seqAdd(seq, length);
        this.rttStart = now;
      }
      this.sndNxt = seqAdd(seq, length + (withFin ? 1 : 0));
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      if (this.rtoDeadline === Infinity) this.rtoDeadline = now + this.rtt.rto;
      this.persistDeadline = Infinity;
      sent = true;
      if (withFin) break;
    }
    return sent;
  }

  /**
   * RFC 6675 §5 step (C): while cwnd - pipe >= SMSS, send what NextSeg() chooses: lost data
   * first, then new data, then other un-SACKed data, then one rescue retransmission.
   */
  private sendInSackRecovery(cc: CongestionControl, mss: number, now: number): boolean {
    const board = this.scoreboard as SackScoreboard;
    let sent = false;
    // A bound on segments per call, so a controller that keeps room open cannot spin here.
    for (let budget = Math.ceil(cc.cwnd / mss) + 2; budget > 0; budget--) {
      if (cc.cwnd - board.pipe(this.sndMax) < mss) break;
      const dataEnd = seqAdd(this.ringSeq, this.sendRing.length);
      const unsent = Math.max(0, seqDiff(dataEnd, this.sndMax));
      const windowRoom = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndMax);
      const finPending = this.finSeq !== undefined && seqLe(this.sndMax, this.finSeq);
      const canSendNew = (unsent > 0 && windowRoom >= Math.min(unsent, mss)) || (unsent === 0 && finPending);
      const rule = board.nextSeg(this.sndMax, canSendNew);
      if (rule === 'none') break;
      if (rule === 'new-data') {
        this.sndNxt = this.sndMax;
        const length = Math.min(unsent, mss, Math.max(0, windowRoom));
        const withFin = finPending && length === unsent;
        const sentLength = this.transmit(this.sndNxt, TcpFlag.ack | (withFin ? TcpFlag.fin : 0), seqDiff(this.sndNxt, this.ringSeq), length, false);
        const finOut = withFin && sentLength === length;
        this.bytesSent += sentLength;
        this.sndNxt = seqAdd(this.sndNxt, sentLength + (finOut ? 1 : 0));
        this.sndMax = this.sndNxt;
        sent = true;
        continue;
      }
      const start = board.segmentStart;
      const covered = this.retransmitRange(start, board.segmentEnd);
      if (covered === 0) break;
      if (rule === 'rescue') board.markRescueRetransmitted();
      else board.markRetransmitted(seqAdd(start, covered));
      sent = true;
    }
    if (sent && this.rtoDeadline === Infinity) this.rtoDeadline = now + this.rtt.rto;
    return sent;
  }

  /** Data waits but nothing is in flight to bring an ACK: probe the window (RFC 9293 §3.8.6.1). */
  private armPersistIfStalled(unsent: number): void {
    if (unsent > 0 && this.sndMax === this.sndUna && this.persistDeadline === Infinity) {
      this.persistDeadline = this.host.now() + this.persistInterval();
    }
  }

  private persistInterval(): number {
    return Math.min(Math.max(this.rtt.rto, this.config.minRto) * 2 ** this.persistBackoff, this.config.maxRto);
  }

  /** Retransmits one segment from SND.UNA (fast retransmit, partial ACK). */
  private retransmitFirst(): void {
    this.retransmitRange(this.sndUna, seqAdd(this.sndUna, this.segmentSize));
  }

  /**
   * Retransmits the sent data in [start, end) (at most one segment), with our FIN if it
   * directly follows. Returns the sequence space covered (0 when nothing was sent).
   */
  private retransmitRange(start: number, end: number): number {
    const dataEnd = seqAdd(this.ringSeq, this.sendRing.length);
    const requested = Math.max(0, Math.min(seqDiff(end, start), seqDiff(dataEnd, start), seqDiff(this.sndMax, start)));
    const finSent = this.finSeq !== undefined && seqGt(this.sndMax, this.finSeq);
    let withFin = finSent && seqAdd(start, requested) === this.finSeq;
    if (requested === 0 && !withFin) return 0;
    const flags = TcpFlag.ack | (withFin ? TcpFlag.fin : 0);
    const length = this.transmit(start, flags, seqDiff(start, this.ringSeq), requested, false);
    if (length < requested) withFin = false;
    this.countRetransmit();
    return length + (withFin ? 1 : 0);
  }

  private countRetransmit(): void {
    this.retransmits++;
    this.host.counters.add('retransmits');
    // Karn (RFC 6298 §3): a timed segment that was retransmitted gives no sample.
    this.rttSeq = undefined;
  }

  private sendAck(): void {
    // A pure ACK carries the highest sequence number sent, not SND.NXT: after a timeout SND.NXT
    // goes back to SND.UNA (RFC 5681 §3.1 go-back), and an ACK numbered there lies below the
    // peer's RCV.NXT once the peer has our data. The peer would find it unacceptable and drop
    // it unread (RFC 9293 §3.10.7.4), so two ends that both timed out would never learn of
    // each other's ACKs and would trade such ACKs until they gave up.
    this.transmit(this.sndMax, TcpFlag.ack, 0, 0, false);
  }

  /** RFC 5961 §3.2, §4.2, §5.2: an ACK that only a peer in sync can use, rate-limited (§7). */
  private sendChallengeAck(): void {
    if (!this.host.allowChallengeAck()) {
      this.host.counters.add('challenge-ack-limited');
      return;
    }
    this.host.counters.add('challenge-acks');
    this.sendAck();
  }

  private sendReset(seq: number): void {
    this.host.counters.add('resets-sent');
    this.transmit(seq, TcpFlag.rst, 0, 0, false);
  }

  /**
   * Builds and sends one segment in place: header fields from the TCB, `length` bytes of the
   * send ring from `dataOffset` (one copy), the checksum unless the device offloads it.
   */
  private transmit(seq: number, flags: number, dataOffset: number, length: number, syn: boolean): number {
    const repr = txRepr;
    repr.sourcePort = this.localPort;
    repr.destinationPort = this.remotePort;
    repr.seq = seq;
    const hasAck = (flags & TcpFlag.ack) !== 0;
    repr.ack = hasAck ? this.rcvNxt : 0;
    repr.flags = flags;
    repr.urgent = 0;
    if (syn) {
      // SYN options (RFC 9293 §3.7.1, RFC 7323 §2.2, §3.2, RFC 2018 §2); the window is unscaled.
      const synAck = hasAck;
      repr.mss = this.advertisedMss;
      const offerScale = synAck ? this.peerOfferedWscale && this.wantWindowScale : this.wantWindowScale;
      repr.windowScale = offerScale ? this.rcvWscale : undefined;
      repr.sackPermitted = synAck ? this.sackEnabled : this.wantSack;
      const withTs = synAck ? this.tsEnabled : this.wantTimestamps;
      repr.tsVal = withTs ? this.tsNow() : undefined;
      repr.tsEcr = withTs ? (synAck ? this.tsRecent : 0) : undefined;
      repr.window = Math.min(this.config.receiveBufferSize, 0xffff);
      if (seqLt(this.rcvAdv, seqAdd(this.rcvNxt, repr.window))) this.rcvAdv = seqAdd(this.rcvNxt, repr.window);
      repr.sackBlocks = NO_SACK;
    } else {
      repr.mss = undefined;
      repr.windowScale = undefined;
      repr.sackPermitted = false;
      repr.window = (flags & TcpFlag.rst) !== 0 ? 0 : this.windowField();
      if (this.tsEnabled) {
        repr.tsVal = this.tsNow();
        repr.tsEcr = this.tsRecent;
      } else {
        repr.tsVal = undefined;
        repr.tsEcr = undefined;
      }
      const reassembly = this.reassembly;
      if (this.sackEnabled && hasAck && reassembly !== undefined && !reassembly.empty) {
        repr.sackBlocks = txBlockViews[reassembly.sackBlocks(txBlockStore, this.tsEnabled ? 3 : 4)];
      } else {
        repr.sackBlocks = NO_SACK;
      }
    }
    const optionsLength = tcpOptionsLength(repr);
    let dataLength = length;
    // Data and options together stay within the MSS (RFC 9293 §3.7.1, RFC 6691): SACK blocks
    // take their room from the payload.
    if (dataLength > this.sndMss - optionsLength) {
      dataLength = Math.max(0, this.sndMss - optionsLength);
      // The FIN follows the last byte, which this segment no longer carries.
      repr.flags &= ~TcpFlag.fin;
    }
    txRing = this.sendRing;
    txDataOffset = dataOffset;
    txDataLength = dataLength;
    const ip = this.host.ip;
    txChecksum = !ip.txChecksumOffload;
    txSource = this.localAddress;
    txDestination = this.remoteAddress;
    const size = TCP_HEADER_LENGTH + optionsLength + dataLength;
    if (hasAck) {
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.fullSegmentsUnacked = 0;
      this.delayedAckDeadline = Infinity;
    }
    this.lastSendTime = this.host.now();
    this.host.traffic.segmentsSent++;
    if (!ip.write(this.remoteAddress, TCP_PROTOCOL, size, fillSegment, txChecksum ? undefined : CHECKSUM_BY_IP)) {
      this.host.counters.add('ip-write-failed');
    }
    txRing = undefined;
    return dataLength;
  }

  /** Our timestamp clock: milliseconds plus the per-connection offset (RFC 7323 §5.4). */
  private tsNow(): number {
    return (Math.floor(this.host.now()) + this.tsOffset) >>> 0;
  }

  private updateTsRecent(tsVal: number): void {
    this.tsRecent = tsVal;
    this.tsRecentAt = this.host.now();
  }

  // ---------------------------------------------------------------------------------------
  // Timers

  private schedule(): void {
    const next = Math.min(
      this.rtoDeadline,
      this.persistDeadline,
      this.delayedAckDeadline,
      this.keepAliveDeadline,
      this.lingerDeadline,
      this.connectDeadline,
    );
    if (next === Infinity) {
      if (this.timer !== undefined) {
        this.timer.cancel();
        this.timer = undefined;
        this.timerAt = Infinity;
      }
      return;
    }
    // A timer that fires no later than needed stays: it re-arms itself when it fires early.
    if (this.timer !== undefined && this.timerAt <= next) return;
    if (this.timer !== undefined) this.timer.cancel();
    this.timerAt = next;
    this.timer = this.clock.setTimer(next - this.host.now(), this.onTimerBound);
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.host.now();
    if (this.lingerDeadline <= now) {
      this.lingerDeadline = Infinity;
      // TIME-WAIT's 2·MSL, or an orphaned FIN-WAIT-2, is over.
      this.finish(undefined, 'timeout');
      return;
    }
    if (this.connectDeadline <= now) {
      this.connectDeadline = Infinity;
      this.fail(this.softError ?? new TimeoutError(`connect to ${formatEndpoint(this.remoteAddress, this.remotePort)} timed out`), 'timeout');
      return;
    }
    if (this.rtoDeadline <= now) {
      this.rtoDeadline = Infinity;
      this.onRetransmitTimeout(now);
      if (this.state === 'CLOSED') return;
    }
    if (this.persistDeadline <= now) {
      this.persistDeadline = Infinity;
      this.onPersist();
    }
    if (this.delayedAckDeadline <= now) {
      this.delayedAckDeadline = Infinity;
      this.ackNow = true;
    }
    if (this.keepAliveDeadline <= now) {
      this.keepAliveDeadline = Infinity;
      this.onKeepAlive(now);
      if (this.state === 'CLOSED') return;
    }
    this.output();
    this.schedule();
  }

  /** RFC 6298 §5.4-5.7 and RFC 5681 §3.1: back off, go back to SND.UNA, retransmit. */
  private onRetransmitTimeout(now: number): void {
    const state = this.state;
    if (state === 'SYN-SENT' || (state === 'SYN-RECEIVED' && this.sndUna === this.iss)) {
      if (this.synRetransmits >= this.config.synRetries) {
        this.host.counters.add('syn-timeouts');
        this.fail(this.softError ?? new TimeoutError(`no answer from ${formatEndpoint(this.remoteAddress, this.remotePort)}`), 'timeout');
        return;
      }
      this.synRetransmits++;
      this.rtt.backoff();
      this.retransmits++;
      this.host.counters.add('retransmits');
      this.sendSyn();
      return;
    }
    if (this.sndUna === this.sndMax) return;
    if (this.timeoutCount >= this.config.maxRetransmits) {
      this.host.counters.add('retransmit-timeouts');
      this.fail(this.softError ?? new TimeoutError(`${formatEndpoint(this.remoteAddress, this.remotePort)} stopped acknowledging`), 'timeout');
      return;
    }
    this.timeoutCount++;
    this.host.counters.add('rto-expired');
    this.rtt.backoff();
    this.cc?.onRetransmitTimeout(now, seqDiff(this.sndMax, this.sndUna));
    this.scoreboard?.onRetransmitTimeout(this.sndMax);
    // RFC 6582 §4: after a timeout, recovery starts afresh from SND.MAX.
    this.inRecovery = false;
    this.recoverSeq = this.sndMax;
    this.dupAcks = 0;
    this.sndNxt = this.sndUna;
    this.rtoDeadline = now + this.rtt.rto;
    if (this.cc !== undefined) {
      if (!this.sendData()) this.retransmitFirst();
    } else {
      this.retransmitFirst();
    }
  }

  /** Zero-window probe (RFC 9293 §3.8.6.1, RFC 1122 4.2.2.17): an old sequence number draws an ACK with the window. */
  private onPersist(): void {
    const dataEnd = seqAdd(this.ringSeq, this.sendRing.length);
    if (seqDiff(dataEnd, this.sndNxt) <= 0 || this.sndMax !== this.sndUna) return;
    this.host.counters.add('window-probes');
    if (this.sndWnd > 0) {
      // The window is open but too small for SWS avoidance: the override timeout sends anyway.
      const length = Math.min(this.sndWnd, seqDiff(dataEnd, this.sndNxt), this.segmentSize);
      const seq = this.sndNxt;
      this.transmit(seq, TcpFlag.ack | TcpFlag.psh, seqDiff(seq, this.ringSeq), length, false);
      this.bytesSent += length;
      this.sndNxt = seqAdd(seq, length);
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      this.rtoDeadline = this.host.now() + this.rtt.rto;
      return;
    }
    this.transmit(seqAdd(this.sndUna, -1 >>> 0), TcpFlag.ack, 0, 0, false);
    this.persistBackoff = Math.min(this.persistBackoff + 1, 16);
    this.persistDeadline = this.host.now() + this.persistInterval();
  }

  /** RFC 1122 4.2.3.6: a probe with SEG.SEQ = SND.NXT-1 draws an ACK from a live peer. */
  private onKeepAlive(now: number): void {
    if (!this.keepAlive || (this.state !== 'ESTABLISHED' && this.state !== 'CLOSE-WAIT')) return;
    if (this.keepAliveProbesSent >= this.config.keepAliveProbes) {
      this.host.counters.add('keepalive-timeouts');
      this.fail(new TimeoutError('keepalive: the peer stopped answering'), 'timeout');
      return;
    }
    this.keepAliveProbesSent++;
    this.host.counters.add('keepalive-probes');
    this.transmit(seqAdd(this.sndNxt, -1 >>> 0), TcpFlag.ack, 0, 0, false);
    this.keepAliveDeadline = now + this.config.keepAliveInterval;
  }

  private resetKeepAlive(): void {
    this.keepAliveProbesSent = 0;
    this.keepAliveDeadline = this.keepAlive ? this.host.now() + this.keepAliveIdle : Infinity;
  }

  private enterTimeWait(): void {
    this.rtoDeadline = Infinity;
    this.persistDeadline = Infinity;
    this.keepAliveDeadline = Infinity;
    this.lingerDeadline = this.host.now() + 2 * this.config.msl;
    this.releaseBuffers();
    this.settleClose();
    this.schedule();
  }

  // ---------------------------------------------------------------------------------------
  // Closing

  private setState(event: TcpEvent): void {
    const next = transition(this.state, event);
    if (next !== undefined) this.state = next;
  }

  /** The connection failed: settle every waiter with `error`, send nothing more, forget it. */
  private fail(error: MorganaError, event: TcpEvent): void {
    this.error = error;
    this.finish(error, event);
  }

  /** Reaches CLOSED: cancels the timer, releases buffers, settles waiters, leaves the table. */
  private finish(error: MorganaError | undefined, event: TcpEvent = 'timeout'): void {
    if (this.finished) return;
    this.finished = true;
    this.setState(event);
    this.state = 'CLOSED';
    this.rtoDeadline = Infinity;
    this.persistDeadline = Infinity;
    this.delayedAckDeadline = Infinity;
    this.keepAliveDeadline = Infinity;
    this.lingerDeadline = Infinity;
    this.connectDeadline = Infinity;
    this.schedule();
    this.releaseBuffers();
    const connect = this.connectWaiter;
    this.connectWaiter = undefined;
    if (connect !== undefined) connect.reject(error ?? new ClosedError('connection closed before it was established'));
    if (error !== undefined) {
      this.clearReceived();
      const readers = this.readers;
      this.readers = undefined;
      if (readers !== undefined) for (const reader of readers) reader.reject(error);
    } else {
      this.wakeReaders();
    }
    const writers = this.writers;
    this.writers = undefined;
    if (writers !== undefined) for (const writer of writers) writer.reject(error ?? new ClosedError());
    const shutdownWaiters = this.shutdownWaiters;
    this.shutdownWaiters = undefined;
    if (shutdownWaiters !== undefined) {
      for (const waiter of shutdownWaiters) {
        if (error !== undefined) waiter.reject(error);
        else waiter.resolve();
      }
    }
    const closeWaiters = this.closeWaiters;
    this.closeWaiters = undefined;
    if (closeWaiters !== undefined) {
      for (const waiter of closeWaiters) {
        if (error !== undefined) waiter.reject(error);
        else waiter.resolve();
      }
    }
    this.host.closed(this);
  }

  private releaseBuffers(): void {
    this.sendRing.release();
    this.scoreboard = undefined;
    this.reassembly?.clear();
    this.reassembly = undefined;
    const writers = this.writers;
    if (writers !== undefined && writers.length > 0 && this.state !== 'CLOSED') {
      this.writers = undefined;
      for (const writer of writers) writer.reject(new ClosedError('the connection finished sending'));
    }
  }

  private settleShutdown(): void {
    const waiters = this.shutdownWaiters;
    this.shutdownWaiters = undefined;
    if (waiters !== undefined) for (const waiter of waiters) waiter.resolve();
  }

  private settleClose(): void {
    const waiters = this.closeWaiters;
    this.closeWaiters = undefined;
    if (waiters !== undefined) for (const waiter of waiters) waiter.resolve();
  }

  /** The user's CLOSE for our direction, once every queued write is in the send buffer (RFC 9293 §3.10.4). */
  private requestFin(): void {
    if (this.finRequested) return;
    if (this.writers !== undefined && this.writers.length > 0) return;
    const state = this.state;
    if (state === 'SYN-SENT') {
      this.finish(undefined, 'close');
      return;
    }
    if (state !== 'ESTABLISHED' && state !== 'CLOSE-WAIT') return;
    this.finRequested = true;
    this.finSeq = seqAdd(this.ringSeq, this.sendRing.length);
    this.setState('close');
    this.output();
  }

  // ---------------------------------------------------------------------------------------
  // ICMP (RFC 1122 4.2.3.9, RFC 5927)

  /** An ICMP error quoting one of our segments with sequence number `seq`. */
  icmpError(type: number, code: number, seq: number, nextHopMtu: number, error: MorganaError): void {
    const counters = this.host.counters;
    // RFC 5927 §4.1: the quoted sequence number must be one we have sent and not yet had acknowledged.
    if (!(seqGe(seq, this.sndUna) && seqLt(seq, seqMax(this.sndMax, seqAdd(this.sndUna, 1))))) {
      counters.add('icmp-out-of-window');
      return;
    }
    if (type === 3 && code === 4) {
      // Fragmentation needed (RFC 1191): lower the MSS and resend what no longer fits.
      counters.add('icmp-frag-needed');
      const mss = Math.max(MIN_PMTU_MSS, nextHopMtu - 20 - TCP_HEADER_LENGTH);
      if (nextHopMtu > 0 && mss < this.sndMss) {
        this.sndMss = mss;
        this.cc?.setMss(this.segmentSize);
        this.scoreboard?.setMss(this.segmentSize);
        if (this.state !== 'SYN-SENT' && this.sndUna !== this.sndMax) {
          this.sndNxt = this.sndUna;
          this.output();
        }
      }
      return;
    }
    if (type === 3 && (code === 2 || code === 3) && this.state === 'SYN-SENT') {
      // Protocol or port unreachable while connecting is a hard error (RFC 1122 4.2.3.9).
      counters.add('icmp-hard-error');
      this.fail(new ConnectionRefused(`${formatEndpoint(this.remoteAddress, this.remotePort)}: ${error.message}`), 'abort');
      return;
    }
    counters.add('icmp-soft-error');
    this.softError = error;
  }

  // ---------------------------------------------------------------------------------------
  // The flow

  read(): Promise<Uint8Array | null> {
    if (this.receiveQueued > 0) {
      const chunk = this.takeReceived();
      this.windowOpened();
      return Promise.resolve(chunk);
    }
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.peerFinished || this.state === 'CLOSED' || this.discardInput) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      (this.readers ??= []).push({ resolve, reject });
    });
  }

  /** The application made room: tell the peer if the window grew enough (RFC 9293 §3.8.6.2.2). */
  private windowOpened(): void {
    if (!isSynchronized(this.state) || this.peerFinished) return;
    const free = this.config.receiveBufferSize - this.receiveQueued;
    const edge = seqAdd(this.rcvNxt, free);
    const growth = seqDiff(edge, this.rcvAdv);
    if (growth >= Math.min(this.config.receiveBufferSize >>> 1, this.advertisedMss) || this.receiveWindow() === 0) {
      this.ackNow = true;
      this.output();
    }
  }

  private wakeReaders(): void {
    const readers = this.readers;
    if (readers === undefined || readers.length === 0) return;
    if (this.receiveQueued > 0) return;
    if (!this.peerFinished && this.state !== 'CLOSED' && !this.discardInput) return;
    this.readers = undefined;
    for (const reader of readers) reader.resolve(null);
  }

  write(data: Uint8Array): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.finRequested || this.state === 'CLOSED' || finQueued(this.state)) {
      return Promise.reject(new ClosedError('the connection is shut down for writing'));
    }
    if (this.writers !== undefined && this.writers.length > 0) {
      return new Promise((resolve, reject) => {
        (this.writers as PendingWrite[]).push({ data, offset: 0, resolve, reject });
      });
    }
    const taken = this.sendRing.append(data, 0);
    this.afterAppend();
    if (taken === data.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      (this.writers ??= []).push({ data, offset: taken, resolve, reject });
    });
  }

  writev(chunks: readonly Uint8Array[]): Promise<void> {
    if (chunks.length === 1) return this.write(chunks[0]);
    return this.write(concatBytes(chunks));
  }

  private afterAppend(): void {
    if (this.state !== 'ESTABLISHED' && this.state !== 'CLOSE-WAIT') return;
    this.host.enter();
    try {
      this.output();
    } finally {
      this.host.leave();
    }
  }

  /** ACKs made room in the send ring: move pending writes in, resolve those that fit. */
  private wakeWriters(): void {
    const writers = this.writers;
    if (writers === undefined || writers.length === 0) return;
    while (writers.length > 0) {
      const writer = writers[0];
      writer.offset += this.sendRing.append(writer.data, writer.offset);
      if (writer.offset < writer.data.length) break;
      writers.shift();
      writer.resolve();
    }
    if (writers.length === 0 && this.shutdownWaiters !== undefined) this.requestFin();
  }

  shutdown(): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    const promise = new Promise<void>((resolve, reject) => {
      (this.shutdownWaiters ??= []).push({ resolve, reject });
    });
    if (this.state === 'CLOSED' || (this.finSeq !== undefined && seqGt(this.sndUna, this.finSeq))) {
      this.settleShutdown();
      return promise;
    }
    this.requestFin();
    return promise;
  }

  close(): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.state === 'CLOSED' || this.state === 'TIME-WAIT') return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => {
      (this.closeWaiters ??= []).push({ resolve, reject });
    });
    this.discardInput = true;
    this.clearReceived();
    this.wakeReaders();
    if (this.shutdownWaiters === undefined) this.shutdownWaiters = [];
    this.requestFin();
    if (this.state === 'FIN-WAIT-2' && this.lingerDeadline === Infinity) {
      this.lingerDeadline = this.host.now() + this.config.finWait2Timeout;
      this.schedule();
    }
    return promise;
  }

  abort(): void {
    if (this.state === 'CLOSED') return;
    if (isSynchronized(this.state) && this.state !== 'TIME-WAIT') {
      // RFC 9293 §3.10.5: ABORT sends <SEQ=SND.NXT><CTL=RST>.
      this.sendReset(this.sndNxt);
    }
    this.fail(new ConnectionReset('connection aborted locally'), 'abort');
  }

  /** The TCP layer is closing: reset the peer, fail what is pending with ClosedError. */
  closeForLayer(): void {
    if (this.state === 'CLOSED') return;
    if (isSynchronized(this.state) && this.state !== 'TIME-WAIT') this.sendReset(this.sndNxt);
    // Whoever asked to close or shut down got what they asked for: only reads, writes and
    // connects still pending fail.
    for (const waiter of this.closeWaiters?.splice(0) ?? []) waiter.resolve();
    for (const waiter of this.shutdownWaiters?.splice(0) ?? []) waiter.resolve();
    this.fail(new ClosedError('the TCP layer was closed'), 'abort');
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (noDelay) this.output();
  }

  setKeepAlive(enable: boolean, idleMs?: number): void {
    this.keepAlive = enable;
    if (idleMs !== undefined && idleMs > 0) this.keepAliveIdle = idleMs;
    if (this.state !== 'CLOSED') {
      this.resetKeepAlive();
      this.schedule();
    }
  }

  info(): TcpInfo {
    const cc = this.cc;
    return {
      state: this.state,
      srtt: this.rtt.hasSample ? this.rtt.srtt : 0,
      rttvar: this.rtt.hasSample ? this.rtt.rttvar : 0,
      rto: this.rtt.rto,
      cwnd: cc?.cwnd ?? 0,
      ssthresh: cc?.ssthresh ?? 0,
      mss: this.segmentSize,
      retransmits: this.retransmits,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      sndWnd: this.sndWnd,
      rcvWnd: this.receiveWindow(),
      congestionControl: cc?.name ?? (typeof this.config.congestionControl === 'function' ? 'custom' : this.config.congestionControl),
    };
  }

  /** For TIME-WAIT reuse (RFC 6191): the peer's last timestamp, when timestamps were on. */
  timeWaitTimestamp(): number | undefined {
    return this.tsEnabled ? this.tsRecent : undefined;
  }

  /** Drops the connection without a word (TIME-WAIT replaced by a new incarnation, or the layer closing). */
  discard(): void {
    this.finish(undefined, 'timeout');
  }
}

/** The smallest window shift that lets `buffer` bytes be offered (RFC 7323 §2.3), at most 14. */
export function windowShiftFor(buffer: number): number {
  let shift = 0;
  while (shift < MAX_WINDOW_SCALE && buffer >>> shift > 0xffff) shift++;
  return shift;
}

function formatEndpoint(address: Ipv4Address, port: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}:${port}`;
}
