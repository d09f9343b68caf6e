// The harness itself: the failure tests rely on a killed server coming back with its data.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { seededNumbers, rejection, sleep, startRedisServer, thrown, uniquePrefix, waitUntil } from '../src/index.js';

/**
 * One command on a fresh client that neither retries nor queues; the client is closed after.
 * A failed connection rejects with the error behind it (ioredis's own is "Connection is closed").
 */
async function once<T>(options: RedisOptions | string, command: (client: Redis) => Promise<T>): Promise<T> {
  const settings = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false };
  const client = typeof options === 'string' ? new Redis(options, settings) : new Redis({ ...options, ...settings });
  let cause: unknown;
  client.on('error', (err) => (cause ??= err));
  try {
    try {
      await client.connect();
    } catch (err) {
      throw cause ?? err;
    }
    return await command(client);
  } finally {
    client.disconnect();
  }
}

/** Opens and closes one TCP connection to the port. */
function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve();
    });
    socket.on('error', reject);
  });
}

describe('startRedisServer', () => {
  it('restarts on its AOF after SIGKILL with the data it had synced, on the same port', async () => {
    const redis = await startRedisServer();
    try {
      const client = redis.client();
      const key = `${uniquePrefix()}:k`;
      await client.set(key, 'kept');
      await sleep(1_200); // appendfsync everysec
      await redis.kill('SIGKILL');
      await expect(connectOnce(redis.port)).rejects.toThrow(/ECONNREFUSED/);
      await redis.restart();
      const fresh = redis.client();
      expect(await fresh.get(key)).toBe('kept');
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    } finally {
      await redis.stop();
    }
    expect(existsSync(redis.dir)).toBe(false);
  });

  it('gives every server its own port and directory', async () => {
    const [a, b] = await Promise.all([startRedisServer({ appendonly: false }), startRedisServer({ appendonly: false })]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.dir).not.toBe(b.dir);
      await a.client().set('only-in-a', '1');
      expect(await b.client().exists('only-in-a')).toBe(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('startRedisServer, binary and process group', () => {
  it('binary: runs the one named, and a missing one rejects with code ENOENT', async () => {
    const redis = await startRedisServer({ appendonly: false, binary: 'redis-server', detached: true });
    try {
      expect(await redis.client().ping()).toBe('PONG');
    } finally {
      await redis.stop();
    }
    await expect(startRedisServer({ binary: '/nonexistent/redis-server' })).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringContaining('/nonexistent/redis-server was not found'),
    });
  });
});

describe('startRedisServer, locked down', () => {
  it('password: the default user needs it; url, connectionOptions() and client() carry it', async () => {
    const redis = await startRedisServer({ appendonly: false, password: 'p@ss word' });
    try {
      expect(await redis.client().ping()).toBe('PONG');
      expect(await once(redis.url, (c) => c.ping())).toBe('PONG');
      expect(await once(redis.connectionOptions(), (c) => c.ping())).toBe('PONG');
      await expect(once({ host: '127.0.0.1', port: redis.port }, (c) => c.ping())).rejects.toThrow(/NOAUTH/);
    } finally {
      await redis.stop();
    }
  });

  it('aclUsers: each user gets exactly its rules, and the default user keeps every right', async () => {
    const redis = await startRedisServer({ appendonly: false, aclUsers: ['app on >secret resetkeys ~app:* -@all +info +get +set'] });
    try {
      const app = { host: '127.0.0.1', port: redis.port, username: 'app', password: 'secret' };
      expect(await once(app, (c) => c.set('app:x', '1'))).toBe('OK');
      await expect(once(app, (c) => c.set('other:x', '1'))).rejects.toThrow(/NOPERM/);
      await expect(once(app, (c) => c.del('app:x'))).rejects.toThrow(/NOPERM/);
      await expect(once({ ...app, password: 'wrong' }, (c) => c.ping())).rejects.toThrow(/WRONGPASS/);
      expect(await redis.client().get('app:x')).toBe('1');
      await redis.client().set('other:x', '2');
    } finally {
      await redis.stop();
    }
  });

  it('tls: serves TLS only, with a certificate signed by the CA it exposes', async () => {
    const redis = await startRedisServer({ appendonly: false, tls: true });
    try {
      expect(redis.url).toBe(`rediss://127.0.0.1:${redis.port}`);
      expect(redis.tls?.ca).toContain('BEGIN CERTIFICATE');
      expect(existsSync(redis.tls?.caFile ?? '')).toBe(true);
      expect(await redis.client().ping()).toBe('PONG');
      expect(await once({ host: '127.0.0.1', port: redis.port, tls: { ca: redis.tls?.ca } }, (c) => c.ping())).toBe('PONG');
      // Without the CA the certificate is not trusted; without TLS the server does not answer.
      await expect(once({ host: '127.0.0.1', port: redis.port, tls: {} }, (c) => c.ping())).rejects.toThrow(/certificate/);
      await expect(once({ host: '127.0.0.1', port: redis.port, connectTimeout: 2_000 }, (c) => c.ping())).rejects.toThrow();
      await redis.kill();
      await redis.restart();
      expect(await once(redis.connectionOptions(), (c) => c.ping())).toBe('PONG');
    } finally {
      await redis.stop();
    }
  });
});

describe('helpers', () => {
  it('uniquePrefix does not repeat', () => {
    const prefixes = new Set(Array.from({ length: 1000 }, () => uniquePrefix()));
    expect(prefixes.size).toBe(1000);
  });

  it('waitUntil rejects with the awaited condition named', async () => {
    await expect(waitUntil(() => false, { timeout: 50, what: 'the impossible' })).rejects.toThrow('the impossible');
  });

  it('sleep waits at least the time asked', async () => {
    const start = performance.now();
    await sleep(50);
    expect(performance.now() - start).toBeGreaterThanOrEqual(49);
  });

  it('thrown returns what a call threw, and throws if it did not', () => {
    const err = new Error('boom');
    expect(
      thrown(() => {
        throw err;
      }),
    ).toBe(err);
    expect(() => thrown(() => 1)).toThrow('expected the call to throw');
  });

  it('rejection returns what a promise rejected with, or a function threw or rejected with, and throws if it resolved', async () => {
    const err = new Error('boom');
    expect(await rejection(Promise.reject(err))).toBe(err);
    expect(
      await rejection(() => {
        throw err;
      }),
    ).toBe(err);
    expect(await rejection(async () => Promise.reject(err))).toBe(err);
    await expect(rejection(Promise.resolve({ a: 1 }))).rejects.toThrow('expected a rejection, got {"a":1}');
    await expect(rejection(() => 'fine')).rejects.toThrow('expected a rejection, got "fine"');
  });

  it('seededNumbers repeats its numbers for a seed, within [0, 1)', () => {
    const a = seededNumbers(42);
    const b = seededNumbers(42);
    const numbers = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(numbers);
    expect(numbers.every((n) => n >= 0 && n < 1)).toBe(true);
    expect(seededNumbers(43)()).not.toBe(numbers[0]);
  });
});
