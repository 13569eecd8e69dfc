/**
 * Initial sequence numbers (RFC 6528), per-connection timestamp offsets (RFC 7323 §5.4) and
 * SYN cookies, all from SipHash-2-4 keyed with secrets drawn once from the injected Random.
 */
import type { Ipv4Address, Random } from '@morgana/core';
import { sipHash24 } from './siphash.js';
import type { SipKey, SipResult } from './siphash.js';

/** The 4-tuple plus one extra word, hashed by every function here. */
const message = new Uint8Array(20);
const result: SipResult = { high: 0, low: 0 };

function hashTuple(
  key: SipKey,
  localAddress: Ipv4Address,
  localPort: number,
  remoteAddress: Ipv4Address,
  remotePort: number,
  extra1: number,
  extra2: number,
): number {
  const view = message;
  view[0] = localAddress >>> 24;
  view[1] = localAddress >>> 16;
  view[2] = localAddress >>> 8;
  view[3] = localAddress;
  view[4] = remoteAddress >>> 24;
  view[5] = remoteAddress >>> 16;
  view[6] = remoteAddress >>> 8;
  view[7] = remoteAddress;
  view[8] = localPort >>> 8;
  view[9] = localPort;
  view[10] = remotePort >>> 8;
  view[11] = remotePort;
  view[12] = extra1 >>> 24;
  view[13] = extra1 >>> 16;
  view[14] = extra1 >>> 8;
  view[15] = extra1;
  view[16] = extra2 >>> 24;
  view[17] = extra2 >>> 16;
  view[18] = extra2 >>> 8;
  view[19] = extra2;
  return sipHash24(key, message, result).low;
}

function randomKey(random: Random): SipKey {
  return [random.uint32(), random.uint32(), random.uint32(), random.uint32()];
}

/** MSS values a SYN cookie can carry, indexed by two bits (the values Linux found most common). */
export const SYN_COOKIE_MSS = [536, 1300, 1440, 1460] as const;

/** The window-scale field value that means "no window scaling" in a cookie's timestamp bits. */
const COOKIE_NO_WSCALE = 0xf;
/** Low bits of TSval that carry the cookie's options when timestamps are on (like Linux). */
const COOKIE_TS_BITS = 6;
const COOKIE_TS_MASK = (1 << COOKIE_TS_BITS) - 1;
const COOKIE_TS_SACK = 1 << 4;
/** A cookie's time slot: 64 s. */
const COOKIE_SLOT_MS = 64_000;
/** Slots a cookie stays valid after the one it was made in. */
const COOKIE_MAX_AGE_SLOTS = 2;

/** Keyed functions of the 4-tuple. */
export interface SequenceSecrets {
  /** RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs timer. */
  isn(now: number, localAddress: Ipv4Address, localPort: number, remoteAddress: Ipv4Address, remotePort: number): number;
  /** A per-connection offset added to TSval, so timestamps reveal no host clock (RFC 7323 §5.4, §7.1). */
  timestampOffset(localAddress: Ipv4Address, remoteAddress: Ipv4Address): number;
  /** A SYN cookie: our ISN for a SYN answered without keeping state. */
  cookie(
    now: number,
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
    peerIsn: number,
    mssIndex: number,
  ): number;
  /** The MSS index a cookie carries, or -1 when it is forged or too old. */
  checkCookie(
    now: number,
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
    peerIsn: number,
    cookie: number,
  ): number;
}

/** Creates the secrets from `random` (drawn once, at creation). */
export function createSequenceSecrets(random: Random): SequenceSecrets {
  const isnKey = randomKey(random);
  const timestampKey = randomKey(random);
  const cookieKey = randomKey(random);
  const slot = (now: number): number => Math.floor(now / COOKIE_SLOT_MS) & 0xff;
  return {
    isn(now, localAddress, localPort, remoteAddress, remotePort) {
      // M: 4 µs ticks, so sequence numbers keep moving forward between incarnations (RFC 6528 §3).
      const ticks = Math.floor(now * 250);
      return (ticks + hashTuple(isnKey, localAddress, localPort, remoteAddress, remotePort, 0, 0)) >>> 0;
    },
    timestampOffset(localAddress, remoteAddress) {
      // Keyed on the addresses only, like Linux, so a reused port pair keeps moving forward (RFC 6191).
      return hashTuple(timestampKey, localAddress, 0, remoteAddress, 0, 0, 0);
    },
    cookie(now, localAddress, localPort, remoteAddress, remotePort, peerIsn, mssIndex) {
      const t = slot(now);
      const hash = hashTuple(cookieKey, localAddress, localPort, remoteAddress, remotePort, peerIsn, t);
      return ((t << 24) | ((hash + mssIndex) & 0xffffff)) >>> 0;
    },
    checkCookie(now, localAddress, localPort, remoteAddress, remotePort, peerIsn, cookie) {
      const t = cookie >>> 24;
      if (((slot(now) - t) & 0xff) > COOKIE_MAX_AGE_SLOTS) return -1;
      const hash = hashTuple(cookieKey, localAddress, localPort, remoteAddress, remotePort, peerIsn, t);
      const index = (cookie - hash) & 0xffffff;
      return index < SYN_COOKIE_MSS.length ? index : -1;
    },
  };
}

/** The largest cookie MSS not above `mss` (index into {@link SYN_COOKIE_MSS}). */
export function cookieMssIndex(mss: number): number {
  for (let i = SYN_COOKIE_MSS.length - 1; i > 0; i--) if (SYN_COOKIE_MSS[i] <= mss) return i;
  return 0;
}

/**
 * The TSval of a cookie SYN-ACK: `tsNow` with its low bits replaced by the peer's window scale
 * and SACK flag, kept not above `tsNow` so time never runs backwards for the peer.
 */
export function encodeCookieTimestamp(tsNow: number, windowScale: number | undefined, sackPermitted: boolean): number {
  const options = (windowScale ?? COOKIE_NO_WSCALE) | (sackPermitted ? COOKIE_TS_SACK : 0);
  let value = ((tsNow & ~COOKIE_TS_MASK) | options) >>> 0;
  if (((value - tsNow) | 0) > 0) value = (value - (COOKIE_TS_MASK + 1)) >>> 0;
  return value;
}

/** The options a cookie SYN-ACK's TSval carries, read back from the TSecr of the ACK. */
export function decodeCookieTimestamp(tsEcr: number): { windowScale: number | undefined; sackPermitted: boolean } {
  const scale = tsEcr & 0xf;
  return { windowScale: scale === COOKIE_NO_WSCALE ? undefined : scale, sackPermitted: (tsEcr & COOKIE_TS_SACK) !== 0 };
}
