/**
 * Lingering close (RFC 9112, section 9.6) for a request refused before its body was read
 * (413). Node ends a `Connection: close` response with `socket.destroySoon()`, which closes
 * the socket as soon as the response is written; the kernel then answers the body bytes
 * still unread with a reset, and a client still sending (many send the whole body before
 * reading the response) gets the reset instead of the 413. So the socket half-closes
 * instead, the rest of the body is read and dropped, and only then is the socket closed.
 */
import type { Request } from 'express';

/** How much a lingering request may still send, in all, before it is cut off with a reset. */
export const LINGER_MAX_BYTES = 64 * 1024 ** 2;
/** How long a lingering client may stay silent before it is cut off. */
const LINGER_IDLE_MS = 5000;

/**
 * Reads and drops the rest of `req`'s body (`received` bytes are in already) once its
 * response is sent, up to `budget` bytes in all. False, doing nothing, when the declared
 * length is already over it: the connection closes unread after the response.
 */
export function lingerAfterResponse(req: Request, received: number, budget: number): boolean {
  if (Number(req.headers['content-length']) > budget) return false;
  const socket = req.socket;
  // Half-close only: the socket is destroyed below, once the body has been read.
  socket.destroySoon = () => {
    socket.end();
  };
  const destroy = () => socket.destroy();
  socket.setTimeout(LINGER_IDLE_MS, destroy);
  let size = received;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    // A chunked body with no end in sight: a reset rather than reading on.
    if (size > budget) destroy();
  });
  req.once('end', () => (socket.writableFinished ? destroy() : socket.once('finish', destroy)));
  req.resume();
  return true;
}
