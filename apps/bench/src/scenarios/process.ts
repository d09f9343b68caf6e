// 3. Process pre-filled no-op jobs with one consumer process, at concurrency 50 (3a) and at
// concurrency 1 (3b), timed in the consumer process from the warm-up's last completion to the
// last completion.
import { ConsumerProcess } from '../consumer-process.js';
import { enqueueChunks, expectDrained } from '../jobs.js';
import { LIBRARY, type LibraryName } from '../libs.js';
import { fmt, rateRow } from '../report.js';
import { type Timed, rates } from '../rounds.js';
import { CONCURRENCY, type Context, type Scenario, log, targetFor } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Jobs at concurrency 50 (every round runs all of them). */
    processJobs: number;
    /** Jobs at concurrency 1 (every round runs all of them). */
    processJobsC1: number;
  }
}

/**
 * Pre-fill `warm + count` jobs, then one consumer process at `concurrency` runs them all; the
 * time counts the last `count` (from the warm-th completion to the last).
 */
async function processRound(ctx: Context, lib: LibraryName, concurrency: number, count: number, warm: number): Promise<Timed> {
  const target = targetFor(ctx, lib);
  const queue = `bench-process-c${concurrency}`;
  const producer = await LIBRARY[lib].producer(target, queue);
  try {
    await enqueueChunks(producer, ctx.p.chunkSize, 0, warm + count);
    const child = new ConsumerProcess({ mode: 'throughput', lib, target, queue, concurrency, warm, count });
    try {
      const timeout = Math.max(60_000, ((warm + count) / 100) * 1000); // fails below 100 jobs/s
      const done = await child.waitFor('done', timeout, `${warm + count} jobs to complete`);
      await child.stop();
      await expectDrained(producer);
      return { jobs: done.count, seconds: done.seconds };
    } finally {
      child.kill();
    }
  } finally {
    await producer.close();
  }
}

export const processing: Scenario = {
  name: 'process',
  measures: 'jobs/s through one consumer process at concurrency 50 and at concurrency 1',
  parameters: { full: { processJobs: 50_000, processJobsC1: 5_000 }, quick: { processJobs: 2_000, processJobsC1: 500 } },
  async run(ctx) {
    const { p } = ctx;
    // Unlike the others, a process round is not a share: every round is the whole scenario
    // (all the jobs through one consumer process), as the scenario is defined; rounds only
    // spread the runs of the libraries over time.
    const eachRound = p.rounds > 1 ? `, in ${p.rounds} interleaved rounds of all the jobs each` : '';
    log(`3a. process ${fmt(p.processJobs)} pre-filled no-op jobs, one consumer process, concurrency ${CONCURRENCY}${eachRound}`);
    const c50 = await rates(ctx, 'process c50', (lib) => processRound(ctx, lib, CONCURRENCY, p.processJobs, p.warmJobs));
    log(`3b. process ${fmt(p.processJobsC1)} pre-filled no-op jobs, one consumer process, concurrency 1${eachRound}`);
    const c1 = await rates(ctx, 'process c1', (lib) => processRound(ctx, lib, 1, p.processJobsC1, Math.round(p.warmJobs / 2)));
    return {
      rows: [
        rateRow('process-c50', 'process, concurrency 50', `process, concurrency ${CONCURRENCY}`, c50, {
          bullmq: { op: '>=', value: 3 },
          'bee-queue': { op: '>=', value: 2 },
        }),
        rateRow('process-c1', 'process, concurrency 1', 'process, concurrency 1', c1),
      ],
    };
  },
};
