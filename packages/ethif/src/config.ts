/** ARP configuration: every limit and timeout, with its default and the reason for it. */
import type { Ipv4Address } from '@morgana/core';

/** Configuration of {@link createArp}. Times are in milliseconds. */
export interface ArpConfig {
  /** Our IPv4 addresses, announced at start (RFC 5227 §2.3); default none (e.g. before DHCP). */
  readonly addresses?: readonly Ipv4Address[];
  /** How long a learned entry stays valid after the last ARP packet from its host; default 60 000. */
  readonly entryLifetime?: number;
  /**
   * An entry used within this long before it expires is re-requested by unicast to the cached
   * MAC (at most once per `requestInterval`), so traffic to a live host never stalls on a
   * broadcast; default 5 000.
   */
  readonly refreshWindow?: number;
  /** Most learned (dynamic) entries; the least recently used is evicted past it. Default 512. Static entries are not counted. */
  readonly cacheLimit?: number;
  /** Packets queued per address while it is being resolved; the oldest is dropped past it. 0 queues nothing. Default 48. */
  readonly pendingPerAddress?: number;
  /** Addresses being resolved or remembered as unreachable, together; default 64. */
  readonly pendingAddressLimit?: number;
  /** Wait after the first request before the next one; default 1 000 (RFC 1122 2.3.2.1: at most one per second). */
  readonly requestInterval?: number;
  /** Each further wait is the previous one times this; default 2. */
  readonly requestBackoff?: number;
  /** Requests sent before an address is declared unreachable; default 3. */
  readonly maxRequests?: number;
  /**
   * After an address is declared unreachable, output to it is dropped at once, without new
   * requests, for this long (so a dead host does not cause an ARP storm); default 20 000.
   * 0 turns the negative cache off.
   */
  readonly negativeLifetime?: number;
  /** RFC 5227 ANNOUNCE_NUM: announcements per new address; default 2. */
  readonly announceCount?: number;
  /** RFC 5227 ANNOUNCE_INTERVAL: time between announcements; default 2 000. */
  readonly announceInterval?: number;
  /** RFC 5227 PROBE_WAIT: the first probe is sent after a random delay up to this; default 1 000. */
  readonly probeWait?: number;
  /** RFC 5227 PROBE_NUM: probes sent; default 3. */
  readonly probeCount?: number;
  /** RFC 5227 PROBE_MIN: shortest random delay between probes; default 1 000. */
  readonly probeMin?: number;
  /** RFC 5227 PROBE_MAX: longest random delay between probes; default 2 000. */
  readonly probeMax?: number;
  /** RFC 5227 ANNOUNCE_WAIT: wait after the last probe before the address is declared free; default 2 000. */
  readonly announceWait?: number;
  /** RFC 5227 DEFEND_INTERVAL: at most one defending announcement per address this often; default 10 000. */
  readonly defendInterval?: number;
}

/** {@link ArpConfig} with every field set. */
export type ResolvedArpConfig = Required<ArpConfig>;

/** The defaults of {@link ArpConfig}. */
export const ARP_DEFAULTS: Readonly<Omit<ResolvedArpConfig, 'addresses'>> = {
  entryLifetime: 60_000,
  refreshWindow: 5_000,
  cacheLimit: 512,
  // Three packets were the long-standing default of Linux's unres_qlen: enough for a TCP
  // handshake's retransmission or a short burst, small enough that a dead neighbour holds little.
  // A 65 507-byte UDP datagram is 45 fragments at MTU 1500: hold a whole one while ARP resolves
  // (Linux holds 212 992 bytes per neighbour; 48 full frames are about 72 kB).
  pendingPerAddress: 48,
  pendingAddressLimit: 64,
  requestInterval: 1_000,
  requestBackoff: 2,
  maxRequests: 3,
  negativeLifetime: 20_000,
  announceCount: 2,
  announceInterval: 2_000,
  probeWait: 1_000,
  probeCount: 3,
  probeMin: 1_000,
  probeMax: 2_000,
  announceWait: 2_000,
  defendInterval: 10_000,
};

function requireInteger(name: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) throw new RangeError(`ArpConfig.${name} must be an integer of at least ${minimum}, got ${value}`);
}

function requireTime(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`ArpConfig.${name} must be a time of 0 ms or more, got ${value}`);
}

/** Fills in defaults and checks every field; throws RangeError naming the bad field. */
export function resolveArpConfig(config: ArpConfig): ResolvedArpConfig {
  const resolved: ResolvedArpConfig = { ...ARP_DEFAULTS, addresses: [], ...stripUndefined(config) };
  requireInteger('cacheLimit', resolved.cacheLimit, 1);
  requireInteger('pendingPerAddress', resolved.pendingPerAddress, 0);
  requireInteger('pendingAddressLimit', resolved.pendingAddressLimit, 1);
  requireInteger('maxRequests', resolved.maxRequests, 1);
  requireInteger('announceCount', resolved.announceCount, 0);
  requireInteger('probeCount', resolved.probeCount, 1);
  requireInteger('probeWait', resolved.probeWait, 0);
  requireInteger('probeMin', resolved.probeMin, 0);
  requireInteger('probeMax', resolved.probeMax, resolved.probeMin);
  requireTime('entryLifetime', resolved.entryLifetime);
  requireTime('refreshWindow', resolved.refreshWindow);
  requireTime('requestInterval', resolved.requestInterval);
  requireTime('negativeLifetime', resolved.negativeLifetime);
  requireTime('announceInterval', resolved.announceInterval);
  requireTime('announceWait', resolved.announceWait);
  requireTime('defendInterval', resolved.defendInterval);
  if (!Number.isFinite(resolved.requestBackoff) || resolved.requestBackoff < 1) {
    throw new RangeError(`ArpConfig.requestBackoff must be 1 or more, got ${resolved.requestBackoff}`);
  }
  return resolved;
}

function stripUndefined(config: ArpConfig): ArpConfig {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) if (value !== undefined) out[key] = value;
  return out as ArpConfig;
}
