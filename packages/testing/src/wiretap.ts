/**
 * A wiretap: wraps any {@link Netif} and writes every frame it sends and receives, stamped
 * with the clock's wall time, as a pcap stream into a byte sink. The stack under test is given
 * the wrapper instead of the device, and nothing else changes.
 */
import type { Clock, Fill, FrameHandler, Netif, NetifStats, TxOffload } from '@morgana/core';
import { DEFAULT_SNAP_LENGTH, encodePcapHeader, encodePcapRecord, millisecondsToMicros } from './pcap.js';

/** Receives the pcap stream chunk by chunk: first the global header, then one chunk per record. */
export type ByteSink = (chunk: Uint8Array) => void;

/** Options of {@link createWiretap}. */
export interface WiretapOptions {
  /** Timestamps come from `clock.wallTime()`. */
  readonly clock: Clock;
  /** Where the pcap stream goes (see {@link createPcapCollector}, or `createPcapFileSink` in `@morgana/testing/node`). */
  readonly sink: ByteSink;
  /** Which frames to record; default both directions. */
  readonly direction?: 'both' | 'transmit' | 'receive';
  /** Longest captured part of a frame; default {@link DEFAULT_SNAP_LENGTH}. */
  readonly snapLength?: number;
}

/** A {@link Netif} that records its traffic. */
export interface Wiretap extends Netif {
  /** Frames recorded so far. */
  readonly recorded: number;
  /** The device being tapped. */
  readonly inner: Netif;
}

/** Wraps `netif`; the pcap global header is written to the sink at once. */
export function createWiretap(netif: Netif, options: WiretapOptions): Wiretap {
  const { clock, sink } = options;
  const snapLength = options.snapLength ?? DEFAULT_SNAP_LENGTH;
  const direction = options.direction ?? 'both';
  const recordTransmit = direction !== 'receive';
  const recordReceive = direction !== 'transmit';
  let recorded = 0;
  sink(encodePcapHeader({ snapLength }));
  const record = (frame: Uint8Array): void => {
    recorded++;
    sink(encodePcapRecord({ timestampMicros: millisecondsToMicros(clock.wallTime()), data: frame }, snapLength));
  };
  return {
    get mac() {
      return netif.mac;
    },
    get mtu() {
      return netif.mtu;
    },
    get offload() {
      return netif.offload;
    },
    get recorded() {
      return recorded;
    },
    inner: netif,
    listen(onFrame: FrameHandler, onBatchEnd?: () => void): void {
      if (!recordReceive) {
        netif.listen(onFrame, onBatchEnd);
        return;
      }
      netif.listen((frame, offload) => {
        record(frame);
        onFrame(frame, offload);
      }, onBatchEnd);
    },
    write(size: number, fill: Fill, offload?: TxOffload): boolean {
      if (!recordTransmit) return netif.write(size, fill, offload);
      let sent: Uint8Array | undefined;
      const accepted = netif.write(
        size,
        (buffer) => {
          const length = fill(buffer);
          // Copy now: the device may reuse its buffer once write returns.
          if (Number.isInteger(length) && length >= 0 && length <= buffer.length) sent = buffer.slice(0, length);
          return length;
        },
        offload,
      );
      // Only frames the device took are on the wire; a dropped write is counted by the device.
      if (accepted && sent !== undefined) record(sent);
      return accepted;
    },
    stats(): NetifStats {
      return netif.stats();
    },
    close(): Promise<void> {
      return netif.close();
    },
  };
}

/** An in-memory sink: collects the pcap stream and hands back the file's bytes. */
export interface PcapCollector {
  readonly sink: ByteSink;
  /** The bytes collected so far, as one file. */
  bytes(): Uint8Array;
}

/** Makes an in-memory {@link ByteSink}. */
export function createPcapCollector(): PcapCollector {
  const chunks: Uint8Array[] = [];
  let length = 0;
  return {
    sink(chunk) {
      chunks.push(chunk.slice());
      length += chunk.length;
    },
    bytes() {
      const out = new Uint8Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.length;
      }
      return out;
    },
  };
}
