// Retention: a queue keeps a bounded number of finished jobs (by count and by age), and
// trimming a job removes every trace of it (record, result, progress).
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { collectIds, testQueue } from './helpers.js';

const redis = useRedisServer();

const sorted = (ids: string[]) => [...ids].sort();

describe('retention of finished jobs', () => {
  it('keeps at most keepCompleted.count of 10,000 completed jobs, with no leaked records, results or progress', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue<{ i: number }>(redis, 'keep-done');
    let completed = 0;
    const consumer = newConsumer({
      concurrency: 50,
      keepCompleted: { count: 300, age: 3_600_000 },
      handler: async (job, { progress }) => {
        progress({ step: 1 });
        return { i: job.payload.i };
      },
    });
    consumer.on('completed', () => completed++);
    const total = 10_000;
    await producer.enqueueMany(
      queue,
      Array.from({ length: total }, (_, i) => ({ payload: { i } })),
    );
    await consumer.start();
    await waitUntil(() => completed === total, { timeout: 12_000, what: `${total} completions` });
    await consumer.close();

    const kept = await client.zrange(`${keys}:completed`, 0, -1);
    expect(kept).toHaveLength(300);
    expect(sorted(await client.hkeys(`${keys}:jobs`))).toEqual(sorted(kept));
    expect(sorted(await client.hkeys(`${keys}:results`))).toEqual(sorted(kept));
    expect(sorted(await client.hkeys(`${keys}:progress`))).toEqual(sorted(kept));
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, active: 0, completed: 300 });
    const sample = await producer.getJob(queue, kept[0] as string);
    expect(sample?.state).toBe('completed');
    expect(sample?.result).toEqual({ i: (sample?.payload as { i: number }).i });
  });

  it('keeps at most keepDead.count dead jobs, with no leaked records or progress', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'keep-dead');
    let dead = 0;
    const consumer = newConsumer({
      concurrency: 50,
      keepDead: { count: 50 },
      handler: async (_job, { progress }) => {
        progress(50);
        throw new Error('always fails');
      },
    });
    consumer.on('dead', () => dead++);
    const total = 2_000;
    await producer.enqueueMany(
      queue,
      Array.from({ length: total }, (_, i) => ({ payload: { i }, opts: { attempts: 1 } })),
    );
    await consumer.start();
    await waitUntil(() => dead === total, { timeout: 10_000, what: `${total} dead jobs` });
    await consumer.close();

    const kept = await client.zrange(`${keys}:dead`, 0, -1);
    expect(kept).toHaveLength(50);
    expect(sorted(await client.hkeys(`${keys}:jobs`))).toEqual(sorted(kept));
    expect(sorted(await client.hkeys(`${keys}:progress`))).toEqual(sorted(kept));
    expect(await client.hlen(`${keys}:results`)).toBe(0);
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, active: 0, dead: 50, completed: 0 });
    const listed = await producer.listDead(queue, { limit: 1_000 });
    expect(listed).toHaveLength(50);
    expect(listed[0]?.error).toBe('Error: always fails');
  });

  it('keeps at most keepCompleted.count cancelled jobs, also when they were cancelled while waiting or delayed', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'keep-cancel');
    const consumer = newConsumer({
      pollInterval: 100,
      keepCompleted: { count: 100 },
      handler: async () => 'ok',
    });
    const completed = collectIds(consumer, 'completed');
    // The consumer starts only after the cancellations: its steps trim the cancelled set, and
    // the count of 300 below must be read before any trimming.
    await producer.pause(queue);
    const jobs = await producer.enqueueMany(queue, [
      ...Array.from({ length: 150 }, (_, i) => ({ payload: { i } })),
      ...Array.from({ length: 150 }, (_, i) => ({ payload: { i }, opts: { delay: 60_000 } })),
    ]);
    const cancelled = await Promise.all(jobs.map(({ id }) => producer.cancel(queue, id)));
    expect(cancelled.every(Boolean)).toBe(true);
    expect((await producer.counts(queue)).cancelled).toBe(300);
    await consumer.start();
    await producer.resume(queue);
    const last = await producer.enqueue(queue, { last: true });
    await waitUntil(() => completed.includes(last.id), { what: 'a job after the cancellations' });
    await waitUntil(async () => (await client.llen(`${keys}:waiting`)) === 0, { what: 'the cancelled ids to leave the list' });
    await sleep(300); // a few more poll intervals
    await consumer.close();

    const kept = await client.zrange(`${keys}:cancelled`, 0, -1);
    expect(kept).toHaveLength(100);
    expect(sorted(await client.hkeys(`${keys}:jobs`))).toEqual(sorted([...kept, last.id]));
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, delayed: 0, cancelled: 100, completed: 1 });
  });

  it('removes completed jobs older than keepCompleted.age when another job finishes', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'keep-age');
    const consumer = newConsumer({
      keepCompleted: { count: 100_000, age: 500 },
      handler: async (_job, { progress }) => {
        progress(1);
        return 'r';
      },
    });
    const completed = collectIds(consumer, 'completed');
    await consumer.start();
    const old = await producer.enqueueMany(
      queue,
      Array.from({ length: 5 }, (_, i) => ({ payload: { i } })),
    );
    await waitUntil(() => completed.length === 5, { what: 'five completions' });
    expect(await client.zcard(`${keys}:completed`)).toBe(5); // kept while young

    await sleep(700);
    const fresh = await producer.enqueue(queue, { i: 99 });
    await waitUntil(() => completed.includes(fresh.id), { what: 'the fresh job to complete' });
    expect(await client.zrange(`${keys}:completed`, 0, -1)).toEqual([fresh.id]);
    expect(await client.hkeys(`${keys}:jobs`)).toEqual([fresh.id]);
    expect(await client.hkeys(`${keys}:results`)).toEqual([fresh.id]);
    expect(await client.hkeys(`${keys}:progress`)).toEqual([fresh.id]);
    for (const { id } of old) expect(await producer.getJob(queue, id)).toBeNull();
    expect((await producer.getJob(queue, fresh.id))?.result).toBe('r');
  });
});
