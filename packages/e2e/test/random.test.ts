// The random strategy: "uniformly random among waiting jobs at each pop", tested statistically.
//
// One trial: a fresh queue holds 10 jobs k0..k9 (enqueued in that order), a consumer runs them
// all, and we note at which position (0 = first started) each job started. Over R = 400
// trials, count[k][j] = how often job k started at position j. If each pop is uniform, every
// trial is a uniformly random permutation, so every cell expects R / 10 = 40.
//
// Test: Pearson's chi-square over the 10 x 10 table against that uniform expectation. Each
// trial is a permutation, so every row and every column sums to R: the statistic then has
// (10 - 1) x (10 - 1) = 81 degrees of freedom. We compute its p-value (the regularized upper
// incomplete gamma function, below) and require p > 0.001; for 81 degrees of freedom that is
// the critical value 126.0 (checked below against the table value for 80: 124.84). The
// consumers' random source is seeded (mulberry32), so the outcome is reproducible: a correct
// strategy does not fail this test by bad luck on some runs (the statistics are printed in the
// assertion messages and are the same on every run).
//
// Speed: eight queues, each with its own consumer (and its own seed), run 50 trials each side
// by side: enqueueMany ten jobs, wait until all ten completed, repeat.
import { Consumer } from '@docket/consumer';
import { Producer, type StrategyName, defineQueue } from '@docket/producer';
import { uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it, onTestFinished } from 'vitest';
import { mulberry32 } from './strategies-end-to-end.js';

// ------------------------------------------------------------------ statistics

/** ln Γ(z) for z > 0 (Lanczos approximation, g = 7, 9 terms; ~15 significant digits). */
function lnGamma(z: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z);
  const x = z - 1;
  let a = c[0] as number;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized upper incomplete gamma function Q(s, x) (series below s + 1, continued fraction above). */
