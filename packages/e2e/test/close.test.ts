// close({ timeout }): stop fetching, let running tries finish up to the timeout, release the rest.
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { testQueue } from './helpers.js';

const redis = useRedisServer();

describe('closing a consumer with jobs in flight', () => {
  it('leaves no job active and none lost; released jobs run elsewhere with no attempt counted', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'close');
    // Even payloads finish quickly; odd ones run until their signal aborts.
    const jobs = await producer.enqueueMany(queue, Array.from({ length: 12 }, (_, i) => ({ payload: { i } })));
    const aborted: string[] = [];
    const finished: string[] = [];
    const first = newConsumer({
      concurrency: 6,
      handler: async (job, { signal }) => {
        const { i } = job.payload as { i: number };
        if (i % 2 === 0) {
          await sleep(150);
          finished.push(job.id);
          return;
        }
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted.push(job.id);
        throw signal.reason;
      },
    });
    await first.start();
    await waitUntil(() => first.activeCount === 6, { what: 'six running jobs' });
    await first.close({ timeout: 400 });

    expect(await client.zcount(`${keys}:active`, '-inf', '(+inf')).toBe(0);
    expect(aborted.length).toBeGreaterThan(0); // some tries were really interrupted
    // Every job is accounted for: completed, or waiting again.
    const completed = new Set(await client.zrange(`${keys}:completed`, 0, -1));
    const waiting = new Set(await client.lrange(`${keys}:waiting`, 0, -1));
    for (const { id } of jobs) expect(completed.has(id) || waiting.has(id), `job ${id}`).toBe(true);
    expect(completed.size + waiting.size).toBe(jobs.length);
    for (const id of aborted) {
      const job = await producer.getJob(queue, id);
      expect(job?.state).toBe('waiting');
      expect(job?.attempts).toBe(0); // a release does not count as a try
    }

    const attemptsSeen: number[] = [];
    const second = newConsumer({
      concurrency: 6,
      handler: async (job) => void attemptsSeen.push(job.attempt),
    });
    await second.start();
    await waitUntil(async () => (await client.zcard(`${keys}:completed`)) === jobs.length, { what: 'all jobs completed' });
    expect(attemptsSeen.every((a) => a === 1)).toBe(true);
  });

  it('with a generous timeout lets running tries finish instead of releasing them', async () => {
    const { queue, keys, producer, newConsumer } = testQueue(redis, 'close2');
    await producer.enqueueMany(queue, Array.from({ length: 4 }, (_, i) => ({ payload: { i } })));
    const consumer = newConsumer({
      concurrency: 4,
      handler: async () => sleep(300),
    });
    let completed = 0;
    consumer.on('completed', () => completed++);
    await consumer.start();
    await waitUntil(() => consumer.activeCount === 4, { what: 'four running jobs' });
    await consumer.close({ timeout: 5_000 });
    expect(completed).toBe(4);
    const client = redis.client();
    expect(await client.zcard(`${keys}:completed`)).toBe(4);
  });

  it('called while start() is still connecting: the consumer never fetches and start() settles', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'close3');
    let ran = 0;
    const consumer = newConsumer({ handler: async () => void ran++ });
    const started = consumer.start();
    await consumer.close();
    await started;
    const { id } = await producer.enqueue(queue, { late: true });
    await sleep(500);
    expect(ran).toBe(0);
    expect((await producer.getJob(queue, id))?.state).toBe('waiting');
  });
});
