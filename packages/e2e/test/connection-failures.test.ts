// Redis unreachable or refusing the credentials at start: producer calls, consumer.start() and
// QueueEvents.start() reject with a clear DocketError (CONNECTION_FAILED / AUTH_FAILED) naming
// the address and the cause, within the connect timeout, instead of hanging or retrying
// silently. Real closed ports and real password-protected servers, no mocks.
import { type Server, createServer } from 'node:net';
import { Consumer } from '@docket/consumer';
import { Producer, QueueEvents, defineQueue, isDocketError } from '@docket/producer';
import { freePort, rejection, sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { startRedisServerForTest, useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it, vi } from 'vitest';

const quiet = { warn() {}, error() {} };

/** Listens on `port` and counts the connections that arrive during `ms`. */
async function connectionsDuring(port: number, ms: number): Promise<number> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await sleep(ms);
  await new Promise((r) => server.close(r));
  return count;
}

// ioredis waits at most 2 s between reconnect attempts: a client still trying connects within this.
const LONGER_THAN_A_RECONNECT = 3_000;

describe('Redis unreachable at start (a closed loopback port)', () => {
  const queue = defineQueue(`unreachable-${uniquePrefix()}`);

  it('producer calls reject with CONNECTION_FAILED naming the address and ECONNREFUSED, and go through once Redis is up', async () => {
    const port = await freePort();
    const producer = new Producer({ connection: `redis://127.0.0.1:${port}`, connectTimeout: 1_000 });
    try {
      const calls = [
        () => producer.enqueue(queue, { a: 1 }),
        () => producer.enqueueMany(queue, [{ payload: 1 }]),
        () => producer.getJob(queue, 'x'),
        () => producer.counts(queue),
        () => producer.waitFor(queue, 'x', { timeout: 60_000 }),
      ];
      for (const call of calls) {
        const err = await rejection(call());
        expect(isDocketError(err, 'CONNECTION_FAILED')).toBe(true);
        expect(err.message).toContain(`redis://127.0.0.1:${port}`);
        expect(err.message).toContain('ECONNREFUSED');
      }
      // The producer's connection keeps trying in the background, so it recovers by itself.
      await startRedisServerForTest({ appendonly: false, port });
      let id: string | undefined;
      await waitUntil(
        async () => {
          id = (await producer.enqueue(queue, { a: 2 }).catch(() => undefined))?.id;
          return id !== undefined;
        },
        { timeout: 15_000, what: 'an enqueue after Redis came up' },
      );
      expect((await producer.getJob(queue, id as string))?.payload).toEqual({ a: 2 });
    } finally {
      await producer.close();
    }
  });

  it('consumer.start() rejects with CONNECTION_FAILED and leaves no connection retrying', async () => {
    const port = await freePort();
    const consumer = new Consumer({ connection: `redis://127.0.0.1:${port}`, queues: [queue], handler: () => 1, logger: quiet });
    const err = await rejection(consumer.start({ connectTimeout: 1_000 }));
    expect(isDocketError(err, 'CONNECTION_FAILED')).toBe(true);
    expect(err.message).toContain(`redis://127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(await connectionsDuring(port, LONGER_THAN_A_RECONNECT)).toBe(0);
    await consumer.close();
  });

  it('consumer.start() with no logger and no error listener rejects, and prints nothing', async () => {
    const port = await freePort();
    const printed: unknown[][] = [];
    const spies = (['error', 'warn', 'log'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void printed.push([level, ...args])),
    );
    try {
      const consumer = new Consumer({ connection: `redis://127.0.0.1:${port}`, queues: [queue], handler: () => 1 });
      const err = await rejection(consumer.start({ connectTimeout: 1_000 }));
      expect(isDocketError(err, 'CONNECTION_FAILED')).toBe(true);
      await consumer.close();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(printed).toEqual([]);
  });

  it('QueueEvents.start() rejects with CONNECTION_FAILED and leaves no connection retrying', async () => {
    const port = await freePort();
    const events = new QueueEvents({ connection: { host: '127.0.0.1', port }, queue });
    const err = await rejection(events.start({ connectTimeout: 1_000 }));
    expect(isDocketError(err, 'CONNECTION_FAILED')).toBe(true);
    expect(err.message).toContain(`redis://127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(await connectionsDuring(port, LONGER_THAN_A_RECONNECT)).toBe(0);
  });

  it('a connectTimeout that is not an integer >= 1 is refused, naming it', async () => {
    const events = new QueueEvents({ connection: 'redis://127.0.0.1:1', queue });
    const err = await rejection(events.start({ connectTimeout: 0 }));
    expect(isDocketError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(err.message).toContain('`connectTimeout`');
  });
});

describe('credentials refused', () => {
  const PASSWORD = 'right-password';
  const prefix = uniquePrefix();
  const queue = defineQueue(`auth-${prefix}`);
  const redis = useRedisServer({ appendonly: false, password: PASSWORD, aclUsers: ['app on >app-password ~* &* +@all'] });
  const at = () => `redis://127.0.0.1:${redis.port}`;

  /** Checks the error is AUTH_FAILED, names the address and the reply, and does not leak `secret`. */
  function expectAuthFailed(err: Error & { code?: string }, reply: RegExp, secret?: string): void {
    expect(isDocketError(err, 'AUTH_FAILED')).toBe(true);
    expect(err.message).toContain(at());
    expect(err.message).toMatch(reply);
    if (secret) expect(err.message).not.toContain(secret);
  }

  it('a wrong password: producer calls, consumer.start() and QueueEvents.start() reject with AUTH_FAILED', async () => {
    const connection = `redis://:not-the-password@127.0.0.1:${redis.port}`;
    const producer = new Producer({ connection, prefix, connectTimeout: 10_000 });
    expectAuthFailed(await rejection(producer.enqueue(queue, {})), /WRONGPASS/, 'not-the-password');
    expectAuthFailed(await rejection(producer.counts(queue)), /WRONGPASS/, 'not-the-password');
    await producer.close();

    const consumer = new Consumer({ connection, prefix, queues: [queue], handler: () => 1, logger: quiet });
    expectAuthFailed(await rejection(consumer.start({ connectTimeout: 10_000 })), /WRONGPASS/, 'not-the-password');
    const events = new QueueEvents({ connection, prefix, queue });
    expectAuthFailed(await rejection(events.start({ connectTimeout: 10_000 })), /WRONGPASS/, 'not-the-password');
  });

  it('no password, or an unknown ACL user: AUTH_FAILED too, naming the user', async () => {
    const none = new Producer({ connection: at(), prefix, connectTimeout: 10_000 });
    expectAuthFailed(await rejection(none.enqueue(queue, {})), /NOAUTH/);
    await none.close();
    const stranger = new Consumer({
      connection: { host: '127.0.0.1', port: redis.port, username: 'nobody', password: 'app-password' },
      prefix,
      queues: [queue],
      handler: () => 1,
      logger: quiet,
    });
    const err = await rejection(stranger.start({ connectTimeout: 10_000 }));
    expectAuthFailed(err, /WRONGPASS/, 'app-password');
    expect(err.message).toContain('as user "nobody"');
  });

  it('the right password, or the right ACL user: jobs run (the control for the cases above)', async () => {
    for (const connection of [`redis://:${PASSWORD}@127.0.0.1:${redis.port}`, { host: '127.0.0.1', port: redis.port, username: 'app', password: 'app-password' }]) {
      const producer = new Producer({ connection, prefix });
      const consumer = new Consumer({ connection, prefix, queues: [queue], handler: (job) => job.id });
      await consumer.start({ connectTimeout: 10_000 });
      try {
        const job = await producer.enqueue(queue, {});
        expect(await producer.waitFor(queue, job.id, { timeout: 10_000 })).toBe(job.id);
      } finally {
        await consumer.close();
        await producer.close();
      }
    }
  });
});

describe('connection lost during consumer.start()', () => {
  const redis = useRedisServer({ appendonly: false });

  it('the queue meta check in flight fails start() instead of waiting forever for a reply that was dropped', async () => {
    const queue = defineQueue(`drop-${uniquePrefix()}`);
    const admin = redis.client();
    const adminId = Number(await admin.client('ID'));
    // Writes (scripts included) wait while the server is paused: start() is caught mid-check.
    await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    const consumer = new Consumer({ connection: redis.url, queues: [queue], handler: () => 1, logger: quiet });
    const outcome = consumer.start({ connectTimeout: 5_000 }).then(
      () => 'started',
      (err: unknown) => err,
    );
    try {
      let blocked: string[] = [];
      await waitUntil(
        async () => {
          const list = String(await admin.call('CLIENT', 'LIST')).split('\n');
          blocked = list.filter((line) => / flags=b /.test(line) && / cmd=eval(sha)? /.test(line));
          return blocked.length > 0;
        },
        { what: "the consumer's meta check to be held by the pause" },
      );
      for (const line of blocked) {
        const id = Number(/^id=(\d+)/.exec(line)?.[1]);
        if (id !== adminId) await admin.call('CLIENT', 'KILL', 'ID', String(id));
      }
      await admin.call('CLIENT', 'UNPAUSE');
      const result = await Promise.race([outcome, sleep(15_000).then(() => 'still starting after 15 s')]);
      expect(isDocketError(result, 'REDIS_ERROR')).toBe(true);
      expect((result as Error).message).toMatch(/closed before the reply/);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
      await Promise.race([consumer.close(), sleep(2_000)]); // a start() that hangs would hang close() too
    }
  });
});
