// 5. Redis memory per waiting job: INFO used_memory after minus before enqueueing `memoryJobs`
// jobs in chunks (one job enqueued first, so the queue's fixed structures are not counted).
import { enqueueChunks } from '../jobs.js';
import { LIBRARY, type LibraryName, payload } from '../libs.js';
import { info } from '../redis.js';
import { fmt } from '../report.js';
import { perLibrary } from '../rounds.js';
import { type Context, Failure, type Scenario, log, sleep, targetFor } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Waiting jobs measured. */
    memoryJobs: number;
  }
}

/** INFO used_memory delta over `memoryJobs` waiting jobs (enqueued in chunks). Returns bytes/job. */
async function bytesPerJob(ctx: Context, lib: LibraryName): Promise<number> {
  const { p } = ctx;
  const producer = await LIBRARY[lib].producer(targetFor(ctx, lib), 'bench-memory');
  try {
    await producer.enqueueChunk([payload(-1)]); // creates the queue's structures: not counted
    await sleep(300);
    const before = Number((await info(ctx.admin, 'memory')).get('used_memory'));
    await enqueueChunks(producer, p.chunkSize, 0, p.memoryJobs);
    await sleep(300);
    const after = Number((await info(ctx.admin, 'memory')).get('used_memory'));
    const c = await producer.counts();
    if (c.waiting !== p.memoryJobs + 1) throw new Failure(`expected ${p.memoryJobs + 1} waiting jobs, found ${c.waiting}`);
    return (after - before) / p.memoryJobs;
  } finally {
    await producer.close();
  }
}

export const memory: Scenario = {
  name: 'memory',
  measures: 'bytes of Redis memory per waiting job',
  parameters: { full: { memoryJobs: 100_000 }, quick: { memoryJobs: 20_000 } },
  async run(ctx) {
    log(`5. Redis memory per waiting job (used_memory delta over ${fmt(ctx.p.memoryJobs)} jobs)`);
    const values = await perLibrary(ctx, 'memory', (lib) => bytesPerJob(ctx, lib), (v) => `${fmt(v)} bytes/job`);
    const targets = { 'bee-queue': { op: '<=', value: 0.8 } } as const;
    return {
      rows: [{ id: 'memory', short: 'memory per waiting job', label: 'Redis memory per waiting job', unit: 'bytes', better: 'lower', values, decimals: 0, targets }],
      details: { memory: values },
    };
  },
};
