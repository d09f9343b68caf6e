// The strategies end to end: every scheduling strategy runs these cases against a real
// redis-server, through real producers and consumers (a consumer in a child process where a
// case kills one). The strategy contract itself (push, pop, give back, count, capabilities) is
// checked on each strategy's Lua by the conformance suite beside the strategies
// (packages/scheduler/test/conformance.ts); these cases check that the consumer's step keeps
// that order through delays, retries, concurrency and crash recovery. strategies.test.ts runs
// them for each strategy.
//
// A strategy's order is given by a reference model in plain TypeScript (@docket/testing's
// referenceModels: `push` when a job becomes ready, `giveBack` when jobs come back unfinished,
// `pop` for the next one out). A case replays, on the model, the events the real queue went
// through (ready, started, came back), and compares the order in which a real consumer
// STARTED the jobs with the order the model predicts. For the random strategy there is no model
// (reference: null): the cases then check that every job starts exactly as often as it should,
// and that a seeded random source makes runs reproducible; its uniformity is tested
// statistically in random.test.ts.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Consumer, type Job, seededRandom } from '@docket/consumer';
import { Producer, type QueueDefinition, type StrategyName, defineQueue } from '@docket/producer';
import {
  Expected,
  type RedisServer,
  type RefJob,
  type ReferenceModel,
  expectedOrder,
  referenceModels,
  scrambledId,
  sleep,
  sourceNodeArgs,
  startRedisServer,
  uniquePrefix,
  waitUntil,
} from '@docket/testing';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';

// ------------------------------------------------------------------ shared helpers

/** A seeded generator, so that runs of the random strategy are reproducible. */
export const mulberry32 = seededRandom;

// The reference models live in @docket/testing, shared with the scheduler's conformance suite.
export { Expected, expectedOrder, referenceModels, scrambledId, type RefJob, type ReferenceModel };

