// A cancelled waiting job leaves its id in the waiting list (lazy cancellation). When that id
// is reused by a new job, neither the leftover entry nor a stale cancel request may change
// what happens to the new job.
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { testQueue } from './helpers.js';

const redis = useRedisServer();

describe('a reused id', () => {
  it("does not let a leftover waiting entry skip the new job's retry backoff", async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'reuse-backoff');
    const starts: number[] = [];
    const consumer = newConsumer({
      pollInterval: 100,
      keepCompleted: { count: 0 }, // the cancelled job is trimmed at once
      handler: async (job) => {
        if (job.id === 'X') {
          starts.push(Date.now());
          throw new Error('fails, retry after 1.5 s');
        }
      },
    });
    // Paused: the consumer's steps trim, but pop nothing, so the leftover entry stays.
    await producer.pause(queue);
    await producer.enqueue(queue, { old: true }, { id: 'X' });
    expect(await producer.cancel(queue, 'X')).toBe(true);
    await consumer.start();
    await waitUntil(async () => (await producer.getJob(queue, 'X')) === null, { what: 'the cancelled job to be trimmed' });
    // The new X is behind the leftover entry: the entry leases it first, then (once it failed
    // and waits out its backoff) the new job's own entry must not lease it again.
    expect((await producer.enqueue(queue, { fresh: true }, { id: 'X', attempts: 2, backoff: { type: 'fixed', delay: 1_500 } })).created).toBe(true);
    await producer.resume(queue);
    await waitUntil(() => starts.length === 2, { timeout: 8_000, what: 'the retry of X' });
    expect((starts[1] as number) - (starts[0] as number)).toBeGreaterThanOrEqual(1_450);
  });

  it('is not cancelled by a cancel request another consumer remembers for the old job', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'reuse-cancel');
    const common = { pollInterval: 100, keepCompleted: { count: 0 } } as const;
    // B runs the first X until it is cancelled; A is idle but hears the cancel request too.
    const b = newConsumer({
      ...common,
      handler: async (_job, { signal }) => {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        throw signal.reason;
      },
    });
    let cancelledOnB = 0;
    b.on('cancelled', () => cancelledOnB++);
    await b.start();
    await producer.enqueue(queue, { first: true }, { id: 'X' });
    await waitUntil(() => b.activeCount === 1, { what: 'B to run the first X' });
    const completedOnA: number[] = [];
    const a = newConsumer({ ...common, handler: async (job) => void completedOnA.push(job.attempt) });
    await a.start();
    await sleep(200);
    expect(await producer.cancel(queue, 'X')).toBe(true);
    await waitUntil(() => cancelledOnB === 1, { what: 'the first X to be cancelled on B' });
    await b.close();
    await waitUntil(async () => (await producer.getJob(queue, 'X')) === null, { what: 'the cancelled X to be trimmed' });

    // A new X, within the 30 s A remembers the request for: it must run to completion.
    await producer.enqueue(queue, { second: true }, { id: 'X' });
    const events: string[] = [];
    a.on('cancelled', () => events.push('cancelled'));
    a.on('completed', () => events.push('completed'));
    await waitUntil(() => events.length > 0, { timeout: 5_000, what: 'the new X to finish' });
    expect(events).toEqual(['completed']);
    expect(completedOnA).toHaveLength(1);
  });
});
