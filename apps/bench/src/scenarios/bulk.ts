// 2. Enqueue in chunks of 1,000 through the bulk API (enqueueMany, addBulk, saveAll), one chunk
// at a time, after a warm-up on the same queue and connection.
import { enqueueChunks, timedEnqueue } from '../jobs.js';
import { fmt, rateRow } from '../report.js';
import { rates, roundsNote, share } from '../rounds.js';
import { type Scenario, log } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Jobs per call of the bulk API, here and wherever a scenario pre-fills a queue. */
    chunkSize: number;
  }
}

export const bulk: Scenario = {
  name: 'bulk',
  measures: 'jobs/s enqueued through the bulk API, in chunks of 1,000',
  parameters: { full: { chunkSize: 1_000 }, quick: { chunkSize: 1_000 } },
  async run(ctx) {
    const size = ctx.p.chunkSize;
    const jobs = ctx.p.enqueueJobs;
    log(`2. enqueue in chunks of ${fmt(size)} (${fmt(jobs)} jobs${roundsNote(ctx.p)})`);
    const values = await rates(ctx, 'bulk', (lib) =>
      timedEnqueue(ctx, lib, 'bench-bulk', share(ctx.p, jobs), (producer, from, to) => enqueueChunks(producer, size, from, to)),
    );
    const targets = { bullmq: { op: '>=', value: 8 }, 'bee-queue': { op: '>=', value: 2.5 } } as const;
    return { rows: [rateRow('bulk', 'enqueue, chunks', `enqueue, chunks of ${fmt(size)}`, values, targets)] };
  },
};
