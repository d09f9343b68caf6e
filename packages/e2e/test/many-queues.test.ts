// One consumer serving 10,000 queues (per-tenant queues): a round costs per queue with work, not
// per queue served, so draining one job from each takes seconds, and idle it sends a handful of
// commands per second (it listens to the queues' ready channels instead of stepping each one).
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { callsBesidesStats, commandCounts } from './helpers.js';

const redis = useRedisServer({ appendonly: false });
const N = 10_000;

describe(`one consumer of ${N.toLocaleString('en-US')} queues`, () => {
  it('drains one job from each in at most 10 s, then idles at a handful of commands per second', { timeout: 120_000 }, async () => {
    const prefix = uniquePrefix();
    const queues = Array.from({ length: N }, (_, i) => defineQueue(`tenant-${i}`));
    const producer = new Producer({ connection: redis.url, prefix });
    for (let i = 0; i < N; i += 500) await Promise.all(queues.slice(i, i + 500).map((q, k) => producer.enqueue(q, { i: i + k })));
    const done = new Set<string>();
    let runs = 0;
    const consumer = new Consumer({
      connection: redis.url,
      prefix,
      queues,
      concurrency: 50,
      handler: async (job) => {
        done.add(job.queue);
        runs++;
      },
    });
    const t0 = performance.now();
    await consumer.start();
    const startedIn = performance.now() - t0;
    try {
      await waitUntil(() => done.size === N, { timeout: 60_000, interval: 50, what: `a job from each of ${N} queues` });
      const drainedIn = performance.now() - t0;

      // Idle: every job is done and reported.
      const client = redis.client();
      await waitUntil(async () => (await producer.counts(queues[N - 1]!)).completed === 1, { what: 'the last report' });
      await sleep(2_000);
      await client.config('RESETSTAT');
      const seconds = 6;
      await sleep(seconds * 1_000);
      const counts = commandCounts(await client.info('commandstats'));
      const perSecond = callsBesidesStats(counts) / seconds;
      // And a job enqueued now to a queue in the middle still starts at once.
      const sent = performance.now();
      await producer.enqueue(queues[N / 2]!, { late: true });
      await waitUntil(() => runs === N + 1, { timeout: 2_000, interval: 5, what: 'the late job to start' });
      const wokenIn = performance.now() - sent;
      console.log(
        `consumer of ${N} queues: started in ${startedIn.toFixed(0)} ms, drained ${N} jobs in ${drainedIn.toFixed(0)} ms; ` +
          `idle ${perSecond.toFixed(1)} commands/s; a late job started in ${wokenIn.toFixed(1)} ms`,
      );
      expect(runs).toBe(N + 1); // each job once
      expect(drainedIn).toBeLessThanOrEqual(10_000);
      expect(perSecond).toBeLessThan(5);
      expect(wokenIn).toBeLessThan(500);
    } finally {
      await consumer.close();
      await producer.close();
    }
  });
});
