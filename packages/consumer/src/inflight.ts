import { DocketError, type RedisClient } from '@docket/protocol';

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

export function inflightGuard(client: RedisClient): <T>(call: Promise<T>) => Promise<T> {
  const pending = new Set<(err: Error) => void>();
  client.on('close', () => {
    if (pending.size === 0) return;
    const err = new DocketError('REDIS_ERROR', 'The Redis connection closed before the reply arrived; the outcome is unknown');
    unknownOutcomes.add(err);
    for (const reject of pending) reject(err);
    pending.clear();
  });
  return <T>(call: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      pending.add(reject);
      call.then(
        (value) => {
          pending.delete(reject);
          resolve(value);
        },
        (err: unknown) => {
          pending.delete(reject);
          reject(err);
        },
      );
    });
}