function gammaQ(s: number, x: number): number {
  if (x <= 0) return 1;
  const logPrefix = -x + s * Math.log(x) - lnGamma(s);
  if (x < s + 1) {
    let sum = 1 / s;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (s + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(logPrefix);
  }
  // Lentz's method for the continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - s;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(logPrefix) * h;
}

/** P(X >= x) for X chi-square distributed with `df` degrees of freedom. */
export function chiSquarePValue(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/** Pearson's statistic of an n x n table of positions against the uniform expectation. */
function positionChiSquare(table: number[][]): { statistic: number; df: number; p: number } {
  const n = table.length;
  const trials = table[0]!.reduce((a, b) => a + b, 0);
  const expected = trials / n;
  let statistic = 0;
  for (const row of table) for (const observed of row) statistic += (observed - expected) ** 2 / expected;
  const df = (n - 1) * (n - 1);
  return { statistic, df, p: chiSquarePValue(statistic, df) };
}

// ------------------------------------------------------------------ trials on a real redis-server

const redis = useRedisServer({ appendonly: false });

const JOBS = 10;

/** Runs `trials` trials (see the top of the file) and returns the 10 x 10 table of positions. */
async function positionTable(options: { strategy: StrategyName; trials: number; concurrency: number; seed: number }): Promise<number[][]> {
  const { strategy, trials, concurrency, seed } = options;
  const parallel = 8;
  const prefix = uniquePrefix('positions');
  const producer = new Producer({ connection: redis.url, prefix });
  const consumers: Consumer[] = [];
  onTestFinished(async () => {
    await Promise.all(consumers.map((c) => c.close({ timeout: 0 })));
    await producer.close();
  });
  const table = Array.from({ length: JOBS }, () => Array.from({ length: JOBS }, () => 0));
  await Promise.all(
    Array.from({ length: parallel }, async (_, lane) => {
      const queue = defineQueue(`lane-${lane}`, { strategy });
      let order: number[] = [];
      let completed = 0;
      let started = 0;
      const consumer = new Consumer({
        connection: redis.url,
        prefix,
        queues: [queue],
        concurrency,
        // The consumer draws one seed per step call, and how many step calls come between two
        // starts depends on timing (calls that only report outcomes, wake-ups at a trial's
        // end). A source that depends only on how many jobs this lane has started makes every
        // call between two starts draw the same value: the pops are reproducible.
        random: () => mulberry32(seed + lane * 1_000_000 + started)(),
        handler: (job) => {
          started++;
          order.push(job.payload as number);
        },
      });
      consumer.on('completed', () => void completed++);
      consumers.push(consumer);
      await consumer.start();
      for (let t = lane; t < trials; t += parallel) {
        // A fresh trial: ten new jobs on the drained queue (ids are new: finished jobs are kept).
        order = [];
        completed = 0;
        await producer.enqueueMany(queue, Array.from({ length: JOBS }, (_, k) => ({ payload: k, opts: { id: `t${t}-k${k}` } })));
        await waitUntil(() => completed === JOBS, { interval: 2, what: `trial ${t}` });
        expect([...order].sort((a, b) => a - b), 'each job of a trial starts once').toEqual(Array.from({ length: JOBS }, (_, k) => k));
        order.forEach((k, position) => ((table[k] as number[])[position] as number)++);
      }
    }),
  );
  return table;
}

const show = (table: number[][]) => table.map((row, k) => `k${k}: ${row.map((n) => String(n).padStart(3)).join(' ')}`).join('\n');

describe('the p-value computation', () => {
  it('matches chi-square table values', () => {
    // Upper critical values from standard tables (NIST/SEMATECH e-Handbook, 1.3.6.7.4).
    expect(chiSquarePValue(124.839, 80)).toBeCloseTo(0.001, 5);
    expect(chiSquarePValue(101.879, 80)).toBeCloseTo(0.05, 4);
    expect(chiSquarePValue(3.841, 1)).toBeCloseTo(0.05, 4);
    expect(chiSquarePValue(18.307, 10)).toBeCloseTo(0.05, 4);
    expect(chiSquarePValue(80, 80)).toBeGreaterThan(0.4);
    expect(chiSquarePValue(80, 80)).toBeLessThan(0.55);
    // The critical value used here: p = 0.001 at 81 degrees of freedom lies at about 126.0.
    expect(chiSquarePValue(126.0, 81)).toBeCloseTo(0.001, 4);
  });
});

describe('random: position uniformity (chi-square, 400 trials of 10 jobs, seeded)', () => {
  it('one job per pop (concurrency 1): every job is equally likely at every position', async () => {
    const table = await positionTable({ strategy: 'random', trials: 400, concurrency: 1, seed: 1_000 });
    const { statistic, df, p } = positionChiSquare(table);
    expect(p, `chi-square ${statistic.toFixed(1)} with ${df} df, p = ${p.toExponential(2)}; counts (row: job, column: position):\n${show(table)}`).toBeGreaterThan(0.001);
  });

  it('batched pops (concurrency 10, all ten jobs in one pop): every job is equally likely at every position', async () => {
    const table = await positionTable({ strategy: 'random', trials: 400, concurrency: 10, seed: 2_000 });
    const { statistic, df, p } = positionChiSquare(table);
    expect(p, `chi-square ${statistic.toFixed(1)} with ${df} df, p = ${p.toExponential(2)}; counts (row: job, column: position):\n${show(table)}`).toBeGreaterThan(0.001);
  });

  it('negative control: the same test rejects fifo order', async () => {
    const table = await positionTable({ strategy: 'fifo', trials: 400, concurrency: 10, seed: 3_000 });
    const { statistic, p } = positionChiSquare(table);
    expect(statistic).toBeGreaterThan(1_000);
    expect(p, `chi-square ${statistic.toFixed(1)}: fifo must be rejected`).toBeLessThan(0.001);
  });

  it('negative control: the same test rejects a bias confined to one cell', () => {
    // Uniform permutations, except that in a quarter of the trials the last job is swapped to
    // the front: it starts first about three times as often as it should (130 of 400 instead
    // of 40), everything else stays near uniform.
    const rng = mulberry32(4);
    const table = Array.from({ length: JOBS }, () => Array.from({ length: JOBS }, () => 0));
    for (let t = 0; t < 400; t++) {
      const order = Array.from({ length: JOBS }, (_, k) => k);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j] as number, order[i] as number];
      }
      if (order[0] !== JOBS - 1 && rng() < 0.25) {
        const at = order.indexOf(JOBS - 1);
        [order[0], order[at]] = [order[at] as number, order[0] as number];
      }
      order.forEach((k, position) => ((table[k] as number[])[position] as number)++);
    }
    const { statistic, p } = positionChiSquare(table);
    expect(p, `chi-square ${statistic.toFixed(1)}:\n${show(table)}`).toBeLessThan(0.001);
  });
});
