/**
 * QEMU's datagram transport (`-netdev dgram`, and `-netdev socket,udp=`): one Ethernet frame per
 * UDP datagram, no header. We send to `remote` and take datagrams from `remote` only.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { UnsupportedError } from '@morgana/core';
import type { Fill, TxOffload } from '@morgana/core';
import { ETHERNET_HEADER, SocketNetifBase, positiveInteger } from './base.js';
import type { SocketNetif, SocketNetifOptions } from './base.js';

/** A UDP endpoint. */
export interface UdpEndpoint {
  readonly address: string;
  /** 0 on `local` picks a free port (see {@link DgramNetif.address}). */
  readonly port: number;
}

/** Options of {@link openDgramNetif}. */
export interface DgramNetifOptions extends SocketNetifOptions {
  /** Where we receive (QEMU's `remote.*`). */
  readonly local: UdpEndpoint;
  /** Where we send (QEMU's `local.*`). */
  readonly remote: UdpEndpoint;
  /**
   * The socket's kernel receive buffer (SO_RCVBUF), so a burst waits in the kernel while node
   * delivers one datagram per callback. Default {@link DEFAULT_RECEIVE_BUFFER_BYTES}; the kernel
   * caps it at net.core.rmem_max.
   */
  readonly receiveBufferBytes?: number;
}

/** Default of {@link DgramNetifOptions.receiveBufferBytes}: about 700 full frames. */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 1024 * 1024;

/** A device over UDP datagrams. */
export interface DgramNetif extends SocketNetif {
  /** The bound local endpoint (the real port when `local.port` was 0). */
  address(): UdpEndpoint;
}

/** Binds the local endpoint; rejects with {@link UnsupportedError} when it cannot (port in use, bad address). */
export async function openDgramNetif(options: DgramNetifOptions): Promise<DgramNetif> {
  // Datagrams are matched against the remote by address text, so it must be a literal.
  if (isIP(options.remote.address) === 0) throw new RangeError(`remote.address must be an IP address, got ${options.remote.address}`);
  const socket = createSocket({
    type: isIPv6(options.local.address) ? 'udp6' : 'udp4',
    recvBufferSize: positiveInteger(options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES, 'receiveBufferBytes'),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      socket.close();
      reject(new UnsupportedError(`cannot bind UDP ${options.local.address}:${options.local.port}: ${error.message}`));
    };
    socket.once('error', onError);
    socket.bind(options.local.port, options.local.address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return new Dgram(socket, options);
}

class Dgram extends SocketNetifBase implements DgramNetif {
  private readonly socket: Socket;
  private readonly remote: UdpEndpoint;
  private batchEndScheduled = false;

  constructor(socket: Socket, options: DgramNetifOptions) {
    super(options);
    this.socket = socket;
    this.remote = options.remote;
    socket.on('message', this.onMessage);
    socket.on('error', () => this.counterSet.add('socket-error'));
  }

  address(): UdpEndpoint {
    const bound = this.socket.address();
    return { address: bound.address, port: bound.port };
  }

  write(size: number, fill: Fill, offload?: TxOffload): boolean {
    const refused = this.refuseWrite(size, offload);
    if (refused !== undefined) return this.dropTx(refused);
    if (this.socket.getSendQueueSize() + size > this.maxWriteQueueBytes) return this.dropTx('queue-full');
    // send() keeps the buffer until the datagram is out, so each frame gets its own.
    const buffer = Buffer.allocUnsafe(size);
    const used = fill(buffer);
    if (!(used >= ETHERNET_HEADER && used <= size)) return this.dropTx('bad-fill-length');
    this.socket.send(buffer.subarray(0, used), this.remote.port, this.remote.address, this.onSent);
    this.sent(used);
    return true;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.stopReceiving();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private readonly onSent = (error: Error | null): void => {
    if (error !== null) this.counterSet.add('send-error');
  };

  private readonly onMessage = (message: Buffer, sender: RemoteInfo): void => {
    // Only the configured peer may inject frames into the stack.
    if (sender.port !== this.remote.port || sender.address !== this.remote.address) return this.dropRx('unexpected-sender');
    if (message.length > this.maxFrame) return this.dropRx('too-large');
    if (message.length < ETHERNET_HEADER) return this.dropRx('too-short');
    this.deliver(message);
    // libuv reads several datagrams per readable event and node emits one 'message' each; the
    // batch ends once they are all delivered, in the check phase right after.
    if (!this.batchEndScheduled && this.onBatchEnd !== undefined) {
      this.batchEndScheduled = true;
      setImmediate(this.endBatch);
    }
  };

  private readonly endBatch = (): void => {
    this.batchEndScheduled = false;
    if (!this.closed) this.onBatchEnd?.();
  };
}
