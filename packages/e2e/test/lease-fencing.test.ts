// Guarantee 2 (leases with fencing): a try that outlives its lease cannot complete the job.
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { forkConsumer, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('a handler that outlives its lease', () => {
  it('is re-delivered to another consumer and its late ack is refused', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'lease');
    const { id } = await producer.enqueue(queue, { work: 1 });

    // The stalled consumer blocks its own event loop for 2.5 s on the first try, so its lease
    // renewal (every 1/3 of the 600 ms lease) cannot run.
    const stalled = await forkConsumer({
      url: redis.url,
      prefix,
      queue: queue.name,
      leaseDuration: 600,
      handler: { busyMs: 2_500 },
    });
    const firstTry = await stalled.next((m) => m.type === 'start');
    expect(firstTry.attempt).toBe(1);

    const completions: { attempt: number; token: number }[] = [];
    const rescuer = newConsumer({
      leaseDuration: 600,
      pollInterval: 100,
      handler: async () => 'rescued',
    });
    rescuer.on('completed', (job) => completions.push({ attempt: job.attempt, token: job.token }));
    await rescuer.start();

    // The rescuer recovers the expired lease and completes the job with a newer token...
    await waitUntil(() => completions.length === 1, { what: 'the rescuer to complete the job' });
    expect(completions[0]?.attempt).toBe(2);
    expect(completions[0]?.token).toBeGreaterThan(firstTry.token as number);

    // ...and the stalled try's outcome, when it finally arrives, is refused.
    const refused = await stalled.next((m) => m.type === 'error' && m.code === 'LEASE_LOST');
    expect(refused.jobId).toBe(id);
    expect(stalled.messages.some((m) => m.type === 'completed')).toBe(false);

    const job = await producer.getJob(queue, id);
    expect(job?.state).toBe('completed');
    expect(job?.attempts).toBe(2);
    await sleep(300); // give a wrongly accepted late ack time to show
    expect(completions).toHaveLength(1);
    expect((await producer.getJob(queue, id))?.attempts).toBe(2);

    await stalled.kill();
  });
});
