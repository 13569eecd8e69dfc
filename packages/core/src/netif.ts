/**
 * NETIF: a network device that moves whole Ethernet frames. Implemented by the TAP backend,
 * the Xen netfront driver, the frames-over-socket transport and the simulator.
 */
import type { MacAddress } from './address.js';

/**
 * Fills a buffer in place and returns how many bytes it used (at most `buffer.length`).
 * This is how every layer sends: the lowest layer allocates one buffer with room for all the
 * headers and each layer writes its part (MirageOS's `write ~size fill`), so nothing is copied
 * per layer.
 */
export type Fill = (buffer: Uint8Array) => number;

/** What a backend can do for the stack in hardware, or in the host kernel on its behalf. */
export interface OffloadFlags {
  /** The backend computes TCP/UDP checksums on transmit when asked through {@link TxOffload}. */
  readonly txChecksum: boolean;
  /** The backend may mark received frames as checksum-verified ({@link RxOffload}). */
  readonly rxChecksum: boolean;
  /** Largest TCP payload the backend segments itself (TSO/GSO); 0 when it does not. */
  readonly tsoMaxSize: number;
}

/** No offload at all: what the simulator and most software backends offer. */
export const NO_OFFLOAD: OffloadFlags = { txChecksum: false, rxChecksum: false, tsoMaxSize: 0 };

/** Per-frame transmit offload request (the fields of a virtio-net header). */
export interface TxOffload {
  /** Offset in the frame where checksumming starts (the transport header). */
  readonly checksumStart: number;
  /** Offset of the checksum field, relative to `checksumStart`. */
  readonly checksumOffset: number;
  /** TCP segment size for TSO, 0 for none. */
  readonly segmentSize: number;
}

/** Per-frame receive offload information. */
export interface RxOffload {
  /** The backend verified the transport checksum (or the frame never left the host). */
  readonly checksumVerified: boolean;
}

/** Receives one frame. `frame` is valid only during the call: copy what you keep. */
export type FrameHandler = (frame: Uint8Array, offload?: RxOffload) => void;

/** Traffic counters of a device. */
export interface NetifStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames dropped on receive (no listener, too large, backend queue full). */
  rxDropped: number;
  /** Frames dropped on transmit (queue or ring full, device closed). */
  txDropped: number;
}

/** A network device: frames in, frames out. */
export interface Netif {
  /** The device's own MAC address. */
  readonly mac: MacAddress;
  /** Largest Ethernet payload the device carries (1500 for standard Ethernet), not counting the 14-byte header. */
  readonly mtu: number;
  /** Offload capabilities; software layers fall back when a flag is false. */
  readonly offload: OffloadFlags;
  /**
   * Sets the receiver. Backends deliver frames in batches, synchronously, one `onFrame` call per
   * frame, then `onBatchEnd` once: layers may defer work (ACKs, flushes) to the end of a batch.
   */
  listen(onFrame: FrameHandler, onBatchEnd?: () => void): void;
  /**
   * Sends one frame of at most `size` bytes built in place by `fill` (which returns the length
   * used). Returns false when the frame was dropped (queue or ring full, closed, too large),
   * and counts it in `txDropped`. Never throws for a full queue.
   */
  write(size: number, fill: Fill, offload?: TxOffload): boolean;
  /** Counters since the device was opened. */
  stats(): NetifStats;
  /** Stops receiving, releases the device. Idempotent. */
  close(): Promise<void>;
}

/** A fresh, zeroed {@link NetifStats}. */
export function emptyNetifStats(): NetifStats {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
}
