// Guarantee 5: an idle consumer blocks on Redis instead of polling.
import { Consumer } from '@docket/consumer';
import { defineQueue } from '@docket/producer';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { callsBesidesStats, commandCounts, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('an idle consumer', () => {
  it('sends only a few commands per second (INFO commandstats)', async () => {
    const prefix = uniquePrefix();
    const queues = [defineQueue(`idle-a-${prefix}`), defineQueue(`idle-b-${prefix}`)];
    const consumer = new Consumer({ connection: redis.url, prefix, queues, concurrency: 50, handler: async () => {} });
    await consumer.start();
    const client = redis.client();
    await sleep(500); // past start-up
    await client.config('RESETSTAT');
    const seconds = 6;
    await sleep(seconds * 1000);
    const counts = commandCounts(await client.info('commandstats'));
    await consumer.close();

    // Everything but this test's own CONFIG/INFO, including commands run inside scripts.
    const total = callsBesidesStats(counts);
    const perSecond = total / seconds;
    console.log(`idle consumer: ${total} commands in ${seconds} s (${perSecond.toFixed(1)}/s):`, Object.fromEntries(counts));
    expect(counts.get('blpop') ?? 0).toBeGreaterThan(0); // it is blocking, not sleeping in Node
    expect(perSecond).toBeLessThan(10);
  });

  it('is woken by one token at most: the wake-up list stays at one token however many enqueues wait', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'idle-wake');
    const wakeKey = `${keys}:wake`;
    // No consumer yet: every enqueue call (one job, then a chunk) pushes a wake-up token.
    for (let i = 0; i < 5; i++) await producer.enqueue(queue, { i });
    await producer.enqueueMany(queue, [5, 6, 7].map((i) => ({ payload: { i } })));
    expect(await client.lrange(wakeKey, 0, -1)).toEqual(['1']);
    const ran: number[] = [];
    const consumer = newConsumer({ handler: async (job) => void ran.push((job.payload as { i: number }).i) });
    await consumer.start();
    await waitUntil(() => ran.length >= 8, { what: 'the eight jobs to run' });
    expect(ran.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // A job enqueued while the consumer waits is run too (its token woke it).
    await producer.enqueue(queue, { i: 8 });
    await waitUntil(() => ran.length >= 9, { what: 'the ninth job to run' });
    expect(ran).toContain(8);
    expect(await client.llen(wakeKey)).toBeLessThanOrEqual(1);
  });
});