/** `actual` must be a permutation of `ids` (each exactly once). */
export function expectEachOnce(actual: readonly string[], ids: readonly string[], what = 'started jobs'): void {
  const counts = new Map<string, number>();
  for (const id of actual) counts.set(id, (counts.get(id) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = ids.filter((id) => !counts.has(id));
  const unknown = [...counts.keys()].filter((id) => !ids.includes(id));
  expect({ twice, missing, unknown }, what).toEqual({ twice: [], missing: [], unknown: [] });
  expect(actual.length, what).toBe(ids.length);
}

/**
 * `actual` must equal `expected`, except that jobs mapped to the same label in
 * `interchangeable` may start in any order among themselves.
 */
export function expectOrder(actual: readonly string[], expected: readonly string[], interchangeable = new Map<string, string>()): void {
  const label = (ids: readonly string[]) => ids.map((id) => interchangeable.get(id) ?? id);
  expect(label(actual), `start order\n  actual:   ${actual.join(' ')}\n  expected: ${expected.join(' ')}`).toEqual(label(expected));
}

// ------------------------------------------------------------------ a consumer in a child process

export interface ChildMessage {
  type: 'ready' | 'start' | 'completed' | 'error';
  id?: string;
  attempt?: number;
  message?: string;
}

export interface StrategyConsumerChild {
  messages: ChildMessage[];
  process: ChildProcess;
  kill(): Promise<void>;
}

const childFixture = fileURLToPath(new URL('../fixtures/consumer.mjs', import.meta.url));

/**
 * Forks fixtures/consumer.mjs (@docket/consumer from its sources) on a queue of `strategy`,
 * its random source seeded, each try holding its slot `holdMs`; waits until it is started.
 */
export async function forkStrategyConsumer(config: {
  url: string;
  prefix: string;
  queue: string;
  strategy: StrategyName;
  concurrency?: number;
  leaseDuration?: number;
  pollInterval?: number;
  seed?: number;
  holdMs?: number;
}): Promise<StrategyConsumerChild> {
  const { holdMs, ...rest } = config;
  const fixtureConfig = { ...rest, ...(holdMs ? { handler: { sleepMs: holdMs } } : {}) };
  const child = fork(childFixture, [JSON.stringify(fixtureConfig)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: sourceNodeArgs() });
  const messages: ChildMessage[] = [];
  child.on('message', (m: ChildMessage) => void messages.push(m));
  const handle: StrategyConsumerChild = {
    messages,
    process: child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await waitUntil(() => messages.some((m) => m.type === 'ready') || child.exitCode !== null, { timeout: 15_000, what: 'the child consumer to start' });
  } catch (err) {
    await handle.kill();
    throw err;
  }
  if (child.exitCode !== null) throw new Error(`the child consumer exited with ${child.exitCode} before it was ready`);
  return handle;
}

// ------------------------------------------------------------------ the suite

export interface StrategyConformanceOptions {
  strategy: StrategyName;
  /** Names the describe block (default: the strategy's name). */
  name?: string;
  /**
   * A fresh reference model of the strategy's order, or null when the order is random: then
   * the cases only check how often each job starts, and reproducibility by seed.
   */
  reference: (() => ReferenceModel) | null;
  /** The priority of the i-th job of a case (strategy 'priority' only; default 0 for all). */
  priorityOf?: (i: number) => number;
}

interface Start {
  id: string;
  attempt: number;
}

type TestHandler = (job: Job, context: { signal: AbortSignal; index: number }) => unknown;

interface Case {
  queue: QueueDefinition;
  prefix: string;
  producer: Producer;
  /** Every start of every consumer of this case, in start order. */
  starts: Start[];
  completed: string[];
  /** `n` jobs (ids from {@link scrambledId}); priorities by `priorityOf`, from index `from`. */
  jobs(n: number, tag?: string, from?: number): RefJob[];
  /** Jobs with explicit priorities (all 0 unless the strategy is 'priority'). */
  jobsWith(tag: string, priorities: readonly number[]): RefJob[];
  enqueue(jobs: readonly RefJob[], opts?: { delay?: number; attempts?: number; backoff?: { type: 'fixed'; delay: number } }): Promise<void>;
  consumer(options?: { concurrency?: number; seed?: number; handler?: TestHandler; pollInterval?: number; leaseDuration?: number }): Consumer;
  /** The ids of all starts so far, in start order. */
  order(): string[];
}

/** Registers the conformance cases for one strategy, each against a real redis-server. */
export function runStrategyConformance(options: StrategyConformanceOptions): void {
  const { strategy, reference } = options;
  if (options.priorityOf && strategy !== 'priority') throw new Error('priorityOf applies only to strategy priority');
  const priorityOf = options.priorityOf ?? (() => 0);

  describe(`strategy conformance: ${options.name ?? strategy}`, () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer({ appendonly: false });
    });
    afterAll(() => redis?.stop());

    /** A new queue under a unique prefix, with cleanup registered for the current test. */
    function newCase(label: string): Case {
      const prefix = uniquePrefix(label);
      const queue = defineQueue(`${label}-${prefix}`, { strategy });
      const producer = new Producer({ connection: redis.url, prefix });
      const consumers: Consumer[] = [];
      const starts: Start[] = [];
      const completed: string[] = [];
      onTestFinished(async () => {
        await Promise.all(consumers.map((c) => c.close({ timeout: 0 })));
        await producer.close();
      });
      // Ids do not sort in enqueue order (a leading letter scrambles them), so that no order
      // can pass by sorting ids: j00 is 'hj00', j01 'oj01', j02 'vj02', j03 'cj03', ...
      const mk = (tag: string, priorities: readonly number[]) =>
        priorities.map((priority, i) => ({ id: scrambledId(tag, i), priority: strategy === 'priority' ? priority : 0 }));
      return {
        queue,
        prefix,
        producer,
        starts,
        completed,
        jobs: (n, tag = 'j', from = 0) => mk(tag, Array.from({ length: n }, (_, i) => priorityOf(from + i))),
        jobsWith: mk,
        async enqueue(jobs, opts = {}) {
          await producer.enqueueMany(
            queue,
            jobs.map((j) => ({ payload: { id: j.id }, opts: { ...opts, id: j.id, ...(strategy === 'priority' ? { priority: j.priority } : {}) } })),
          );
        },
        consumer({ concurrency = 1, seed = 1, handler, pollInterval = 100, leaseDuration } = {}) {
          const consumer = new Consumer({
            connection: redis.url,
            prefix,
            queues: [queue],
            concurrency,
            pollInterval,
            ...(leaseDuration === undefined ? {} : { leaseDuration }),
            random: mulberry32(seed),
            keepCompleted: { count: 100_000, age: 3_600_000 },
            handler: async (job, { signal }) => {
              const index = starts.length;
              starts.push({ id: job.id, attempt: job.attempt });
              return handler?.(job, { signal, index });
            },
          });
          consumer.on('completed', (job) => void completed.push(job.id));
          consumers.push(consumer);
          return consumer;
        },
        order: () => starts.map((s) => s.id),
      };
    }

    /**
     * Three jobs that become ready late in a case: with mixed priorities, one above all of
     * `jobs`, one in their top class, one below them all; else all at priority 0.
     */
    const lateJobs = (c: Case, jobs: readonly RefJob[]) => {
      if (!options.priorityOf) return c.jobsWith('late', [0, 0, 0]);
      const top = Math.max(...jobs.map((j) => j.priority));
      const bottom = Math.min(...jobs.map((j) => j.priority));
      return c.jobsWith('late', [top + 1, top, bottom - 1]);
    };

    it('one consumer at concurrency 1 starts jobs in the documented order', async () => {
      const c = newCase('order');
      const jobs = c.jobs(16);
      // Half in one enqueueMany call, half one by one: both keep the order they became ready in.
      await c.enqueue(jobs.slice(0, 8));
      for (const job of jobs.slice(8)) await c.enqueue([job]);
      expect((await c.producer.counts(c.queue)).waiting).toBe(16);
      await c.consumer().start();
      await waitUntil(() => c.completed.length === 16, { what: '16 completions' });
      expectEachOnce(c.order(), jobs.map((j) => j.id));
      expect(c.starts.every((s) => s.attempt === 1)).toBe(true);
      if (reference) expectOrder(c.order(), expectedOrder(reference, jobs));
    });

    it('jobs that become ready while others run join through the strategy', async () => {
      const c = newCase('joining');
      const first = c.jobs(8, 'a');
      const later = c.jobs(4, 'b', 8);
      await c.enqueue(first);
      await c
        .consumer({
          handler: async (_job, { index }) => {
            if (index === 0) await c.enqueue(later); // while the first job runs
          },
        })
        .start();
      await waitUntil(() => c.completed.length === 12, { what: '12 completions' });
      expectEachOnce(c.order(), [...first, ...later].map((j) => j.id));
      if (reference) {
        const expected = new Expected(reference()).push(...first);
        expected.pop(1);
        expected.push(...later);
        expected.pop();
        expectOrder(c.order(), expected.order);
      }
    });

    it('a delayed job enters through the strategy when it is due, as if it became ready then', async () => {
      const c = newCase('delayed');
      // A is enqueued FIRST but delayed, so it becomes ready after B.. although it is older.
      const [a, ...rest] = c.jobs(7) as [RefJob, ...RefJob[]];
      const consumer = c.consumer({
        handler: async (_job, { index }) => {
          if (index !== 0) return;
          // While the first job runs (this consumer's only slot is busy, so no step runs), A
          // falls due. It is promoted by the step that reports this job, right before the
          // next pop: A becomes ready exactly between the first start and the second.
          const info = await c.producer.getJob(c.queue, a.id);
          expect(info?.state, 'A must still be delayed when the first job starts (machine too slow?)').toBe('delayed');
          const due = info?.timestamps.runAt as number;
          await sleep(Math.max(0, due - Date.now()) + 30);
        },
      });
      await consumer.start();
      await c.enqueue([a], { delay: 500 });
      await c.enqueue(rest);
      await waitUntil(() => c.completed.length === 7, { what: '7 completions' });
      expectEachOnce(c.order(), [a, ...rest].map((j) => j.id));
      expect(c.order()[0]).not.toBe(a.id);
      if (reference) {
        const expected = new Expected(reference()).push(...rest);
        expected.pop(1);
        expected.push(a);
        expected.pop();
        expectOrder(c.order(), expected.order);
      }
    });

    it('a job retried at once (fixed backoff 0) enters through the strategy like a new ready job', async () => {
      const c = newCase('retry0');
      const jobs = c.jobs(6);
      await c.enqueue(jobs, { attempts: 3, backoff: { type: 'fixed', delay: 0 } });
      await c
        .consumer({
          handler: (_job, { index }) => {
            if (index === 0) throw new Error('the first try fails');
          },
        })
        .start();
      await waitUntil(() => c.completed.length === 6, { what: '6 completions' });
      const x = c.starts[0]!.id;
      // X ran twice, its second try counted as attempt 2; every other job once.
      expectEachOnce(c.order().filter((id, i) => !(id === x && i > 0)), jobs.map((j) => j.id));
      expect(c.starts.filter((s) => s.id === x).map((s) => s.attempt)).toEqual([1, 2]);
      if (reference) {
        const expected = new Expected(reference()).push(...jobs);
        const [modelX] = expected.pop(1);
        expected.push(modelX!);
        expected.pop();
        expectOrder(c.order(), expected.order);
      }
    });

    it('a job retried after a backoff (fixed 100 ms) enters through the strategy when due', async () => {
      const c = newCase('retry100');
      const jobs = c.jobs(6);
      await c.enqueue(jobs, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
      await c
        .consumer({
          handler: async (_job, { index }) => {
            if (index === 0) throw new Error('the first try fails');
            if (index === 1) {
              // X's failure was reported by the step that started this job: X now waits out
              // its backoff. Hold this slot until X is due, so X re-enters right after this job.
              const info = await c.producer.getJob(c.queue, c.starts[0]!.id);
              expect(info?.state).toBe('failed');
              await sleep(Math.max(0, (info?.timestamps.runAt as number) - Date.now()) + 30);
            }
          },
        })
        .start();
      await waitUntil(() => c.completed.length === 6, { what: '6 completions' });
      const x = c.starts[0]!.id;
      expect(c.starts.filter((s) => s.id === x).map((s) => s.attempt)).toEqual([1, 2]);
      expect(c.order().indexOf(x, 1)).toBeGreaterThan(1); // not immediately: it waited its backoff
      expectEachOnce(c.order().filter((id, i) => !(id === x && i > 0)), jobs.map((j) => j.id));
      if (reference) {
        const expected = new Expected(reference()).push(...jobs);
        const [modelX] = expected.pop(1);
        expected.pop(1);
        expected.push(modelX!);
        expected.pop();
        expectOrder(c.order(), expected.order);
      }
    });

    it('at concurrency 8, 200 jobs each run exactly once, and the order of starts holds', async () => {
      const c = newCase('conc8');
      const jobs = c.jobs(200);
      await c.enqueue(jobs);
      const rng = mulberry32(99);
      const consumer = c.consumer({ concurrency: 8, handler: () => sleep(Math.floor(rng() * 4)) });
      let maxActive = 0;
      consumer.on('completed', () => void (maxActive = Math.max(maxActive, consumer.activeCount)));
      await consumer.start();
      await waitUntil(() => c.completed.length === 200, { what: '200 completions' });
      expectEachOnce(c.order(), jobs.map((j) => j.id));
      expectEachOnce(c.completed, jobs.map((j) => j.id), 'completed jobs');
      // All jobs were waiting before the consumer started and none came back, so even batched
      // fetches must start them in exactly the strategy's order (guarantee 3: order of starts).
      if (reference) expectOrder(c.order(), expectedOrder(reference, jobs));
      const counts = await c.producer.counts(c.queue);
      expect(counts).toMatchObject({ waiting: 0, active: 0, delayed: 0, completed: 200, dead: 0 });
    });

    it('after a SIGKILL, a second consumer completes all jobs; recovered jobs come back first in line', async () => {
      const c = newCase('crash');
      const jobs = c.jobs(12);
      await c.enqueue(jobs);
      const victim = await forkStrategyConsumer({
        url: redis.url,
        prefix: c.prefix,
        queue: c.queue.name,
        strategy,
        concurrency: 3,
        leaseDuration: 800,
        seed: 5,
        holdMs: 60_000, // never finishes: all three are in flight at the kill
      });
      onTestFinished(() => victim.kill());
      await waitUntil(() => victim.messages.filter((m) => m.type === 'start').length === 3, { what: 'three jobs in flight in the child' });
      await victim.kill();
      const inFlight = victim.messages.filter((m) => m.type === 'start').map((m) => m.id as string);
      expect(victim.messages.filter((m) => m.type === 'completed')).toEqual([]);
      expect((await c.producer.counts(c.queue)).active).toBe(3);

      // Jobs that become ready after the crash, above, within and below the others.
      const late = lateJobs(c, jobs);
      await c.enqueue(late);
      // Wait until the dead child's leases have expired, so that the survivor's first step
      // recovers all three before its first pop.
      const client = redis.client();
      onTestFinished(() => void client.disconnect());
      const activeKey = `${c.prefix}:{${c.queue.name}}:active`;
      await waitUntil(
        async () => {
          // The latest deadline [id, deadline], below the set's anchor (deadline +inf, not a job).
          const latest = await client.zrevrangebyscore(activeKey, '(+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, 1);
          const [s, us] = await client.time();
          return latest.length === 0 || Number(s) * 1000 + Number(us) / 1000 > Number(latest[1]) + 5;
        },
        { timeout: 5_000, what: 'the leases of the killed consumer to expire' },
      );

      await c.consumer({ leaseDuration: 800 }).start();
      const all = [...jobs, ...late];
      await waitUntil(() => c.completed.length === all.length, { what: 'every job completed by the survivor' });
      expectEachOnce(c.order(), all.map((j) => j.id), 'jobs started by the survivor');
      for (const s of c.starts) expect(s.attempt, `attempt of ${s.id}`).toBe(inFlight.includes(s.id) ? 2 : 1);
      expect(await c.producer.counts(c.queue)).toMatchObject({ waiting: 0, active: 0, completed: all.length, dead: 0 });

      if (reference) {
        const expected = new Expected(reference()).push(...jobs);
        const took = expected.pop(3);
        expect(inFlight, 'what the child started').toEqual(took.map((j) => j.id));
        expected.resetOrder();
        expected.push(...late);
        expected.giveBack(...took);
        expected.pop();
        // The recovered jobs of one priority may come back in any order among themselves (they
        // are recovered in one step, in the order of their lease deadlines); as a group they
        // must start where the model says.
        expectOrder(c.order(), expected.order, new Map(took.map((j) => [j.id, `recovered@${j.priority}`])));
      }
    });

    /**
     * Three jobs run on a consumer that closes with timeout 0 (they are released), then three
     * more become ready (above, within and below the others' priorities), then a second
     * consumer runs everything. Returns what was released and the second consumer's order.
     */
    async function releaseScenario(label: string) {
      const c = newCase(label);
      const jobs = c.jobs(10);
      await c.enqueue(jobs);
      const first = c.consumer({
        concurrency: 3,
        handler: async (_job, { signal }) => {
          if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          throw signal.reason;
        },
      });
      await first.start();
      await waitUntil(() => first.activeCount === 3, { what: 'three running jobs' });
      await first.close({ timeout: 0 });
      const released = c.order();
      for (const id of released) {
        expect(await c.producer.getJob(c.queue, id), `released job ${id}`).toMatchObject({ state: 'waiting', attempts: 0 });
      }
      const late = lateJobs(c, jobs);
      await c.enqueue(late);
      c.starts.length = 0;
      await c.consumer().start();
      const all = [...jobs, ...late];
      await waitUntil(() => c.completed.length === all.length, { what: 'every job completed by the second consumer' });
      expectEachOnce(c.order(), all.map((j) => j.id), 'jobs started by the second consumer');
      expect(c.starts.every((s) => s.attempt === 1), 'a release does not count as a try').toBe(true);
      let expected: string[] = [];
      let took: RefJob[] = [];
      if (reference) {
        const model = new Expected(reference()).push(...jobs);
        took = model.pop(3);
        expect(released, 'what the first consumer started').toEqual(took.map((j) => j.id));
        model.resetOrder().giveBack(...took).push(...late).pop();
        expected = model.order;
      }
      return { order: c.order(), expected, took };
    }

    it('jobs released by a closing consumer come back first in line, with no attempt counted', async () => {
      const { order, expected, took } = await releaseScenario('release');
      if (reference) expectOrder(order, expected, new Map(took.map((j) => [j.id, `released@${j.priority}`])));
    });

    // Stricter: among themselves, released jobs keep the order they were handed out in.
    it('released jobs keep the order they were handed out in', async () => {
      const { order, expected } = await releaseScenario('release-order');
      if (reference) expectOrder(order, expected);
    });

    it('counts().waiting follows the waiting structure through enqueue, cancel, fetch and completion', async () => {
      const c = newCase('counts');
      const jobs = c.jobs(10);
      const later = c.jobs(2, 'd', 10);
      await c.enqueue(jobs);
      await c.enqueue(later, { delay: 60_000 });
      expect(await c.producer.counts(c.queue)).toMatchObject({ waiting: 10, delayed: 2, active: 0, cancelled: 0 });
      // A waiting job cancelled in the middle of the structure.
      const cancelled = jobs[4]!;
      expect(await c.producer.cancel(c.queue, cancelled.id)).toBe(true);
      expect(await c.producer.counts(c.queue)).toMatchObject({ waiting: 9, delayed: 2, active: 0, cancelled: 1 });
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const consumer = c.consumer({ concurrency: 2, handler: () => gate });
      await consumer.start();
      await waitUntil(() => consumer.activeCount === 2, { what: 'two running jobs' });
      expect(await c.producer.counts(c.queue)).toMatchObject({ waiting: 7, delayed: 2, active: 2 });
      open();
      await waitUntil(() => c.completed.length === 9, { what: '9 completions' });
      expect(await c.producer.counts(c.queue)).toMatchObject({ waiting: 0, delayed: 2, active: 0, completed: 9, cancelled: 1 });
      const remaining = jobs.filter((j) => j !== cancelled);
      expectEachOnce(c.order(), remaining.map((j) => j.id));
      if (reference) expectOrder(c.order(), expectedOrder(reference, remaining));
    });

    it('pause stops leasing and resume continues in the same order', async () => {
      const c = newCase('pause');
      const jobs = c.jobs(8);
      await c.producer.pause(c.queue);
      await c.enqueue(jobs);
      const consumer = c.consumer({
        handler: async (_job, { index }) => {
          if (index === 3) await c.producer.pause(c.queue); // paused again mid-run
        },
      });
      await consumer.start();
      await sleep(300);
      expect(c.starts).toEqual([]);
      expect(await c.producer.counts(c.queue)).toMatchObject({ waiting: 8, active: 0, paused: true });
      await c.producer.resume(c.queue);
      await waitUntil(() => c.completed.length === 4, { what: '4 completions' });
      await sleep(300);
      expect(c.starts).toHaveLength(4);
      expect(await c.producer.counts(c.queue)).toMatchObject({ waiting: 4, active: 0, completed: 4, paused: true });
      await c.producer.resume(c.queue);
      await waitUntil(() => c.completed.length === 8, { what: '8 completions' });
      expect((await c.producer.counts(c.queue)).paused).toBe(false);
      expectEachOnce(c.order(), jobs.map((j) => j.id));
      if (reference) expectOrder(c.order(), expectedOrder(reference, jobs));
    });

    it('the same random source gives the same order on identical queues', async () => {
      // Three identical queues; consumers seeded 7, 7 and 8, all enqueued before they start.
      const cases = [newCase('seedA'), newCase('seedB'), newCase('seedC')];
      const jobs = cases[0]!.jobs(12);
      for (const c of cases) await c.enqueue(jobs);
      await Promise.all(cases.map((c, i) => c.consumer({ seed: i < 2 ? 7 : 8 }).start()));
      await waitUntil(() => cases.every((c) => c.completed.length === 12), { what: '3 x 12 completions' });
      const [a, b, other] = cases.map((c) => c.order()) as [string[], string[], string[]];
      for (const order of [a, b, other]) expectEachOnce(order, jobs.map((j) => j.id));
      expect(b, 'same seed, same order').toEqual(a);
      if (reference) {
        expectOrder(a, expectedOrder(reference, jobs));
        expect(other, 'this order does not depend on the random source').toEqual(a);
      } else {
        expect(other, 'another seed, another order').not.toEqual(a);
        expect(a, 'not simply oldest first').not.toEqual(jobs.map((j) => j.id));
        expect(a, 'not simply newest first').not.toEqual(jobs.map((j) => j.id).reverse());
      }
    });
  });
}
