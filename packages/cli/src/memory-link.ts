/**
 * Two in-process devices joined by a cable: what `--net usernet` runs the appliance and the
 * host-side stack on. Frames cross in batches scheduled with `setImmediate`, so a burst of
 * segments costs one turn of the event loop, and neither stack re-enters itself in `write`.
 */
import { type Fill, type FrameHandler, localMac, type MacAddress, type Netif, type NetifStats, NO_OFFLOAD, emptyNetifStats } from '@morgana/core';

/** Options of {@link createMemoryLinkPair}. */
export interface MemoryLinkOptions {
  /** Ethernet payload MTU of both ends; default 1500. */
  readonly mtu?: number;
  /** Frames queued towards one end before new ones are dropped; default 4096. */
  readonly queueLimit?: number;
}

/** Two devices, each receiving what the other sends. */
export function createMemoryLinkPair(macs: [MacAddress, MacAddress], options: MemoryLinkOptions = {}): [Netif, Netif] {
  const mtu = options.mtu ?? 1500;
  const queueLimit = options.queueLimit ?? 4096;
  interface End {
    netif: Netif;
    stats: NetifStats;
    queue: Uint8Array[];
    scheduled: boolean;
    onFrame: FrameHandler | undefined;
    onBatchEnd: (() => void) | undefined;
    closed: boolean;
    peer?: End;
  }
  const deliver = (end: End): void => {
    end.scheduled = false;
    const frames = end.queue;
    end.queue = [];
    if (end.closed || end.onFrame === undefined) {
      end.stats.rxDropped += frames.length;
      return;
    }
    for (const frame of frames) {
      end.stats.rxFrames++;
      end.stats.rxBytes += frame.length;
      end.onFrame(frame);
    }
    end.onBatchEnd?.();
  };
  const make = (mac: MacAddress): End => {
    const end: End = { stats: emptyNetifStats(), queue: [], scheduled: false, onFrame: undefined, onBatchEnd: undefined, closed: false } as unknown as End;
    end.netif = {
      mac,
      mtu,
      offload: NO_OFFLOAD,
      listen(onFrame, onBatchEnd) {
        end.onFrame = onFrame;
        end.onBatchEnd = onBatchEnd;
      },
      write(size: number, fill: Fill): boolean {
        const peer = end.peer as End;
        if (end.closed || peer.closed || size > mtu + 14 || peer.queue.length >= queueLimit) {
          end.stats.txDropped++;
          return false;
        }
        const frame = new Uint8Array(size);
        const used = fill(frame);
        const sent = used < size ? frame.subarray(0, used) : frame;
        end.stats.txFrames++;
        end.stats.txBytes += sent.length;
        peer.queue.push(sent);
        if (!peer.scheduled) {
          peer.scheduled = true;
          setImmediate(deliver, peer);
        }
        return true;
      },
      stats: () => ({ ...end.stats }),
      async close() {
        end.closed = true;
      },
    };
    return end;
  };
  const a = make(macs[0]);
  const b = make(macs[1]);
  a.peer = b;
  b.peer = a;
  return [a.netif, b.netif];
}

/** Two distinct locally administered MACs. */
export function memoryLinkMacs(random: () => number): [MacAddress, MacAddress] {
  const first = localMac(random());
  let second = localMac(random());
  while (second === first) second = localMac(random());
  return [first, second];
}
