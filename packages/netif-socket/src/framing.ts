/**
 * QEMU's stream framing (`-netdev stream`, `-netdev socket,listen=|connect=`): every Ethernet
 * frame is preceded by its length as a 4-byte big-endian integer. The decoder takes the byte
 * stream in chunks of any size and hands out whole frames, a view into the chunk when the frame
 * lies inside it and a copy into one reassembly buffer when it spans chunks.
 */
import { readU32, writeU32 } from '@morgana/core';

/** Bytes of the length prefix. */
export const STREAM_HEADER_LENGTH = 4;

/**
 * QEMU's largest frame on a socket backend (NET_BUFSIZE: 4096 + 65536). A longer length means
 * the stream is out of step or hostile, so the connection is dropped.
 */
export const QEMU_MAX_FRAME_LENGTH = 4096 + 65536;

/** Writes the length prefix of a `length`-byte frame at `offset`. */
export function writeStreamHeader(bytes: Uint8Array, offset: number, length: number): void {
  writeU32(bytes, offset, length);
}

/** Limits of a {@link StreamFrameDecoder}. */
export interface StreamDecoderLimits {
  /** Longest frame delivered; longer ones are skipped and reported as `'too-large'`. */
  readonly maxFrameLength: number;
  /** A length prefix above this breaks the stream (`'bad-length'`): nothing after it can be trusted. */
  readonly maxLengthField: number;
  /** Shortest frame delivered (an Ethernet header); shorter ones are skipped as `'too-short'`. */
  readonly minFrameLength: number;
}

/** What the decoder reports besides frames. */
export type StreamDropReason = 'too-large' | 'too-short';

/** Receives decoded frames; `frame` is valid only during the call. */
export interface StreamDecoderSink {
  frame(frame: Uint8Array): void;
  drop(reason: StreamDropReason): void;
}

const enum State {
  Header,
  Frame,
  Skip,
  Broken,
}

/** Incremental decoder of length-prefixed frames. */
export class StreamFrameDecoder {
  private readonly limits: StreamDecoderLimits;
  private readonly sink: StreamDecoderSink;
  private readonly header = new Uint8Array(STREAM_HEADER_LENGTH);
  private readonly assembly: Uint8Array;
  private state = State.Header;
  /** Bytes of the header or frame gathered so far, or bytes left to skip. */
  private filled = 0;
  private length = 0;

  constructor(limits: StreamDecoderLimits, sink: StreamDecoderSink) {
    this.limits = limits;
    this.sink = sink;
    this.assembly = new Uint8Array(limits.maxFrameLength);
  }

  /** True once a length prefix above `maxLengthField` was seen: the caller drops the connection. */
  get broken(): boolean {
    return this.state === State.Broken;
  }

  /** Bytes held for an incomplete header or frame. */
  get pending(): number {
    return this.state === State.Header || this.state === State.Frame ? this.filled : 0;
  }

  /** Starts over (a new connection). */
  reset(): void {
    this.state = State.Header;
    this.filled = 0;
    this.length = 0;
  }

  /** Consumes a chunk; returns false when the stream broke (and stops reading the chunk). */
  push(chunk: Uint8Array): boolean {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      switch (this.state) {
        case State.Header: {
          if (this.filled === 0 && end - offset >= STREAM_HEADER_LENGTH) {
            this.length = readU32(chunk, offset);
            offset += STREAM_HEADER_LENGTH;
          } else {
            const take = Math.min(STREAM_HEADER_LENGTH - this.filled, end - offset);
            this.header.set(chunk.subarray(offset, offset + take), this.filled);
            this.filled += take;
            offset += take;
            if (this.filled < STREAM_HEADER_LENGTH) return true;
            this.length = readU32(this.header, 0);
          }
          this.filled = 0;
          if (!this.startFrame()) return false;
          break;
        }
        case State.Frame: {
          if (this.filled === 0 && end - offset >= this.length) {
            // The whole frame is in this chunk: hand out a view, no copy.
            this.sink.frame(chunk.subarray(offset, offset + this.length));
            offset += this.length;
            this.state = State.Header;
            break;
          }
          const take = Math.min(this.length - this.filled, end - offset);
          this.assembly.set(chunk.subarray(offset, offset + take), this.filled);
          this.filled += take;
          offset += take;
          if (this.filled === this.length) {
            this.filled = 0;
            this.state = State.Header;
            this.sink.frame(this.assembly.subarray(0, this.length));
          }
          break;
        }
        case State.Skip: {
          const take = Math.min(this.filled, end - offset);
          this.filled -= take;
          offset += take;
          if (this.filled === 0) this.state = State.Header;
          break;
        }
        case State.Broken:
          return false;
      }
    }
    return this.state !== State.Broken;
  }

  /** Decides what to do with a frame of `this.length` bytes; false when the stream broke. */
  private startFrame(): boolean {
    const length = this.length;
    if (length > this.limits.maxLengthField) {
      this.state = State.Broken;
      return false;
    }
    if (length > this.limits.maxFrameLength || length < this.limits.minFrameLength) {
      this.sink.drop(length > this.limits.maxFrameLength ? 'too-large' : 'too-short');
      this.filled = length;
      this.state = length === 0 ? State.Header : State.Skip;
      return true;
    }
    this.state = State.Frame;
    return true;
  }
}
