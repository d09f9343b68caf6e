import { DocketError } from '@docket/protocol';
import { type RedisClient } from '@docket/protocol/internal';
import { dropConnection, watchdog } from './watchdog.js';

/**
 * With `autoResendUnfulfilledCommands: false`, ioredis drops the commands that were in flight
 * when a connection closes: their promises never settle. The consumer turns that off on
 * purpose (a replayed fetch would lease jobs twice), so it must fail those calls itself:
 * `guard` rejects every pending call when the connection closes, and the caller treats the
 * outcome as unknown (reports are sent again; their fencing tokens make that safe).
 */
const unknownOutcomes = new WeakSet<object>();

/** True for the error the guard raises: the call may or may not have been applied. */
export function outcomeUnknown(err: unknown): boolean {
  return typeof err === 'object' && err !== null && unknownOutcomes.has(err);
}

export interface GuardOptions {
  /**
   * ms calls may wait with no reply at all arriving before the connection is presumed dead. A
   * half-open connection (dropped without FIN or reset, e.g. by a failover or a NAT) answers
   * nothing and never closes; the guard then destroys it, which fails the pending calls like
   * any closed connection (outcome unknown) and makes ioredis reconnect. Leave it out for a
   * connection whose calls may legitimately wait (a blocking pop has its own watchdog).
   */
  stallAfter?: number;
}

export function inflightGuard(client: RedisClient, { stallAfter }: GuardOptions = {}): <T>(call: Promise<T>) => Promise<T> {
  const pending = new Set<(err: Error) => void>();
  /** When the connection last showed life: its last reply, or the call sent while none was pending. */
  let lastSign = 0;
  let cancelWatch: (() => void) | undefined;
  /** Why the guard itself dropped the connection, for the calls it fails. */
  let dropped: string | undefined;
  client.on('close', () => {
    const reason = dropped;
    dropped = undefined;
    if (pending.size === 0) return;
    const err = new DocketError('REDIS_ERROR', reason ?? 'The Redis connection closed before the reply arrived; the outcome is unknown');
    unknownOutcomes.add(err);
    for (const reject of pending) reject(err);
    pending.clear();
  });
  // One timer at a time, re-armed only when it fires: no timer per call on the hot path.
  const watch = (limit: number, ms: number): void => {
    cancelWatch = watchdog(ms, () => {
      cancelWatch = undefined;
      if (pending.size === 0) return;
      const silent = performance.now() - lastSign;
      if (silent < limit) {
        watch(limit, limit - silent);
        return;
      }
      dropped =
        `No reply from Redis for ${silent.toLocaleString('en-US')} ms: the connection is presumed dead (half-open: ` +
        'dropped without notice, e.g. by a failover) and is replaced by a new one; the outcome of the calls in flight is unknown';
      dropConnection(client);
    });
  };
  return <T>(call: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      if (stallAfter !== undefined) {
        if (pending.size === 0) lastSign = performance.now();
        if (!cancelWatch) watch(stallAfter, stallAfter);
      }
      pending.add(reject);
      call.then(
        (value) => {
          pending.delete(reject);
          lastSign = performance.now();
          resolve(value);
        },
        (err: unknown) => {
          pending.delete(reject);
          lastSign = performance.now();
          reject(err);
        },
      );
    });
}
