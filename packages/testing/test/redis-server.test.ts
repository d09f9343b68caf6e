// The harness itself: the failure tests rely on a killed server coming back with its data.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startRedisServer, uniquePrefix, waitUntil } from '../src/index.js';

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
      await new Promise((r) => setTimeout(r, 1_200)); // appendfsync everysec
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

describe('helpers', () => {
  it('uniquePrefix does not repeat', () => {
    const prefixes = new Set(Array.from({ length: 1000 }, () => uniquePrefix()));
    expect(prefixes.size).toBe(1000);
  });

  it('waitUntil rejects with the awaited condition named', async () => {
    await expect(waitUntil(() => false, { timeout: 50, what: 'the impossible' })).rejects.toThrow('the impossible');
  });
});
