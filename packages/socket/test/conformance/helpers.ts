/** Small tools for the conformance suite: reading whole streams, deadlines, reproducible bytes. */
import { createHash } from 'node:crypto';
import type { Flow } from '@morgana/core';

/** Rejects with a message naming `what` when `promise` takes longer than `ms`. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Resolves `true` if `promise` settles within `ms`, else `false` (the promise is left running). */
export async function settlesWithin(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = promise.then(
    () => true,
    () => true,
  );
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([settled, late]);
  clearTimeout(timer);
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds, failing after `ms`. */
export async function waitUntil(ms: number, what: string, condition: () => boolean): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`${what}: still false after ${ms} ms`);
    await sleep(5);
  }
}

/** Every chunk up to the end of the stream, as returned by `read()` (kept, not copied). */
export async function readChunks(flow: Flow): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) chunks.push(chunk);
  return chunks;
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Everything up to the end of the stream. */
export async function readAll(flow: Flow): Promise<Uint8Array> {
  return concat(await readChunks(flow));
}

/** Reads until `length` bytes arrived (fails at an early end). */
export async function readExactly(flow: Flow, length: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let got = 0;
  while (got < length) {
    const chunk = await flow.read();
    if (chunk === null) throw new Error(`stream ended after ${got} of ${length} bytes`);
    chunks.push(chunk);
    got += chunk.length;
  }
  return concat(chunks);
}

export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export function bytes(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

export function sha256(chunks: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** A reproducible byte stream (xorshift32), produced in blocks into one reused buffer. */
export class PatternSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** Fills `buffer` with the next bytes of the stream. */
  fill(buffer: Uint8Array): void {
    let x = this.state;
    for (let i = 0; i < buffer.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buffer[i] = x;
    }
    this.state = x >>> 0;
  }
}

/**
 * Writes `total` bytes of the pattern `seed` in blocks of `block`, reusing one buffer: it is
 * refilled as soon as each write resolves, which catches a stack that keeps the caller's bytes.
 * Returns the SHA-256 of what was written.
 */
export async function writePattern(flow: Flow, seed: number, total: number, block = 64 * 1024): Promise<string> {
  const source = new PatternSource(seed);
  const buffer = new Uint8Array(block);
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += block) {
    const view = buffer.subarray(0, Math.min(block, total - sent));
    source.fill(view);
    hash.update(view);
    await flow.write(view);
  }
  return hash.digest('hex');
}

/** Echoes a flow until the peer's end, then closes it. */
export async function echo(flow: Flow): Promise<void> {
  for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read()) await flow.write(chunk);
  await flow.close();
}
