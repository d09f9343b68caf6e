// Guarantee 5: an idle consumer blocks on Redis instead of polling.
import { Consumer } from '@docket/consumer';
import { defineQueue } from '@docket/producer';
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
});
