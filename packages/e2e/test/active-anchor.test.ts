// The active set's anchor: one member that is never a job keeps the set in Redis's skiplist
// encoding (a listpack set makes every lease ZADD a linear scan). It must never be counted,
// expire, be recovered as a lease, or collide with a job id.
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { gate, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('the active set anchor', () => {
  it('keeps the set a skiplist, is never counted or recovered, and cannot be a job id', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue<{ i: number }>(redis, 'anchor');
    const activeKey = `${keys}:active`;
    const held = gate();
    const ran: string[] = [];
    const consumer = newConsumer({
      concurrency: 5,
      // Short leases: housekeeping (which recovers expired leases) runs several times while the
      // jobs are held, and must not take the anchor for an expired lease.
      leaseDuration: 1_000,
      handler: async (job) => {
        ran.push(job.id);
        await held.opened;
      },
    });
    // The longest id a job may have, so an anchor of that length or shorter would collide.
    const longest = 'x'.repeat(256);
    await producer.enqueue(queue, { i: 0 }, { id: longest });
    await producer.enqueueMany(queue, [1, 2, 3, 4].map((i) => ({ payload: { i } })));
    await consumer.start();
    await waitUntil(() => consumer.activeCount === 5, { what: 'five running jobs' });

    const members = await client.zrange(activeKey, 0, -1, 'WITHSCORES');
    const entries = Array.from({ length: members.length / 2 }, (_, k) => ({ id: members[2 * k]!, score: members[2 * k + 1]! }));
    const anchors = entries.filter((e) => e.score === 'inf');
    expect(anchors).toHaveLength(1);
    expect(anchors[0]!.id.length).toBeGreaterThan(256);
    expect(await client.object('ENCODING', activeKey)).toBe('skiplist');
    expect((await producer.counts(queue)).active).toBe(5);
    expect(entries.filter((e) => e.score !== 'inf').map((e) => e.id).sort()).toEqual([...ran].sort());

    // Past several housekeeping steps (renewals keep the real leases alive): nothing recovered.
    await sleep(1_500);
    expect(ran).toHaveLength(5);
    held.open();
    await waitUntil(async () => (await producer.counts(queue)).completed === 5, { what: 'five completed jobs' });
    expect((await producer.counts(queue)).active).toBe(0);
    expect(await client.zcard(activeKey)).toBe(1); // the anchor stays, so the encoding does too
    expect(await client.object('ENCODING', activeKey)).toBe('skiplist');
    expect(ran).toContain(longest);
  });
});
