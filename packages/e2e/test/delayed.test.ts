// Guarantee 4: delayed jobs run on time with no other job arriving, promoted by consumers.
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { testQueue } from './helpers.js';

const redis = useRedisServer();

describe('a delayed job on an otherwise idle queue', () => {
  it('runs within about a second of its due time, even with a long poll interval', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'delayed');
    const starts: { id: string; at: number }[] = [];
    // pollInterval is a minute: only the due time (learned from the wake-up the producer sends
    // for a new earliest delayed job) can make this consumer run the job in time.
    const consumer = newConsumer({
      pollInterval: 60_000,
      handler: async (job) => void starts.push({ id: job.id, at: Date.now() }),
    });
    await consumer.start();
    await sleep(300); // the consumer is now blocked, idle

    const late = await producer.enqueue(queue, { n: 'late' }, { delay: 2_500 });
    const soon = await producer.enqueue(queue, { n: 'soon' }, { delay: 1_200 });
    const dueSoon = (await producer.getJob(queue, soon.id))?.timestamps.runAt as number;
    const dueLate = (await producer.getJob(queue, late.id))?.timestamps.runAt as number;
    expect((await producer.getJob(queue, soon.id))?.state).toBe('delayed');

    await waitUntil(() => starts.length === 2, { timeout: 6_000, what: 'both delayed jobs to start' });
    const [first, second] = starts;
    expect(first?.id).toBe(soon.id);
    expect(second?.id).toBe(late.id);
    // Never early (the Redis clock and this process's clock are the same machine's), and
    // within about a second of the due time.
    expect(first!.at).toBeGreaterThanOrEqual(dueSoon - 5);
    expect(first!.at - dueSoon).toBeLessThan(1_000);
    expect(second!.at).toBeGreaterThanOrEqual(dueLate - 5);
    expect(second!.at - dueLate).toBeLessThan(1_000);
  });
});
