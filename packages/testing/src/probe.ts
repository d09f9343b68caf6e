import { Redis } from 'ioredis';

/** What `probeRedis` found: a Redis that answered PING, or why there is none to use. */
export type RedisProbe = { ok: true } | { ok: false; reason: string };

/**
 * Sends one PING to the Redis at `url` (any ioredis URL: password, TLS, database) and says
 * whether it answered PONG within `timeout` ms, for the connection and again for the reply.
 * "Nothing answers" is an expected answer here, e.g. before falling back to
 * `startRedisServer()`: the client neither retries, nor queues, nor logs, and the reason is the
 * error behind the failure (ECONNREFUSED, NOAUTH, ...), not ioredis's "Connection is closed".
 */
export async function probeRedis(url: string, { timeout = 1_000 }: { timeout?: number } = {}): Promise<RedisProbe> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err));
  try {
    await client.connect();
    const reply = await client.ping();
    return reply === 'PONG' ? { ok: true } : { ok: false, reason: `PING answered ${JSON.stringify(reply)}` };
  } catch (err) {
    const reason = cause ?? err;
    return { ok: false, reason: reason instanceof Error ? reason.message : String(reason) };
  } finally {
    client.disconnect();
  }
}
