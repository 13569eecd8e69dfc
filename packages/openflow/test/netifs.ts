// Test Netifs for the switch side: record transmitted frames, inject received ones.
import { type FrameHandler, type MacAddress, NO_OFFLOAD, type Netif, type NetifStats, emptyNetifStats, internetChecksum } from '@morgana/core';

/** A Netif that records what the switch sends and lets the test inject frames. */
export class RecordingNetif implements Netif {
  readonly mtu = 1500;
  readonly offload = NO_OFFLOAD;
  readonly sent: Uint8Array[] = [];
  private handler: FrameHandler | undefined;
  private readonly counters: NetifStats = emptyNetifStats();
  constructor(readonly mac: MacAddress) {}
  listen(onFrame: FrameHandler): void { this.handler = onFrame; }
  write(size: number, fill: (buffer: Uint8Array) => number): boolean {
    const buffer = new Uint8Array(size);
    this.sent.push(buffer.subarray(0, fill(buffer)));
    this.counters.txFrames += 1;
    return true;
  }
  inject(frame: Uint8Array): void {
    this.counters.rxFrames += 1;
    this.handler?.(frame);
  }
  stats(): NetifStats { return { ...this.counters }; }
  async close(): Promise<void> { this.handler = undefined; }
}

/** An Ethernet + IPv4 (valid header checksum) + 8-byte transport header frame; UDP checksum 0 (none). */
export function ipv4Frame(dst: number, src: number, ipSrc: number, ipDst: number, proto = 17, ports: [number, number] = [1000, 53]): Uint8Array {
  const frame = new Uint8Array(14 + 20 + 8);
  for (let index = 0; index < 6; index += 1) {
    frame[index] = Math.floor(dst / 2 ** (8 * (5 - index))) % 256;
    frame[6 + index] = Math.floor(src / 2 ** (8 * (5 - index))) % 256;
  }
  frame.set([0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0, 0, 64, proto], 12);
  new DataView(frame.buffer).setUint32(26, ipSrc);
  new DataView(frame.buffer).setUint32(30, ipDst);
  new DataView(frame.buffer).setUint16(34, ports[0]);
  new DataView(frame.buffer).setUint16(36, ports[1]);
  new DataView(frame.buffer).setUint16(24, internetChecksum(frame, 14, 34));
  return frame;
}

