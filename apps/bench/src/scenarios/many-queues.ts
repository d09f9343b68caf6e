// 6c. docket only: one consumer serving many queues (per-tenant queues), one job in each: how
// long it takes to drain them all, and the commands/s it causes once idle. Its cost per round
// and when idle must not grow with the number of queues it serves (it listens to the queues'
// ready channels and steps only those that have work).
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { monoMs } from '../libs.js';
import { commandCalls } from '../redis.js';
import type { DocketOnlyRow } from '../report.js';
import { docketAlone } from '../rounds.js';
import { CONCURRENCY, type Context, type Scenario, log, sleep, targetFor } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Queues the consumer serves (one job enqueued to each). */
    manyQueues: number;
  }
}

interface ManyQueues {
  queues: number;
  startMs: number;
  drainMs: number;
  idleCommandsPerSecond: number;
}

async function drainMany(ctx: Context): Promise<ManyQueues> {
  const { url, prefix } = targetFor(ctx, 'docket');
  const n = ctx.p.manyQueues;
  const queues = Array.from({ length: n }, (_, i) => defineQueue(`bench-tenant-${i}`));
  const producer = new Producer({ connection: url, prefix });
  let done = 0;
  let drained: () => void = () => {};
  const all = new Promise<void>((resolve) => (drained = resolve));
  const consumer = new Consumer({
    connection: url,
    prefix,
    queues,
    concurrency: CONCURRENCY,
    keepCompleted: { count: 0 },
    handler: async () => {
      if (++done === n) drained();
    },
  });
  try {
    for (let i = 0; i < n; i += 500) await Promise.all(queues.slice(i, i + 500).map((q) => producer.enqueue(q, { tenant: q.name })));
    const t0 = monoMs();
    await consumer.start();
    const startMs = monoMs() - t0;
    await all;
    const drainMs = monoMs() - t0;
    await sleep(2_000); // the last reports, then idle
    const before = await commandCalls(ctx.admin);
    const t1 = monoMs();
    await sleep(5_000);
    const after = await commandCalls(ctx.admin);
    let total = 0;
    for (const [cmd, calls] of after) if (cmd !== 'info') total += calls - (before.get(cmd) ?? 0);
    return { queues: n, startMs, drainMs, idleCommandsPerSecond: total / ((monoMs() - t1) / 1000) };
  } finally {
    await consumer.close();
    await producer.close();
  }
}

export const manyQueues: Scenario = {
  name: 'many-queues',
  measures: 'one docket consumer of many queues: drain time (one job each) and idle commands/s',
  parameters: { full: { manyQueues: 10_000 }, quick: { manyQueues: 1_000 } },
  docketOnly: true,
  async run(ctx) {
    log(`6c. docket: one consumer of ${ctx.p.manyQueues.toLocaleString('en-US')} queues, one job in each`);
    const r = await docketAlone(ctx, 'many-queues', async () => {
      const r = await drainMany(ctx);
      log(`  started in ${r.startMs.toFixed(0)} ms, drained in ${r.drainMs.toFixed(0)} ms; idle ${r.idleCommandsPerSecond.toFixed(2)} commands/s`);
      return r;
    });
    if (!r) return {};
    const rows: DocketOnlyRow[] = [
      {
        id: 'many-queues-drain',
        short: 'many queues: drain',
        label: `one consumer of ${r.queues.toLocaleString('en-US')} queues, one job each: drained in (ms, start included)`,
        measured: `${r.drainMs.toFixed(0)} ms (start ${r.startMs.toFixed(0)} ms)`,
        ratio: r.drainMs / 10_000,
        ratioLabel: 'drain time ÷ 10 s (issue 13: at most 10 s at 10,000 queues)',
        ...(r.queues >= 10_000 ? { target: { op: '<=' as const, value: 1 } } : {}),
      },
      {
        id: 'many-queues-idle',
        short: 'many queues: idle',
        label: `the same consumer idle: commands/s (commandstats, incl. inside scripts)`,
        measured: `${r.idleCommandsPerSecond.toFixed(2)}/s`,
        ratio: null,
        ratioLabel: 'no target (design: "a handful per second, whatever the number of queues")',
      },
    ];
    return { docketOnly: rows, details: { manyQueues: r } };
  },
};
