/**
 * The gate every interop suite uses: run when root, /dev/net/tun and the peers are there;
 * otherwise fail under MORGANA_INTEROP=required (CI), and elsewhere skip with the reason printed.
 */
import { describe, it } from 'vitest';
import { interopUnavailable } from './netns-helper.js';

/**
 * `describe` for an interop suite: runs `body` when {@link interopUnavailable} finds nothing
 * missing (plus `extra`, a further check such as the native addon). Otherwise, under
 * MORGANA_INTEROP=required the suite fails with the reason; elsewhere it is skipped and the
 * reason printed.
 */
export function describeInterop(name: string, commands: readonly string[], body: () => void, extra?: () => string | undefined): void {
  const reason = interopUnavailable(commands) ?? extra?.();
  if (reason === undefined) {
    describe(name, body);
    return;
  }
  if (process.env.MORGANA_INTEROP === 'required') {
    describe(name, () => {
      it('has its interop prerequisites (MORGANA_INTEROP=required)', () => {
        throw new Error(reason);
      });
    });
    return;
  }
  console.warn(`skipping interop suite "${name}": ${reason}`);
  describe.skip(name, body);
}
