import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock, createSeededRandom } from '@morgana/testing';
import type { TcpFlow } from '@morgana/core';
import { createTcp } from '../src/index.js';
import type { TcpConfig } from '../src/index.js';
import { createMemoryIpPair } from './helpers/memory-ip.js';
import type { LinkModel } from './helpers/memory-ip.js';

const linkArbitrary: fc.Arbitrary<LinkModel> = fc.record({
  delay: fc.integer({ min: 0, max: 50 }),
  jitter: fc.integer({ min: 0, max: 20 }),
  loss: fc.double({ min: 0, max: 0.2, noNaN: true }),
  duplicate: fc.double({ min: 0, max: 0.05, noNaN: true }),
  bandwidth: fc.option(fc.integer({ min: 100, max: 10_000 }), { nil: undefined }),
});

async function readAll(flow: TcpFlow): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await flow.read();
    if (chunk === null) break;
    chunks.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

async function writeInPieces(flow: TcpFlow, data: Uint8Array, piece: number): Promise<void> {
  for (let at = 0; at < data.length; at += piece) await flow.write(data.subarray(at, at + piece));
}

/** Both directions carry data; each side closes after writing; everything must arrive and every timer end. */
async function transfer(seed: number, forward: LinkModel, backward: LinkModel, sizes: [number, number], config: TcpConfig): Promise<void> {
  const clock = new VirtualClock();
  const random = createSeededRandom(seed);
  const pair = createMemoryIpPair({ clock, random: random.fork(), aToB: forward, bToA: backward });
  const client = createTcp({ ip: pair.a, clock, random: random.fork() }, config);
  const server = createTcp({ ip: pair.b, clock, random: random.fork() }, config);
  const listener = server.listen(7000);
  const upload = new Uint8Array(sizes[0]);
  random.fill(upload);
  const download = new Uint8Array(sizes[1]);
  random.fill(download);
  let finished = 0;
  let failure: unknown;
  const results: { serverGot?: Uint8Array; clientGot?: Uint8Array } = {};
  void (async () => {
    const flow = await listener.accept();
    const reading = readAll(flow);
    await writeInPieces(flow, download, 3000);
    results.serverGot = await reading;
    await flow.close();
    finished++;
  })().catch((error: unknown) => {
    failure = error;
  });
  void (async () => {
    const flow = await client.connect(pair.addressB, 7000, { timeout: 600_000 });
    const reading = readAll(flow);
    await writeInPieces(flow, upload, 5000);
    await flow.shutdown();
    results.clientGot = await reading;
    await flow.close();
    finished++;
  })().catch((error: unknown) => {
    failure = error;
  });
  await clock.runUntil(() => finished === 2 || failure !== undefined, 3_600_000);
  if (failure !== undefined) throw failure;
  expect(results.serverGot).toEqual(upload);
  expect(results.clientGot).toEqual(download);
  listener.close();
  // TIME-WAIT (2·MSL) and any last retransmissions run out; then nothing may be left.
  await clock.run(600_000);
  expect(client.stats().connections).toBe(0);
  expect(server.stats().connections).toBe(0);
  expect(clock.pendingTimers()).toBe(0);
}

describe('simulation: every byte arrives in order and both sides close cleanly', () => {
  for (const congestionControl of ['newreno', 'cubic'] as const) {
    it(`over lossy, duplicating, reordering, slow links (${congestionControl})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer(),
          linkArbitrary,
          linkArbitrary,
          fc.integer({ min: 0, max: 80_000 }),
          fc.integer({ min: 0, max: 40_000 }),
          fc.boolean(),
          async (seed, forward, backward, up, down, options) => {
            await transfer(seed, forward, backward, [up, down], {
              congestionControl,
              timestamps: options,
              sack: options,
              windowScaling: options,
              receiveBufferSize: 64 * 1024,
              sendBufferSize: 32 * 1024,
            });
          },
        ),
        { numRuns: 10, interruptAfterTimeLimit: 15_000 },
      );
    });
  }
});
