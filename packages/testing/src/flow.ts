/**
 * A scripted {@link Flow}: the test plays the peer of a stream protocol (SSH, XMPP, OpenFlow,
 * HTTP) byte for byte, without TCP underneath.
 */
import { ClosedError, ConnectionReset } from '@morgana/core';
import type { Flow } from '@morgana/core';

/** The test's side of a {@link ScriptedFlow}. */
export interface ScriptedFlow {
  /** Give this to the code under test. */
  readonly flow: Flow;
  /** Bytes for the code under test to read (each push is one `read()` result). */
  push(chunk: Uint8Array): void;
  /** The peer finished sending: `read()` returns null once pushed chunks are consumed. */
  end(): void;
  /** The peer reset the stream: pending and later reads reject with `ConnectionReset`. */
  reset(): void;
  /** Every chunk the code under test wrote, in order. */
  readonly written: readonly Uint8Array[];
  /** True once the code under test called `close`, `shutdown` or `abort`. */
  readonly closed: boolean;
  /** True once the code under test called `abort`. */
  readonly aborted: boolean;
}

/**
 * Creates a scripted flow. Writes resolve at once (the send buffer never fills) and are
 * recorded; reads take pushed chunks in order. After `close`/`abort` by the code under test,
 * writes reject with `ClosedError`.
 */
export function createScriptedFlow(): ScriptedFlow {
  const inbound: Uint8Array[] = [];
  const written: Uint8Array[] = [];
  const waiting: { resolve: (chunk: Uint8Array | null) => void; reject: (error: Error) => void }[] = [];
  let ended = false;
  let failure: Error | undefined;
  let closed = false;
  let aborted = false;

  const settle = (): void => {
    while (waiting.length > 0) {
      if (inbound.length > 0) waiting.shift()?.resolve(inbound.shift() as Uint8Array);
      else if (failure !== undefined) waiting.shift()?.reject(failure);
      else if (ended) waiting.shift()?.resolve(null);
      else return;
    }
  };

  const flow: Flow = {
    read(): Promise<Uint8Array | null> {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        settle();
      });
    },
    write(data: Uint8Array): Promise<void> {
      if (closed) return Promise.reject(new ClosedError('scripted flow is closed'));
      written.push(data.slice());
      return Promise.resolve();
    },
    writev(chunks: readonly Uint8Array[]): Promise<void> {
      if (closed) return Promise.reject(new ClosedError('scripted flow is closed'));
      for (const chunk of chunks) written.push(chunk.slice());
      return Promise.resolve();
    },
    shutdown(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
    abort(): void {
      closed = true;
      aborted = true;
      failure ??= new ConnectionReset('scripted flow aborted');
      settle();
    },
  };

  return {
    flow,
    push(chunk: Uint8Array): void {
      inbound.push(chunk);
      settle();
    },
    end(): void {
      ended = true;
      settle();
    },
    reset(): void {
      failure = new ConnectionReset('scripted peer reset the stream');
      settle();
    },
    written,
    get closed(): boolean {
      return closed;
    },
    get aborted(): boolean {
      return aborted;
    },
  };
}
