// @docket/testing/vitest: servers owned by vitest's hooks, for a file, a describe block or a test.
import { existsSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freePort } from '../src/index.js';
import { startRedisServerForTest, useRedisServer } from '../src/vitest.js';

describe('useRedisServer', () => {
  const redis = useRedisServer({ appendonly: false });
  let readWhileCollecting: unknown;
  try {
    void redis.url;
  } catch (err) {
    readWhileCollecting = err;
  }
  let firstPort = 0;

  it('cannot be read while tests are collected, and says why', () => {
    expect(String(readWhileCollecting)).toMatch(/no server is running now: use it inside a test or a hook/);
  });

  it('reaches a running server from a test, started with the options given', async () => {
    firstPort = redis.port;
    const client = redis.client();
    expect(await client.ping()).toBe('PONG');
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(redis.connectionOptions()).toMatchObject({ host: '127.0.0.1', port: redis.port });
  });

  it('serves every test of its block from the same server', () => {
    expect(redis.port).toBe(firstPort);
  });
});

describe('useRedisServer(() => options)', () => {
  let calls = 0;
  const redis = useRedisServer(() => {
    calls++;
    return { appendonly: false };
  });
  const callsWhileCollecting = calls;

  it('calls the function when the server starts, not while tests are collected', async () => {
    expect(callsWhileCollecting).toBe(0);
    expect(calls).toBe(1);
    expect(await redis.client().config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
  });
});

describe("useRedisServer({ scope: 'each' })", () => {
  const redis = useRedisServer({ appendonly: false, scope: 'each' });
  let firstDir = '';

  it('starts a server for a test, still running for the cleanups the test registers', async () => {
    firstDir = redis.dir;
    const client = redis.client();
    await client.set('k', 'first test');
    onTestFinished(async () => {
      expect(await client.get('k')).toBe('first test');
    });
  });

  it('and a fresh one for the next, the first one stopped', async () => {
    expect(redis.dir).not.toBe(firstDir);
    expect(await redis.client().exists('k')).toBe(0);
    expect(existsSync(firstDir)).toBe(false); // stop() removes the server's directory
  });
});

describe('startRedisServerForTest', () => {
  let dir = '';

  it('starts a server with the options given, here on a chosen port', async () => {
    const port = await freePort();
    const redis = await startRedisServerForTest({ appendonly: false, port });
    dir = redis.dir;
    expect(redis.port).toBe(port);
    expect(await redis.client().ping()).toBe('PONG');
  });

  it('stopped it when that test finished', () => {
    expect(dir).not.toBe('');
    expect(existsSync(dir)).toBe(false); // stop() removes the server's directory
  });
});
