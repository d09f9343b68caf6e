// The logic of the priority-scale benchmark, shared by `priority-scale` (its own CLI) and
// `bench` (scenario 6a, scenarios/priority.ts): enqueue and fetch rates on a priority queue
// holding many waiting jobs, next to the same operations on a near-empty one, in one run.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import { Redis } from 'ioredis';

const IN_FLIGHT = 50;
const priorityOf = () => Math.floor(Math.random() * 2_001) - 1_000;

type Queue = ReturnType<typeof defineQueue>;

export interface PriorityScaleOptions {
  url: string;
  prefix: string;
  /** Jobs waiting in the big queue. */
  waiting: number;
  /** Enqueues (and fetches) per measurement. */
  ops: number;
  /** Queue names get this suffix (so several runs can share a Redis). */
  suffix?: string;
  log?: (line: string) => void;
}

export interface PriorityScaleResult {
  waiting: number;
  ops: number;
  fillSeconds: number;
  /** Mean jobs/s over the rounds. */
  enqueue: { small: number; big: number };
  fetch: { small: number; big: number };
  /** Jobs still waiting in the big queue at the end (it must stay big while measured). */
  stillWaiting: number;
}

async function enqueueRate(producer: Producer, queue: Queue, ops: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < ops) {
        const i = next++;
        await producer.enqueue(queue, { i, user: `u${i}`, at: Date.now() }, { priority: priorityOf() });
      }
    }),
  );
  return ops / ((performance.now() - started) / 1000);
}

/** Runs `ops` jobs (the highest priorities first) with one consumer at concurrency 50. */
async function fetchRate(url: string, prefix: string, queue: Queue, ops: number): Promise<number> {
  let done = 0;
  let resolveDone: () => void = () => {};
  let rejectDone: (err: unknown) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const consumer = new Consumer({
    connection: url,
    prefix,
    queues: [queue],
    concurrency: IN_FLIGHT,
    keepCompleted: { count: 0 },
    keepDead: { count: 0 },
    handler: async () => {
      if (++done === ops) resolveDone();
    },
  });
  consumer.on('failed', (_job, error) => rejectDone(error));
  consumer.on('error', (error) => rejectDone(error));
  const started = performance.now();
  await consumer.start();
  await finished;
  const rate = ops / ((performance.now() - started) / 1000);
  await consumer.close();
  return rate;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function runPriorityScale(options: PriorityScaleOptions): Promise<PriorityScaleResult> {
  const { url, prefix, waiting, ops, suffix = '' } = options;
  const log = options.log ?? (() => {});
  const producer = new Producer({ connection: url, prefix });
  try {
    const big = defineQueue(`priority-big${suffix}`, { strategy: 'priority' });
    const small = defineQueue(`priority-small${suffix}`, { strategy: 'priority' });

    const fillStart = performance.now();
    for (let filled = 0; filled < waiting; filled += 5_000) {
      const n = Math.min(5_000, waiting - filled);
      await producer.enqueueMany(
        big,
        Array.from({ length: n }, (_, k) => ({ payload: { i: filled + k, user: `u${filled + k}` }, opts: { priority: priorityOf() } })),
      );
    }
    const fillSeconds = (performance.now() - fillStart) / 1000;
    log(`filled ${waiting.toLocaleString('en')} waiting jobs in ${fillSeconds.toFixed(1)} s`);

    // Warm up (JIT, script cache, connections), then alternate small and big twice and keep the
    // mean, so neither side is favoured by running first.
    const warm = defineQueue(`priority-warmup${suffix}`, { strategy: 'priority' });
    const warmOps = Math.min(ops, 5_000);
    await enqueueRate(producer, warm, warmOps);
    await fetchRate(url, prefix, warm, warmOps);
    const enq = { small: [] as number[], big: [] as number[] };
    const fetch = { small: [] as number[], big: [] as number[] };
    for (let round = 0; round < 2; round++) {
      enq.small.push(await enqueueRate(producer, small, ops));
      enq.big.push(await enqueueRate(producer, big, ops));
      fetch.small.push(await fetchRate(url, prefix, small, ops));
      fetch.big.push(await fetchRate(url, prefix, big, ops));
    }

    const check = new Redis(url);
    const stillWaiting = await check.zcard(`${prefix}:{${big.name}}:waiting`);
    await check.quit();
    return {
      waiting,
      ops,
      fillSeconds,
      enqueue: { small: mean(enq.small), big: mean(enq.big) },
      fetch: { small: mean(fetch.small), big: mean(fetch.big) },
      stillWaiting,
    };
  } finally {
    await producer.close();
  }
}
