// The priority strategy beyond the conformance suite: ties, the priority range, released jobs,
// and the order of starts with eight consumers at once.
import { Consumer } from '@docket/consumer';
import { MAX_PRIORITY, MIN_PRIORITY, Producer, defineQueue, isDocketError } from '@docket/producer';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type RefJob, expectOrder, expectedOrder, mulberry32, referenceModels, scrambledId } from './strategies-end-to-end.js';

const redis = useRedisServer({ appendonly: false });

function setup(label: string) {
  const prefix = uniquePrefix(label);
  const queue = defineQueue(`${label}-${prefix}`, { strategy: 'priority' });
  const producer = new Producer({ connection: redis.url, prefix });
  const consumers: Consumer[] = [];
  onTestFinished(async () => {
    await Promise.all(consumers.map((c) => c.close({ timeout: 0 })));
    await producer.close();
  });
  const starts: string[] = [];
  const completed: string[] = [];
  return {
    prefix,
    queue,
    producer,
    starts,
    completed,
    enqueue: (jobs: readonly RefJob[]) =>
      producer.enqueueMany(queue, jobs.map((j) => ({ payload: null, opts: { id: j.id, priority: j.priority } }))),
    consumer(handler?: (id: string) => unknown, concurrency = 1) {
      const consumer = new Consumer({
        connection: redis.url,
        prefix,
        queues: [queue],
        concurrency,
        pollInterval: 100,
        random: mulberry32(1),
        keepCompleted: { count: 100_000, age: 3_600_000 },
        handler: async (job, { signal }) => {
          starts.push(job.id);
          await handler?.(job.id);
          if (signal.aborted) throw signal.reason;
        },
      });
      consumer.on('completed', (job) => void completed.push(job.id));
      consumers.push(consumer);
      return consumer;
    },
  };
}

/** Jobs with ids that do not sort in enqueue order (so no order passes by sorting ids). */
const named = (tag: string, priorities: readonly number[]): RefJob[] => priorities.map((priority, i) => ({ id: scrambledId(tag, i), priority }));

