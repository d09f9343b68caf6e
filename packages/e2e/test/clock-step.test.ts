// A consumer whose wall clock steps back (an NTP step, a VM resuming) keeps recovering expired
// leases: intervals inside the process use the monotonic clock, and only Redis's clock decides
// deadlines.
import { waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { forkConsumer, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('a consumer whose wall clock steps back one hour', () => {
  it('recovers a killed consumer\'s expired leases as before, and keeps running new jobs', async () => {
    const { prefix, queue, keys, producer, client } = testQueue(redis, 'clock-step');
    const leaseDuration = 1_000;
    const jobs = await producer.enqueueMany(queue, Array.from({ length: 10 }, (_, i) => ({ payload: { i } })));
    // The victim takes all 10 and holds them (its handler sleeps far past the test).
    const victim = await forkConsumer({ url: redis.url, prefix, queue: queue.name, concurrency: 10, leaseDuration, handler: { sleepMs: 600_000 } });
    await victim.next(() => victim.messages.filter((m) => m.type === 'start').length === 10);

    const survivor = await forkConsumer(
      { url: redis.url, prefix, queue: queue.name, concurrency: 10, leaseDuration, pollInterval: 500 },
      { preload: ['clock-steps-back.mjs'] },
    );
    // Let the survivor housekeep with its clock as it was, then step it back.
    await new Promise((r) => setTimeout(r, 1_500));
    survivor.process.send('step-clock-back');
    const stepped = await survivor.next((m) => m.type === 'clock-stepped');
    expect(Math.abs((stepped.now as number) + 3_600_000 - Date.now())).toBeLessThan(5_000); // the step happened
    await victim.kill();

    // The leases expire a second later; housekeeping (every leaseDuration / 4) recovers them.
    await waitUntil(async () => (await client.zcard(`${keys}:completed`)) === 10, { timeout: 10_000, what: 'the 10 jobs recovered and completed' });
    const recovered = survivor.messages.filter((m) => m.type === 'completed').map((m) => m.id);
    expect(new Set(recovered)).toEqual(new Set(jobs.map((j) => j.id)));

    // New jobs still run.
    const late = await producer.enqueue(queue, { late: true });
    await survivor.next((m) => m.type === 'completed' && m.id === late.id, 5_000);
    await survivor.kill();
  });
});
