// Shared assertion of the hostile-input tests: a mutant marked invalid must be rejected with
// the codec's typed error; any mutant may be accepted or rejected, but never with another error.
import { expect } from 'vitest';
import type { Mutant } from '../src/mutators.js';

export function expectRejected(mutant: Mutant, decode: () => unknown, typed: abstract new (...args: never[]) => Error): void {
  let thrown: unknown;
  try {
    decode();
  } catch (error) {
    thrown = error;
  }
  if (thrown !== undefined && !(thrown instanceof typed)) {
    throw new Error(`${mutant.mutation}: threw ${String(thrown)} instead of ${typed.name}`);
  }
  if (mutant.invalid) expect(thrown, `${mutant.mutation} was accepted`).toBeInstanceOf(typed);
}
