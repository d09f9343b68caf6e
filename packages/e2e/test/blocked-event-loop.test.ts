// Guarantee 2 (leases with fencing), when the cause is the consumer's own process: a handler
// doing synchronous CPU work blocks the event loop, so lease renewal cannot run. Another
// consumer process gets the job once the lease expires; the blocked consumer's late ack is
// refused, and what it reports names the blocked event loop (not a vague "stalled or lost
// Redis"), with the remedy.
import { sleep } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { type ConsumerChild, forkConsumer, testQueue } from './helpers.js';

const redis = useRedisServer({ appendonly: false });

const LEASE = 1_500;
/** The "at least N ms" figure of a message. */
const blockedMs = (message: string | undefined) => Number(/blocked for at least ([\d,]+) ms/.exec(message ?? '')?.[1]?.replaceAll(',', ''));

describe('a handler that blocks the event loop longer than leaseDuration', () => {
  it('loses the job to another consumer process; its late ack is refused with a LEASE_LOST that names the blocked loop', async () => {
    const { prefix, queue, producer } = testQueue(redis, 'blocked-loop');
    const children: ConsumerChild[] = [];
    try {
      const { id } = await producer.enqueue(queue, { work: 1 });
      // A busy-waits 5 s on the job's first try: no renewal can run during a 1.5 s lease (and B,
      // started after A took the job, has time to start and recover it before A wakes up).
      const blocked = await forkConsumer({ url: redis.url, prefix, queue: queue.name, leaseDuration: LEASE, pollInterval: 200, handler: { busyMs: 5_000 } });
      children.push(blocked);
      const firstTry = await blocked.next((m) => m.type === 'start');
      expect(firstTry.attempt).toBe(1);
      // B starts only now, so A has the first try; B recovers the job when A's lease expires.
      const rescuer = await forkConsumer({ url: redis.url, prefix, queue: queue.name, leaseDuration: LEASE, pollInterval: 200 });
      children.push(rescuer);

      const rescued = await rescuer.next((m) => m.type === 'completed' && m.id === id);
      expect(rescued.attempt).toBe(2);
      const secondTry = rescuer.messages.find((m) => m.type === 'start' && m.id === id);
      expect(secondTry?.token).toBeGreaterThan(firstTry.token as number);

      // A wakes up, its ack is refused, and the error says why the lease was lost.
      const refused = await blocked.next((m) => m.type === 'error' && m.code === 'LEASE_LOST');
      expect(refused.jobId).toBe(id);
      expect(refused.message).toMatch(/the event loop was blocked for at least [\d,]+ ms \(longer than leaseDuration, 1,500 ms\)/);
      expect(refused.message).toContain('`sandbox`');
      expect(blockedMs(refused.message)).toBeGreaterThanOrEqual(LEASE);
      // It also warned as soon as the loop woke up.
      const warning = await blocked.next((m) => m.type === 'warn' && /event loop was blocked/.test(m.message ?? ''));
      expect(blockedMs(warning.message)).toBeGreaterThanOrEqual(LEASE);
      // B lost nothing.
      expect(rescuer.messages.filter((m) => m.type === 'error')).toEqual([]);

      // The job completed exactly once: B's try, with B's result, and A's late ack changed nothing.
      await sleep(500);
      expect(blocked.messages.filter((m) => m.type === 'completed')).toEqual([]);
      expect(rescuer.messages.filter((m) => m.type === 'completed')).toHaveLength(1);
      const job = await producer.getJob(queue, id);
      expect(job?.state).toBe('completed');
      expect(job?.attempts).toBe(2);
      expect(job?.result).toEqual({ by: rescuer.process.pid });
    } finally {
      for (const child of children) await child.kill();
    }
  });
});
