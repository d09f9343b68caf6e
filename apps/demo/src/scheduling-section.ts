// The scheduling part of `pnpm demo`: what the four strategies and weighted selection do,
// shown on jobs whose order of starts can be checked exactly. It runs in the driver's own
// process, with in-process Consumers on queues of their own (the worker processes serve only
// `emails` and `reports`), under the run's key prefix, so the demo's cleanup removes it too.
//
// 1. Orders: the same 12 jobs are enqueued, before any consumer runs, into one queue per
//    strategy; one consumer per queue at concurrency 1 then starts them one at a time, so the
//    order of starts is exactly the order the strategy pops them in.
// 2. Weighted selection: one consumer at concurrency 1 over three full queues with weights
//    [3, 2, 1]. Each fetch leases one job, from the queue the selection puts first, so the
//    shares of starts follow the weights; once a queue runs dry its turns go to the others.
import { performance } from 'node:perf_hooks';
import { Consumer, type ConsumerOptions, type Job, defineQueue, seededRandom } from '@docket/consumer';
import { Producer } from '@docket/producer';
import type { QueueDefinition, StrategyName } from '@docket/protocol';
import { waitUntil } from '@docket/testing';
import { fmt } from './terminal.js';

type OrderPayload = { label: string };
type OrderQueue = QueueDefinition<OrderPayload>;
type NoopQueue = QueueDefinition<null>;

/**
 * The jobs every strategy gets, in enqueue order, with the priority they carry on the priority
 * queue (the others refuse a non-zero one): ties, and one below the default 0.
 */
const JOBS: readonly (readonly [label: string, priority: number])[] = [
  ['A', 2], ['B', 5], ['C', 0], ['D', -3], ['E', 9], ['F', 5],
  ['G', 0], ['H', 5], ['I', 1], ['J', 9], ['K', 2], ['L', 0],
];
const LABELS = JOBS.map(([label]) => label);

/** Seed of the random queue's generator: the same seed gives the same row, run after run. */
const SEED = 20_250_101;

const ORDERS: readonly { strategy: StrategyName; says: string }[] = [
  { strategy: 'fifo', says: 'oldest first' },
  { strategy: 'lifo', says: 'newest first' },
  { strategy: 'random', says: 'uniformly random (seeded: same row every run)' },
  { strategy: 'priority', says: 'highest first, ties in enqueue order' },
];

const WEIGHTED = {
  names: ['critical', 'normal', 'bulk'],
  weights: [3, 2, 1],
  /** No-op jobs in each queue before the consumer starts. */
  perQueue: 600,
  /** The starts whose shares are compared with the weights. */
  sample: 600,
  /** Largest allowed distance from an expected share, as a fraction of that share. */
  tolerance: 0.1,
  /** A pause between two starts longer than this would be the consumer idling. */
  maxGapMs: 1_000,
};

/** Generous: a healthy run needs about a second for everything here. */
const TIMEOUT_MS = 20_000;

export interface SectionOptions {
  /** The Redis the demo runs against. */
  url: string;
  /** The run's key prefix. */
  prefix: string;
  /** Prints one line. */
  log: (line: string) => void;
  /** Why the run is stopping early ('' while it is not). */
  aborted: () => string;
}

/** Resolves once `condition()` holds; rejects after TIMEOUT_MS or when the run aborts. */
async function until(condition: () => boolean, what: string, aborted: SectionOptions['aborted']): Promise<void> {
  await waitUntil(
    () => {
      if (aborted()) throw new Error(`stopped while waiting for ${what}: ${aborted()}`);
      return condition();
    },
    { timeout: TIMEOUT_MS, interval: 5, what },
  );
}

/**
 * Runs `queues` with one consumer at concurrency 1 until `total` jobs completed, and returns
 * what `onStart` recorded, in the order the handler was called.
 */
async function consume<T>(
  o: SectionOptions,
  options: Omit<ConsumerOptions, 'handler' | 'connection' | 'prefix' | 'concurrency'>,
  total: number,
  onStart: (job: Job) => T,
  problems: string[],
): Promise<T[]> {
  const starts: T[] = [];
  let completed = 0;
  const consumer = new Consumer({
    ...options,
    connection: o.url,
    prefix: o.prefix,
    concurrency: 1,
    handler: (job) => void starts.push(onStart(job)),
  });
  const names = options.queues.map((q) => q.name).join(', ');
  consumer.on('completed', () => completed++);
  consumer.on('error', (err) => problems.push(`the consumer of ${names}: ${err.message}`));
  await consumer.start();
  try {
    await until(() => completed >= total, `${total} completed jobs in ${names}`, o.aborted);
  } finally {
    await consumer.close({ timeout: 1_000 });
  }
  return starts;
}

