/**
 * ARP for IPv4 over Ethernet (RFC 826): answering for our addresses, a bounded cache with
 * expiry, unicast refresh and LRU eviction, resolution with retries, backoff and a negative
 * cache, a bounded queue of packets waiting for resolution, and RFC 5227 probing, announcing
 * and conflict detection.
 */
import {
  CounterSet,
  DecodeError,
  EtherType,
  IPV4_ANY,
  IPV4_BROADCAST,
  LimitExceeded,
  MAC_BROADCAST,
  MAC_ZERO,
  UnreachableError,
  formatIpv4,
  isMulticastIpv4,
  randomBelow,
} from '@morgana/core';
import type {
  Arp,
  ArpEntry,
  Clock,
  Counters,
  Ethernet,
  Fill,
  Ipv4Address,
  MacAddress,
  Random,
  Timer,
  TxOffload,
} from '@morgana/core';
import { resolveArpConfig } from './config.js';
import type { ArpConfig, ResolvedArpConfig } from './config.js';
import { ARP_PACKET_LENGTH, ArpOperation, ArpPacket, emitArp, parseArp } from './wire.js';
import type { ArpOperationCode, ArpRepr } from './wire.js';

/** A learned entry. */
interface DynamicEntry {
  mac: MacAddress;
  expiresAt: number;
  /** Use sequence number of the last use: the smallest is the least recently used. */
  lastUse: number;
  /** When the last unicast refresh request was sent (-Infinity: never). */
  refreshSentAt: number;
}

/** A packet built while its next hop was unresolved. */
interface QueuedPacket {
  readonly ethertype: number;
  readonly bytes: Uint8Array;
  readonly offload: TxOffload | undefined;
}

interface Waiter {
  readonly resolve: (mac: MacAddress) => void;
  readonly reject: (error: Error) => void;
}

/** An address being resolved. */
interface Resolution {
  readonly queue: QueuedPacket[];
  readonly waiters: Waiter[];
  /** Requests sent so far. */
  tries: number;
  timer: Timer | undefined;
}

/** An RFC 5227 probe in progress. */
interface Probe {
  readonly waiters: ((taken: boolean) => void)[];
  sent: number;
  timer: Timer | undefined;
}

/** RFC 1112 §6.4: IPv4 multicast maps to 01:00:5e plus the low 23 bits of the group address. */
function multicastMac(address: Ipv4Address): MacAddress {
  return (0x01_00_5e_00_00_00 + (address & 0x7f_ff_ff)) as MacAddress;
}

/** True for group MAC addresses (the I/G bit of the first octet). */
function isGroupMac(mac: MacAddress): boolean {
  return Math.floor(mac / 0x100_0000_0000) % 2 === 1;
}

/**
 * Creates the ARP layer and registers it with `ethernet` for EtherType 0x0806. When
 * `config.addresses` is not empty they are announced at once (RFC 5227 §2.3).
 *
 * Counters: `rx-packets`, `requests-received`, `replies-received`, `requests-sent`,
 * `replies-sent`, `refresh-requests-sent`, `announcements-sent`, `probes-sent`, `defends-sent`,
 * `resolved`, `evicted`, `expired`, `unreachable`, `address-conflict`; packet drops
 * `truncated`, `bad-hardware-type`, `bad-protocol-type`, `bad-address-length`,
 * `bad-operation`, `bad-sender` (a group MAC, or a broadcast or multicast address, as sender),
 * `looped` (our own packet came back); output drops `pending-overflow` (oldest queued packet
 * dropped), `pending-full` (too many addresses pending), `unreachable-dropped` (queued packets
 * of an address that never answered), `negative-cache-dropped` (output to an address known to be
 * unreachable), `pending-cancelled` (queued packets of an entry removed while resolving),
 * `bad-address` (output to 0.0.0.0), `tx-oversize`, `tx-dropped`.
 */
