// Does a priority queue stay fast when it is huge? Enqueue and fetch rates on a priority queue
// holding 1,000,000 waiting jobs, next to the same operations on a near-empty one, in one run.
//   pnpm --filter @docket/bench priority-scale [--waiting N] [--ops N]
import { randomBytes } from 'node:crypto';
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { Redis } from 'ioredis';
import { benchRedis } from './redis.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const WAITING = arg('waiting', 1_000_000);
const OPS = arg('ops', 20_000);
const IN_FLIGHT = 50;
const priorityOf = () => Math.floor(Math.random() * 2_001) - 1_000;

async function enqueueRate(producer: Producer, queue: ReturnType<typeof defineQueue>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < OPS) {
        const i = next++;
        await producer.enqueue(queue, { i, user: `u${i}`, at: Date.now() }, { priority: priorityOf() });
      }
    }),
  );
  return OPS / ((performance.now() - started) / 1000);
}

/** Runs OPS jobs (the highest priorities first) with one consumer at concurrency 50. */
async function fetchRate(url: string, prefix: string, queue: ReturnType<typeof defineQueue>): Promise<number> {
  let done = 0;
  let resolveDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => (resolveDone = resolve));
  const consumer = new Consumer({
    connection: url,
    prefix,
    queues: [queue],
    concurrency: IN_FLIGHT,
    keepCompleted: { count: 0 },
    handler: async () => {
      if (++done === OPS) resolveDone();
    },
  });
  const started = performance.now();
  await consumer.start();
  await finished;
  const rate = OPS / ((performance.now() - started) / 1000);
  await consumer.close();
  return rate;
}

async function main(): Promise<void> {
  const redis = await benchRedis();
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  const producer = new Producer({ connection: redis.url, prefix });
  const big = defineQueue('priority-big', { strategy: 'priority' });
  const small = defineQueue('priority-small', { strategy: 'priority' });
  console.log(`priority queue scale: ${WAITING.toLocaleString('en')} waiting jobs vs near-empty, ${OPS.toLocaleString('en')} ops each, on ${redis.describe}`);

  const fillStart = performance.now();
  for (let filled = 0; filled < WAITING; filled += 5_000) {
    const n = Math.min(5_000, WAITING - filled);
    await producer.enqueueMany(
      big,
      Array.from({ length: n }, (_, k) => ({ payload: { i: filled + k, user: `u${filled + k}` }, opts: { priority: priorityOf() } })),
    );
  }
  console.log(`filled in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`);

  // Warm up (JIT, script cache, connections), then alternate small and big twice and keep the
  // mean, so neither side is favoured by running first.
  const warm = defineQueue('priority-warmup', { strategy: 'priority' });
  await enqueueRate(producer, warm);
  await fetchRate(redis.url, prefix, warm);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const enq = { small: [] as number[], big: [] as number[] };
  const fetch = { small: [] as number[], big: [] as number[] };
  for (let round = 0; round < 2; round++) {
    enq.small.push(await enqueueRate(producer, small));
    enq.big.push(await enqueueRate(producer, big));
    fetch.small.push(await fetchRate(redis.url, prefix, small));
    fetch.big.push(await fetchRate(redis.url, prefix, big));
  }
  const rows: [string, number, number][] = [
    ['enqueue (50 in flight)', mean(enq.small), mean(enq.big)],
    ['fetch + run + ack (concurrency 50)', mean(fetch.small), mean(fetch.big)],
  ];

  const check = new Redis(redis.url);
  const stillWaiting = await check.zcard(`${prefix}:{${big.name}}:waiting`);
  await check.quit();

  console.log('');
  console.log('| operation | near-empty queue (jobs/s) | queue with %s waiting (jobs/s) | ratio |', WAITING.toLocaleString('en'));
  console.log('| --- | --- | --- | --- |');
  for (const [name, s, b] of rows) {
    console.log(`| ${name} | ${Math.round(s).toLocaleString('en')} | ${Math.round(b).toLocaleString('en')} | ${((b / s) * 100).toFixed(0)}% |`);
  }
  console.log(`\n(${stillWaiting.toLocaleString('en')} jobs still waiting in the big queue at the end)`);
  await producer.close();
  await redis.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
