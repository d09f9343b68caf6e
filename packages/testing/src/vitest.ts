// The harness as vitest resources: a redis-server started and stopped by the test hooks of the
// file (or describe block, or test) that asks for it. A separate entry,
// `@docket/testing/vitest`, because only test files run under vitest: the benchmark app uses
// the main entry without it.
import { beforeAll, beforeEach, afterAll, onTestFinished } from 'vitest';
import { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';

/** A redis-server owned by vitest hooks: everything of a RedisServer but `stop()`, which the hooks call. */
export type UsedRedisServer = Omit<RedisServer, 'stop'>;

export interface UseRedisServerOptions extends RedisServerOptions {
  /**
   * 'all': one server for every test of the file (or of the describe block the call is in),
   * started before the first and stopped after the last. 'each': a fresh server for every
   * test, stopped once the test and all of its `onTestFinished` cleanups are done.
   * @default 'all'
   */
  scope?: 'all' | 'each';
}

/**
 * A private redis-server for the tests of this file (or describe block), registered with
 * vitest's hooks. Call it where `beforeAll` may be called; the object it returns reaches the
 * server from inside tests and hooks (reading it earlier, while tests are being collected,
 * throws). Options that take work to make (or may fail) can come from a function, called when
 * the server starts, in the hook (scope 'all').
 *
 * @example
 * const redis = useRedisServer({ appendonly: false });
 * it('runs', async () => {
 *   const producer = new Producer({ connection: redis.url });
 * });
 */
export function useRedisServer(options: UseRedisServerOptions | (() => RedisServerOptions) = {}): UsedRedisServer {
  const { scope = 'all', ...fixed } = typeof options === 'function' ? {} : options;
  const serverOptions = (): RedisServerOptions => (typeof options === 'function' ? options() : fixed);
  let current: RedisServer | undefined;
  const stop = async () => {
    const server = current;
    current = undefined;
    await server?.stop();
  };
  if (scope === 'each') {
    beforeEach(async (context) => {
      current = await startRedisServer(serverOptions());
      // Registered first, so run last: after the test's own cleanups, which may still need Redis.
      context.onTestFinished(stop);
    });
  } else {
    beforeAll(async () => {
      current = await startRedisServer(serverOptions());
    });
    afterAll(stop);
  }
  const server = (): RedisServer => {
    if (!current) throw new Error('useRedisServer: no server is running now: use it inside a test or a hook, not while tests are collected');
    return current;
  };
  return {
    get port() {
      return server().port;
    },
    get url() {
      return server().url;
    },
    get dir() {
      return server().dir;
    },
    get tls() {
      return server().tls;
    },
    connectionOptions: (overrides) => server().connectionOptions(overrides),
    kill: (signal) => server().kill(signal),
    restart: () => server().restart(),
    client: () => server().client(),
  };
}

/**
 * Starts a private redis-server inside the running test, stopped when the test is finished
 * (after the cleanups the test registers later with `onTestFinished`): for a test that needs a
 * server of its own, e.g. with settings no other test shares, or on a port it chose.
 */
export async function startRedisServerForTest(options: RedisServerOptions = {}): Promise<RedisServer> {
  const server = await startRedisServer(options);
  onTestFinished(() => server.stop());
  return server;
}
