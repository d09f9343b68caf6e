// 6a. docket only: a priority queue with `priorityWaiting` waiting jobs against a near-empty one,
// enqueue and fetch rates (the logic of `pnpm priority-scale`, in ../priority.ts, run in-process).
import { type PriorityScaleResult, runPriorityScale } from '../priority.js';
import { type DocketOnlyRow, fmt } from '../report.js';
import { docketAlone } from '../rounds.js';
import { Failure, type Scenario, log, targetFor } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Jobs waiting in the big queue. */
    priorityWaiting: number;
    /** Enqueues (and fetches) per measurement. */
    priorityOps: number;
  }
}

export const priority: Scenario = {
  name: 'priority',
  measures: "a priority queue's enqueue and fetch rates with many jobs waiting, ÷ near-empty",
  parameters: { full: { priorityWaiting: 1_000_000, priorityOps: 20_000 }, quick: { priorityWaiting: 20_000, priorityOps: 2_000 } },
  docketOnly: true,
  async run(ctx) {
    const { p } = ctx;
    log(`6a. docket: priority queue with ${fmt(p.priorityWaiting)} waiting jobs vs a near-empty one (${fmt(p.priorityOps)} ops each, 2 rounds)`);
    let result: PriorityScaleResult | undefined; // kept even if the check below fails
    const rows = await docketAlone(ctx, 'priority', async () => {
      const t = targetFor(ctx, 'docket');
      const r = await runPriorityScale({ url: t.url, prefix: t.prefix, waiting: p.priorityWaiting, ops: p.priorityOps, log: (l) => log(`  ${l}`) });
      result = r;
      if (r.stillWaiting < p.priorityWaiting * 0.9) throw new Failure(`the big queue shrank to ${r.stillWaiting} waiting jobs`);
      const ops = [
        ['priority-enqueue', 'enqueue (50 in flight)', r.enqueue],
        ['priority-fetch', 'fetch + run + ack (concurrency 50)', r.fetch],
      ] as const;
      return ops.map(([id, name, v]): DocketOnlyRow => {
        log(`  ${name}: near-empty ${fmt(v.small)} jobs/s, ${fmt(p.priorityWaiting)} waiting ${fmt(v.big)} jobs/s (${((v.big / v.small) * 100).toFixed(0)}%)`);
        return {
          id,
          short: `priority ${id === 'priority-enqueue' ? 'enqueue' : 'fetch'}, ${fmt(p.priorityWaiting)} ÷ near-empty`,
          label: `priority queue, ${name}: ${fmt(p.priorityWaiting)} waiting vs near-empty`,
          measured: `${fmt(v.big)} vs ${fmt(v.small)} jobs/s`,
          ratio: v.big / v.small,
          ratioLabel: 'full ÷ near-empty',
          target: { op: '>=', value: 0.8 },
        };
      });
    });
    return { docketOnly: rows ?? [], ...(result ? { details: { priority: result } } : {}) };
  },
};
