import { type RedisServer, startRedisServer } from '@docket/testing';

/**
 * The Redis a benchmark runs against: REDIS_URL if set, else a private redis-server (no
 * persistence, so disk speed does not blur the numbers), stopped by `stop()`.
 */
export async function benchRedis(): Promise<{ url: string; describe: string; stop(): Promise<void> }> {
  if (process.env.REDIS_URL) {
    return { url: process.env.REDIS_URL, describe: `REDIS_URL (${process.env.REDIS_URL})`, stop: async () => {} };
  }
  let server: RedisServer;
  try {
    server = await startRedisServer({ appendonly: false });
  } catch (err) {
    console.error(`${(err as Error).message}\nInstall redis-server (apt-get install -y redis-server) or set REDIS_URL.`);
    process.exit(1);
  }
  return { url: server.url, describe: `a private redis-server on ${server.url}`, stop: () => server.stop() };
}
