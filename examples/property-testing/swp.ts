// SWP, a stop-and-wait reliable datagram protocol over UDP: the sender keeps one message in
// flight and retransmits it until the receiver acknowledges its sequence number; the
// receiver delivers each message once, in order, and acknowledges duplicates again.
import { CounterSet, DecodeError, readU16, readU32, writeU16, writeU32 } from '@morgana/core';
import type { Clock, Counters, Ipv4Address, Timer, UdpDatagram, UdpSocket } from '@morgana/core';

// ---- Wire format: an 8-byte header, then the payload of a DATA packet ----------------------

/** Field offsets of the header. */
export const SwpField = { type: 0, flags: 1, length: 2, seq: 4 } as const;
export const SWP_HEADER_LENGTH = 8;
export const SwpType = { data: 1, ack: 2 } as const;

/** The meaning of a packet. */
export type SwpPacket =
  | { readonly kind: 'data'; readonly seq: number; readonly payload: Uint8Array }
  | { readonly kind: 'ack'; readonly seq: number };

/** Parses a packet; throws DecodeError for anything but an exact, well-formed one. */
export function parseSwp(bytes: Uint8Array): SwpPacket {
  if (bytes.length < SWP_HEADER_LENGTH) throw new DecodeError('truncated', `SWP packet of ${bytes.length} bytes`);
  const type = bytes[SwpField.type];
  if (bytes[SwpField.flags] !== 0) throw new DecodeError('bad-flags', 'reserved flags are set', SwpField.flags);
  const length = readU16(bytes, SwpField.length);
  if (length !== bytes.length - SWP_HEADER_LENGTH) throw new DecodeError('bad-length', `length ${length} in a ${bytes.length}-byte packet`, SwpField.length);
  const seq = readU32(bytes, SwpField.seq);
  if (type === SwpType.data) return { kind: 'data', seq, payload: bytes.slice(SWP_HEADER_LENGTH) };
  if (type === SwpType.ack && length === 0) return { kind: 'ack', seq };
  throw new DecodeError('bad-type', `type ${type} with ${length} payload bytes`, SwpField.type);
}

/** Emits a packet into new bytes. */
export function emitSwp(packet: SwpPacket): Uint8Array {
  const payload = packet.kind === 'data' ? packet.payload : new Uint8Array(0);
  const bytes = new Uint8Array(SWP_HEADER_LENGTH + payload.length);
  bytes[SwpField.type] = packet.kind === 'data' ? SwpType.data : SwpType.ack;
  writeU16(bytes, SwpField.length, payload.length);
  writeU32(bytes, SwpField.seq, packet.seq);
  bytes.set(payload, SWP_HEADER_LENGTH);
  return bytes;
}

// ---- Sender -------------------------------------------------------------------------------

/** Limits of a sender. */
export interface SwpSenderConfig {
  /** Wait for an ACK before sending again, ms; default 200. */
  readonly retransmitTimeoutMs?: number;
  /** Retransmissions of one message before giving up on the peer; default 10. */
  readonly maxRetries?: number;
  /** Messages waiting behind the one in flight; default 64. */
  readonly queueLimit?: number;
}

export interface SwpSender {
  /** Queues a message; false when the queue is full or the sender gave up. */
  send(message: Uint8Array): boolean;
  /** Messages queued or in flight. */
  readonly pending: number;
  /** True after maxRetries retransmissions of one message went unanswered. */
  readonly failed: boolean;
  counters(): Counters;
  close(): void;
}

export function createSwpSender(
  deps: { readonly socket: UdpSocket; readonly clock: Clock; readonly peer: { readonly address: Ipv4Address; readonly port: number } },
  config: SwpSenderConfig = {},
): SwpSender {
  const timeout = config.retransmitTimeoutMs ?? 200;
  const maxRetries = config.maxRetries ?? 10;
  const queueLimit = config.queueLimit ?? 64;
  const counters = new CounterSet();
  const queue: Uint8Array[] = [];
  let seq = 0;
  let retries = 0;
  let timer: Timer | undefined;
  let failed = false;

  const transmit = (): void => {
    deps.socket.send(emitSwp({ kind: 'data', seq, payload: queue[0] }), deps.peer.address, deps.peer.port);
    counters.add('data-sent');
    timer = deps.clock.setTimer(timeout, onTimeout);
  };
  const onTimeout = (): void => {
    if (retries === maxRetries) {
      failed = true;
      queue.length = 0;
      counters.add('gave-up');
      return;
    }
    retries++;
    counters.add('retransmitted');
    transmit();
  };
  deps.socket.onMessage((datagram: UdpDatagram) => {
    let packet: SwpPacket;
    try {
      packet = parseSwp(datagram.data);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      counters.add(`rx-${error.reason}`);
      return;
    }
    // Only the ACK of the message in flight moves the sender on; anything else is stale.
    if (packet.kind !== 'ack' || queue.length === 0 || packet.seq !== seq) {
      counters.add('rx-ignored');
      return;
    }
    timer?.cancel();
    timer = undefined;
    queue.shift();
    seq = (seq + 1) >>> 0;
    retries = 0;
    if (queue.length > 0) transmit();
  });

  return {
    send(message: Uint8Array): boolean {
      if (failed || queue.length > queueLimit) {
        counters.add('queue-full');
        return false;
      }
      queue.push(message.slice());
      if (queue.length === 1) transmit();
      return true;
    },
    get pending(): number {
      return queue.length;
    },
    get failed(): boolean {
      return failed;
    },
    counters: () => counters.snapshot(),
    close(): void {
      timer?.cancel();
      deps.socket.close();
    },
  };
}

// ---- Receiver -----------------------------------------------------------------------------

export interface SwpReceiver {
  counters(): Counters;
  close(): void;
}

/** Delivers each message once and in order to `deliver`; acknowledges every DATA it has seen. */
export function createSwpReceiver(socket: UdpSocket, deliver: (message: Uint8Array) => void): SwpReceiver {
  const counters = new CounterSet();
  let expected = 0;
  socket.onMessage((datagram: UdpDatagram) => {
    let packet: SwpPacket;
    try {
      packet = parseSwp(datagram.data);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      counters.add(`rx-${error.reason}`);
      return;
    }
    if (packet.kind !== 'data') {
      counters.add('rx-ignored');
      return;
    }
    if (packet.seq === expected) {
      deliver(packet.payload);
      expected = (expected + 1) >>> 0;
      counters.add('delivered');
    } else if (packet.seq === ((expected - 1) >>> 0)) {
      // Our ACK was lost or is late: acknowledge the duplicate again, deliver nothing.
      counters.add('duplicate');
    } else {
      counters.add('rx-out-of-order');
      return;
    }
    socket.send(emitSwp({ kind: 'ack', seq: packet.seq }), datagram.address, datagram.port);
  });
  return { counters: () => counters.snapshot(), close: () => socket.close() };
}
