/**
 * The Identification field (RFC 791 §3.2). It only has to be unique per (source,
 * destination, protocol) for as long as a datagram may live (RFC 6864 §4), so a counter per
 * destination would do; a single global counter instead leaks our sending rate to anyone who
 * receives two datagrams (the "idle scan") and makes the next value guessable for blind
 * fragment injection (RFC 7739 §4). The generator keeps a table of counters that start at
 * random values, and picks the counter by a keyed hash of the flow (RFC 7739 §5.3.2).
 */
import type { Ipv4Address, Random } from '@morgana/core';

/** Hands out Identification values. */
export class IdentificationGenerator {
  private readonly counters: Uint16Array;
  private readonly mask: number;
  private readonly key: number;

  /** `buckets` is rounded up to a power of two; more buckets mean fewer flows sharing one. */
  constructor(random: Random, buckets: number) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(1, buckets)));
    this.counters = new Uint16Array(size);
    random.fill(new Uint8Array(this.counters.buffer));
    this.mask = size - 1;
    this.key = random.uint32();
  }

  /** The next Identification for a datagram of `protocol` from `source` to `destination`. */
  next(source: Ipv4Address, destination: Ipv4Address, protocol: number): number {
    let hash = Math.imul(destination ^ this.key, 0x9e3779b1);
    hash = Math.imul(hash ^ source ^ (hash >>> 15), 0x85ebca6b);
    hash = Math.imul(hash ^ protocol ^ (hash >>> 13), 0xc2b2ae35);
    hash ^= hash >>> 16;
    const index = hash & this.mask;
    const value = this.counters[index];
    this.counters[index] = value + 1;
    return value;
  }
}
