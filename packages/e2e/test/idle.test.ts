// Guarantee 5: an idle consumer blocks on Redis instead of polling.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { callsBesidesStats, commandCounts, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('an idle consumer', () => {
  // One queue: it blocks on the queue's wake-up key. Several: it listens to their ready channels
  // (a blocking pop over many keys would cost per queue), and each queue is stepped only when told
  // or when something in it is due: its idle cost does not grow with its queues.
  it.each([
    ['one queue', 1],
    ['two queues', 2],
    ['1,000 queues', 1_000],
  ])('of %s sends only a few commands per second (INFO commandstats), and an enqueue still wakes it', async (_, n) => {
    const prefix = uniquePrefix();
    const queues = Array.from({ length: n }, (_, i) => defineQueue(`idle-${i}-${prefix}`));
    const started: string[] = [];
    const consumer = new Consumer({
      connection: redis.url,
      prefix,
      queues,
      concurrency: 50,
      handler: async (job) => {
        started.push(job.queue);
      },
    });
    await consumer.start();
    const client = redis.client();
    await sleep(n > 100 ? 3_000 : 500); // past start-up (a first look at each queue)
    await client.config('RESETSTAT');
    const seconds = 6;
    await sleep(seconds * 1000);
    const counts = commandCounts(await client.info('commandstats'));
    const producer = new Producer({ connection: redis.url, prefix });
    const last = queues[n - 1] as (typeof queues)[number];
    const sent = performance.now();
    await producer.enqueue(last, { hello: 1 });
    await waitUntil(() => started.length === 1, { timeout: 2_000, what: 'the enqueued job to start' });
    const wokenIn = performance.now() - sent;
    await producer.close();
    await consumer.close();

    // Everything but this test's own CONFIG/INFO, including commands run inside scripts.
    const total = callsBesidesStats(counts);
    const perSecond = total / seconds;
    console.log(`idle consumer of ${n} queues: ${total} commands in ${seconds} s (${perSecond.toFixed(1)}/s), woken in ${wokenIn.toFixed(1)} ms:`, Object.fromEntries(counts));
    // One queue blocks in Redis (it is not sleeping in Node); several wait on their subscription.
    if (n === 1) expect(counts.get('blpop') ?? 0).toBeGreaterThan(0);
    else expect(counts.get('blpop') ?? 0).toBe(0);
    expect(perSecond).toBeLessThan(5);
    expect(started).toEqual([last.name]);
    expect(wokenIn).toBeLessThan(500);
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
