// producer.waitFor: resolves with the result of a job run in another process, rejects with the
// job's fate (JOB_FAILED, CANCELLED) or its own (TIMEOUT, NOT_FOUND), and listens to the event
// feed instead of polling.
import { Producer, isDocketError } from '@docket/producer';
import { rejection, sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { callsBesidesStats, collectIds, commandCounts, forkConsumer, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('waitFor', () => {
  it('resolves with the result of a job run in a child process, and rejects with JOB_FAILED and the last error for one that dies', async () => {
    const { prefix, queue, producer } = testQueue<{ fail?: string }, { by: number }>(redis, 'wait-child');
    const ok = await producer.enqueue(queue, {});
    const doomed = await producer.enqueue(queue, { fail: 'smtp exploded on try' }, { attempts: 2, backoff: { type: 'fixed', delay: 10 } });
    // Waiting starts before any consumer exists.
    const result = producer.waitFor(queue, ok.id, { timeout: 10_000 });
    const failure = rejection(producer.waitFor(queue, doomed.id, { timeout: 10_000 }));
    await sleep(50);
    const child = await forkConsumer({ url: redis.url, prefix, queue: queue.name, handler: { failOnPayload: true } });
    try {
      expect(await result).toEqual({ by: child.process.pid });
      const err = await failure;
      expect(isDocketError(err, 'JOB_FAILED')).toBe(true);
      expect(err.message).toContain('smtp exploded on try');
      expect(err.jobId).toBe(doomed.id);
      // It really died in the child: both tries started there (IPC may trail the event feed).
      await child.next((m) => m.type === 'start' && m.id === doomed.id && m.attempt === 2);
      expect(child.messages.filter((m) => m.type === 'start' && m.id === doomed.id)).toHaveLength(2);
      expect((await producer.getJob(queue, doomed.id))?.state).toBe('dead');
    } finally {
      await child.kill();
    }
  });

  it('rejects with CANCELLED for a job cancelled while waited for, and for one cancelled before', async () => {
    const { queue, producer } = testQueue(redis, 'wait-cancel');
    const later = await producer.enqueue(queue, {}, { delay: 60_000 });
    const waiting = rejection(producer.waitFor(queue, later.id, { timeout: 5_000 }));
    await sleep(100);
    expect(await producer.cancel(queue, later.id)).toBe(true);
    const err = await waiting;
    expect(isDocketError(err, 'CANCELLED')).toBe(true);

    const before = await producer.enqueue(queue, {});
    await producer.cancel(queue, before.id);
    expect(isDocketError(await rejection(producer.waitFor(queue, before.id, { timeout: 1_000 })), 'CANCELLED')).toBe(true);
  });

  it('rejects with TIMEOUT when nothing runs the job (which stays waiting), and NOT_FOUND for an unknown id', async () => {
    const { queue, producer } = testQueue(redis, 'wait-nobody');
    const { id } = await producer.enqueue(queue, {});
    const err = await rejection(producer.waitFor(queue, id, { timeout: 300 }));
    expect(isDocketError(err, 'TIMEOUT')).toBe(true);
    expect((await producer.getJob(queue, id))?.state).toBe('waiting');

    const missing = await rejection(producer.waitFor(queue, 'never-enqueued', { timeout: 5_000 }));
    expect(isDocketError(missing, 'NOT_FOUND')).toBe(true);
  });

  it('resolves at once for a job that completed before waitFor was called', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'wait-done');
    const consumer = newConsumer({ handler: async () => ({ n: 7 }) });
    const completed = collectIds(consumer, 'completed');
    await consumer.start();
    const { id } = await producer.enqueue(queue, {});
    await waitUntil(() => completed.includes(id), { what: 'the job to complete' });
    await consumer.close();
    // No event will ever come for it: only the lookup can resolve this before the timeout.
    const late = new Producer({ connection: redis.url, prefix });
    expect(await late.waitFor(queue, id, { timeout: 1_000 })).toEqual({ n: 7 });
    await late.close();
  });

  it('serves 200 concurrent waiters, each with its own job\'s result', async () => {
    const { queue, producer, newConsumer } = testQueue<{ i: number }, number>(redis, 'wait-many');
    const jobs = await producer.enqueueMany(
      queue,
      Array.from({ length: 200 }, (_, i) => ({ payload: { i } })),
    );
    const results = Promise.all(jobs.map(({ id }) => producer.waitFor(queue, id, { timeout: 10_000 })));
    await sleep(100);
    const consumer = newConsumer({
      concurrency: 20,
      handler: async (job) => (job.payload as { i: number }).i * 2,
    });
    await consumer.start();
    expect(await results).toEqual(jobs.map((_, i) => i * 2));
  });

  it('does not poll: a 2 s wait on a job nobody runs costs a handful of commands (INFO commandstats)', async () => {
    const { queue, producer } = testQueue(redis, 'wait-idle');
    const { id } = await producer.enqueue(queue, {});
    const admin = redis.client();
    await admin.config('RESETSTAT');
    const err = await rejection(producer.waitFor(queue, id, { timeout: 2_000 }));
    expect(isDocketError(err, 'TIMEOUT')).toBe(true);
    const counts = commandCounts(await admin.info('commandstats'));
    await producer.close();

    const total = callsBesidesStats(counts);
    console.log(`waitFor for 2 s: ${total} commands:`, Object.fromEntries(counts));
    expect(counts.get('xread') ?? 0).toBeGreaterThanOrEqual(1); // it listens on the feed...
    expect(counts.get('xread') ?? 0).toBeLessThanOrEqual(3);
    expect(total).toBeLessThan(20); // ...and does not poll the job
  });
});
