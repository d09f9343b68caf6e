// A Redis at `maxmemory` with noeviction and a full queue: a consumer started now still starts
// and drains the queue, an operator can still count, look up, list, cancel and purge, and what
// Redis refuses (a new enqueue, a pause) says `maxmemory`.
import { Consumer } from '@docket/consumer';
import { Producer, isDocketError } from '@docket/producer';
import { rejection, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { testQueue } from './helpers.js';

const MAXMEMORY = 8 * 1024 * 1024;
const redis = useRedisServer({ appendonly: false, args: ['--maxmemory', String(MAXMEMORY), '--maxmemory-policy', 'noeviction'] });

describe('a Redis at maxmemory (noeviction) with a full queue', () => {
  it('lets a new consumer start and drain it, and a new producer read, cancel and purge; refusals name maxmemory', async () => {
    const { queue, prefix, producer: filler } = testQueue<{ pad: string }>(redis, 'oom');
    const payload = { pad: 'x'.repeat(2_000) };
    // Fill until Redis refuses: in chunks, then one job at a time (a refused call is refused as a
    // whole, and its own arguments count against maxmemory until it is answered: only small
    // calls leave Redis over the limit with data alone).
    let enqueued = 0;
    let refusal: unknown;
    for (const size of [200, 1]) {
      refusal = undefined;
      while (refusal === undefined) {
        try {
          const jobs = await filler.enqueueMany(queue, Array.from({ length: size }, () => ({ payload })));
          enqueued += jobs.length;
        } catch (err) {
          refusal = err;
        }
      }
    }
    expect(isDocketError(refusal, 'REDIS_ERROR'), String(refusal)).toBe(true);
    expect((refusal as Error).message).toMatch(/maxmemory/);
    expect(enqueued).toBeGreaterThan(1_000);
    // Redis is out of memory now: a plain write is refused too.
    expect(String(await rejection(redis.client().set('probe', 'x')))).toMatch(/^.*OOM/);

    // A producer made now (its first call on the queue checks the queue's meta).
    const operator = new Producer({ connection: redis.url, prefix });
    try {
      const counts = await operator.counts(queue);
      expect(counts.waiting).toBe(enqueued);
      const first = await operator.getJob(queue, '1');
      expect(first?.state).toBe('waiting');
      expect(await operator.listDead(queue)).toEqual([]);
      expect(await operator.purgeDead(queue)).toBe(0);
      expect(await operator.cancel(queue, '2')).toBe(true);
      expect((await operator.getJob(queue, '2'))?.state).toBe('cancelled');
      const pause = await rejection(operator.pause(queue));
      expect(isDocketError(pause, 'REDIS_ERROR'), String(pause)).toBe(true);
      expect((pause as Error).message).toMatch(/maxmemory/);
      const more = await rejection(operator.enqueue(queue, payload));
      expect((more as Error).message).toMatch(/maxmemory/);

      // A consumer started now (after the queue filled up) drains it.
      let completed = 0;
      const consumer = new Consumer({
        connection: redis.url,
        prefix,
        queues: [queue],
        concurrency: 20,
        keepCompleted: { count: 0 },
        handler: async () => {},
      });
      consumer.on('completed', () => completed++);
      await consumer.start();
      try {
        await waitUntil(() => completed === enqueued - 1, { timeout: 20_000, what: `${enqueued - 1} completions` });
      } finally {
        await consumer.close();
      }
      expect(await operator.counts(queue)).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
      // With the memory freed, enqueueing works again.
      expect((await operator.enqueue(queue, payload)).created).toBe(true);
    } finally {
      await operator.close();
    }
  });
});
