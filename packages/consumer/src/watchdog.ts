import { performance } from 'node:perf_hooks';
import type { RedisClient } from '@docket/protocol/internal';

/** A timer this much late means the event loop was blocked, not that time passed for the connection. */
const LATE_MS = 1_000;

/**
 * Calls `fire` once `ms` have passed, unless the returned function is called first; meant for
 * "the reply is overdue". A timer can fire late because this process's event loop was blocked
 * (a handler doing synchronous work), and a connection cannot be blamed for that time: its
 * reply may sit unread in the socket (timers run before I/O in each turn of the loop), or may
 * need one more round trip (EVALSHA, NOSCRIPT, EVAL) that could not start. So a timer more than
 * a second late starts over, once; and when it fires, one round of I/O runs first (setImmediate
 * comes after the poll phase), so a reply read then can still cancel it.
 */
export function watchdog(ms: number, fire: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const arm = (restarted: boolean) => {
    const due = performance.now() + ms;
    timer = setTimeout(() => {
      if (!restarted && performance.now() - due > LATE_MS) arm(true);
      else immediate = setImmediate(fire);
    }, ms);
    timer.unref();
  };
  arm(false);
  return () => {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  };
}

/**
 * Gives up on a connection that went silent: destroys its socket, which ioredis treats like a
 * dropped connection ('close', then a reconnect). Only `disconnect()` would half-close it and
 * wait 2 s for the peer's FIN, which a half-open connection never sends.
 */
export function dropConnection(client: RedisClient): void {
  const stream = (client as unknown as { stream?: { destroy(): void } }).stream;
  if (stream && !(client as { isCluster?: boolean }).isCluster) stream.destroy();
  else client.disconnect(true);
}