/** The four orders side by side. */
async function orders(o: SectionOptions, producer: Producer, problems: string[]): Promise<void> {
  const queue = (name: string, strategy: StrategyName): OrderQueue => defineQueue(name, { strategy });
  const runs = ORDERS.map((order) => ({ ...order, queue: queue(`order-${order.strategy}`, order.strategy) }));
  // A second random queue with the same seed: its row must be the same (what "seeded" promises).
  const again = queue('order-random-again', 'random');

  // Every queue is filled before any consumer starts: the order of starts is then the
  // strategy's alone, not a race between enqueueing and fetching.
  for (const { queue: q } of [...runs, { queue: again }]) {
    await producer.enqueueMany(
      q,
      JOBS.map(([label, priority]) => ({ payload: { label }, opts: q.strategy === 'priority' ? { priority } : {} })),
    );
  }
  const priorityOf = new Map(JOBS);
  const started = performance.now();
  const run = (q: OrderQueue, seeded: boolean): Promise<string[]> =>
    consume(o, { queues: [q], ...(seeded ? { random: seededRandom(SEED) } : {}) }, JOBS.length, (job) => (job.payload as OrderPayload).label, problems);
  // allSettled: if one run fails, the others still close their consumers before this throws.
  const settled = await Promise.allSettled([...runs.map((r) => run(r.queue, r.strategy === 'random')), run(again, true)]);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed?.status === 'rejected') throw failed.reason;
  const rows = settled.map((r) => (r.status === 'fulfilled' ? r.value : []));
  const rowAgain = rows.pop() ?? [];
  const ms = performance.now() - started;

  // What each row must be.
  const sortedByPriority = [...LABELS].sort((a, b) => (priorityOf.get(b) ?? 0) - (priorityOf.get(a) ?? 0)); // stable: ties keep enqueue order
  const checks: Record<StrategyName, (row: string[]) => string | undefined> = {
    fifo: (row) => (same(row, LABELS) ? undefined : `expected ${LABELS.join(' ')}`),
    lifo: (row) => (same(row, [...LABELS].reverse()) ? undefined : `expected ${[...LABELS].reverse().join(' ')}`),
    priority: (row) => (same(row, sortedByPriority) ? undefined : `expected ${sortedByPriority.map(withPriority).join(' ')}`),
    random: (row) => {
      if (!same([...row].sort(), [...LABELS].sort())) return `expected a permutation of ${LABELS.join(' ')}`;
      // With this seed it is neither; a "random" queue that repeated either would be broken.
      if (same(row, LABELS) || same(row, [...LABELS].reverse())) return 'expected a shuffled order, got the enqueue order or its reverse';
      if (!same(row, rowAgain)) return `a second consumer with the same seed started ${rowAgain.join(' ')}: the seed should fix the row`;
      return undefined;
    },
  };
  function withPriority(label: string): string {
    return `${label}(${priorityOf.get(label)})`;
  }

  const enqueued = LABELS.map(withPriority).join(' ');
  const cells = runs.map((r, i) => {
    const row = rows[i] ?? [];
    return (r.strategy === 'priority' ? row.map(withPriority) : row).join(' ');
  });
  const width = Math.max(enqueued.length, ...cells.map((c) => c.length));
  o.log(`scheduling: the same ${JOBS.length} jobs in four queues, one per strategy, all enqueued before any consumer ran; one consumer each, concurrency 1`);
  o.log(`  ${'enqueued'.padEnd(12)}${enqueued.padEnd(width)}   in this order, into each queue (the priority only on the priority queue)`);
  runs.forEach((r, i) => {
    const wrong = checks[r.strategy](rows[i] ?? []);
    if (wrong) problems.push(`scheduling: the ${r.strategy} queue started ${cells[i]}; ${wrong}`);
    o.log(`  ${r.strategy.padEnd(12)}${(cells[i] ?? '').padEnd(width)}   ${wrong ? `WRONG: ${wrong}` : r.says}`);
  });
  o.log(`  ${''.padEnd(12)}(order of starts; ${fmt(ms)} ms, with a copy of the random queue run on the same seed, which must start the same row)`);
}

