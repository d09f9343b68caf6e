// A job id is an idempotency key: enqueued once while the job exists, and for `dedupeFor` ms
// after it finished, even once the finished job was trimmed.
import { Producer, defineQueue } from '@docket/producer';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { collectIds, gate, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('enqueueing with an id', () => {
  it('from 20 producers at once (20 connections) creates exactly one job', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`idem-race-${prefix}`);
    const producers = Array.from({ length: 20 }, () => new Producer({ connection: redis.url, prefix }));
    const client = redis.client();
    const keys = `${prefix}:{${queue.name}}`;
    // Each producer has connected and checked the queue, so the enqueues really race.
    await Promise.all(producers.map((p) => p.counts(queue)));
    const clients = Number(/connected_clients:(\d+)/.exec(await client.info('clients'))?.[1]);
    expect(clients).toBeGreaterThanOrEqual(21);

    const replies = await Promise.all(producers.map((p, i) => p.enqueue(queue, { from: i }, { id: 'order:42' })));
    expect(replies.filter((r) => r.created)).toHaveLength(1);
    expect(replies.every((r) => r.id === 'order:42')).toBe(true);
    expect(await client.hlen(`${keys}:jobs`)).toBe(1);
    expect(await client.lrange(`${keys}:waiting`, 0, -1)).toEqual(['order:42']);
    // The stored payload is the winner's.
    const winner = replies.findIndex((r) => r.created);
    expect((await producers[0]?.getJob(queue, 'order:42'))?.payload).toEqual({ from: winner });
    await Promise.all(producers.map((p) => p.close()));
  });

  it('again while the job is waiting, active or completed returns created: false and runs nothing more', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'idem-states');
    const runs: unknown[] = [];
    const release = gate();
    const consumer = newConsumer({
      handler: async (job) => {
        runs.push(job.payload);
        await release.opened;
        return 'sent';
      },
    });
    const completed = collectIds(consumer, 'completed');

    expect((await producer.enqueue(queue, { n: 1 }, { id: 'mail:1' })).created).toBe(true);
    expect((await producer.enqueue(queue, { n: 2 }, { id: 'mail:1' })).created).toBe(false); // waiting
    expect((await producer.getJob(queue, 'mail:1'))?.state).toBe('waiting');

    await consumer.start();
    await waitUntil(() => runs.length === 1, { what: 'the job to start' });
    expect((await producer.getJob(queue, 'mail:1'))?.state).toBe('active');
    expect((await producer.enqueue(queue, { n: 3 }, { id: 'mail:1' })).created).toBe(false); // active

    release.open();
    await waitUntil(() => completed.includes('mail:1'), { what: 'the job to complete' });
    expect((await producer.enqueue(queue, { n: 4 }, { id: 'mail:1' })).created).toBe(false); // completed
    expect((await producer.enqueueMany(queue, [{ payload: { n: 5 }, opts: { id: 'mail:1' } }]))[0]?.created).toBe(false);

    await sleep(200);
    expect(runs).toEqual([{ n: 1 }]);
    expect(await client.hlen(`${keys}:jobs`)).toBe(1);
    const job = await producer.getJob(queue, 'mail:1');
    expect(job?.state).toBe('completed');
    expect(job?.payload).toEqual({ n: 1 });
  });

  it('with dedupeFor keeps deduplicating after the job was trimmed, until the window ends', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'idem-dedupe');
    const runs: unknown[] = [];
    const completions: { id: string; at: number }[] = [];
    const consumer = newConsumer({
      keepCompleted: { count: 0 }, // a completed job is trimmed at once
      handler: async (job) => {
        runs.push(job.payload);
      },
    });
    consumer.on('completed', (job) => completions.push({ id: job.id, at: Date.now() }));
    await consumer.start();

    expect((await producer.enqueue(queue, { n: 1 }, { id: 'report:7', dedupeFor: 1_500 })).created).toBe(true);
    await waitUntil(() => completions.length === 1, { what: 'the job to complete' });
    const finished = completions[0]?.at as number;
    expect(await producer.getJob(queue, 'report:7')).toBeNull(); // trimmed: no record left
    expect(await client.hlen(`${keys}:jobs`)).toBe(0);

    // Within the window: refused, though no job with this id exists.
    expect((await producer.enqueue(queue, { n: 2 }, { id: 'report:7', dedupeFor: 1_500 })).created).toBe(false);
    expect(Date.now() - finished).toBeLessThan(1_500); // (the check above really was inside the window)
    expect(await client.hlen(`${keys}:jobs`)).toBe(0);
    // An id without dedupeFor is not remembered after its job was trimmed.
    expect((await producer.enqueue(queue, { n: 10 }, { id: 'plain:1' })).created).toBe(true);
    await waitUntil(() => completions.length === 2, { what: 'the plain job to complete' });
    expect((await producer.enqueue(queue, { n: 11 }, { id: 'plain:1' })).created).toBe(true);
    await waitUntil(() => completions.length === 3, { what: 'the plain job to complete again' });

    // After the window: a new job.
    await sleep(Math.max(0, finished + 1_600 - Date.now()));
    expect((await producer.enqueue(queue, { n: 3 }, { id: 'report:7', dedupeFor: 1_500 })).created).toBe(true);
    await waitUntil(() => completions.length === 4, { what: 'the new job to complete' });
    expect(runs).toEqual([{ n: 1 }, { n: 10 }, { n: 11 }, { n: 3 }]);
  });

  it('with dedupeFor: the ids whose window ran out are forgotten by running consumers, with no enqueue needed', { timeout: 60_000 }, async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'idem-trim');
    const total = 20_000;
    await producer.enqueueMany(
      queue,
      Array.from({ length: total }, (_, i) => ({ payload: { i }, opts: { id: `order:${i}`, dedupeFor: 1_000 } })),
    );
    let completed = 0;
    const consumer = newConsumer({ concurrency: 50, keepCompleted: { count: 0 }, handler: async () => {} });
    consumer.on('completed', () => completed++);
    await consumer.start();
    await waitUntil(() => completed === total, { timeout: 30_000, what: `${total} completions` });
    // Every finished id was remembered (some may be forgotten already).
    const remembered = await client.zcard(`${keys}:dedupe`);
    expect(remembered).toBeGreaterThan(0);
    // The consumer is idle now; no enqueue comes. Its housekeeping forgets the expired ids, a
    // bounded batch per step, with the next step due at once while some are left.
    await waitUntil(async () => (await client.zcard(`${keys}:dedupe`)) === 0, { timeout: 15_000, interval: 100, what: 'the expired ids to be trimmed' });
    // Forgotten means enqueueable again.
    expect((await producer.enqueue(queue, { again: true }, { id: 'order:0' })).created).toBe(true);
  });
});
