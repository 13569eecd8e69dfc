/** The per-socket receive queue: a ring that grows up to its limit, bounded in datagrams and bytes. */
import type { UdpDatagram } from '@morgana/core';

/** Smallest ring allocated; it doubles as datagrams arrive, up to the queue's limit. */
const INITIAL_CAPACITY = 16;

/** A FIFO of received datagrams that drops the oldest when full. */
export class DatagramQueue {
  private ring: (UdpDatagram | undefined)[] = [];
  private head = 0;
  /** Datagrams held. */
  length = 0;
  /** Payload bytes held. */
  bytes = 0;

  constructor(
    private readonly limit: number,
    private readonly byteLimit: number,
  ) {}

  /**
   * Appends a datagram, first dropping the oldest ones until it fits both limits. Returns how
   * many were dropped (the new one counts when it alone exceeds the byte limit).
   */
  push(datagram: UdpDatagram): number {
    const size = datagram.data.length;
    if (size > this.byteLimit) return 1;
    let dropped = 0;
    while (this.length > 0 && (this.length >= this.limit || this.bytes + size > this.byteLimit)) {
      this.shift();
      dropped++;
    }
    if (this.length === this.ring.length) this.grow();
    this.ring[(this.head + this.length) % this.ring.length] = datagram;
    this.length++;
    this.bytes += size;
    return dropped;
  }

  /** Removes and returns the oldest datagram. */
  shift(): UdpDatagram | undefined {
    if (this.length === 0) return undefined;
    const datagram = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.length--;
    if (datagram !== undefined) this.bytes -= datagram.data.length;
    return datagram;
  }

  /** Drops everything. */
  clear(): void {
    this.ring = [];
    this.head = 0;
    this.length = 0;
    this.bytes = 0;
  }

  private grow(): void {
    const capacity = Math.min(this.limit, Math.max(INITIAL_CAPACITY, this.ring.length * 2));
    const ring: (UdpDatagram | undefined)[] = new Array<UdpDatagram | undefined>(capacity);
    for (let i = 0; i < this.length; i++) ring[i] = this.ring[(this.head + i) % this.ring.length];
    this.ring = ring;
    this.head = 0;
  }
}
