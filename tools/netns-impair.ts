/**
 * netem in user space: wraps a real device (a TAP device into a test namespace) in a pair of
 * simulated links from @morgana/testing, so the kernel peer sees loss, duplication, reordering
 * and delay both ways. For kernels built without sch_netem (tools/netns.sh --netem needs it).
 */
import { createSystemClock, createSystemRandom } from '@morgana/core';
import type { Counters, Fill, FrameHandler, Netif, NetifStats, TxOffload } from '@morgana/core';
import { Link } from '@morgana/testing';
import type { LinkConditions } from '@morgana/testing';

/** A device whose traffic crosses impaired links; `inner` is the real device. */
export interface ImpairedNetif extends Netif {
  readonly inner: Netif;
  /** Link counters: `tx` from the stack towards the device, `rx` from the device to the stack. */
  linkCounters(): { tx: Counters; rx: Counters };
}

/**
 * Impairs `inner` with `tx` conditions on frames the stack sends and `rx` on frames it receives.
 * Frames are copied into the links (they outlive the callbacks). Offload is not passed through:
 * the stack builds finished frames, as for a real wire.
 */
export function impairNetif(inner: Netif, tx: LinkConditions, rx: LinkConditions = tx): ImpairedNetif {
  const clock = createSystemClock();
  const random = createSystemRandom();
  let onFrame: FrameHandler = () => {};
  let onBatchEnd: (() => void) | undefined;
  const txLink = new Link(clock, random, (frame) => {
    inner.write(frame.length, (buffer) => {
      buffer.set(frame);
      return frame.length;
    });
  }, tx);
  const rxLink = new Link(clock, random, (frame) => {
    onFrame(frame);
    onBatchEnd?.();
  }, rx);
  return {
    inner,
    mac: inner.mac,
    mtu: inner.mtu,
    offload: { txChecksum: false, rxChecksum: false, tsoMaxSize: 0 },
    listen(handler, batchEnd) {
      onFrame = handler;
      onBatchEnd = batchEnd;
      inner.listen((frame) => rxLink.send(frame.slice()));
    },
    write(size: number, fill: Fill, offload?: TxOffload): boolean {
      if (offload !== undefined) return false;
      const buffer = new Uint8Array(size);
      const used = fill(buffer);
      txLink.send(buffer.subarray(0, used));
      return true;
    },
    stats(): NetifStats {
      return inner.stats();
    },
    linkCounters() {
      return { tx: txLink.counters(), rx: rxLink.counters() };
    },
    close() {
      return inner.close();
    },
  };
}
