import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STREAM_HEADER_LENGTH, StreamFrameDecoder, writeStreamHeader } from '../src/index.js';
import type { StreamDecoderLimits, StreamDropReason } from '../src/index.js';

const LIMITS: StreamDecoderLimits = { maxFrameLength: 1518, maxLengthField: 69632, minFrameLength: 14 };

function encode(frames: readonly Uint8Array[]): Uint8Array {
  const total = frames.reduce((sum, frame) => sum + STREAM_HEADER_LENGTH + frame.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const frame of frames) {
    writeStreamHeader(out, offset, frame.length);
    out.set(frame, offset + STREAM_HEADER_LENGTH);
    offset += STREAM_HEADER_LENGTH + frame.length;
  }
  return out;
}

/** Splits `bytes` at the given cut points (sorted, deduplicated, within range). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

function decoder(limits = LIMITS): { decoder: StreamFrameDecoder; frames: Uint8Array[]; drops: StreamDropReason[] } {
  const frames: Uint8Array[] = [];
  const drops: StreamDropReason[] = [];
  const d = new StreamFrameDecoder(limits, { frame: (frame) => frames.push(frame.slice()), drop: (reason) => drops.push(reason) });
  return { decoder: d, frames, drops };
}

const frame = fc.uint8Array({ minLength: 14, maxLength: 1518 });

describe('stream framing (4-byte big-endian length, then the frame)', () => {
  it('decodes the same frames however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
        const { decoder: d, frames: out, drops } = decoder();
        for (const chunk of split(encode(frames), cuts)) expect(d.push(chunk)).toBe(true);
        expect(out).toEqual(frames);
        expect(drops).toEqual([]);
        expect(d.pending).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('decodes a stream fed one byte at a time', () => {
    const frames = [new Uint8Array(60).fill(1), new Uint8Array(1518).fill(2), new Uint8Array(14).fill(3)];
    const { decoder: d, frames: out } = decoder();
    const bytes = encode(frames);
    for (let i = 0; i < bytes.length; i++) d.push(bytes.subarray(i, i + 1));
    expect(out).toEqual(frames);
  });

  it('skips frames above the MTU or below an Ethernet header and keeps the frames after them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(frame, fc.uint8Array({ minLength: 1519, maxLength: 3000 }), fc.uint8Array({ maxLength: 13 })), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, cuts) => {
          const { decoder: d, frames: out, drops } = decoder();
          for (const chunk of split(encode(frames), cuts)) expect(d.push(chunk)).toBe(true);
          expect(out).toEqual(frames.filter((f) => f.length >= 14 && f.length <= 1518));
          expect(drops).toEqual(frames.filter((f) => f.length < 14 || f.length > 1518).map((f) => (f.length > 1518 ? 'too-large' : 'too-short')));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('breaks on a length above maxLengthField, delivering nothing after it', () => {
    const { decoder: d, frames: out } = decoder();
    const good = encode([new Uint8Array(60).fill(7)]);
    const bad = new Uint8Array(4 + 60);
    writeStreamHeader(bad, 0, 69633);
    expect(d.push(good)).toBe(true);
    expect(d.push(bad)).toBe(false);
    expect(d.broken).toBe(true);
    expect(d.push(good)).toBe(false);
    expect(out).toHaveLength(1);
    d.reset();
    expect(d.push(good)).toBe(true);
    expect(out).toHaveLength(2);
  });

  it('never throws on arbitrary bytes and never holds more than one frame', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
        const { decoder: d } = decoder({ maxFrameLength: 100, maxLengthField: 1000, minFrameLength: 14 });
        for (const chunk of chunks) {
          d.push(chunk);
          expect(d.pending).toBeLessThanOrEqual(100);
        }
      }),
      { numRuns: 300 },
    );
  });
});
