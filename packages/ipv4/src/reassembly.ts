/**
 * Reassembly of fragmented datagrams (RFC 791 §3.2, RFC 1122 §3.3.2), bounded in time, in the
 * number of datagrams and in bytes, and strict about overlaps: a datagram whose fragments
 * overlap is discarded whole (the rule RFC 5722 sets for IPv6, applied to IPv4 as Linux does),
 * because two senders' views of the same bytes cannot both be right and guessing which one
 * is the classic way to slip data past a filter (RFC 1858 §4, RFC 3128).
 */
import { CounterSet, bytesEqual, concatBytes } from '@morgana/core';
import type { Clock, Timer } from '@morgana/core';
import { FRAGMENT_UNIT, IPV4_MAX_LENGTH, IPV4_MAX_PAYLOAD, Ipv4Packet, fragmentWord } from './wire.js';

/** Limits of the reassembly buffer. */
export interface ReassemblyConfig {
  /**
   * Milliseconds a partial datagram is kept after its first fragment arrived. RFC 1122
   * §3.3.2 recommends 60-120 s, written when links were slow; the default is 30 s, as in
   * Linux (ipfrag_time), because at today's rates the 16-bit Identification wraps within
   * seconds and a long timeout lets fragments of different datagrams be joined (RFC 4963 §2).
   */
  readonly timeout: number;
  /** Partial datagrams held at once; a new one evicts the oldest. */
  readonly maxDatagrams: number;
  /**
   * Bytes held by all partial datagrams, counting {@link FRAGMENT_OVERHEAD} per fragment so
   * floods of tiny fragments are bounded too; the oldest datagrams are evicted to make room.
   */
  readonly maxBytes: number;
}

/** Defaults: 30 s, 64 datagrams, 1 MiB (room for 15 datagrams of the largest size). */
export const REASSEMBLY_DEFAULTS: ReassemblyConfig = {
  timeout: 30_000,
  maxDatagrams: 64,
  maxBytes: 1 << 20,
};

/** Bytes charged per stored fragment besides its payload: its record and array slot. */
export const FRAGMENT_OVERHEAD = 64;

interface Fragment {
  /** Byte range [offset, end) of the original payload. */
  readonly offset: number;
  readonly end: number;
  readonly data: Uint8Array;
}

interface PartialDatagram {
  readonly key: string;
  /** Sorted by offset; never overlapping. */
  readonly fragments: Fragment[];
  /** Payload length, known once the last fragment (MF clear) arrived; -1 before. */
  totalLength: number;
  /** Largest end of any fragment seen. */
  maxEnd: number;
  /** Payload bytes held; with no overlaps allowed, equal to `totalLength` exactly when complete. */
  received: number;
  /** Bytes charged against `maxBytes`. */
  cost: number;
  /** Header of the fragment at offset 0: the header of the reassembled datagram (RFC 791 §3.2). */
  firstHeader: Uint8Array | undefined;
  /**
   * Overlapping or inconsistent fragments were seen: the data is gone and later fragments of
   * the datagram are dropped until the timer ends the record (RFC 5722 §4: "including those
   * not yet received").
   */
  discarded: boolean;
  readonly timer: Timer;
}

/**
 * Collects fragments by (source, destination, protocol, identification) (RFC 791 §3.2) and
 * returns each datagram once all of its bytes arrived. Counts every drop in `counters`.
 */
export class Reassembler {
  private readonly table = new Map<string, PartialDatagram>();
  private bytes = 0;

  /**
   * `onTimeout` receives the first fragment (header and data) of a datagram that timed out
   * after fragment 0 arrived, for the ICMP Time Exceeded (code 1) that RFC 1122 §3.3.2 asks for.
   */
  constructor(
    private readonly clock: Clock,
    private readonly config: ReassemblyConfig,
    private readonly counters: CounterSet,
    private readonly onTimeout: (firstFragment: Uint8Array) => void,
  ) {}

  /** Partial datagrams held (discarded ones awaiting their timer included). */
  datagrams(): number {
    return this.table.size;
  }

  /** Bytes charged against `maxBytes`. */
  bufferedBytes(): number {
    return this.bytes;
  }

  /**
   * Adds one fragment (a datagram that passed {@link Ipv4Packet.check}, trimmed to its Total
   * Length). Returns the whole datagram, a new buffer with a fresh header, when this fragment
   * completed it.
   */
  add(packet: Ipv4Packet): Uint8Array | undefined {
    const headerLength = packet.headerLength;
    const offset = packet.fragmentOffset;
    const more = packet.moreFragments;
    const data = packet.payload;
    const end = offset + data.length;
    // RFC 791 §3.2: every fragment but the last carries a multiple of 8 bytes; an empty one
    // with MF set adds nothing and could only pin memory.
    if (more && (data.length === 0 || data.length % FRAGMENT_UNIT !== 0)) {
      this.counters.add('bad-fragment');
      return undefined;
    }
    const key = `${packet.source}/${packet.destination}/${packet.protocol}/${packet.identification}`;
    const entry = this.table.get(key) ?? this.create(key);
    if (entry.discarded) {
      this.counters.add('discarded-fragment');
      return undefined;
    }
    // Offsets reach 65528 and payloads 65515: their sum can pass the largest datagram
    // ("ping of death"); such a datagram can never be whole, so it is dropped at once.
    if (end > IPV4_MAX_PAYLOAD) {
      this.discard(entry, 'too-large');
      return undefined;
    }
    if (!more) {
      if ((entry.totalLength >= 0 && end !== entry.totalLength) || end < entry.maxEnd) {
        this.discard(entry, 'inconsistent-fragment');
        return undefined;
      }
      entry.totalLength = end;
    } else if (entry.totalLength >= 0 && end > entry.totalLength) {
      this.discard(entry, 'inconsistent-fragment');
      return undefined;
    }
    if (data.length > 0 && !this.store(entry, packet, offset, end, data, headerLength)) return undefined;
    if (entry.totalLength >= 0 && entry.received === entry.totalLength) return this.complete(entry);
    return undefined;
  }

