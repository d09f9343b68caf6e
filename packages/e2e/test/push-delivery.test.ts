// Push delivery: a consumer of one queue that found it empty registers as idle, and an enqueue
// into the empty queue leases the job to it and pushes it to the consumer's inbox (one round
// trip instead of a wake-up and a lease step). What must hold: a pushed job is a normal lease
// (events, attempt, fencing); the consumer never holds more jobs than it has slots; a paused
// queue or one with jobs waiting takes no pushes; a consumer killed while registered loses no
// job and costs it no attempt; a closing consumer takes its registration back and leaves no keys.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { inboxKey, queueKeys } from '@docket/protocol/internal';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { forkConsumer, gate, testQueue } from './helpers.js';

const redis = useRedisServer();

/** The job ids whose 'enqueued' and 'active' events were written by one call (one stream entry): pushed jobs. */
async function pushedIds(keys: ReturnType<typeof queueKeys>): Promise<Set<string>> {
  const entries = (await redis.client().xrange(keys.events, '-', '+')) as [string, string[]][];
  const pushed = new Set<string>();
  for (const [, fields] of entries) {
    const enqueued = new Set<string>();
    for (let i = 0; i + 3 < fields.length; i += 2) {
      if (fields[i] !== 'e') continue;
      const kind = fields[i + 1];
      const id = fields[i + 3] as string;
      if (kind === 'enqueued') enqueued.add(id);
      if (kind === 'active' && enqueued.has(id)) pushed.add(id);
    }
  }
  return pushed;
}

/** Registered consumer ids, from the queue's idle set. */
async function registered(keys: ReturnType<typeof queueKeys>): Promise<string[]> {
  return redis.client().zrange(keys.idle, 0, -1);
}

