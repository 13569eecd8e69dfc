import { ClosedError, ConnectionReset, type Flow } from '@morgana/core';

/** Two in-memory flows joined back to back, with a bounded buffer per direction. */
export function flowPair(capacity = 1 << 20): [Flow & { closed: boolean }, Flow & { closed: boolean }] {
  interface Side {
    chunks: Uint8Array[];
    buffered: number;
    ended: boolean;
    reset: boolean;
    readers: (() => void)[];
    writers: (() => void)[];
  }
  const make = (): Side => ({ chunks: [], buffered: 0, ended: false, reset: false, readers: [], writers: [] });
  const ab = make();
  const ba = make();
  const wake = (list: (() => void)[]) => list.splice(0).forEach((f) => f());
  const flow = (inbound: Side, outbound: Side): Flow & { closed: boolean } => {
    const self = {
      closed: false,
      async read(): Promise<Uint8Array | null> {
        for (;;) {
          if (inbound.reset) throw new ConnectionReset();
          const chunk = inbound.chunks.shift();
          if (chunk !== undefined) {
            inbound.buffered -= chunk.length;
            wake(inbound.writers);
            return chunk;
          }
          if (inbound.ended) return null;
          await new Promise<void>((r) => inbound.readers.push(r));
        }
      },
      async write(data: Uint8Array): Promise<void> {
        if (outbound.ended || self.closed) throw new ClosedError();
        if (outbound.reset) throw new ConnectionReset();
        outbound.chunks.push(data.slice());
        outbound.buffered += data.length;
        wake(outbound.readers);
        while (outbound.buffered > capacity && !outbound.reset) await new Promise<void>((r) => outbound.writers.push(r));
      },
      async writev(chunks: readonly Uint8Array[]): Promise<void> {
        for (const chunk of chunks) await self.write(chunk);
      },
      async shutdown(): Promise<void> {
        outbound.ended = true;
        wake(outbound.readers);
      },
      async close(): Promise<void> {
        self.closed = true;
        outbound.ended = true;
        wake(outbound.readers);
      },
      abort(): void {
        self.closed = true;
        outbound.reset = true;
        inbound.reset = true;
        wake(outbound.readers);
        wake(inbound.readers);
        wake(outbound.writers);
      },
    };
    return self;
  };
  return [flow(ba, ab), flow(ab, ba)];
}
