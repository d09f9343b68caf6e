// QueueEvents: every job transition, in order per job, resumable from any event id.
import { type QueueEvent, QueueEvents } from '@docket/producer';
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testQueue } from './helpers.js';

const redis = useRedisServer();

/** Starts a QueueEvents that records every event it receives (closed when the test finishes). */
async function record(options: ConstructorParameters<typeof QueueEvents>[0]): Promise<{ events: QueueEvents; seen: QueueEvent[] }> {
  const events = new QueueEvents(options);
  onTestFinished(() => events.close());
  const seen: QueueEvent[] = [];
  events.on('event', (e) => seen.push(e));
  await events.start();
  return { events, seen };
}

const of = (seen: QueueEvent[], id: string) => seen.filter((e) => e.jobId === id);

describe('the event feed', () => {
  it('shows a job that fails once then succeeds as exactly: enqueued, active, retrying, active, progress, completed', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'ev-retry');
    const { seen } = await record({ connection: redis.url, prefix, queue });
    const consumer = newConsumer({
      handler: async (job, { progress }) => {
        if (job.attempt === 1) throw new Error('boom');
        progress({ pct: 50 });
        await sleep(30);
        return 'ok';
      },
    });
    await consumer.start();
    const { id } = await producer.enqueue(queue, { x: 1 }, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
    await waitUntil(() => of(seen, id).some((e) => e.type === 'completed'), { what: 'the completed event' });
    await sleep(100); // nothing may follow

    const mine = of(seen, id);
    expect(mine.map((e) => e.type)).toEqual(['enqueued', 'active', 'retrying', 'active', 'progress', 'completed']);
    expect(mine.map((e) => e.attempt)).toEqual([undefined, 1, 1, 2, 2, 2]);
    expect(mine[2]).toMatchObject({ error: 'Error: boom', delay: 50 });
    expect(mine[4]?.progress).toEqual({ pct: 50 });
    expect(mine[0]?.runAt).toBeUndefined();
  });

  it('announces the jobs of one enqueueMany in order, mixing generated ids, given ids, duplicates and delays', async () => {
    const { prefix, queue, producer } = testQueue(redis, 'ev-mixed');
    const { seen } = await record({ connection: redis.url, prefix, queue });
    await producer.enqueue(queue, {}, { id: 'taken' });
    // Generated ids are written as runs with a count (readers expand them): the runs must
    // break and resume around the other jobs without losing or reordering an event.
    // Given ids that read as numbers ('-0', '1e3'; plain integers are refused) must not be taken for generated ones.
    const specs = [{ id: '-0' }, {}, {}, { id: 'given' }, {}, { delay: 60_000 }, {}, {}, { id: 'taken' }, {}, { priority: 0 }, { id: '1e3' }, {}];
    const jobs = await producer.enqueueMany(queue, specs.map((opts) => ({ payload: {}, opts })));
    const created = jobs.filter((j) => j.created).map((j) => j.id);
    expect(created).toHaveLength(specs.length - 1); // all but the second 'taken'
    await waitUntil(() => seen.filter((e) => e.type === 'enqueued').length === created.length + 1, { what: 'every enqueued event' });
    await sleep(100); // nothing more may arrive
    const enqueued = seen.filter((e) => e.type === 'enqueued');
    expect(enqueued.map((e) => e.jobId)).toEqual(['taken', ...created]);
    const delayedId = jobs[5]?.id as string;
    expect(enqueued.find((e) => e.jobId === delayedId)?.runAt).toBeGreaterThan(Date.now() + 50_000);
    expect(enqueued.filter((e) => e.jobId !== delayedId).every((e) => e.runAt === undefined)).toBe(true);
  });

  it('announces a delayed job with its runAt, then runs it', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'ev-delayed');
    const { seen } = await record({ connection: redis.url, prefix, queue });
    const consumer = newConsumer({ handler: async () => 'later' });
    await consumer.start();
    const before = Date.now();
    const { id } = await producer.enqueue(queue, {}, { delay: 300 });
    const after = Date.now();
    await waitUntil(() => of(seen, id).length === 1, { what: 'the enqueued event' });
    const [enqueued] = of(seen, id);
    expect(enqueued?.type).toBe('enqueued');
    expect(enqueued?.runAt).toBe((await producer.getJob(queue, id))?.timestamps.runAt);
    expect(enqueued?.runAt).toBeGreaterThanOrEqual(before + 300 - 50); // (Redis's clock, same machine)
    expect(enqueued?.runAt).toBeLessThanOrEqual(after + 300 + 50);
    await waitUntil(() => of(seen, id).some((e) => e.type === 'completed'), { what: 'the completed event' });
    expect(of(seen, id).map((e) => e.type)).toEqual(['enqueued', 'active', 'completed']);
  });

  it('reports dead jobs with their error, and cancelled jobs (waiting or running)', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue(redis, 'ev-end');
    const { seen } = await record({ connection: redis.url, prefix, queue });
    const consumer = newConsumer({
      handler: async (job, { signal }) => {
        if ((job.payload as { kind: string }).kind === 'fatal') throw new Error('fatal: bad address');
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        throw signal.reason;
      },
    });
    await consumer.start();

    const fatal = await producer.enqueue(queue, { kind: 'fatal' }, { attempts: 1 });
    await waitUntil(() => of(seen, fatal.id).some((e) => e.type === 'dead'), { what: 'the dead event' });
    expect(of(seen, fatal.id).map((e) => e.type)).toEqual(['enqueued', 'active', 'dead']);
    expect(of(seen, fatal.id)[2]).toMatchObject({ attempt: 1, error: 'Error: fatal: bad address' });

    const later = await producer.enqueue(queue, { kind: 'hang' }, { delay: 60_000 });
    await producer.cancel(queue, later.id);
    const running = await producer.enqueue(queue, { kind: 'hang' });
    await waitUntil(() => of(seen, running.id).some((e) => e.type === 'active'), { what: 'the job to start' });
    await producer.cancel(queue, running.id);
    await waitUntil(() => of(seen, running.id).some((e) => e.type === 'cancelled'), { what: 'the cancelled event' });
    await sleep(100);
    expect(of(seen, later.id).map((e) => e.type)).toEqual(['enqueued', 'cancelled']);
    expect(of(seen, running.id).map((e) => e.type)).toEqual(['enqueued', 'active', 'cancelled']);
    expect(of(seen, running.id)[2]?.attempt).toBe(1);
  });

  it('interleaves the events of concurrent jobs but keeps each job\'s order, and resumes exactly after a given event id', async () => {
    const { prefix, queue, producer, newConsumer } = testQueue<{ i: number }>(redis, 'ev-many');
    const { seen } = await record({ connection: redis.url, prefix, queue });
    const consumer = newConsumer({
      concurrency: 5,
      handler: async (job, { progress }) => {
        progress(job.payload.i);
        await sleep(20);
        return job.payload.i;
      },
    });
    await consumer.start();
    const jobs = await producer.enqueueMany(
      queue,
      Array.from({ length: 20 }, (_, i) => ({ payload: { i } })),
    );
    await waitUntil(() => seen.filter((e) => e.type === 'completed').length === 20, { what: '20 completed events' });
    await sleep(100);

    expect(seen).toHaveLength(80);
    jobs.forEach(({ id }, i) => {
      const mine = of(seen, id);
      expect(mine.map((e) => e.type), `job ${id}`).toEqual(['enqueued', 'active', 'progress', 'completed']);
      expect(mine[2]?.progress).toBe(i);
    });
    // Jobs ran side by side: some job completed before another had started.
    const firstCompleted = seen.findIndex((e) => e.type === 'completed');
    const lastActive = seen.map((e) => e.type).lastIndexOf('active');
    expect(firstCompleted).toBeLessThan(lastActive);
    // Event ids (`<ms>-<seq>#<index within the stream entry>`) strictly increase.
    const ids = seen.map((e) => e.eventId);
    const parts = ids.map((id) => id.split(/[-#]/).map(Number) as [number, number, number]);
    const after = (a: [number, number, number], b: [number, number, number]) =>
      a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])));
    for (let i = 1; i < parts.length; i++) {
      expect(after(parts[i] as [number, number, number], parts[i - 1] as [number, number, number]), `${ids[i - 1]} < ${ids[i]}`).toBe(true);
    }

    // enqueueMany's generated ids are announced as one run (one event with a count) that
    // readers expand: one 'enqueued' event per job, each with its own id, resumable inside it.
    expect(seen.slice(0, 20).map((e) => e.type)).toEqual(Array(20).fill('enqueued'));
    expect(seen.slice(0, 20).map((e) => e.jobId)).toEqual(jobs.map((j) => j.id));
    const inRun = await record({ connection: redis.url, prefix, queue, from: seen[5]?.eventId as string });
    await waitUntil(() => inRun.seen.length >= seen.length - 6, { what: 'a reader resumed inside the run to catch up' });
    expect(inRun.seen).toEqual(seen.slice(6));
    await inRun.events.close();

    // A reader resuming from an event seen earlier gets exactly the events after it...
    const k = 37;
    const from = seen[k]?.eventId as string;
    const resumed = await record({ connection: redis.url, prefix, queue, from });
    await waitUntil(() => resumed.seen.length >= seen.length - k - 1, { what: 'the resumed reader to catch up' });
    await sleep(100);
    expect(resumed.seen.map((e) => e.eventId)).toEqual(ids.slice(k + 1));
    expect(resumed.seen).toEqual(seen.slice(k + 1));
    // ...and then follows the live feed like the first one.
    const more = await producer.enqueue(queue, { i: 100 });
    await waitUntil(() => of(resumed.seen, more.id).some((e) => e.type === 'completed'), { what: 'the new job on the resumed reader' });
    await waitUntil(() => of(seen, more.id).some((e) => e.type === 'completed'), { what: 'the new job on the first reader' });
    expect(resumed.seen).toEqual(seen.slice(k + 1));
  });
});
