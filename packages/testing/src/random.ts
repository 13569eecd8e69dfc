/** A seeded {@link Random}: the same seed gives the same bits on every run and runtime. */
import type { Random } from '@morgana/core';

/** A seedable Random with a `fork` for independent streams. */
export interface SeededRandom extends Random {
  /** A uniformly random float in [0, 1). */
  float(): number;
  /** An independent generator derived from this one's next output. */
  fork(): SeededRandom;
}

/** splitmix32 step, used to spread a seed over the generator's state. */
function splitmix32(state: { value: number }): number {
  state.value = (state.value + 0x9e3779b9) | 0;
  let z = state.value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** xoshiro128** seeded through splitmix32: fast, 2^128 period, good enough for simulation. */
export function createSeededRandom(seed: number): SeededRandom {
  const mix = { value: seed | 0 };
  let a = splitmix32(mix);
  let b = splitmix32(mix);
  let c = splitmix32(mix);
  let d = splitmix32(mix);
  if ((a | b | c | d) === 0) a = 1;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const random: SeededRandom = {
    uint32: next,
    fill(bytes) {
      for (let i = 0; i < bytes.length; i += 4) {
        const word = next();
        for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = word >>> (8 * j);
      }
    },
    float: () => next() / 0x1_0000_0000,
    fork: () => createSeededRandom(next()),
  };
  return random;
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}
