// producer.cancel: a waiting or delayed job never runs; a job running in another process is
// stopped through its signal within a second and ends `cancelled`, never retried.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { type RedisServer, startRedisServer, uniquePrefix, waitUntil } from '@docket/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forkConsumer } from './helpers.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cancelling a job', () => {
  it('that is waiting: it never runs, its state is cancelled, and counts exclude it though its id stays in the list', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`cancel-wait-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const client = redis.client();
    const keys = `${prefix}:{${queue.name}}`;
    const doomed = await producer.enqueue(queue, { name: 'doomed' });
    const kept = await producer.enqueue(queue, { name: 'kept' });

    expect(await producer.cancel(queue, doomed.id)).toBe(true);
    expect((await producer.getJob(queue, doomed.id))?.state).toBe('cancelled');
    expect(await client.lrange(`${keys}:waiting`, 0, -1)).toContain(doomed.id); // cancelled lazily
    const counts = await producer.counts(queue);
    expect(counts.waiting).toBe(1);
    expect(counts.cancelled).toBe(1);

    const ran: string[] = [];
    const consumer = new Consumer({
      connection: redis.url,
      prefix,
      queues: [queue],
      handler: async (job) => {
        ran.push(job.id);
      },
    });
    const completed: string[] = [];
    consumer.on('completed', (job) => completed.push(job.id));
    await consumer.start();
    await waitUntil(() => completed.includes(kept.id), { what: 'the other job to complete' });
    await sleep(200);
    await consumer.close();

    expect(ran).toEqual([kept.id]);
    const job = await producer.getJob(queue, doomed.id);
    expect(job?.state).toBe('cancelled');
    expect(job?.attempts).toBe(0);
    const after = await producer.counts(queue);
    expect(after).toMatchObject({ waiting: 0, active: 0, completed: 1, cancelled: 1 });
    expect(await client.llen(`${keys}:waiting`)).toBe(0);
    await producer.close();
  });

  it('that is delayed: it leaves the delayed set and never runs when it comes due', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`cancel-delayed-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const ran: string[] = [];
    const consumer = new Consumer({
      connection: redis.url,
      prefix,
      queues: [queue],
      pollInterval: 100,
      handler: async (job) => {
        ran.push(job.id);
      },
    });
    await consumer.start();
    const delayed = await producer.enqueue(queue, { name: 'later' }, { delay: 400 });
    expect((await producer.counts(queue)).delayed).toBe(1);

    expect(await producer.cancel(queue, delayed.id)).toBe(true);
    expect((await producer.getJob(queue, delayed.id))?.state).toBe('cancelled');
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, delayed: 0, cancelled: 1 });
    await sleep(800); // well past its due time
    expect(ran).toEqual([]);
    expect((await producer.getJob(queue, delayed.id))?.state).toBe('cancelled');
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, delayed: 0, active: 0, cancelled: 1 });

    await consumer.close();
    await producer.close();
  });

  it('that is running in another process: its signal fires within 1 s, it ends cancelled and is not retried', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`cancel-active-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    // Default lease (30 s, renewed every 10 s): the cancellation cannot ride on a lease renewal.
    const child = await forkConsumer({ url: redis.url, prefix, queue: queue.name, handler: { waitForAbort: true } });
    try {
      const { id } = await producer.enqueue(queue, { name: 'long' }, { attempts: 3, backoff: { type: 'fixed', delay: 0 } });
      await child.next((m) => m.type === 'start' && m.id === id);
      expect((await producer.getJob(queue, id))?.state).toBe('active');

      expect(await producer.cancel(queue, id)).toBe(true);
      const cancelReturned = Date.now();
      const aborted = await child.next((m) => m.type === 'aborted' && m.id === id, 5_000);
      const abortSeen = Date.now();
      expect(abortSeen - cancelReturned).toBeLessThan(1_000);
      expect(aborted.code).toBe('CANCELLED');

      await child.next((m) => m.type === 'cancelled' && m.id === id);
      const job = await producer.getJob(queue, id);
      expect(job?.state).toBe('cancelled');
      expect(job?.attempts).toBe(1);
      expect(await producer.counts(queue)).toMatchObject({ waiting: 0, delayed: 0, active: 0, cancelled: 1 });

      await sleep(300); // a retry (no backoff) would have started by now
      expect(child.messages.filter((m) => m.type === 'start' && m.id === id)).toHaveLength(1);
      expect(child.messages.some((m) => (m.type === 'failed' || m.type === 'dead') && m.id === id)).toBe(false);
      expect((await producer.getJob(queue, id))?.state).toBe('cancelled');
      // Cancelling it again, now that it has finished, does nothing.
      expect(await producer.cancel(queue, id)).toBe(false);
    } finally {
      await child.kill();
      await producer.close();
    }
  });

  it('that was waiting, then trimmed and enqueued again with the same id: the new job runs once', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue<{ kind: string }>(`cancel-reuse-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const client = redis.client();
    const keys = `${prefix}:{${queue.name}}`;
    const runs: { id: string; attempt: number }[] = [];
    const cancelled: string[] = [];
    const completed: string[] = [];
    const errors: Error[] = [];
    const consumer = new Consumer({
      connection: redis.url,
      prefix,
      queues: [queue],
      keepCompleted: { count: 1_000, age: 400 }, // cancelled jobs follow keepCompleted
      handler: async (job, { signal }) => {
        runs.push({ id: job.id, attempt: job.attempt });
        if (job.payload.kind === 'block') {
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          throw signal.reason;
        }
        return 'ran';
      },
    });
    consumer.on('cancelled', (job) => cancelled.push(job.id));
    consumer.on('completed', (job) => completed.push(job.id));
    consumer.on('error', (err) => errors.push(err));
    await consumer.start();
    const blocker = await producer.enqueue(queue, { kind: 'block' });
    await waitUntil(() => runs.length === 1, { what: 'the blocker to start' });
    await producer.pause(queue);

    // Cancelled while waiting: its id stays in the waiting list.
    await producer.enqueue(queue, { kind: 'once' }, { id: 'reused' });
    expect(await producer.cancel(queue, 'reused')).toBe(true);
    await sleep(450);
    // Finishing another cancellation trims the cancelled set: the old record is gone.
    await producer.cancel(queue, blocker.id);
    await waitUntil(() => cancelled.includes(blocker.id), { what: 'the blocker to be cancelled' });
    expect(await producer.getJob(queue, 'reused')).toBeNull();

    expect((await producer.enqueue(queue, { kind: 'once' }, { id: 'reused' })).created).toBe(true);
    expect(await client.lrange(`${keys}:waiting`, 0, -1)).toEqual(['reused', 'reused']); // the stale id and the new one
    expect((await producer.counts(queue)).waiting).toBe(1);
    await producer.resume(queue);
    await waitUntil(() => completed.includes('reused'), { what: 'the new job to complete' });
    await sleep(300); // the stale id comes out of the list too

    expect(runs.filter((r) => r.id === 'reused')).toEqual([{ id: 'reused', attempt: 1 }]);
    expect(errors).toEqual([]);
    const job = await producer.getJob(queue, 'reused');
    expect(job).toMatchObject({ state: 'completed', attempts: 1, result: 'ran' });
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, active: 0, completed: 1 });
    expect(await client.llen(`${keys}:waiting`)).toBe(0);
    await consumer.close();
    await producer.close();
  });

  it('that completed, or that does not exist, resolves false and changes nothing', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`cancel-done-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const consumer = new Consumer({ connection: redis.url, prefix, queues: [queue], handler: async () => 'ok' });
    const completed: string[] = [];
    consumer.on('completed', (job) => completed.push(job.id));
    await consumer.start();
    const { id } = await producer.enqueue(queue, { name: 'quick' });
    await waitUntil(() => completed.includes(id), { what: 'the job to complete' });
    await consumer.close();

    expect(await producer.cancel(queue, id)).toBe(false);
    expect(await producer.cancel(queue, 'no-such-job')).toBe(false);
    const job = await producer.getJob(queue, id);
    expect(job?.state).toBe('completed');
    expect(job?.result).toBe('ok');
    expect(await producer.counts(queue)).toMatchObject({ completed: 1, cancelled: 0 });
    expect(await producer.getJob(queue, 'no-such-job')).toBeNull();
    await producer.close();
  });
});
