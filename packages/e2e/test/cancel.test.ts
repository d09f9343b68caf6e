// producer.cancel: a waiting or delayed job never runs; a job running in another process is
// stopped through its signal within a second and ends `cancelled`, never retried.
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { collectIds, commandCounts, forkConsumer, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('cancelling a job', () => {
  it('that is waiting: it never runs, its state is cancelled, and counts exclude it though its id stays in the list', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'cancel-wait');
    const doomed = await producer.enqueue(queue, { name: 'doomed' });
    const kept = await producer.enqueue(queue, { name: 'kept' });

    expect(await producer.cancel(queue, doomed.id)).toBe(true);
    expect((await producer.getJob(queue, doomed.id))?.state).toBe('cancelled');
    expect(await client.lrange(`${keys}:waiting`, 0, -1)).toContain(doomed.id); // cancelled lazily
    const counts = await producer.counts(queue);
    expect(counts.waiting).toBe(1);
    expect(counts.cancelled).toBe(1);

    const ran: string[] = [];
    const consumer = newConsumer({
      handler: async (job) => {
        ran.push(job.id);
      },
    });
    const completed = collectIds(consumer, 'completed');
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
  });

  it('by the thousand, ahead of a live job: the job starts after a step or two, not a step per cancelled id', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'cancel-ghosts');
    const doomed = await producer.enqueueMany(queue, Array.from({ length: 2_000 }, (_, i) => ({ payload: { i } })));
    for (let i = 0; i < doomed.length; i += 200) await Promise.all(doomed.slice(i, i + 200).map((j) => producer.cancel(queue, j.id)));
    const live = await producer.enqueue(queue, { live: true });
    expect(await client.llen(`${keys}:waiting`)).toBe(2_001); // the cancelled ids linger (cancelled lazily)
    const ran: string[] = [];
    const consumer = newConsumer({ concurrency: 1, handler: async (job) => void ran.push(job.id) });
    await client.config('RESETSTAT');
    const t0 = performance.now();
    await consumer.start();
    await waitUntil(() => ran.length === 1, { interval: 5, what: 'the live job to start' });
    const startedIn = performance.now() - t0;
    const counts = commandCounts(await client.info('commandstats'));
    const steps = (counts.get('evalsha') ?? 0) + (counts.get('eval') ?? 0);
    console.log(`a live job behind 2,000 cancelled ids started ${startedIn.toFixed(0)} ms after start(), after ${steps} script calls`);
    expect(ran).toEqual([live.id]);
    // Start-up (meta check) and a couple of steps; a step per cancelled id would be 2,000.
    expect(steps).toBeLessThanOrEqual(10);
    expect(await client.llen(`${keys}:waiting`)).toBe(0);
  });

  it('that is delayed: it leaves the delayed set and never runs when it comes due', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'cancel-delayed');
    const ran: string[] = [];
    const consumer = newConsumer({
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
  });

  it('that is running in another process: its signal fires within 1 s, it ends cancelled and is not retried', async () => {
    const { prefix, queue, producer } = testQueue(redis, 'cancel-active');
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
    }
  });

  it('that was waiting, then trimmed and enqueued again with the same id: the new job runs once', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue<{ kind: string }>(redis, 'cancel-reuse');
    const runs: { id: string; attempt: number }[] = [];
    const errors: Error[] = [];
    const consumer = newConsumer({
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
    const cancelled = collectIds(consumer, 'cancelled');
    const completed = collectIds(consumer, 'completed');
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
  });

  it('that completed, or that does not exist, resolves false and changes nothing', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'cancel-done');
    const consumer = newConsumer({ handler: async () => 'ok' });
    const completed = collectIds(consumer, 'completed');
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
  });
});