/** Weighted selection across three full queues. */
async function weighted(o: SectionOptions, producer: Producer, problems: string[]): Promise<void> {
  const { names, weights, perQueue, sample, tolerance, maxGapMs } = WEIGHTED;
  const queues = names.map((name): NoopQueue => defineQueue(name));
  for (const q of queues) await producer.enqueueMany(q, Array.from({ length: perQueue }, () => ({ payload: null })));

  const total = perQueue * queues.length;
  const started = performance.now();
  const starts = await consume(o, { queues, selection: 'weighted', weights }, total, (job) => ({ queue: job.queue, at: performance.now() }), problems);
  const ms = performance.now() - started;

  const sum = weights.reduce((a, b) => a + b, 0);
  const first = starts.slice(0, sample);
  const shares = names.map((name, i) => {
    const n = first.filter((s) => s.queue === name).length;
    const share = n / first.length;
    const expected = (weights[i] ?? 0) / sum;
    const off = !(Math.abs(share - expected) <= tolerance * expected);
    if (off) problems.push(`scheduling: ${name} had ${pct(share)} of the first ${fmt(sample)} starts, expected ${pct(expected, 0)} (within ${tolerance * 100}% of it)`);
    return `${name} ${fmt(n)} (${pct(share)}, expected ${pct(expected, 0)}${off ? ': WRONG' : ''})`;
  });
  const letters = starts.slice(0, 2 * sum).map((s) => s.queue[0]?.toUpperCase());

  // Once the first queue is empty its turns go to the others: the consumer never idles.
  const lastFirst = starts.map((s) => s.queue).lastIndexOf(names[0] ?? '');
  const after = starts.slice(lastFirst + 1);
  const gaps = starts.slice(lastFirst).map((s, i, all) => (i === 0 ? 0 : s.at - (all[i - 1]?.at ?? s.at)));
  const longest = Math.max(0, ...gaps);
  const afterCounts = names.slice(1).map((name) => `${fmt(after.filter((s) => s.queue === name).length)} ${name}`);
  if (starts.length !== total) problems.push(`scheduling: ${fmt(starts.length)} starts in the weighted run, expected ${fmt(total)}`);
  if (after.length === 0) problems.push(`scheduling: nothing ran after ${names[0]} ran dry (${names[0]} was last)`);
  // A consumer that idles blocks for up to its pollInterval (5 s by default): that shows.
  const idled = !(longest < maxGapMs);
  if (idled) {
    problems.push(
      `scheduling: the consumer idled ${fmt(longest)} ms (about its pollInterval, 5,000 ms by default) after ${names[0]} ran dry, ` +
        `while ${names.slice(1).join(' and ')} had work; selection must fall through to them at once`,
    );
  }

  o.log('');
  o.log(
    `weighted selection: one consumer over ${names.join(', ')} (${fmt(perQueue)} no-op jobs each), selection 'weighted', ` +
      `weights [${weights.join(', ')}], concurrency 1`,
  );
  o.log(`  ${`first ${fmt(sample)}`.padEnd(12)}${shares.join(', ')}`);
  o.log(`  ${''.padEnd(12)}first ${letters.length} starts: ${letters.join(' ')} (one cycle per ${sum} fetches, evenly spread)`);
  o.log(
    `  ${'after'.padEnd(12)}${names[0]} ran dry at start ${fmt(lastFirst + 1)}; the consumer went on with ${afterCounts.join(' + ')} more starts, ` +
      `longest gap between starts ${fmt(longest)} ms: ${idled ? 'WRONG: it idled' : 'never idle'} (all ${fmt(starts.length)} jobs in ${fmt(ms)} ms)`,
  );
}

/**
 * Runs the section and prints it. Problems (a wrong order, shares off the weights) are
 * pushed onto `problems`; a failure to run at all throws.
 */
export async function schedulingSection(o: SectionOptions, problems: string[]): Promise<void> {
  const producer = new Producer({ connection: o.url, prefix: o.prefix });
  try {
    await orders(o, producer, problems);
    await weighted(o, producer, problems);
  } finally {
    await producer.close();
  }
}

const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;
