/**
 * An in-process transport between a {@link XenstoreClient} and a simulated store: what a guest
 * and a back end of one simulation use. Bytes are delivered on a later microtask in both
 * directions, as a socket would, so no handler re-enters another.
 */
import type { XenstoreTransport } from './xenstore-client.js';
import type { XenstoreStore } from './xenstore-store.js';

/** Connects to `store` as domain `domid`. */
export function connectInProcess(store: XenstoreStore, domid: number): XenstoreTransport {
  let receive: ((chunk: Uint8Array) => void) | undefined;
  let onClose: (() => void) | undefined;
  let open = true;
  const conn = store.connect(domid, (bytes) => {
    queueMicrotask(() => {
      if (open) receive?.(bytes);
    });
  });
  return {
    write(bytes) {
      const copy = bytes.slice();
      queueMicrotask(() => {
        if (open) conn.receive(copy);
      });
    },
    onData(r, c) {
      receive = r;
      onClose = c;
    },
    close() {
      if (!open) return;
      open = false;
      conn.close();
      onClose?.();
    },
  };
}