export function createArp(deps: { ethernet: Ethernet; clock: Clock; random: Random }, config: ArpConfig = {}): Arp {
  const { ethernet, clock, random } = deps;
  const settings: ResolvedArpConfig = resolveArpConfig(config);
  const ourMac = ethernet.mac;
  const counters = new CounterSet();

  let ourAddresses: Ipv4Address[] = [];
  const ourAddressSet = new Set<Ipv4Address>();
  const statics = new Map<Ipv4Address, MacAddress>();
  const dynamic = new Map<Ipv4Address, DynamicEntry>();
  const resolving = new Map<Ipv4Address, Resolution>();
  /** Unreachable addresses and when they may be tried again, oldest first. */
  const failed = new Map<Ipv4Address, number>();
  const probes = new Map<Ipv4Address, Probe>();
  const announcing = new Map<Ipv4Address, Timer>();
  const defendedAt = new Map<Ipv4Address, number>();
  const unreachableHandlers: ((address: Ipv4Address) => void)[] = [];
  let useSequence = 0;

  // One timer removes expired entries and negative-cache entries: it runs only while there is
  // something to expire, set for the earliest deadline.
  let sweepTimer: Timer | undefined;
  let sweepAt = Infinity;

  // ------------------------------------------------------------------------------------------
  // Sending

  const txPacket = new ArpPacket(new Uint8Array(0));
  const txRepr: { -readonly [K in keyof ArpRepr]: ArpRepr[K] } = {
    operation: ArpOperation.request,
    senderMac: ourMac,
    senderAddress: IPV4_ANY,
    targetMac: MAC_ZERO,
    targetAddress: IPV4_ANY,
  };

  function fillArp(buffer: Uint8Array): number {
    txPacket.bytes = buffer;
    return emitArp(txRepr, txPacket);
  }

  function sendArp(
    destination: MacAddress,
    operation: ArpOperationCode,
    senderAddress: Ipv4Address,
    targetMac: MacAddress,
    targetAddress: Ipv4Address,
    counter: string,
  ): void {
    txRepr.operation = operation;
    txRepr.senderAddress = senderAddress;
    txRepr.targetMac = targetMac;
    txRepr.targetAddress = targetAddress;
    if (ethernet.write(destination, EtherType.arp, ARP_PACKET_LENGTH, fillArp)) counters.add(counter);
    else counters.add('tx-dropped');
  }

  /** The sender address of our requests: the first of ours, or 0.0.0.0 while we have none. */
  function requestSender(): Ipv4Address {
    return ourAddresses.length > 0 ? ourAddresses[0] : IPV4_ANY;
  }

  /** RFC 5227 §2.3: an announcement is a broadcast request with our address as sender and target. */
  function sendAnnouncement(address: Ipv4Address, counter: string): void {
    sendArp(MAC_BROADCAST, ArpOperation.request, address, MAC_ZERO, address, counter);
  }

  // ------------------------------------------------------------------------------------------
  // Expiry

  function armSweep(deadline: number): void {
    if (sweepTimer !== undefined && sweepAt <= deadline) return;
    sweepTimer?.cancel();
    sweepAt = deadline;
    sweepTimer = clock.setTimer(deadline - clock.now(), sweep);
  }

  function stopSweepIfIdle(): void {
    if (dynamic.size === 0 && failed.size === 0 && sweepTimer !== undefined) {
      sweepTimer.cancel();
      sweepTimer = undefined;
      sweepAt = Infinity;
    }
  }

  function sweep(): void {
    sweepTimer = undefined;
    sweepAt = Infinity;
    const now = clock.now();
    let next = Infinity;
    for (const [address, entry] of dynamic) {
      if (entry.expiresAt <= now) {
        dynamic.delete(address);
        counters.add('expired');
      } else if (entry.expiresAt < next) {
        next = entry.expiresAt;
      }
    }
    for (const [address, until] of failed) {
      if (until <= now) failed.delete(address);
      else if (until < next) next = until;
    }
    if (next !== Infinity) armSweep(next);
  }

  /** The live dynamic entry for `address`, removing it when it has expired (timers may run late). */
  function liveEntry(address: Ipv4Address, now: number): DynamicEntry | undefined {
    const entry = dynamic.get(address);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry;
    dynamic.delete(address);
    counters.add('expired');
    stopSweepIfIdle();
    return undefined;
  }

  /** True while `address` is in the negative cache. */
  function isFailed(address: Ipv4Address, now: number): boolean {
    const until = failed.get(address);
    if (until === undefined) return false;
    if (until > now) return true;
    failed.delete(address);
    stopSweepIfIdle();
    return false;
  }

  // ------------------------------------------------------------------------------------------
  // The cache

  /**
   * Marks an entry used. Near its expiry, asks the host again by unicast (like Linux's
   * STALE -> PROBE states) so that a live host is confirmed before the entry lapses.
   */
  function use(entry: DynamicEntry, address: Ipv4Address, now: number, refresh: boolean): void {
    entry.lastUse = ++useSequence;
    if (
      refresh &&
      now >= entry.expiresAt - settings.refreshWindow &&
      now - entry.refreshSentAt >= settings.requestInterval
    ) {
      entry.refreshSentAt = now;
      sendArp(entry.mac, ArpOperation.request, requestSender(), MAC_ZERO, address, 'refresh-requests-sent');
    }
  }

  function evictLeastRecentlyUsed(): void {
    let victim: Ipv4Address | undefined;
    let oldest = Infinity;
    for (const [address, entry] of dynamic) {
      if (entry.lastUse < oldest) {
        oldest = entry.lastUse;
        victim = address;
      }
    }
    if (victim !== undefined) {
      dynamic.delete(victim);
      counters.add('evicted');
    }
  }

  /** Learns `address` at `mac`, evicting the least recently used entry when the cache is full. */
  function learn(address: Ipv4Address, mac: MacAddress, now: number): void {
    const existing = dynamic.get(address);
    const expiresAt = now + settings.entryLifetime;
    if (existing !== undefined) {
      existing.mac = mac;
      existing.expiresAt = expiresAt;
      existing.lastUse = ++useSequence;
      existing.refreshSentAt = -Infinity;
    } else {
      if (dynamic.size >= settings.cacheLimit) evictLeastRecentlyUsed();
      dynamic.set(address, { mac, expiresAt, lastUse: ++useSequence, refreshSentAt: -Infinity });
    }
    armSweep(expiresAt);
  }

  /** Ends a resolution with `mac`: sends what was queued and resolves the queries. */
  function complete(address: Ipv4Address, resolution: Resolution, mac: MacAddress): void {
    resolution.timer?.cancel();
    resolving.delete(address);
    counters.add('resolved');
    for (const packet of resolution.queue) {
      const bytes = packet.bytes;
      const sent = ethernet.write(
        mac,
        packet.ethertype,
        bytes.length,
        (buffer) => {
          buffer.set(bytes);
          return bytes.length;
        },
        packet.offload,
      );
      if (!sent) counters.add('tx-dropped');
    }
    for (const waiter of resolution.waiters) waiter.resolve(mac);
  }

  /**
   * RFC 826 "Packet Reception", merge step: an entry we already hold for the sender is updated
   * from any ARP packet. Returns false when we hold none (then only a packet for us creates one).
   */
  function merge(address: Ipv4Address, mac: MacAddress, now: number): boolean {
    if (statics.has(address)) return true;
    const resolution = resolving.get(address);
    if (resolution !== undefined) {
      learn(address, mac, now);
      complete(address, resolution, mac);
      return true;
    }
    if (failed.delete(address)) {
      learn(address, mac, now);
      return true;
    }
    if (dynamic.has(address)) {
      learn(address, mac, now);
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------------------------------
  // Resolution

  function scheduleRetry(address: Ipv4Address, resolution: Resolution): void {
    const wait = settings.requestInterval * settings.requestBackoff ** (resolution.tries - 1);
    resolution.timer = clock.setTimer(wait, () => {
      resolution.timer = undefined;
      if (resolution.tries < settings.maxRequests) sendRequest(address, resolution);
      else fail(address, resolution);
    });
  }

  function sendRequest(address: Ipv4Address, resolution: Resolution): void {
    resolution.tries++;
    // Armed before sending, so that a reply arriving inside the write can cancel it.
    scheduleRetry(address, resolution);
    sendArp(MAC_BROADCAST, ArpOperation.request, requestSender(), MAC_ZERO, address, 'requests-sent');
  }

  /** Every request went unanswered: drop what waits, remember the failure, tell the listeners. */
  function fail(address: Ipv4Address, resolution: Resolution): void {
    resolving.delete(address);
    counters.add('unreachable');
    if (resolution.queue.length > 0) counters.add('unreachable-dropped', resolution.queue.length);
    if (settings.negativeLifetime > 0) {
      const until = clock.now() + settings.negativeLifetime;
      failed.set(address, until);
      armSweep(until);
    }
    const error = new UnreachableError(
      `no ARP reply from ${formatIpv4(address)} after ${resolution.tries} requests: is the host up and on this link?`,
    );
    for (const waiter of resolution.waiters) waiter.reject(error);
    for (const handler of unreachableHandlers) handler(address);
  }

  /**
   * A new resolution for `address`, not yet asked for (the caller queues its packet or waiter
   * first, then calls {@link sendRequest}: on a synchronous link the reply can arrive inside
   * the request's write). Undefined when `pendingAddressLimit` addresses are already pending.
   */
  function newResolution(address: Ipv4Address): Resolution | undefined {
    if (resolving.size + failed.size >= settings.pendingAddressLimit) {
      // Forgetting the oldest failure costs at most a new round of requests to a dead host;
      // refusing a live one would cost its traffic.
      const oldestFailed = failed.keys().next();
      if (oldestFailed.done === true) {
        counters.add('pending-full');
        return undefined;
      }
      failed.delete(oldestFailed.value);
    }
    const resolution: Resolution = { queue: [], waiters: [], tries: 0, timer: undefined };
    resolving.set(address, resolution);
    return resolution;
  }

  /** The MAC of an address that needs no resolution (broadcast, multicast), else undefined. */
  function groupMac(address: Ipv4Address): MacAddress | undefined {
    if (address === IPV4_BROADCAST) return MAC_BROADCAST;
    if (isMulticastIpv4(address)) return multicastMac(address);
    return undefined;
  }

  /** A resolved MAC without sending anything but a refresh; marks a dynamic entry used. */
  function resolved(address: Ipv4Address, now: number, refresh: boolean): MacAddress | undefined {
    // Learned entries first: they carry nearly all traffic. Static and learned never overlap.
    const entry = liveEntry(address, now);
    if (entry !== undefined) {
      use(entry, address, now, refresh);
      return entry.mac;
    }
    return statics.get(address) ?? groupMac(address);
  }

  // ------------------------------------------------------------------------------------------
  // Probing and announcing (RFC 5227)

  function finishProbe(address: Ipv4Address, probe: Probe, taken: boolean): void {
    probe.timer?.cancel();
    probes.delete(address);
    for (const waiter of probe.waiters) waiter(taken);
  }

  function randomBetween(minimum: number, maximum: number): number {
    return minimum + randomBelow(random, maximum - minimum + 1);
  }

  /** RFC 5227 §2.1.1: PROBE_NUM probes PROBE_MIN..PROBE_MAX apart, then ANNOUNCE_WAIT of silence. */
  function sendProbe(address: Ipv4Address, probe: Probe): void {
    probe.sent++;
    // The next step is armed before sending, so that an answer arriving inside the write can cancel it.
    if (probe.sent < settings.probeCount) {
      probe.timer = clock.setTimer(randomBetween(settings.probeMin, settings.probeMax), () => sendProbe(address, probe));
    } else {
      probe.timer = clock.setTimer(settings.announceWait, () => finishProbe(address, probe, false));
    }
    sendArp(MAC_BROADCAST, ArpOperation.request, IPV4_ANY, MAC_ZERO, address, 'probes-sent');
  }

  /**
   * RFC 5227 §2.1.1: the address is taken when any ARP packet has it as sender, or when
   * another host probes for it at the same time.
   */
  function watchProbes(repr: ArpRepr): void {
    const claimed = probes.get(repr.senderAddress);
    if (claimed !== undefined) finishProbe(repr.senderAddress, claimed, true);
    if (repr.operation === ArpOperation.request && repr.senderAddress === IPV4_ANY) {
      const contested = probes.get(repr.targetAddress);
      if (contested !== undefined) finishProbe(repr.targetAddress, contested, true);
    }
  }

  function announce(address: Ipv4Address, remaining: number): void {
    announcing.delete(address);
    if (remaining <= 0) return;
    if (remaining > 1) {
      announcing.set(
        address,
        clock.setTimer(settings.announceInterval, () => announce(address, remaining - 1)),
      );
    }
    sendAnnouncement(address, 'announcements-sent');
  }

  /**
   * RFC 5227 §2.4: another host uses one of our addresses. We keep the address and defend it
   * with one announcement per DEFEND_INTERVAL (option (c)), so two hosts never fight in a loop.
   */
  function conflict(address: Ipv4Address, now: number): void {
    counters.add('address-conflict');
    const last = defendedAt.get(address);
    if (last !== undefined && now - last < settings.defendInterval) return;
    defendedAt.set(address, now);
    sendAnnouncement(address, 'defends-sent');
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  const rxPacket = new ArpPacket(new Uint8Array(0));

  function receive(payload: Uint8Array): void {
    counters.add('rx-packets');
    rxPacket.bytes = payload;
    let repr: ArpRepr;
    try {
      repr = parseArp(rxPacket);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      counters.add(error.reason);
      return;
    }
    counters.add(repr.operation === ArpOperation.request ? 'requests-received' : 'replies-received');
    const { senderMac, senderAddress, targetAddress } = repr;
    if (senderMac === ourMac) {
      // A switch or a bridge reflected our own broadcast.
      counters.add('looped');
      return;
    }
    // A group MAC or a group IPv4 address as sender would poison the cache: never believe it
    // (RFC 1812 3.3.2 for routers; the same harm applies to hosts).
    if (isGroupMac(senderMac) || senderAddress === IPV4_BROADCAST || isMulticastIpv4(senderAddress)) {
      counters.add('bad-sender');
      return;
    }
    if (probes.size > 0) watchProbes(repr);
    const now = clock.now();
    if (ourAddressSet.has(senderAddress)) {
      conflict(senderAddress, now);
      return;
    }
    const forUs = ourAddressSet.has(targetAddress);
    // An RFC 5227 probe (sender 0.0.0.0) must not change anyone's cache.
    if (senderAddress !== IPV4_ANY && !merge(senderAddress, senderMac, now) && forUs) learn(senderAddress, senderMac, now);
    if (forUs && repr.operation === ArpOperation.request) {
      // RFC 826: swap sender and target, put in our address, send the reply to the asker.
      // A probe (sender 0.0.0.0) gets the reply too: that is how it detects the conflict.
      sendArp(senderMac, ArpOperation.reply, targetAddress, senderMac, senderAddress, 'replies-sent');
    }
  }

  ethernet.register(EtherType.arp, receive);

  // ------------------------------------------------------------------------------------------
  // The public API

  function setAddresses(addresses: readonly Ipv4Address[]): void {
    const next = [...new Set(addresses)];
    const nextSet = new Set(next);
    for (const address of ourAddresses) {
      if (nextSet.has(address)) continue;
      announcing.get(address)?.cancel();
      announcing.delete(address);
      defendedAt.delete(address);
    }
    const added = next.filter((address) => !ourAddressSet.has(address));
    ourAddresses = next;
    ourAddressSet.clear();
    for (const address of next) ourAddressSet.add(address);
    for (const address of added) {
      // Our own address is never a neighbour's.
      dynamic.delete(address);
      announce(address, settings.announceCount);
    }
    stopSweepIfIdle();
  }

  function output(address: Ipv4Address, ethertype: number, size: number, fill: Fill, offload?: TxOffload): boolean {
    const now = clock.now();
    const mac = resolved(address, now, true);
    if (mac !== undefined) return ethernet.write(mac, ethertype, size, fill, offload);
    if (address === IPV4_ANY) {
      counters.add('bad-address');
      return false;
    }
    if (isFailed(address, now)) {
      counters.add('negative-cache-dropped');
      return false;
    }
    if (!(size >= 0 && size <= ethernet.mtu)) {
      counters.add('tx-oversize');
      return false;
    }
    // Built before any state changes, so that a fill that throws leaves nothing half-done.
    let bytes: Uint8Array | undefined;
    if (settings.pendingPerAddress > 0) {
      const copy = new Uint8Array(size);
      const used = fill(copy);
      if (!(used >= 0 && used <= size)) throw new RangeError(`ARP output fill returned ${used} for a payload of at most ${size} bytes`);
      bytes = copy.subarray(0, used);
    }
    const running = resolving.get(address);
    const resolution = running ?? newResolution(address);
    if (resolution === undefined) return false;
    if (bytes === undefined) {
      counters.add('pending-overflow');
    } else {
      if (resolution.queue.length >= settings.pendingPerAddress) {
        resolution.queue.shift();
        counters.add('pending-overflow');
      }
      resolution.queue.push({ ethertype, bytes, offload });
    }
    if (running === undefined) sendRequest(address, resolution);
    return bytes !== undefined;
  }

  function query(address: Ipv4Address): Promise<MacAddress> {
    const now = clock.now();
    const mac = resolved(address, now, true);
    if (mac !== undefined) return Promise.resolve(mac);
    if (address === IPV4_ANY) return Promise.reject(new UnreachableError('0.0.0.0 has no link-layer address'));
    if (isFailed(address, now)) {
      return Promise.reject(
        new UnreachableError(`${formatIpv4(address)} did not answer ARP recently; not asking again before the negative cache expires`),
      );
    }
    const running = resolving.get(address);
    const resolution = running ?? newResolution(address);
    if (resolution === undefined) {
      return Promise.reject(
        new LimitExceeded('pendingAddressLimit', `already resolving ${settings.pendingAddressLimit} addresses (ArpConfig.pendingAddressLimit)`),
      );
    }
    const answer = new Promise<MacAddress>((resolve, reject) => resolution.waiters.push({ resolve, reject }));
    if (running === undefined) sendRequest(address, resolution);
    return answer;
  }

  function probe(address: Ipv4Address): Promise<boolean> {
    return new Promise((resolve) => {
      const running = probes.get(address);
      if (running !== undefined) {
        running.waiters.push(resolve);
        return;
      }
      const state: Probe = { waiters: [resolve], sent: 0, timer: undefined };
      probes.set(address, state);
      state.timer = clock.setTimer(randomBetween(0, settings.probeWait), () => sendProbe(address, state));
    });
  }

  function addStatic(address: Ipv4Address, mac: MacAddress): void {
    statics.set(address, mac);
    dynamic.delete(address);
    failed.delete(address);
    const resolution = resolving.get(address);
    if (resolution !== undefined) complete(address, resolution, mac);
    stopSweepIfIdle();
  }

  function remove(address: Ipv4Address): void {
    statics.delete(address);
    dynamic.delete(address);
    failed.delete(address);
    const resolution = resolving.get(address);
    if (resolution !== undefined) {
      resolution.timer?.cancel();
      resolving.delete(address);
      if (resolution.queue.length > 0) counters.add('pending-cancelled', resolution.queue.length);
      const error = new UnreachableError(`the ARP entry for ${formatIpv4(address)} was removed while it was being resolved`);
      for (const waiter of resolution.waiters) waiter.reject(error);
    }
    stopSweepIfIdle();
  }

  function entries(): ArpEntry[] {
    const now = clock.now();
    const rows: ArpEntry[] = [];
    for (const [address, mac] of statics) rows.push({ address, mac, kind: 'static', expiresAt: undefined });
    for (const [address, entry] of dynamic) {
      if (entry.expiresAt > now) rows.push({ address, mac: entry.mac, kind: 'dynamic', expiresAt: entry.expiresAt });
    }
    for (const address of resolving.keys()) rows.push({ address, mac: undefined, kind: 'pending', expiresAt: undefined });
    return rows;
  }

  setAddresses(settings.addresses);

  return {
    setAddresses,
    addresses: () => [...ourAddresses],
    lookup: (address) => resolved(address, clock.now(), false),
    query,
    output,
    onUnreachable(handler) {
      unreachableHandlers.push(handler);
    },
    probe,
    addStatic,
    remove,
    entries,
    stats: (): Counters => counters.snapshot(),
  };
}
