/** Resetting a `net.Socket` (RST) safely at any point of its life. */
import type net from 'node:net';

/**
 * Drops a connection with a RST (Node sets SO_LINGER to 0 and closes the descriptor).
 *
 * Once `end()` has handed Node's shutdown(2) request to libuv (all data is with the kernel, the
 * request not yet done), libuv refuses the reset, and Node then drops the handle without closing
 * it: no 'close' event, a leaked descriptor. The request completes within one turn of the event
 * loop, so the reset waits for it ('finish').
 */
export function resetSocket(socket: net.Socket): void {
  if (socket.writableEnded && !socket.writableFinished && socket.writableLength === 0 && !socket.destroyed) {
    socket.once('finish', () => socket.resetAndDestroy());
    return;
  }
  socket.resetAndDestroy();
}

/** Resets a socket nobody else will handle: its errors (it may already be gone) are ignored. */
export function discardSocket(socket: net.Socket): void {
  socket.on('error', () => {});
  resetSocket(socket);
}
