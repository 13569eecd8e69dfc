/** Splits a TCP byte stream into OpenFlow messages by their header length (1.3 §7.1). */
import { DecodeError, readU16 } from '@morgana/core';
import { HEADER, OFP_MAX_MESSAGE } from './wire.js';

const EMPTY = new Uint8Array(0);

/** A plain Uint8Array copy: chunks may be views into a host buffer that gets reused. */
function copy(data: Uint8Array, start: number, end: number): Uint8Array {
  const bytes = new Uint8Array(end - start);
  bytes.set(data.subarray(start, end));
  return bytes;
}

/** Receives the whole messages of a chunk, in place (see {@link MessageFramer.each}). */
export interface FrameSink {
  /** One whole message at `bytes[offset, offset + length)`; returns false to stop the walk. */
  frame(bytes: Uint8Array, offset: number, length: number): boolean;
}

/** Limits of {@link MessageFramer}. */
export interface FramerConfig {
  /** Largest message accepted, in bytes; default 65 535 (the 16-bit length's maximum). */
  readonly maxMessageSize?: number;
}

/**
 * Accumulates chunks and yields whole messages. Holds at most one partial message, so its
 * memory is bounded by `maxMessageSize`; a length below the header size or above the limit
 * throws `DecodeError` (`'bad-length'`, `'too-large'`), after which the stream is unusable.
 */
export class MessageFramer {
  private readonly maxMessageSize: number;
  private pending: Uint8Array = new Uint8Array(0);

  constructor(config: FramerConfig = {}) {
    this.maxMessageSize = config.maxMessageSize ?? OFP_MAX_MESSAGE;
  }

  /** Bytes held for an incomplete message. */
  get buffered(): number {
    return this.pending.length;
  }

  /** Adds a chunk and returns the messages it completes (each a fresh copy). */
  push(chunk: Uint8Array): Uint8Array[] {
    let data = chunk;
    if (this.pending.length > 0) {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
    }
    const messages: Uint8Array[] = [];
    let offset = 0;
    while (data.length - offset >= HEADER.SIZE) {
      const length = readU16(data, offset + HEADER.LENGTH);
      if (length < HEADER.SIZE) throw new DecodeError('bad-length', `message length ${length} is shorter than the header`, offset);
      if (length > this.maxMessageSize) throw new DecodeError('too-large', `message of ${length} bytes exceeds ${this.maxMessageSize}`, offset);
      if (data.length - offset < length) break;
      messages.push(copy(data, offset, offset + length));
      offset += length;
    }
    this.pending = copy(data, offset, data.length);
    return messages;
  }

  /**
   * Adds a chunk and hands each message it completes to `sink` without copying: each message is
   * a range of a buffer that is the chunk itself unless a partial message was held (then a
   * fresh concatenation), valid for as long as the chunk is. Stops early, dropping the rest of
   * the chunk, when the sink returns false. Throws `DecodeError` as {@link push} does, after
   * handing over the messages before the bad length.
   */
  each(chunk: Uint8Array, sink: FrameSink): void {
    let data = chunk;
    if (this.pending.length > 0) {
      data = new Uint8Array(this.pending.length + chunk.length);
      data.set(this.pending);
      data.set(chunk, this.pending.length);
    }
    const maxMessageSize = this.maxMessageSize;
    const size = data.length;
    let offset = 0;
    while (size - offset >= HEADER.SIZE) {
      const length = readU16(data, offset + HEADER.LENGTH);
      if (length < HEADER.SIZE || length > maxMessageSize) {
        this.pending = EMPTY;
        if (length < HEADER.SIZE) throw new DecodeError('bad-length', `message length ${length} is shorter than the header`, offset);
        throw new DecodeError('too-large', `message of ${length} bytes exceeds ${maxMessageSize}`, offset);
      }
      if (size - offset < length) break;
      const start = offset;
      offset += length;
      if (!sink.frame(data, start, length)) {
        this.pending = EMPTY;
        return;
      }
    }
    this.pending = offset === size ? EMPTY : copy(data, offset, size);
  }
}

