/**
 * The DHCP client state machine (RFC 2131 §4.4, figure 5): INIT → SELECTING → REQUESTING →
 * (ARP check) → BOUND → RENEWING → REBINDING, with retransmission, DECLINE, NAK, expiry and
 * RELEASE.
 */
import {
  type Arp,
  type Clock,
  ClosedError,
  CounterSet,
  type Counters,
  DecodeError,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ipv4,
  type Ipv4Address,
  type MacAddress,
  type Random,
  type Timer,
  TimeoutError,
  type Udp,
  type UdpDatagram,
  type UdpSocket,
  bytesEqual,
  randomBelow,
} from '@morgana/core';
import { type DhcpLease, INFINITE_LEASE, leaseFromAck, leasePrefix } from './lease.js';
import { DhcpMessageType, type DhcpOptions } from './options.js';
import { BootpOp, type DhcpMessage, dhcpLength, dhcpMessage, emitDhcpInto, macBytes, parseDhcp } from './wire.js';

/** UDP ports of BOOTP/DHCP (RFC 2131 §4.1). */
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

/** Configuration of {@link createDhcpClient}. Every field has a default. */
export interface DhcpClientConfig {
  /** Delay before the first retransmission of DISCOVER or REQUEST; default 4000 ms (RFC 2131 4.1). */
  readonly initialRetransmitMs?: number;
  /** Cap of the doubling retransmission delay; default 64 000 ms (RFC 2131 4.1). */
  readonly maxRetransmitMs?: number;
  /** Each retransmission delay is moved by a uniform random amount within ± this; default 1000 ms (RFC 2131 4.1). */
  readonly retransmitJitterMs?: number;
  /** REQUEST retransmissions in REQUESTING before starting over from INIT; default 4 (RFC 2131 3.1.5). */
  readonly requestRetries?: number;
  /** Shortest wait between retransmissions in RENEWING and REBINDING; default 60 000 ms (RFC 2131 4.4.5). */
  readonly minRenewRetransmitMs?: number;
  /** Wait after declining an address before starting over; default 10 000 ms (RFC 2131 3.1.5). */
  readonly declineWaitMs?: number;
  /** Probe an offered address with ARP before using it (RFC 2131 3.1.5, RFC 5227); default true. */
  readonly probe?: boolean;
  /** Longest random wait before the first DISCOVER; default 0 (RFC 2131 4.4.1 suggests 1-10 s for hosts booting together). */
  readonly initialDelayMaxMs?: number;
  /** `start()` rejects with `TimeoutError` (and the client stops) without a lease after this long; default 60 000 ms, 0 for never. */
  readonly startTimeoutMs?: number;
  /** Option 55; default subnet mask, router, DNS, domain name, broadcast address, lease time, T1, T2. */
  readonly parameterRequestList?: readonly number[];
  /** Option 61; default type 1 (Ethernet) and our MAC (RFC 2132 §9.14). */
  readonly clientId?: Uint8Array;
  /** Option 12, sent when set. */
  readonly hostName?: string;
  /** Option 51 in DISCOVER and REQUEST: the lease time we would like, seconds; default none (the server's choice). */
  readonly requestedLeaseTime?: number;
  /** Option 57: the largest DHCP message we accept; default 1500. */
  readonly maxMessageSize?: number;
}

/** Defaults of {@link DhcpClientConfig} (those that have a value). */
export const DHCP_CLIENT_DEFAULTS = {
  initialRetransmitMs: 4000,
  maxRetransmitMs: 64_000,
  retransmitJitterMs: 1000,
  requestRetries: 4,
  minRenewRetransmitMs: 60_000,
  declineWaitMs: 10_000,
  probe: true,
  initialDelayMaxMs: 0,
  startTimeoutMs: 60_000,
  parameterRequestList: [1, 3, 6, 15, 28, 51, 58, 59] as readonly number[],
  maxMessageSize: 1500,
} as const;

/** The client's state (RFC 2131 figure 5, plus `checking` for the ARP probe and `declined` for the wait after DECLINE). */
export type DhcpState = 'stopped' | 'init' | 'selecting' | 'requesting' | 'checking' | 'declined' | 'bound' | 'renewing' | 'rebinding';

