// Queue control from the producer side: pause/resume, counts, dead-job handling, and what
// getJob shows of a job's result and progress.
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { collectIds, gate, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('queue control', () => {
  it('pause stops consumers from leasing (enqueue still works, jobs wait); resume lets them run', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'ctl-pause');
    const started: string[] = [];
    const consumer = newConsumer({
      concurrency: 5,
      pollInterval: 100,
      handler: async (job) => {
        started.push(job.id);
      },
    });
    const completed = collectIds(consumer, 'completed');
    await consumer.start();
    const first = await producer.enqueue(queue, { n: 0 });
    await waitUntil(() => completed.includes(first.id), { what: 'a job before the pause' });

    await producer.pause(queue);
    expect((await producer.counts(queue)).paused).toBe(true);
    const jobs = await Promise.all([1, 2, 3].map((n) => producer.enqueue(queue, { n })));
    expect(jobs.every((j) => j.created)).toBe(true);
    await sleep(500); // several poll intervals, and the enqueues woke the consumer
    expect(started).toEqual([first.id]);
    expect(await producer.counts(queue)).toMatchObject({ waiting: 3, active: 0, completed: 1, paused: true });
    for (const { id } of jobs) expect((await producer.getJob(queue, id))?.state).toBe('waiting');

    await producer.resume(queue);
    await waitUntil(() => jobs.every(({ id }) => completed.includes(id)), { what: 'the paused jobs to run after resume' });
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, completed: 4, paused: false });
  });

  it('counts one job in each state: waiting, delayed, active, completed, dead, cancelled', async () => {
    const { queue, producer, newConsumer } = testQueue<{ kind: string }>(redis, 'ctl-counts');
    const block = gate();
    const started: string[] = [];
    const consumer = newConsumer({
      concurrency: 1,
      handler: async (job) => {
        started.push(job.payload.kind);
        if (job.payload.kind === 'die') throw new Error('bad input');
        if (job.payload.kind === 'block') await block.opened;
      },
    });
    await consumer.start();
    expect(await producer.counts(queue)).toEqual({ waiting: 0, delayed: 0, active: 0, completed: 0, dead: 0, cancelled: 0, paused: false });
    await producer.enqueue(queue, { kind: 'ok' });
    await producer.enqueue(queue, { kind: 'die' }, { attempts: 1 });
    await producer.enqueue(queue, { kind: 'block' });
    await waitUntil(() => started.includes('block'), { what: 'the blocking job to start' });
    const waiting = await producer.enqueue(queue, { kind: 'wait' }); // the only slot is taken
    await producer.enqueue(queue, { kind: 'later' }, { delay: 60_000 });
    const doomed = await producer.enqueue(queue, { kind: 'doomed' });
    expect(await producer.cancel(queue, doomed.id)).toBe(true);

    expect(await producer.counts(queue)).toEqual({ waiting: 1, delayed: 1, active: 1, completed: 1, dead: 1, cancelled: 1, paused: false });

    block.open();
    await waitUntil(async () => (await producer.getJob(queue, waiting.id))?.state === 'completed', { what: 'the waiting job to run' });
    expect(await producer.counts(queue)).toEqual({ waiting: 0, delayed: 1, active: 0, completed: 3, dead: 1, cancelled: 1, paused: false });
    expect(started).toEqual(['ok', 'die', 'block', 'wait']);
  });

  it('lists dead jobs newest first with their errors; requeueDead(ids) and requeueDead() run them again from attempt 1', async () => {
    const { queue, producer, newConsumer } = testQueue<{ name: string }>(redis, 'ctl-dead');
    let failing = true;
    const runs: { name: string; attempt: number }[] = [];
    const consumer = newConsumer({
      handler: async (job) => {
        runs.push({ name: job.payload.name, attempt: job.attempt });
        if (failing) throw new Error(`no luck for ${job.payload.name}`);
        return `done ${job.payload.name}`;
      },
    });
    const dead = collectIds(consumer, 'dead');
    const completed = collectIds(consumer, 'completed');
    await consumer.start();

    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const { id } = await producer.enqueue(queue, { name }, { attempts: 2, backoff: { type: 'fixed', delay: 0 } });
      ids.push(id);
      await waitUntil(() => dead.includes(id), { what: `job ${name} to die` });
      await sleep(5); // distinct death times
    }
    const [a, b, c] = ids as [string, string, string];
    const listed = await producer.listDead(queue);
    expect(listed.map((j) => j.id)).toEqual([c, b, a]);
    expect(listed.map((j) => j.error)).toEqual(['Error: no luck for c', 'Error: no luck for b', 'Error: no luck for a']);
    expect(listed.every((j) => j.state === 'dead' && j.attempts === 2)).toBe(true);
    expect((await producer.listDead(queue, { offset: 1, limit: 1 })).map((j) => j.id)).toEqual([b]);

    failing = false;
    runs.length = 0;
    expect(await producer.requeueDead(queue, [a, 'not-dead'])).toBe(1);
    await waitUntil(() => completed.includes(a), { what: 'the requeued job to complete' });
    expect(runs).toEqual([{ name: 'a', attempt: 1 }]);
    const jobA = await producer.getJob(queue, a);
    expect(jobA).toMatchObject({ state: 'completed', attempts: 1, result: 'done a' });
    expect(jobA?.error).toBeUndefined();
    expect((await producer.listDead(queue)).map((j) => j.id)).toEqual([c, b]);

    expect(await producer.requeueDead(queue)).toBe(2);
    await waitUntil(() => completed.includes(b) && completed.includes(c), { what: 'all requeued jobs to complete' });
    expect(runs.slice(1).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: 'b', attempt: 1 },
      { name: 'c', attempt: 1 },
    ]);
    expect(await producer.listDead(queue)).toEqual([]);
    expect(await producer.counts(queue)).toMatchObject({ dead: 0, completed: 3, waiting: 0 });
    expect(await producer.requeueDead(queue)).toBe(0);
  });

  it('purgeDead deletes dead jobs for good (the jobs hash shrinks)', async () => {
    const { queue, keys, producer, client, newConsumer } = testQueue(redis, 'ctl-purge');
    const consumer = newConsumer({
      handler: async (_job, { progress }) => {
        progress(1);
        await sleep(5);
        throw new Error('nope');
      },
    });
    const dead = collectIds(consumer, 'dead');
    await consumer.start();
    const jobs = await producer.enqueueMany(
      queue,
      Array.from({ length: 3 }, (_, i) => ({ payload: { i }, opts: { attempts: 1 } })),
    );
    const kept = await producer.enqueue(queue, { i: 9 }, { delay: 60_000 });
    await waitUntil(() => dead.length === 3, { what: 'three dead jobs' });
    await consumer.close();
    expect(await client.hlen(`${keys}:jobs`)).toBe(4);
    expect(await client.hlen(`${keys}:progress`)).toBe(3);

    const [first, ...rest] = jobs.map((j) => j.id) as [string, ...string[]];
    expect(await producer.purgeDead(queue, [first, kept.id])).toBe(1); // the delayed job is not dead: skipped
    expect(await client.hlen(`${keys}:jobs`)).toBe(3);
    expect(await producer.getJob(queue, first)).toBeNull();
    expect(await producer.purgeDead(queue)).toBe(2);
    expect(await client.hkeys(`${keys}:jobs`)).toEqual([kept.id]);
    expect(await client.hlen(`${keys}:progress`)).toBe(0);
    for (const id of rest) expect(await producer.getJob(queue, id)).toBeNull();
    expect(await producer.listDead(queue)).toEqual([]);
    expect(await producer.counts(queue)).toMatchObject({ dead: 0, delayed: 1 });
  });

  it('getJob shows the progress of a running job, and the result and last progress of a completed one', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'ctl-getjob');
    const block = gate();
    let reported = false;
    const consumer = newConsumer({
      handler: async (_job, { progress }) => {
        progress({ pct: 10 });
        progress({ pct: 50 });
        reported = true;
        await block.opened;
        return { url: 'https://example.test/report.pdf', pages: 12 };
      },
    });
    const completed = collectIds(consumer, 'completed');
    await consumer.start();
    const { id } = await producer.enqueue(queue, { month: '2026-10' });
    await waitUntil(() => reported, { what: 'the handler to report progress' });
    await waitUntil(async () => (await producer.getJob(queue, id))?.progress !== undefined, { what: 'the progress to be stored' });
    await sleep(50);
    const running = await producer.getJob(queue, id);
    expect(running).toMatchObject({ state: 'active', attempts: 1, progress: { pct: 50 }, payload: { month: '2026-10' } });
    expect(running?.result).toBeUndefined();
    expect(running?.timestamps.started).toBeGreaterThan(0);

    block.open();
    await waitUntil(() => completed.includes(id), { what: 'the job to complete' });
    const done = await producer.getJob(queue, id);
    expect(done).toMatchObject({
      state: 'completed',
      result: { url: 'https://example.test/report.pdf', pages: 12 },
      progress: { pct: 50 },
    });
    expect(done?.timestamps.finished).toBeGreaterThanOrEqual(done?.timestamps.started as number);
  });
});
