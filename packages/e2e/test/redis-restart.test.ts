// Guarantee 7: a consumer survives redis-server being killed and restarted on its AOF.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { testQueue } from './helpers.js';

const redis = useRedisServer({ appendonly: true, scope: 'each' });

describe('redis-server killed and restarted on its AOF', () => {
  it('while the consumer is idle: it reconnects by itself and runs jobs enqueued afterwards', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`idle-restart-${prefix}`);
    let completed = 0;
    const errors: string[] = [];
    const consumer = new Consumer({
      connection: redis.url,
      prefix,
      queues: [queue],
      handler: async () => void completed++,
    });
    consumer.on('error', (err) => errors.push(err.message));
    await consumer.start();
    await sleep(200);

    await redis.kill('SIGKILL');
    await sleep(700);
    await redis.restart();

    const producer = new Producer({ connection: redis.url, prefix });
    await producer.enqueueMany(queue, Array.from({ length: 20 }, (_, i) => ({ payload: { i } })));
    await waitUntil(() => completed === 20, { timeout: 15_000, what: '20 jobs after the restart' });
    expect(errors.length).toBeGreaterThan(0); // the outage was noticed and reported, not hidden
    await consumer.close();
    await producer.close();
  });

  it('while the consumer is busy: it recovers by itself and every persisted job completes', async () => {
    const { queue, keys, producer, newConsumer } = testQueue(redis, 'busy-restart');
    const jobs = await producer.enqueueMany(queue, Array.from({ length: 400 }, (_, i) => ({ payload: { i } })));
    await producer.close();
    await sleep(1_200); // appendfsync everysec: let the enqueues reach the AOF

    const ran = new Set<string>();
    const consumer = newConsumer({
      concurrency: 8,
      leaseDuration: 1_500,
      pollInterval: 300,
      keepCompleted: { count: 100_000, age: 3_600_000 },
      handler: async (job) => {
        await sleep(15);
        ran.add(job.id);
      },
    });
    consumer.on('error', () => {});
    await consumer.start();
    await waitUntil(() => ran.size >= 80, { what: 'the consumer to be busy' });

    await redis.kill('SIGKILL');
    await sleep(500);
    await redis.restart();

    const client = redis.client();
    await waitUntil(async () => (await client.zcard(`${keys}:completed`)) === jobs.length, {
      timeout: 30_000,
      what: 'every job completed after the restart',
    });
    expect(await client.zcount(`${keys}:active`, '-inf', '(+inf')).toBe(0);
    expect(await client.llen(`${keys}:waiting`)).toBe(0);
  });
});
