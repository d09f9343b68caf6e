// How connection trouble is named: the address without secrets, the error code by cause.
import { freePort } from '@docket/testing';
import { startRedisServerForTest } from '@docket/testing/vitest';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { DocketError, isDocketError } from '../src/index.js';
import { describeConnection, redisError, waitForConnection } from '../src/internal.js';

describe('describeConnection', () => {
  it('names scheme, host, port and user, never the password', () => {
    const tls = new Redis('rediss://app:s3cret@redis.example.com:6380', { lazyConnect: true });
    expect(describeConnection(tls)).toBe('rediss://redis.example.com:6380 as user "app"');
    const plain = new Redis({ host: '10.0.0.5', port: 6390, password: 's3cret', lazyConnect: true });
    expect(describeConnection(plain)).toBe('redis://10.0.0.5:6390');
    const socket = new Redis({ path: '/run/redis.sock', lazyConnect: true });
    expect(describeConnection(socket)).toBe('Redis at unix socket /run/redis.sock');
    const cluster = new Cluster([{ host: 'a.internal', port: 7000 }, 'redis://:s3cret@b.internal:7001'], { lazyConnect: true });
    expect(describeConnection(cluster)).toBe('the Redis Cluster at a.internal:7000, b.internal:7001');
    for (const client of [tls, plain, socket, cluster]) expect(describeConnection(client)).not.toContain('s3cret');
  });
});

describe('redisError', () => {
  it('turns refused credentials into AUTH_FAILED and adds the ACL hint to NOPERM', () => {
    const auth = redisError(new Error('WRONGPASS invalid username-password pair or user is disabled.'), 'Enqueueing');
    expect(isDocketError(auth, 'AUTH_FAILED')).toBe(true);
    expect(isDocketError(redisError(new Error('NOAUTH Authentication required.'), 'x'), 'AUTH_FAILED')).toBe(true);
    const denied = redisError(new Error("NOPERM this user has no permissions to run the 'blpop' command"), 'Fetching jobs');
    expect(isDocketError(denied, 'REDIS_ERROR')).toBe(true);
    expect(denied.message).toContain("'blpop'");
    expect(denied.message).toContain('Locked-down Redis');
    const other = redisError(new Error('ERR something else'), 'Counting', 'q');
    expect(isDocketError(other, 'REDIS_ERROR')).toBe(true);
    expect(other.message).toBe('Counting failed: ERR something else');
    const own = new DocketError('CLOSED', 'closed');
    expect(redisError(own, 'x')).toBe(own);
  });
});

describe('waitForConnection', () => {
  it('connects a lazy client and resolves once it is ready', async () => {
    const redis = await startRedisServerForTest({ appendonly: false });
    const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    try {
      expect(client.status).toBe('wait');
      await waitForConnection(client, 10_000);
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('rejects with CONNECTION_FAILED as soon as the client stops reconnecting, with the cause', async () => {
    const port = await freePort();
    const client = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, lazyConnect: true });
    client.on('error', () => {});
    // A timeout far longer than the test's: only the client giving up can end the wait in time.
    const err = await waitForConnection(client, 10 * 60_000).catch((e: unknown) => e as Error);
    expect(isDocketError(err, 'CONNECTION_FAILED')).toBe(true);
    expect((err as Error).message).toBe(`Could not connect to redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect((err as Error).cause).toBeInstanceOf(Error);
  });
});
