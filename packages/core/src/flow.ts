/** FLOW: a reliable, ordered byte stream with backpressure (a TCP connection, a TLS session, an SSH channel). */

/** A reliable byte stream. */
export interface Flow {
  /**
   * The next chunk of received bytes (owned by the caller), or `null` once the peer has
   * finished sending. Rejects with `ConnectionReset`, `TimeoutError` or `ClosedError`.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Queues bytes for sending; resolves once they fit in the send buffer, so awaiting each
   * write is all the backpressure a producer needs. The caller may reuse `data` after it resolves.
   */
  write(data: Uint8Array): Promise<void>;
  /** {@link write} for several chunks, sent as one stream. */
  writev(chunks: readonly Uint8Array[]): Promise<void>;
  /** Finishes our direction (TCP FIN after the queued data); reading goes on. */
  shutdown(): Promise<void>;
  /** Finishes both directions gracefully; resolves when the stream is fully closed. */
  close(): Promise<void>;
  /** Drops the stream at once (TCP RST); pending operations reject with `ConnectionReset`. */
  abort(): void;
}
