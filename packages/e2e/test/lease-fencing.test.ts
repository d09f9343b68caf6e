// Guarantee 2 (leases with fencing): a try that outlives its lease cannot complete the job.
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

describe('a handler that outlives its lease', () => {
  it('is re-delivered to another consumer and its late ack is refused', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`lease-${prefix}`);
    const producer = new Producer({ connection: redis.url, prefix });
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
    const rescuer = new Consumer({
      connection: redis.url,
      prefix,
      queues: [queue],
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
    await new Promise((r) => setTimeout(r, 300)); // give a wrongly accepted late ack time to show
    expect(completions).toHaveLength(1);
    expect((await producer.getJob(queue, id))?.attempts).toBe(2);

    await stalled.kill();
    await rescuer.close();
    await producer.close();
  });
});