/** What the client reports. */
export interface DhcpClientEvents {
  /** A new lease: the address was configured. */
  bound: DhcpLease;
  /** The lease was extended (RENEWING or REBINDING got a DHCPACK). */
  renewed: DhcpLease;
  /** The lease ended (expired, or the server refused to extend it): the address was removed. */
  expired: DhcpLease;
  /** An offered address was found in use and declined. */
  declined: Ipv4Address;
  /** A server refused a request (DHCPNAK); the client starts over. */
  nak: Ipv4Address;
}

/** A DHCP client. */
export interface DhcpClient {
  /** Starts (or joins a start in progress); resolves with the first lease. Rejects with `TimeoutError` or `ClosedError`. */
  start(): Promise<DhcpLease>;
  /** Stops without telling the server; the address stays configured. Idempotent. */
  stop(): void;
  /** Gives the lease back (DHCPRELEASE), removes the address, and stops. */
  release(): void;
  on<E extends keyof DhcpClientEvents>(event: E, handler: (value: DhcpClientEvents[E]) => void): void;
  state(): DhcpState;
  /** The lease held, if any. */
  lease(): DhcpLease | undefined;
  stats(): Counters;
}

/** What {@link createDhcpClient} is built on. */
export interface DhcpClientDeps {
  readonly udp: Udp;
  readonly ipv4: Ipv4;
  readonly arp: Arp;
  readonly clock: Clock;
  readonly random: Random;
  /** Our hardware address (chaddr, and the default client identifier). */
  readonly mac: MacAddress;
}

/** Longest single host timer: longer waits are chained, since host timers overflow past 2^31 - 1 ms. */
const MAX_TIMER_MS = 24 * 60 * 60 * 1000;
/** The interface configuration without a lease. */
const UNCONFIGURED = { address: { address: IPV4_ANY, length: 0 } };

type Handlers = { [E in keyof DhcpClientEvents]: ((value: DhcpClientEvents[E]) => void)[] };

/** An offer being requested. */
interface Offer {
  readonly address: Ipv4Address;
  readonly server: Ipv4Address;
}

class Client implements DhcpClient {
  private current: DhcpState = 'stopped';
  private held: DhcpLease | undefined;
  private socket: UdpSocket | undefined;
  private readonly counters = new CounterSet();
  private readonly handlers: Handlers = { bound: [], renewed: [], expired: [], declined: [], nak: [] };
  private readonly chaddr: Uint8Array;
  private readonly clientId: Uint8Array;
  private readonly config: Required<Omit<DhcpClientConfig, 'hostName' | 'requestedLeaseTime' | 'clientId'>> &
    Pick<DhcpClientConfig, 'hostName' | 'requestedLeaseTime'>;

  private xid = 0;
  /** When the current acquisition or renewal began (for `secs`), and when its REQUEST went out. */
  private processStartedAt = 0;
  private requestSentAt = 0;
  private attempts = 0;
  private consecutiveNaks = 0;
  private offer: Offer | undefined;
  /** Bumped on every state change, so a stale timer or probe result is ignored. */
  private generation = 0;
  private stateTimer: Timer | undefined;
  private readonly leaseTimers: Timer[] = [];
  private startTimer: Timer | undefined;
  private startWaiters: { resolve: (lease: DhcpLease) => void; reject: (error: Error) => void }[] = [];

  constructor(
    private readonly deps: DhcpClientDeps,
    config: DhcpClientConfig,
  ) {
    this.config = { ...DHCP_CLIENT_DEFAULTS, ...config };
    this.chaddr = macBytes(deps.mac);
    this.clientId = config.clientId ?? Uint8Array.of(1, ...this.chaddr);
  }

  on<E extends keyof DhcpClientEvents>(event: E, handler: (value: DhcpClientEvents[E]) => void): void {
    (this.handlers[event] as ((value: DhcpClientEvents[E]) => void)[]).push(handler);
  }

  state(): DhcpState {
    return this.current;
  }

  lease(): DhcpLease | undefined {
    return this.held;
  }

  stats(): Counters {
    return this.counters.snapshot();
  }

