import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, probeRedis, startRedisServer } from '../src/index.js';

describe('probeRedis', () => {
  it('is ok where a Redis answers PING, with the password the URL carries', async () => {
    const redis = await startRedisServer({ appendonly: false, password: 'secret' });
    try {
      expect(await probeRedis(redis.url)).toEqual({ ok: true });
      // The error behind the failure, not ioredis's "Connection is closed".
      expect(await probeRedis(`redis://127.0.0.1:${redis.port}`)).toEqual({ ok: false, reason: expect.stringMatching(/NOAUTH/) });
    } finally {
      await redis.stop();
    }
  });

  it('says why where nothing listens', async () => {
    const port = await freePort();
    expect(await probeRedis(`redis://127.0.0.1:${port}`, { timeout: 250 })).toEqual({ ok: false, reason: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('gives up after its timeout on a listener that never answers', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    try {
      const started = Date.now();
      const probe = await probeRedis(`redis://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, { timeout: 200 });
      expect(probe.ok).toBe(false);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      silent.close();
    }
  });
});
