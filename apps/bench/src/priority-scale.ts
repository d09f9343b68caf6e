// Does a priority queue stay fast when it is huge? Enqueue and fetch rates on a priority queue
// holding 1,000,000 waiting jobs, next to the same operations on a near-empty one, in one run.
//   pnpm --filter @docket/bench priority-scale [--waiting N] [--ops N]
// The same measurement is scenario 6a of `pnpm bench` (src/scenarios/priority.ts); the logic is
// in priority.ts.
import { randomBytes } from 'node:crypto';
import { runPriorityScale } from './priority.js';
import { benchRedis } from './redis.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const WAITING = arg('waiting', 1_000_000);
const OPS = arg('ops', 20_000);

async function main(): Promise<void> {
  const redis = await benchRedis();
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  console.log(`priority queue scale: ${WAITING.toLocaleString('en')} waiting jobs vs near-empty, ${OPS.toLocaleString('en')} ops each, on ${redis.describe}`);
  try {
    const r = await runPriorityScale({ url: redis.url, prefix, waiting: WAITING, ops: OPS, log: (line) => console.log(line) });
    const rows: [string, number, number][] = [
      ['enqueue (50 in flight)', r.enqueue.small, r.enqueue.big],
      ['fetch + run + ack (concurrency 50)', r.fetch.small, r.fetch.big],
    ];
    console.log('');
    console.log('| operation | near-empty queue (jobs/s) | queue with %s waiting (jobs/s) | ratio |', WAITING.toLocaleString('en'));
    console.log('| --- | --- | --- | --- |');
    for (const [name, s, b] of rows) {
      console.log(`| ${name} | ${Math.round(s).toLocaleString('en')} | ${Math.round(b).toLocaleString('en')} | ${((b / s) * 100).toFixed(0)}% |`);
    }
    console.log(`\n(${r.stillWaiting.toLocaleString('en')} jobs still waiting in the big queue at the end)`);
  } finally {
    await redis.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
