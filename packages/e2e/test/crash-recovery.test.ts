// Guarantee 1 (at-least-once): a consumer SIGKILLed with jobs in flight loses none of them.
import { waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { forkConsumer, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('a consumer killed with SIGKILL', () => {
  it('loses no job: another consumer completes them all, duplicates bounded by what was in flight', async () => {
    const { prefix, queue, keys, producer, client, newConsumer } = testQueue(redis, 'kill');
    const total = 300;
    const concurrency = 10;
    const enqueued = await producer.enqueueMany(
      queue,
      Array.from({ length: total }, (_, i) => ({ payload: { i } })),
    );

    const victim = await forkConsumer({
      url: redis.url,
      prefix,
      queue: queue.name,
      concurrency,
      leaseDuration: 1_000,
      handler: { sleepMs: 40 },
    });
    // Let it get well into the work, then kill it mid-flight.
    await waitUntil(() => victim.messages.filter((m) => m.type === 'completed').length >= 60, { what: '60 completions' });
    await victim.kill();
    const startedByVictim = victim.messages.filter((m) => m.type === 'start').map((m) => m.id as string);
    const completedByVictim = new Set(victim.messages.filter((m) => m.type === 'completed').map((m) => m.id as string));
    expect(startedByVictim.length).toBeLessThan(total); // the kill really interrupted the work

    const startedBySurvivor: { id: string; attempt: number }[] = [];
    const survivor = newConsumer({
      concurrency,
      leaseDuration: 1_000,
      pollInterval: 200,
      keepCompleted: { count: 100_000, age: 3_600_000 },
      handler: async (job) => {
        startedBySurvivor.push({ id: job.id, attempt: job.attempt });
      },
    });
    await survivor.start();
    await waitUntil(async () => (await client.zcard(`${keys}:completed`)) === total, { timeout: 20_000, what: 'all jobs completed' });
    await survivor.close();

    // Every enqueued job is completed.
    for (const { id } of enqueued) {
      expect((await producer.getJob(queue, id))?.state, `job ${id}`).toBe('completed');
    }
    expect(await client.zcount(`${keys}:active`, '-inf', '(+inf')).toBe(0);

    // Duplicates: jobs that started in both processes. Only jobs the victim had started but not
    // acked can run twice, so at most `concurrency` of them (plus acks lost in flight: none here).
    const survivorIds = new Set(startedBySurvivor.map((s) => s.id));
    const duplicates = startedByVictim.filter((id) => survivorIds.has(id));
    expect(duplicates.length).toBeLessThanOrEqual(concurrency);
    for (const id of duplicates) expect(completedByVictim.has(id), `job ${id} completed before the kill yet ran again`).toBe(false);
    // Re-delivered jobs carry their counted attempt.
    for (const s of startedBySurvivor.filter((s) => duplicates.includes(s.id))) expect(s.attempt).toBe(2);
    // The victim had jobs in flight when it died, so some really were recovered.
    expect(duplicates.length).toBeGreaterThan(0);
  });
});