describe('priority', () => {
  it('ties are fifo: many jobs at the same priority, interleaved with others, over separate enqueue calls', async () => {
    const s = setup('ties');
    const rng = mulberry32(3);
    // 90 jobs over three priorities, in a random interleaving, sent in calls of 1 to 7 jobs.
    const jobs = named('t', Array.from({ length: 90 }, () => [5, 0, -5][Math.floor(rng() * 3)] as number));
    for (let i = 0; i < jobs.length; ) {
      const n = 1 + Math.floor(rng() * 7);
      await s.enqueue(jobs.slice(i, i + n));
      i += n;
    }
    await s.consumer().start();
    await waitUntil(() => s.completed.length === jobs.length, { what: 'all completions' });
    // Highest first; within one priority, exactly the enqueue order.
    const expected = [5, 0, -5].flatMap((p) => jobs.filter((j) => j.priority === p).map((j) => j.id));
    expect(expected).toEqual(expectedOrder(referenceModels.priority, jobs)); // the model agrees
    expectOrder(s.starts, expected);
  });

  it('negative priorities and the extremes -1,000,000 and 1,000,000 order correctly, ties included', async () => {
    expect([MIN_PRIORITY, MAX_PRIORITY]).toEqual([-1_000_000, 1_000_000]);
    const s = setup('extremes');
    const priorities = [0, -1, 1, -1_000_000, 1_000_000, -999_999, 999_999, 1_000_000, -1_000_000, 5, -5, 0, -1, 1_000_000, -1_000_000];
    const jobs = named('x', priorities);
    for (const job of jobs) await s.enqueue([job]);
    await s.consumer().start();
    await waitUntil(() => s.completed.length === jobs.length, { what: 'all completions' });
    // By index: 4, 7, 13 (1,000,000), 6 (999,999), 9 (5), 2 (1), 0, 11 (0), 1, 12 (-1), 10 (-5), 5 (-999,999), 3, 8, 14 (-1,000,000).
    const byIndex = [4, 7, 13, 6, 9, 2, 0, 11, 1, 12, 10, 5, 3, 8, 14];
    expect(byIndex.map((i) => jobs[i]!.id)).toEqual(expectedOrder(referenceModels.priority, jobs));
    expectOrder(s.starts, byIndex.map((i) => jobs[i]!.id));
  });

  it.each([1_000_001, -1_000_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses priority %s, naming the option', async (priority) => {
    const s = setup('range');
    const err = await s.producer.enqueue(s.queue, null, { priority }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDocketError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    expect((err as Error).message).toContain('`priority`');
    expect((await s.producer.counts(s.queue)).waiting).toBe(0);
  });

  it('a released job goes ahead of its priority class, but not ahead of higher priorities', async () => {
    const s = setup('released');
    await s.enqueue([{ id: 'released', priority: 5 }]);
    const first = s.consumer(() => new Promise(() => {})); // runs until released
    await first.start();
    await waitUntil(() => first.activeCount === 1, { what: 'the job running' });
    // Ready while it runs: one job above it, two in its class, one below.
    await s.enqueue([
      { id: 'high', priority: 10 },
      { id: 'same1', priority: 5 },
      { id: 'same2', priority: 5 },
      { id: 'low', priority: 0 },
    ]);
    await first.close({ timeout: 0 });
    expect(await s.producer.getJob(s.queue, 'released')).toMatchObject({ state: 'waiting', attempts: 0 });
    s.starts.length = 0;
    await s.consumer().start();
    await waitUntil(() => s.completed.length === 5, { what: 'five completions' });
    expectOrder(s.starts, ['high', 'released', 'same1', 'same2', 'low']);
  });

  it('eight consumers, 400 jobs of random priorities: no job starts while a higher one was surely still waiting', async () => {
    // The precise claim. All 400 jobs are waiting before any consumer starts, and none comes
    // back (no failures). Each consumer runs one job at a time. Rank the jobs by the priority
    // order: higher priority first, then earlier enqueue. Pops are atomic and serialized in
    // Redis, so the strategy promises: when a job X is popped, every job ranked above X has
    // been popped already. We cannot see pop times, only two bounds on them, both taken with
    // one clock (this process):
    //   X.start (when X's handler was called)       >= the moment X was popped, and
    //   Y.free  (when Y's consumer freed its slot:   <= the moment Y was popped,
    //            its previous handler returned, or
    //            start() was called for its first)
    // So if Y is ranked above X and X.start < Y.free, X was popped while Y was still waiting:
    // a violation. Jobs whose pops may have happened in either order (Y's consumer was
    // already asking for work when X started) are the only inversions allowed.
    const s = setup('eight');
    const rng = mulberry32(8);
    const jobs = named('p', Array.from({ length: 400 }, () => Math.floor(rng() * 21) - 10)); // ~19 per priority
    await s.enqueue(jobs);
    const rank = new Map(expectedOrder(referenceModels.priority, jobs).map((id, i) => [id, i]));
    const started = new Map<string, number>();
    const free = new Map<string, number>();
    const consumers = Array.from({ length: 8 }, () => {
      let freedAt = 0;
      const consumer = new Consumer({
        connection: redis.url,
        prefix: s.prefix,
        queues: [s.queue],
        concurrency: 1,
        pollInterval: 100,
        keepCompleted: { count: 100_000, age: 3_600_000 },
        handler: async (job) => {
          started.set(job.id, performance.now());
          free.set(job.id, freedAt);
          await sleep(Math.floor(rng() * 4));
          freedAt = performance.now();
        },
      });
      return { consumer, setFree: (t: number) => (freedAt = t) };
    });
    onTestFinished(() => Promise.all(consumers.map(({ consumer }) => consumer.close({ timeout: 0 }))).then(() => {}));
    let completed = 0;
    for (const { consumer } of consumers) consumer.on('completed', () => void completed++);
    for (const { consumer, setFree } of consumers) {
      setFree(performance.now());
      await consumer.start();
    }
    await waitUntil(() => completed === 400, { timeout: 15_000, what: '400 completions' });
    expect(started.size).toBe(400);

    const byRank = [...rank.keys()];
    const violations: string[] = [];
    for (let y = 0; y < byRank.length; y++) {
      for (let x = y + 1; x < byRank.length; x++) {
        const X = byRank[x] as string;
        const Y = byRank[y] as string;
        if ((started.get(X) as number) < (free.get(Y) as number)) violations.push(`${X} (rank ${x}) started before ${Y} (rank ${y}) was even asked for`);
      }
    }
    expect(violations.slice(0, 10), `${violations.length} violations`).toEqual([]);
    // The check has teeth: for most pairs the bounds prove which was popped first (Y.start <
    // X.free: Y popped before X), so a wrong order could not hide in the allowed windows.
    let comparable = 0;
    for (let y = 0; y < byRank.length; y++) {
      for (let x = y + 1; x < byRank.length; x++) {
        if ((started.get(byRank[y] as string) as number) < (free.get(byRank[x] as string) as number)) comparable++;
      }
    }
    expect(comparable / ((400 * 399) / 2), 'share of pairs the check decides').toBeGreaterThan(0.9);
  });
});
