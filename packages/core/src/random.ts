/**
 * Randomness is injected: ISNs, ephemeral ports, identifiers and nonces come from a
 * {@link Random}, seedable in tests and cryptographically strong in production.
 */

/** A source of random bits. */
export interface Random {
  /** Fills `bytes` with random bytes. */
  fill(bytes: Uint8Array): void;
  /** A uniformly random unsigned 32-bit integer. */
  uint32(): number;
}

/** Bytes fetched from the platform per refill of the uint32 pool. */
const POOL_WORDS = 256;

/** `crypto.getRandomValues`, pooled for `uint32()` so a port pick costs no system call. */
export function createSystemRandom(): Random {
  const pool = new Uint32Array(POOL_WORDS);
  let next = POOL_WORDS;
  return {
    fill(bytes) {
      // getRandomValues accepts at most 65536 bytes per call.
      for (let offset = 0; offset < bytes.length; offset += 65536) {
        crypto.getRandomValues(bytes.subarray(offset, Math.min(bytes.length, offset + 65536)));
      }
    },
    uint32() {
      if (next === POOL_WORDS) {
        crypto.getRandomValues(pool);
        next = 0;
      }
      return pool[next++];
    },
  };
}

/** A uniformly random integer in [0, bound) without modulo bias (bound ≤ 2^32). */
export function randomBelow(random: Random, bound: number): number {
  if (bound <= 1) return 0;
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % bound);
  for (;;) {
    const value = random.uint32();
    if (value < limit) return value % bound;
  }
}