  /** Inserts a fragment in order; false when it was a duplicate or caused a discard. */
  private store(entry: PartialDatagram, packet: Ipv4Packet, offset: number, end: number, data: Uint8Array, headerLength: number): boolean {
    const fragments = entry.fragments;
    const index = firstEndingAfter(fragments, offset);
    const next = fragments[index];
    if (next !== undefined && next.offset < end) {
      // An exact copy (a duplicated frame) is harmless; anything else that overlaps is not.
      if (next.offset === offset && next.end === end && bytesEqual(next.data, data)) {
        this.counters.add('duplicate-fragment');
      } else {
        this.discard(entry, 'overlap');
      }
      return false;
    }
    const cost = data.length + FRAGMENT_OVERHEAD;
    if (!this.reserve(cost, entry)) {
      this.discard(entry, 'reassembly-memory');
      return false;
    }
    fragments.splice(index, 0, { offset, end, data: data.slice() });
    entry.received += data.length;
    entry.cost += cost;
    this.bytes += cost;
    if (end > entry.maxEnd) entry.maxEnd = end;
    if (offset === 0) entry.firstHeader = packet.bytes.slice(0, headerLength);
    return true;
  }

  private create(key: string): PartialDatagram {
    if (this.table.size >= this.config.maxDatagrams) {
      const oldest = this.table.values().next().value as PartialDatagram;
      this.remove(oldest);
      this.counters.add('reassembly-evicted');
    }
    const entry: PartialDatagram = {
      key,
      fragments: [],
      totalLength: -1,
      maxEnd: 0,
      received: 0,
      cost: 0,
      firstHeader: undefined,
      discarded: false,
      timer: this.clock.setTimer(this.config.timeout, () => this.expire(entry)),
    };
    this.table.set(key, entry);
    return entry;
  }

  /** Makes room for `cost` bytes by evicting the oldest other datagrams; false when impossible. */
  private reserve(cost: number, current: PartialDatagram): boolean {
    if (current.cost + cost > this.config.maxBytes) return false;
    if (this.bytes + cost <= this.config.maxBytes) return true;
    for (const other of this.table.values()) {
      if (other === current || other.cost === 0) continue;
      this.remove(other);
      this.counters.add('reassembly-evicted');
      if (this.bytes + cost <= this.config.maxBytes) return true;
    }
    return false;
  }

  private complete(entry: PartialDatagram): Uint8Array | undefined {
    const header = entry.firstHeader as Uint8Array;
    const total = header.length + entry.totalLength;
    // Fragment 0 may carry up to 40 bytes of options: with them the whole can still pass 65535.
    if (total > IPV4_MAX_LENGTH) {
      this.discard(entry, 'too-large');
      return undefined;
    }
    const datagram = new Uint8Array(total);
    datagram.set(header);
    for (const fragment of entry.fragments) datagram.set(fragment.data, header.length + fragment.offset);
    const packet = new Ipv4Packet(datagram);
    packet.totalLength = total;
    packet.flagsAndFragmentOffset = fragmentWord(packet.dontFragment, false, 0);
    packet.fillChecksum();
    this.remove(entry);
    this.counters.add('reassembled');
    return datagram;
  }

  /** Frees the data and keeps the record, so later fragments of the datagram are dropped too. */
  private discard(entry: PartialDatagram, reason: string): void {
    this.counters.add(reason);
    this.bytes -= entry.cost;
    entry.cost = 0;
    entry.fragments.length = 0;
    entry.firstHeader = undefined;
    entry.discarded = true;
  }

  private remove(entry: PartialDatagram): void {
    entry.timer.cancel();
    this.table.delete(entry.key);
    this.bytes -= entry.cost;
    entry.cost = 0;
  }

  private expire(entry: PartialDatagram): void {
    this.table.delete(entry.key);
    this.bytes -= entry.cost;
    entry.cost = 0;
    if (entry.discarded) return;
    this.counters.add('reassembly-timeout');
    const first = entry.fragments[0];
    if (entry.firstHeader !== undefined && first !== undefined && first.offset === 0) {
      this.onTimeout(concatBytes([entry.firstHeader, first.data]));
    }
  }
}

/** Index of the first fragment whose end lies past `offset` (binary search). */
function firstEndingAfter(fragments: readonly Fragment[], offset: number): number {
  let low = 0;
  let high = fragments.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (fragments[middle].end > offset) high = middle;
    else low = middle + 1;
  }
  return low;
}
