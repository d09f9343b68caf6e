// Guarantee 5: an idle consumer blocks on Redis instead of polling.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { type RedisServer, startRedisServer, uniquePrefix } from '@docket/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

/** Total calls per command from INFO commandstats. */
async function commandCounts(info: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) counts.set(m[1] as string, Number(m[2]));
  }
  return counts;
}

describe('an idle consumer', () => {
  it('sends only a few commands per second (INFO commandstats)', async () => {
    const prefix = uniquePrefix();
    const queues = [defineQueue(`idle-a-${prefix}`), defineQueue(`idle-b-${prefix}`)];
    const consumer = new Consumer({ connection: redis.url, prefix, queues, concurrency: 50, handler: async () => {} });
    await consumer.start();
    const client = redis.client();
    await new Promise((r) => setTimeout(r, 500)); // past start-up
    await client.config('RESETSTAT');
    const seconds = 6;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const counts = await commandCounts(await client.info('commandstats'));
    await consumer.close();

    // Everything but this test's own CONFIG/INFO, including commands run inside scripts.
    let total = 0;
    for (const [name, calls] of counts) if (name !== 'info' && !name.startsWith('config')) total += calls;
    const perSecond = total / seconds;
    console.log(`idle consumer: ${total} commands in ${seconds} s (${perSecond.toFixed(1)}/s):`, Object.fromEntries(counts));
    expect(counts.get('blpop') ?? 0).toBeGreaterThan(0); // it is blocking, not sleeping in Node
    expect(perSecond).toBeLessThan(10);
  });

  it('is woken by one token at most: the wake-up list stays at one token however many enqueues wait', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`idle-wake-${prefix}`);
    const wakeKey = `${prefix}:{${queue.name}}:wake`;
    const producer = new Producer({ connection: redis.url, prefix });
    const client = redis.client();
    // No consumer yet: every enqueue call (one job, then a chunk) pushes a wake-up token.
    for (let i = 0; i < 5; i++) await producer.enqueue(queue, { i });
    await producer.enqueueMany(queue, [5, 6, 7].map((i) => ({ payload: { i } })));
    expect(await client.lrange(wakeKey, 0, -1)).toEqual(['1']);
    const ran: number[] = [];
    const consumer = new Consumer({ connection: redis.url, prefix, queues: [queue], handler: async (job) => void ran.push((job.payload as { i: number }).i) });
    await consumer.start();
    const deadline = Date.now() + 10_000;
    while (ran.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ran.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // A job enqueued while the consumer waits is run too (its token woke it).
    await producer.enqueue(queue, { i: 8 });
    const deadline2 = Date.now() + 10_000;
    while (ran.length < 9 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
    expect(ran).toContain(8);
    expect(await client.llen(wakeKey)).toBeLessThanOrEqual(1);
    await consumer.close();
    await producer.close();
  });
});
