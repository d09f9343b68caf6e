// producer.waitFor: resolves with the result of a job run in another process, rejects with the
// job's fate (JOB_FAILED, CANCELLED) or its own (TIMEOUT, NOT_FOUND), and listens to the event
// feed instead of polling.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue, isDocketError } from '@docket/producer';
import { type RedisServer, startRedisServer, uniquePrefix, waitUntil } from '@docket/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forkConsumer } from './helpers.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; jobId?: string }> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (err) {
    return err as Error & { code?: string };
  }
}

/** Total calls per command from INFO commandstats. */
function commandCounts(info: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) counts.set(m[1] as string, Number(m[2]));
  }
  return counts;
}

describe('waitFor', () => {
  it('resolves with the result of a job run in a child process, and rejects with JOB_FAILED and the last error for one that dies', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue<{ fail?: string }, { by: number }>(`wait-child-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
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
      await producer.close();
    }
  });

  it('rejects with CANCELLED for a job cancelled while waited for, and for one cancelled before', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`wait-cancel-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const later = await producer.enqueue(queue, {}, { delay: 60_000 });
    const waiting = rejection(producer.waitFor(queue, later.id, { timeout: 5_000 }));
    await sleep(100);
    expect(await producer.cancel(queue, later.id)).toBe(true);
    const err = await waiting;
    expect(isDocketError(err, 'CANCELLED')).toBe(true);

    const before = await producer.enqueue(queue, {});
    await producer.cancel(queue, before.id);
    expect(isDocketError(await rejection(producer.waitFor(queue, before.id, { timeout: 1_000 })), 'CANCELLED')).toBe(true);
    await producer.close();
  });

  it('rejects with TIMEOUT when nothing runs the job (which stays waiting), and NOT_FOUND for an unknown id', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`wait-nobody-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const { id } = await producer.enqueue(queue, {});
    const err = await rejection(producer.waitFor(queue, id, { timeout: 300 }));
    expect(isDocketError(err, 'TIMEOUT')).toBe(true);
    expect((await producer.getJob(queue, id))?.state).toBe('waiting');

    const missing = await rejection(producer.waitFor(queue, 'never-enqueued', { timeout: 5_000 }));
    expect(isDocketError(missing, 'NOT_FOUND')).toBe(true);
    await producer.close();
  });

  it('resolves at once for a job that completed before waitFor was called', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`wait-done-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const consumer = new Consumer({ connection: redis.url, prefix, queues: [queue], handler: async () => ({ n: 7 }) });
    const completed: string[] = [];
    consumer.on('completed', (job) => completed.push(job.id));
    await consumer.start();
    const { id } = await producer.enqueue(queue, {});
    await waitUntil(() => completed.includes(id), { what: 'the job to complete' });
    await consumer.close();
    // No event will ever come for it: only the lookup can resolve this before the timeout.
    const late = new Producer({ connection: redis.url, prefix });
    expect(await late.waitFor(queue, id, { timeout: 1_000 })).toEqual({ n: 7 });
    await late.close();
    await producer.close();
  });

  it('serves 200 concurrent waiters, each with its own job\'s result', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue<{ i: number }, number>(`wait-many-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const jobs = await producer.enqueueMany(
      queue,
      Array.from({ length: 200 }, (_, i) => ({ payload: { i } })),
    );
    const results = Promise.all(jobs.map(({ id }) => producer.waitFor(queue, id, { timeout: 10_000 })));
    await sleep(100);
    const consumer = new Consumer({
      connection: redis.url,
      prefix,
      queues: [queue],
      concurrency: 20,
      handler: async (job) => (job.payload as { i: number }).i * 2,
    });
    await consumer.start();
    expect(await results).toEqual(jobs.map((_, i) => i * 2));
    await consumer.close();
    await producer.close();
  });

  it('does not poll: a 2 s wait on a job nobody runs costs a handful of commands (INFO commandstats)', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`wait-idle-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
    const { id } = await producer.enqueue(queue, {});
    const admin = redis.client();
    await admin.config('RESETSTAT');
    const err = await rejection(producer.waitFor(queue, id, { timeout: 2_000 }));
    expect(isDocketError(err, 'TIMEOUT')).toBe(true);
    const counts = commandCounts(await admin.info('commandstats'));
    await producer.close();

    let total = 0;
    for (const [name, calls] of counts) if (name !== 'info' && !name.startsWith('config')) total += calls;
    console.log(`waitFor for 2 s: ${total} commands:`, Object.fromEntries(counts));
    expect(counts.get('xread') ?? 0).toBeGreaterThanOrEqual(1); // it listens on the feed...
    expect(counts.get('xread') ?? 0).toBeLessThanOrEqual(3);
    expect(total).toBeLessThan(20); // ...and does not poll the job
  });
});