describe('push delivery', () => {
  it('an idle consumer gets a job leased and pushed by the enqueue: a normal try (attempt 1, events, completed)', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'push');
    const keys = queueKeys(prefix, queue.name);
    const seen: { id: string; attempt: number }[] = [];
    const consumer = newConsumer({
      concurrency: 4,
      keepCompleted: { count: 1000, age: 3_600_000 },
      handler: async (job) => {
        seen.push({ id: job.id, attempt: job.attempt });
        return 'ok';
      },
    });
    await consumer.start();
    await waitUntil(async () => (await registered(keys)).length === 1, { what: 'the consumer registered as idle' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await producer.enqueue(queue, { i })).id);
      await waitUntil(() => seen.length === i + 1, { what: `job ${i} started` });
      // Let it register again before the next one.
      await waitUntil(async () => (await redis.client().hget(keys.idleSlots, (await registered(keys))[0] ?? '')) !== null, { what: 're-registered' });
    }
    await waitUntil(async () => (await redis.client().zcard(keys.completed)) === 5, { what: 'all completed' });
    await consumer.close();
    await producer.close();

    expect(seen.map((s) => s.id)).toEqual(ids);
    expect(seen.every((s) => s.attempt === 1)).toBe(true);
    // Each job went active in the enqueue's own call: pushed, not fetched.
    const pushed = await pushedIds(keys);
    for (const id of ids) expect(pushed.has(id)).toBe(true);
    expect(await redis.client().zcount(keys.active, '-inf', '(+inf')).toBe(0);
  });

  it('a consumer never holds more jobs than its slots, however many single enqueues arrive', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'push-slots');
    const keys = queueKeys(prefix, queue.name);
    const concurrency = 3;
    const release = gate();
    let running = 0;
    let most = 0;
    const consumer = newConsumer({
      concurrency,
      handler: async () => {
        running++;
        most = Math.max(most, running);
        await release.opened;
        running--;
      },
    });
    await consumer.start();
    await waitUntil(async () => (await registered(keys)).length === 1, { what: 'the consumer registered as idle' });
    const total = 12;
    for (let i = 0; i < total; i++) {
      await producer.enqueue(queue, { i });
      await sleep(20);
    }
    await waitUntil(() => running === concurrency, { what: 'all slots busy' });
    // Leases in Redis (pushed or fetched) never exceed the slots; the rest wait in the queue.
    const counts = await producer.counts(queue);
    expect(counts.active).toBe(concurrency);
    expect(counts.waiting).toBe(total - concurrency);
    const consumerId = (await registered(keys))[0];
    if (consumerId) expect(await redis.client().llen(inboxKey(keys, consumerId))).toBe(0);
    release.open();
    await waitUntil(async () => (await producer.counts(queue)).waiting === 0 && running === 0, { what: 'all done' });
    await consumer.close();
    await producer.close();
    expect(most).toBe(concurrency);
  });

  it('a paused queue, or one with jobs waiting, takes no pushes: order and pause hold', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'push-paused');
    const keys = queueKeys(prefix, queue.name);
    const order: string[] = [];
    const consumer = newConsumer({
      concurrency: 1,
      pollInterval: 200,
      handler: async (job) => {
        order.push(job.id);
      },
    });
    await consumer.start();
    await waitUntil(async () => (await registered(keys)).length === 1, { what: 'the consumer registered as idle' });
    await producer.pause(queue);
    const first = (await producer.enqueue(queue, { n: 1 })).id;
    const second = (await producer.enqueue(queue, { n: 2 })).id;
    await sleep(300);
    expect(order).toEqual([]);
    expect((await producer.counts(queue)).waiting).toBe(2);
    await producer.resume(queue);
    await waitUntil(() => order.length === 2, { what: 'both ran after resume' });
    await consumer.close();
    await producer.close();
    expect(order).toEqual([first, second]);
    const pushed = await pushedIds(keys);
    expect(pushed.has(first) || pushed.has(second)).toBe(false);
  });

  it('a job pushed to a consumer blocked in its handler is drained by its next step, within its slots', async () => {
    const { prefix, queue, producer } = testQueue(redis, 'push-drain');
    const keys = queueKeys(prefix, queue.name);
    // Concurrency 4 registers 2 slots; the first try blocks the consumer's event loop for a while.
    const child = await forkConsumer({ url: redis.url, prefix, queue: queue.name, concurrency: 4, handler: { busyMs: 600 } });
    try {
      await waitUntil(async () => (await registered(keys)).length === 1, { what: 'the consumer registered as idle' });
      const [consumerId] = await registered(keys);
      const a = (await producer.enqueue(queue, { n: 'a' })).id;
      await child.next((m) => m.type === 'start' && m.id === a);
      // The consumer is stuck in a's handler: b goes to its inbox (it still has a registered slot).
      const b = (await producer.enqueue(queue, { n: 'b' })).id;
      expect(await redis.client().llen(inboxKey(keys, consumerId as string))).toBe(1);
      const started = await child.next((m) => m.type === 'start' && m.id === b);
      expect(started.attempt).toBe(1);
      await child.next((m) => m.type === 'completed' && m.id === b);
      const pushed = await pushedIds(keys);
      expect(pushed.has(a) && pushed.has(b)).toBe(true);
      expect(await redis.client().exists(inboxKey(keys, consumerId as string))).toBe(0);
    } finally {
      await child.kill();
    }
  });

  it('a consumer killed while registered loses no job: the job in its inbox is handed back uncounted', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'push-killed');
    const keys = queueKeys(prefix, queue.name);
    const victim = await forkConsumer({ url: redis.url, prefix, queue: queue.name, concurrency: 2, pollInterval: 300 });
    await waitUntil(async () => (await registered(keys)).length === 1, { what: 'the victim registered as idle' });
    const [victimId] = await registered(keys);
    await victim.kill();
    const id = (await producer.enqueue(queue, { n: 1 })).id;
    // Pushed to the dead consumer: leased (active) and in its inbox.
    expect(await redis.client().llen(inboxKey(keys, victimId as string))).toBe(1);
    expect((await producer.counts(queue)).active).toBe(1);

    const runs: { id: string; attempt: number }[] = [];
    const survivor = newConsumer({
      concurrency: 2,
      pollInterval: 300,
      leaseDuration: 60_000, // far beyond the test: the job must come back through the registration, not the lease
      handler: async (job) => {
        runs.push({ id: job.id, attempt: job.attempt });
      },
    });
    await survivor.start();
    await waitUntil(() => runs.length === 1, { timeout: 10_000, what: 'the job ran on the survivor' });
    await survivor.close();
    await producer.close();
    expect(runs).toEqual([{ id, attempt: 1 }]);
    expect(await redis.client().exists(inboxKey(keys, victimId as string))).toBe(0);
    expect(await redis.client().zscore(keys.idle, victimId as string)).toBeNull();
    expect(await redis.client().hget(keys.idleSlots, victimId as string)).toBeNull();
  });

  it('a job pushed to a consumer killed while registered runs on a live idle consumer within pollInterval + 1 s', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'push-dead');
    const keys = queueKeys(prefix, queue.name);
    const pollInterval = 5_000; // the default, which the README's promise is about
    const runs: { id: string; at: number }[] = [];
    const survivor = newConsumer({
      concurrency: 1,
      pollInterval,
      handler: async (job) => {
        runs.push({ id: job.id, at: performance.now() });
      },
    });
    await survivor.start();
    await waitUntil(async () => (await registered(keys)).length === 1, { what: 'the survivor registered as idle' });
    // The victim registers after the survivor, so its registration is the freshest: the one an
    // enqueue pushes to. The survivor stays blocked in its pollInterval meanwhile.
    const victim = await forkConsumer({ url: redis.url, prefix, queue: queue.name, concurrency: 1, pollInterval });
    await waitUntil(async () => (await registered(keys)).length === 2, { what: 'the victim registered as idle' });
    const victimId = (await redis.client().zrange(keys.idle, -1, -1))[0] as string;
    await victim.kill();
    const enqueuedAt = performance.now();
    const { id } = await producer.enqueue(queue, { n: 1 });
    expect(await redis.client().llen(inboxKey(keys, victimId))).toBe(1); // pushed to the dead consumer
    await waitUntil(() => runs.length === 1, { timeout: 3 * pollInterval, what: 'the job ran on the survivor' });
    expect(runs[0]?.id).toBe(id);
    // The survivor steps when the dead registration runs out (pollInterval + 1 s after the
    // victim's last step, which came before the enqueue), not a whole pollInterval after its own
    // next step; 250 ms for that step and the start.
    expect(runs[0]!.at - enqueuedAt).toBeLessThanOrEqual(pollInterval + 1_000 + 250);
  });

  it('close takes the registration back and leaves no inbox; a consumer of several queues never registers', async () => {
    const prefix = uniquePrefix();
    const queue = defineQueue(`push-close-${prefix}`);
    const other = defineQueue(`push-other-${prefix}`);
    const keys = queueKeys(prefix, queue.name);
    const one = new Consumer({ connection: redis.url, prefix, queues: [queue], concurrency: 2, handler: async () => {} });
    await one.start();
    await waitUntil(async () => (await registered(keys)).length === 1, { what: 'registered as idle' });
    const [id] = await registered(keys);
    await one.close();
    expect(await registered(keys)).toEqual([]);
    expect(await redis.client().hlen(keys.idleSlots)).toBe(0);
    expect(await redis.client().exists(inboxKey(keys, id as string))).toBe(0);

    const producer = new Producer({ connection: redis.url, prefix });
    const ran: string[] = [];
    const both = new Consumer({ connection: redis.url, prefix, queues: [queue, other], concurrency: 2, handler: async (job) => void ran.push(job.id) });
    await both.start();
    await sleep(200);
    const job = (await producer.enqueue(queue, {})).id;
    await waitUntil(() => ran.length === 1, { what: 'the job ran' });
    await both.close();
    await producer.close();
    expect(ran).toEqual([job]);
    expect(await registered(keys)).toEqual([]);
    expect((await pushedIds(keys)).has(job)).toBe(false);
  });
});
