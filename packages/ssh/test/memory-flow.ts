import { ClosedError, ConnectionReset, type Flow } from '@morgana/core';

interface End {
  chunks: Uint8Array[];
  finished: boolean;
  reset: boolean;
  reader: ((chunk: Uint8Array | null) => void) | undefined;
  rejectReader: ((error: Error) => void) | undefined;
}

/**
 * Two connected in-memory flows. With `split`, every write is delivered as pieces of the
 * sizes it returns, so parsers see packets cut at arbitrary points.
 */
export function createFlowPair(split?: (length: number) => number): [Flow, Flow] {
  const ends: [End, End] = [
    { chunks: [], finished: false, reset: false, reader: undefined, rejectReader: undefined },
    { chunks: [], finished: false, reset: false, reader: undefined, rejectReader: undefined },
  ];
  const make = (self: End, peer: End): Flow => {
    const deliver = (chunk: Uint8Array | null): void => {
      if (peer.reader) {
        const reader = peer.reader;
        peer.reader = undefined;
        peer.rejectReader = undefined;
        reader(chunk);
      } else if (chunk) peer.chunks.push(chunk);
      else peer.finished = true;
    };
    return {
      read() {
        const chunk = self.chunks.shift();
        if (chunk) return Promise.resolve(chunk);
        if (self.reset) return Promise.reject(new ConnectionReset());
        if (self.finished) return Promise.resolve(null);
        return new Promise((resolve, reject) => {
          self.reader = resolve;
          self.rejectReader = reject;
        });
      },
      write(data) {
        if (peer.finished || self.reset) return Promise.reject(new ClosedError());
        const copy = data.slice();
        if (!split) {
          deliver(copy);
          return Promise.resolve();
        }
        for (let offset = 0; offset < copy.length; ) {
          const size = Math.max(1, Math.min(copy.length - offset, split(copy.length - offset)));
          deliver(copy.subarray(offset, offset + size));
          offset += size;
        }
        return Promise.resolve();
      },
      async writev(chunks) {
        for (const chunk of chunks) await this.write(chunk);
      },
      shutdown() {
        if (!peer.finished) deliver(null);
        return Promise.resolve();
      },
      close() {
        if (!peer.finished) deliver(null);
        return Promise.resolve();
      },
      abort() {
        peer.reset = true;
        peer.rejectReader?.(new ConnectionReset());
        peer.reader = undefined;
      },
    };
  };
  return [make(ends[0], ends[1]), make(ends[1], ends[0])];
}
