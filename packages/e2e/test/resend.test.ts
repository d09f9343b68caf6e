// An enqueue whose request reached Redis but whose reply was lost: ioredis sends it again on the
// new connection, and docket applies it once (each enqueue call carries an id, K_CALLS).
import { Producer, defineQueue } from '@docket/producer';
import { type TcpProxy, startTcpProxy, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { afterEach, describe, expect, it } from 'vitest';

const redis = useRedisServer();
let proxy: TcpProxy | undefined;
afterEach(() => proxy?.close());

describe('an enqueue sent again after its reply was lost', () => {
  it.each([
    ['one job without an id', 1],
    ['a chunk of 50 jobs without ids', 50],
  ])('is applied once: %s', async (_, size) => {
    proxy = await startTcpProxy({ targetPort: redis.port });
    const prefix = uniquePrefix();
    const queue = defineQueue(`resend-${prefix}`);
    // ioredis's defaults: calls in flight when the connection drops are sent again.
    const producer = new Producer({ connection: proxy.url, prefix });
    try {
      await producer.enqueue(queue, { warm: true }); // connected, queue checked
      const losing = proxy.loseReplies(300);
      const enqueued =
        size === 1
          ? [await producer.enqueue(queue, { i: 0 })]
          : await producer.enqueueMany(queue, Array.from({ length: size }, (_, i) => ({ payload: { i } })));
      await losing;
      expect(enqueued).toHaveLength(size);
      expect(enqueued.every((j) => j.created)).toBe(true);
      // The request did reach Redis while its reply was being lost (the reset came later).
      expect(proxy.dropped).toBeGreaterThan(0);
      const counts = await producer.counts(queue);
      expect(counts.waiting).toBe(1 + size);
      // The ids the resent call resolved with are the jobs Redis holds.
      for (const job of enqueued) expect((await producer.getJob(queue, job.id))?.payload).toEqual({ i: Number(job.id) - 2 });
    } finally {
      await producer.close();
    }
  });
});
