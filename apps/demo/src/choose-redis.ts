// Which Redis the demo runs against, and how to leave it as it was found.
//
// Order of preference: REDIS_URL if set; else a Redis already answering on 127.0.0.1:6379
// (the common dev setup); else a private redis-server started here on a free port in a temp
// dir. The demo writes only keys under a per-run prefix, so on a shared Redis it can delete
// exactly what it wrote and nothing else.
import { type RedisServer, probeRedis, startRedisServer } from '@docket/testing';
import { Redis } from 'ioredis';

/** A problem the user has to fix (no Redis to use); main prints it without a stack trace. */
export class SetupError extends Error {}

export interface ChosenRedis {
  /** What producers and consumers connect to. */
  url: string;
  /** For the banner, e.g. "private redis-server on 127.0.0.1:41234 (temp dir ...)". */
  description: string;
  /** True if other data may live there (so the demo must clean up its keys). */
  shared: boolean;
  /** Stops a private server and removes its dir; no-op otherwise. */
  stop: () => Promise<void>;
}

const installHint = (port: number, binary: string): string =>
  [
    'The demo needs a Redis server, and found none:',
    '  - REDIS_URL is not set,',
    `  - nothing answers PING on 127.0.0.1:${port},`,
    binary === 'redis-server' ? '  - and there is no `redis-server` on PATH to start a private one.' : `  - and ${binary} (DEMO_REDIS_SERVER) does not exist.`,
    'Either install Redis (Debian/Ubuntu: `sudo apt-get install -y redis-server`, macOS: `brew install redis`)',
    'or point the demo at one: `REDIS_URL=redis://host:6379 pnpm demo`.',
  ].join('\n');

/**
 * Starts `redis-server` on a free port in a fresh temp dir (the harness retries on a new port
 * if another process grabbed the chosen one in the meantime).
 * @param probedPort only for the message if there is no binary
 */
async function startPrivateServer(binary: string, probedPort: number): Promise<ChosenRedis> {
  let server: RedisServer;
  try {
    // No persistence: the data is thrown away with the dir at the end anyway. Its own process
    // group: Ctrl+C in the terminal must not kill Redis under the workers while they hand
    // their jobs back; stop() ends it after them.
    server = await startRedisServer({ binary, appendonly: false, detached: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SetupError(installHint(probedPort, binary));
    throw new SetupError(`Could not start a private redis-server: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    url: server.url,
    description: `private redis-server on 127.0.0.1:${server.port} (temp dir ${server.dir})`,
    shared: false,
    stop: () => server.stop(),
  };
}

/**
 * Picks the Redis to use (see the top of this file).
 *
 * Test hooks: DEMO_PROBE_PORT (default 6379) is the port probed for a local Redis (point it
 * at a closed port to exercise the private-server path), DEMO_REDIS_SERVER the binary to
 * start (default `redis-server` from PATH).
 */
export async function chooseRedis(env: NodeJS.ProcessEnv = process.env): Promise<ChosenRedis> {
  const noop = async (): Promise<void> => {};
  if (env.REDIS_URL) {
    // Checked here, so a typo fails with one clear line instead of as connection errors from
    // three processes.
    const probe = await probeRedis(env.REDIS_URL, { timeout: 3_000 });
    if (!probe.ok) throw new SetupError(`REDIS_URL=${redactUrl(env.REDIS_URL)} does not answer PING: ${probe.reason}`);
    return { url: env.REDIS_URL, description: `REDIS_URL (${redactUrl(env.REDIS_URL)})`, shared: true, stop: noop };
  }
  const port = Number(env.DEMO_PROBE_PORT ?? 6379);
  if (Number.isInteger(port) && port > 0 && port < 65_536) {
    // Four tries of 250 ms: a local Redis answers within milliseconds, but one right after
    // boot may need a moment. Anything but +PONG (nothing listening, -NOAUTH, a service that
    // is not Redis) means we cannot use this port.
    const url = `redis://127.0.0.1:${port}`;
    for (let i = 0; i < 4; i++) {
      if ((await probeRedis(url, { timeout: 250 })).ok) {
        return { url, description: `the Redis already running on 127.0.0.1:${port}`, shared: true, stop: noop };
      }
    }
  }
  return startPrivateServer(env.DEMO_REDIS_SERVER || 'redis-server', port);
}

function redactUrl(url: string): string {
  // Never echo a password to the terminal (or to CI logs).
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/**
 * Deletes every key under `prefix`, for runs on a shared Redis. SCAN (not KEYS) so a big
 * Redis is never blocked; UNLINK so large hashes are freed in the background.
 * @returns how many keys were deleted
 */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}