  start(): Promise<DhcpLease> {
    if (this.current !== 'stopped' && this.held !== undefined && this.startWaiters.length === 0) return Promise.resolve(this.held);
    if (this.current === 'stopped') {
      let socket: UdpSocket;
      try {
        socket = this.deps.udp.bind({ port: DHCP_CLIENT_PORT, broadcast: true });
      } catch (error) {
        // Port 68 taken (another client on this stack): nothing was started.
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      socket.onMessage((datagram) => this.input(datagram));
      this.socket = socket;
      if (this.config.startTimeoutMs > 0) {
        this.startTimer = this.deps.clock.setTimer(this.config.startTimeoutMs, () => this.startTimedOut());
      }
      this.enterInit(this.held?.address, this.randomDelay(this.config.initialDelayMaxMs));
    }
    return new Promise<DhcpLease>((resolve, reject) => this.startWaiters.push({ resolve, reject }));
  }

  stop(): void {
    if (this.current === 'stopped') return;
    this.setState('stopped');
    this.cancelLeaseTimers();
    this.startTimer?.cancel();
    this.startTimer = undefined;
    this.socket?.close();
    this.socket = undefined;
    this.settleStart(undefined, new ClosedError('DHCP client stopped'));
  }

  release(): void {
    const lease = this.held;
    if (lease !== undefined && (this.current === 'bound' || this.current === 'renewing' || this.current === 'rebinding')) {
      // RFC 2131 4.4.6: DHCPRELEASE, unicast to the server, with our address in ciaddr.
      this.xid = this.deps.random.uint32();
      this.send(DhcpMessageType.release, lease.server, { ciaddr: lease.address }, { serverId: lease.server });
      this.deps.ipv4.configure(UNCONFIGURED);
      this.held = undefined;
    }
    this.stop();
  }

  // ------------------------------------------------------------------ states

  private setState(state: DhcpState): void {
    this.current = state;
    this.generation++;
    this.stateTimer?.cancel();
    this.stateTimer = undefined;
  }

  /** INIT: a fresh xid, then DISCOVER (after `delayMs`), retransmitted until an offer comes. */
  private enterInit(previous: Ipv4Address | undefined, delayMs = 0): void {
    this.setState('init');
    this.offer = undefined;
    const generation = this.generation;
    this.stateTimer = this.deps.clock.setTimer(delayMs, () => {
      if (this.generation !== generation) return;
      this.setState('selecting');
      this.xid = this.deps.random.uint32();
      this.processStartedAt = this.deps.clock.now();
      this.attempts = 0;
      this.sendDiscover(previous);
      this.scheduleRetransmit(() => this.retransmitDiscover(previous));
    });
  }

  private retransmitDiscover(previous: Ipv4Address | undefined): void {
    this.attempts++;
    this.counters.add('retransmits');
    this.sendDiscover(previous);
    this.scheduleRetransmit(() => this.retransmitDiscover(previous));
  }

  private enterRequesting(offer: Offer): void {
    this.setState('requesting');
    this.offer = offer;
    this.attempts = 0;
    this.sendSelectingRequest(offer);
    this.scheduleRetransmit(() => this.retransmitRequest(offer));
  }

  private retransmitRequest(offer: Offer): void {
    if (this.attempts >= this.config.requestRetries) {
      // RFC 2131 3.1.5: no DHCPACK or DHCPNAK after the retransmissions: back to INIT.
      this.counters.add('request-timeouts');
      this.enterInit(undefined);
      return;
    }
    this.attempts++;
    this.counters.add('retransmits');
    this.sendSelectingRequest(offer);
    this.scheduleRetransmit(() => this.retransmitRequest(offer));
  }

  /** RFC 2131 4.1: 4 s, doubling to 64 s, each randomised by ±1 s. */
  private scheduleRetransmit(action: () => void): void {
    const base = Math.min(this.config.initialRetransmitMs * 2 ** this.attempts, this.config.maxRetransmitMs);
    const jitter = this.config.retransmitJitterMs;
    const delay = Math.max(0, base + randomBelow(this.deps.random, 2 * jitter + 1) - jitter);
    const generation = this.generation;
    this.stateTimer = this.deps.clock.setTimer(delay, () => {
      if (this.generation === generation) action();
    });
  }

  /** The ACK was checked by ARP (or probing is off): configure and start the lease timers. */
  private enterBound(lease: DhcpLease, renewal: boolean): void {
    const previous = this.held;
    this.setState('bound');
    this.held = lease;
    this.consecutiveNaks = 0;
    if (previous === undefined || previous.address !== lease.address || previous.prefixLength !== lease.prefixLength || previous.gateway !== lease.gateway) {
      this.deps.ipv4.configure({ address: leasePrefix(lease), gateway: lease.gateway });
    }
    this.startLeaseTimers(lease);
    this.counters.add(renewal ? 'renewals' : 'leases');
    this.emit(renewal ? 'renewed' : 'bound', lease);
    this.startTimer?.cancel();
    this.startTimer = undefined;
    this.settleStart(lease, undefined);
  }

  private startLeaseTimers(lease: DhcpLease): void {
    this.cancelLeaseTimers();
    if (lease.leaseTime === INFINITE_LEASE) return;
    const elapsed = this.deps.clock.now() - lease.obtainedAt;
    this.leaseTimers.push(
      this.longTimer(lease.renewalTime * 1000 - elapsed, () => this.enterRenewing(lease)),
      this.longTimer(lease.rebindingTime * 1000 - elapsed, () => this.enterRebinding(lease)),
      this.longTimer(lease.leaseTime * 1000 - elapsed, () => this.expire(lease)),
    );
  }

  private cancelLeaseTimers(): void {
    for (const timer of this.leaseTimers.splice(0)) timer.cancel();
  }

  /** T1 (RFC 2131 4.4.5): ask the server that granted the lease, by unicast. */
  private enterRenewing(lease: DhcpLease): void {
    if (this.current !== 'bound') return;
    this.setState('renewing');
    this.beginRenewal();
    this.renewStep(lease, 'renewing');
  }

  /** T2: ask any server, by broadcast. */
  private enterRebinding(lease: DhcpLease): void {
    if (this.current !== 'bound' && this.current !== 'renewing') return;
    this.setState('rebinding');
    this.beginRenewal();
    this.renewStep(lease, 'rebinding');
  }

  private beginRenewal(): void {
    this.xid = this.deps.random.uint32();
    this.processStartedAt = this.deps.clock.now();
  }

  /**
   * Sends a renewing or rebinding REQUEST and waits half the time left until T2 (renewing) or
   * expiry (rebinding), but at least a minute, before the next (RFC 2131 4.4.5).
   */
  private renewStep(lease: DhcpLease, state: 'renewing' | 'rebinding'): void {
    this.requestSentAt = this.deps.clock.now();
    const destination = state === 'renewing' ? lease.server : IPV4_BROADCAST;
    this.send(DhcpMessageType.request, destination, { ciaddr: lease.address }, {});
    const deadline = lease.obtainedAt + (state === 'renewing' ? lease.rebindingTime : lease.leaseTime) * 1000;
    const delay = Math.max((deadline - this.deps.clock.now()) / 2, this.config.minRenewRetransmitMs);
    const generation = this.generation;
    this.stateTimer = this.longTimer(delay, () => {
      if (this.generation !== generation) return;
      this.counters.add('retransmits');
      this.renewStep(lease, state);
    });
  }

  /** The lease ran out (or a server NAKed its extension): remove the address and start over. */
  private expire(lease: DhcpLease): void {
    if (this.held !== lease) return;
    this.cancelLeaseTimers();
    this.held = undefined;
    this.deps.ipv4.configure(UNCONFIGURED);
    this.counters.add('expired');
    this.emit('expired', lease);
    this.enterInit(lease.address);
  }

  private decline(offer: Offer): void {
    // RFC 2131 3.1.5 and 4.4.1: DHCPDECLINE with the address, then wait before starting over.
    this.send(DhcpMessageType.decline, IPV4_BROADCAST, {}, { requestedAddress: offer.address, serverId: offer.server });
    this.counters.add('declines');
    this.emit('declined', offer.address);
    this.setState('declined');
    const generation = this.generation;
    this.stateTimer = this.deps.clock.setTimer(this.config.declineWaitMs, () => {
      if (this.generation === generation) this.enterInit(undefined);
    });
  }

  private startTimedOut(): void {
    this.startTimer = undefined;
    if (this.held !== undefined) return;
    this.counters.add('start-timeouts');
    const error = new TimeoutError(`no DHCP lease within ${this.config.startTimeoutMs} ms`);
    this.settleStart(undefined, error);
    this.stop();
  }

  // ------------------------------------------------------------------ receiving

  private input(datagram: UdpDatagram): void {
    this.counters.add('rx-messages');
    if (datagram.port !== DHCP_SERVER_PORT) {
      this.counters.add('bad-source-port');
      return;
    }
    let message: DhcpMessage;
    try {
      message = parseDhcp(datagram.data);
    } catch (error) {
      this.counters.add(error instanceof DecodeError ? `malformed-${error.reason}` : 'malformed');
      return;
    }
    if (message.op !== BootpOp.reply || message.xid !== this.xid || !bytesEqual(message.chaddr, this.chaddr)) {
      this.counters.add('not-ours');
      return;
    }
    switch (message.options.messageType) {
      case DhcpMessageType.offer:
        this.counters.add('rx-offer');
        this.inputOffer(message);
        return;
      case DhcpMessageType.ack:
        this.counters.add('rx-ack');
        this.inputAck(message);
        return;
      case DhcpMessageType.nak:
        this.counters.add('rx-nak');
        this.inputNak(message);
        return;
      default:
        this.counters.add('unexpected-type');
    }
  }

  private inputOffer(message: DhcpMessage): void {
    if (this.current !== 'selecting') {
      this.counters.add('unexpected-offer');
      return;
    }
    const server = message.options.serverId;
    if (message.yiaddr === IPV4_ANY || message.yiaddr === IPV4_BROADCAST || server === undefined) {
      this.counters.add('bad-offer');
      return;
    }
    // The first acceptable offer is taken (RFC 2131 4.4.1 lets the client choose; waiting for
    // more would only delay the common single-server case).
    this.enterRequesting({ address: message.yiaddr, server });
  }

  private inputAck(message: DhcpMessage): void {
    const state = this.current;
    if (state !== 'requesting' && state !== 'renewing' && state !== 'rebinding') {
      this.counters.add('unexpected-ack');
      return;
    }
    const offer = this.offer;
    const server = message.options.serverId ?? (state === 'renewing' ? this.held?.server : offer?.server);
    if (state === 'requesting' && (offer === undefined || message.yiaddr !== offer.address || server !== offer.server)) {
      this.counters.add('bad-ack');
      return;
    }
    if (server === undefined || message.yiaddr === IPV4_ANY) {
      this.counters.add('bad-ack');
      return;
    }
    let lease: DhcpLease;
    try {
      lease = leaseFromAck(message.yiaddr, server, message.options, this.requestSentAt);
    } catch (error) {
      this.counters.add(error instanceof DecodeError ? error.reason : 'bad-ack');
      return;
    }
    if (state !== 'requesting') {
      this.enterBound(lease, this.held?.address === lease.address);
      return;
    }
    if (!this.config.probe) {
      this.enterBound(lease, false);
      return;
    }
    this.setState('checking');
    const generation = this.generation;
    this.deps.arp.probe(lease.address).then(
      (taken) => {
        if (this.generation !== generation) return;
        if (taken) this.decline({ address: lease.address, server });
        else this.enterBound(lease, false);
      },
      () => {
        // A probe that could not run says nothing against the address.
        if (this.generation !== generation) return;
        this.counters.add('probe-failed');
        this.enterBound(lease, false);
      },
    );
  }

  private inputNak(message: DhcpMessage): void {
    const state = this.current;
    if (state !== 'requesting' && state !== 'renewing' && state !== 'rebinding') {
      this.counters.add('unexpected-nak');
      return;
    }
    const server = message.options.serverId ?? IPV4_ANY;
    this.emit('nak', server);
    const lease = this.held;
    if (lease !== undefined) {
      // RFC 2131 4.4.5: a DHCPNAK while renewing or rebinding ends the lease at once.
      this.expire(lease);
      return;
    }
    // RFC 2131 3.1.5: start over. The first restart is immediate; a server that keeps refusing
    // gets the retransmission backoff between attempts, so the exchange cannot spin.
    this.consecutiveNaks++;
    const delay = this.consecutiveNaks <= 1 ? 0 : Math.min(this.config.initialRetransmitMs * 2 ** (this.consecutiveNaks - 2), this.config.maxRetransmitMs);
    this.enterInit(undefined, delay);
  }

  // ------------------------------------------------------------------ sending

  private sendDiscover(previous: Ipv4Address | undefined): void {
    this.send(DhcpMessageType.discover, IPV4_BROADCAST, { broadcast: true }, {
      requestedAddress: previous,
      leaseTime: this.config.requestedLeaseTime,
    });
  }

  private sendSelectingRequest(offer: Offer): void {
    // RFC 2131 4.3.2 / table 5: SELECTING requests name the server and the offered address,
    // with ciaddr zero, and reuse the offer's xid.
    this.requestSentAt = this.deps.clock.now();
    this.send(DhcpMessageType.request, IPV4_BROADCAST, { broadcast: true }, {
      requestedAddress: offer.address,
      serverId: offer.server,
      leaseTime: this.config.requestedLeaseTime,
    });
  }

  private send(type: number, destination: Ipv4Address, fields: Partial<DhcpMessage>, extra: DhcpOptions): void {
    const socket = this.socket;
    if (socket === undefined) return;
    const withParameters = type === DhcpMessageType.discover || type === DhcpMessageType.request;
    const options: DhcpOptions = {
      messageType: type,
      clientId: this.clientId,
      ...(withParameters
        ? { parameterRequestList: this.config.parameterRequestList, maxMessageSize: this.config.maxMessageSize, hostName: this.config.hostName }
        : {}),
      ...extra,
    };
    const secs = Math.min(0xffff, Math.floor((this.deps.clock.now() - this.processStartedAt) / 1000));
    const message = dhcpMessage({ op: BootpOp.request, xid: this.xid, chaddr: this.chaddr, secs, options: stripUndefined(options), ...fields });
    const sent = socket.sendWith(dhcpLength(message), (buffer) => {
      buffer.fill(0);
      return emitDhcpInto(message, buffer);
    }, destination, DHCP_SERVER_PORT);
    this.counters.add(sent ? `tx-${MESSAGE_NAMES[type]}` : 'tx-dropped');
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Calls the event's handlers. One that throws must not break the state machine halfway
   * through a transition: the error is counted and rethrown from a microtask.
   */
  private emit<E extends keyof DhcpClientEvents>(event: E, value: DhcpClientEvents[E]): void {
    for (const handler of this.handlers[event] as ((value: DhcpClientEvents[E]) => void)[]) {
      try {
        handler(value);
      } catch (error) {
        this.counters.add('handler-errors');
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private settleStart(lease: DhcpLease | undefined, error: Error | undefined): void {
    for (const waiter of this.startWaiters.splice(0)) {
      if (lease !== undefined) waiter.resolve(lease);
      else waiter.reject(error ?? new ClosedError('DHCP client stopped'));
    }
  }

  private randomDelay(maxMs: number): number {
    return maxMs > 0 ? randomBelow(this.deps.random, maxMs + 1) : 0;
  }

  /** A timer for any delay: host timers overflow past 2^31 - 1 ms, so long waits are chained. */
  private longTimer(delayMs: number, callback: () => void): Timer {
    const clock = this.deps.clock;
    const deadline = clock.now() + delayMs;
    let timer: Timer;
    const arm = (): void => {
      const left = deadline - clock.now();
      timer = clock.setTimer(Math.min(left, MAX_TIMER_MS), () => (deadline - clock.now() > 0 ? arm() : callback()));
    };
    arm();
    return { cancel: () => timer.cancel() };
  }
}

const MESSAGE_NAMES: Record<number, string> = {
  [DhcpMessageType.discover]: 'discover',
  [DhcpMessageType.request]: 'request',
  [DhcpMessageType.decline]: 'decline',
  [DhcpMessageType.release]: 'release',
};

function stripUndefined(options: DhcpOptions): DhcpOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as DhcpOptions;
}

/**
 * Creates a DHCP client for the interface of `deps.ipv4`. It binds UDP port 68 when started.
 *
 * ```ts
 * const dhcp = createDhcpClient({ udp, ipv4, arp, clock, random, mac: netif.mac });
 * dhcp.on('expired', () => console.log('address lost'));
 * const lease = await dhcp.start();
 * ```
 */
export function createDhcpClient(deps: DhcpClientDeps, config: DhcpClientConfig = {}): DhcpClient {
  return new Client(deps, config);
}
