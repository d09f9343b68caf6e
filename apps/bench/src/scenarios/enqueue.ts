// 1. Enqueue one job at a time, 50 enqueue calls in flight (enqueue, add, createJob().save()),
// after a warm-up on the same queue and connection.
import { timedEnqueue } from '../jobs.js';
import { type ProducerSide, payload } from '../libs.js';
import { fmt, rateRow } from '../report.js';
import { rates, roundsNote, share } from '../rounds.js';
import { IN_FLIGHT, type Scenario, log } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Jobs per library in the enqueue and bulk scenarios (shared by the rounds). */
    enqueueJobs: number;
  }
}

/** Enqueues payloads `from..to-1` one at a time with `IN_FLIGHT` calls in flight. */
async function enqueueInFlight(producer: ProducerSide, from: number, to: number): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < to) await producer.enqueue(payload(next++));
    }),
  );
}

export const enqueue: Scenario = {
  name: 'enqueue',
  measures: 'jobs/s enqueued one at a time, 50 enqueue calls in flight',
  parameters: { full: { enqueueJobs: 50_000 }, quick: { enqueueJobs: 2_000 } },
  async run(ctx) {
    const { p } = ctx;
    log(`1. enqueue one job at a time, ${IN_FLIGHT} in flight (${fmt(p.enqueueJobs)} jobs${roundsNote(p)})`);
    const values = await rates(ctx, 'enqueue', (lib) => timedEnqueue(ctx, lib, 'bench-enqueue', share(p, p.enqueueJobs), enqueueInFlight));
    const targets = { bullmq: { op: '>=', value: 2 }, 'bee-queue': { op: '>=', value: 1 } } as const;
    return { rows: [rateRow('enqueue', 'enqueue, one at a time', `enqueue, one at a time (${IN_FLIGHT} in flight)`, values, targets)] };
  },
};
