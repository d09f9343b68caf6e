import { type RedisServer, startRedisServer } from '@docket/testing';
import { Redis } from 'ioredis';

export interface BenchRedis {
  url: string;
  describe: string;
  /** true when the Redis is REDIS_URL (not ours): never FLUSHALL it, delete only our own keys. */
  shared: boolean;
  stop(): Promise<void>;
}

/**
 * The Redis a benchmark runs against: REDIS_URL if set, else a private redis-server (no
 * persistence, so disk speed does not blur the numbers), stopped by `stop()`.
 */
export async function benchRedis(): Promise<BenchRedis> {
  if (process.env.REDIS_URL) {
    const shown = process.env.REDIS_URL.replace(/\/\/[^@/]*@/, '//***@');
    return { url: process.env.REDIS_URL, describe: `REDIS_URL (${shown})`, shared: true, stop: async () => {} };
  }
  let server: RedisServer;
  try {
    server = await startRedisServer({ appendonly: false });
  } catch (err) {
    console.error(`${(err as Error).message}\nInstall redis-server (apt-get install -y redis-server) or set REDIS_URL.`);
    process.exit(1);
  }
  return { url: server.url, describe: `a private redis-server on ${server.url}`, shared: false, stop: () => server.stop() };
}

/** `INFO <section>` as a map of field -> value. */
export async function info(client: Redis, section: string): Promise<Map<string, string>> {
  const text = await client.info(section);
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

/** Total calls per command from `INFO commandstats` (e.g. `{ evalsha: 12, blpop: 3 }`). */
export async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const [field, value] of await info(client, 'commandstats')) {
    const m = /^calls=(\d+)/.exec(value);
    if (field.startsWith('cmdstat_') && m) calls.set(field.slice('cmdstat_'.length), Number(m[1]));
  }
  return calls;
}

/** Deletes every key matching `pattern` (SCAN + UNLINK), for a shared Redis. */
export async function deleteMatching(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
