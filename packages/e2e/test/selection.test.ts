// Selection across queues (one consumer, several queues): weighted, strict and round-robin.
import { Consumer, isDocketError } from '@docket/consumer';
import { Producer, type QueueDefinition, defineQueue } from '@docket/producer';
import { uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it, onTestFinished } from 'vitest';

const redis = useRedisServer({ appendonly: false });

/** Queues named a, b, c... with `sizes[i]` ready jobs each, and a consumer over them that logs starts. */
async function setup(
  label: string,
  sizes: readonly number[],
  options: {
    selection: 'strict' | 'weighted' | 'round-robin';
    weights?: number[];
    concurrency?: number;
    pollInterval?: number;
    /** The handler awaits a macrotask, as real handlers (that do I/O) do; else it returns at once. */
    async?: boolean;
  },
) {
  const prefix = uniquePrefix(label);
  const producer = new Producer({ connection: redis.url, prefix });
  const queues = sizes.map((_, i) => defineQueue(String.fromCharCode(97 + i)));
  for (const [i, q] of queues.entries()) {
    const n = sizes[i] as number;
    for (let from = 0; from < n; from += 5_000) {
      await producer.enqueueMany(q, Array.from({ length: Math.min(5_000, n - from) }, () => ({ payload: null })));
    }
  }
  const starts: string[] = [];
  const startedAt: number[] = [];
  const consumer = new Consumer({
    connection: redis.url,
    prefix,
    queues,
    selection: options.selection,
    ...(options.weights ? { weights: options.weights } : {}),
    concurrency: options.concurrency ?? 1,
    pollInterval: options.pollInterval ?? 100,
    keepCompleted: { count: 10, age: 60_000 },
    handler: (job) => {
      starts.push(job.queue);
      startedAt.push(performance.now());
      if (options.async) return new Promise<void>((resolve) => setImmediate(resolve));
    },
  });
  onTestFinished(async () => {
    await consumer.close({ timeout: 0 });
    await producer.close();
  });
  return { producer, queues, consumer, starts, startedAt };
}

const tally = (starts: readonly string[], names: readonly string[]) => names.map((n) => starts.filter((s) => s === n).length);

describe('selection: weighted', () => {
  it('weights 3:2:1 over three non-empty queues: 6,000 starts split within 10% of 3:2:1', async () => {
    const { consumer, starts } = await setup('w321', [3_300, 3_300, 3_300], { selection: 'weighted', weights: [3, 2, 1] });
    await consumer.start();
    await waitUntil(() => starts.length >= 6_000, { timeout: 20_000, what: '6,000 starts' });
    await consumer.close({ timeout: 0 });
    const first = starts.slice(0, 6_000);
    const counts = tally(first, ['a', 'b', 'c']);
    const expected = [3_000, 2_000, 1_000];
    counts.forEach((n, i) => {
      const e = expected[i] as number;
      expect(
        Math.abs(n - e) / e,
        `queue ${'abc'[i]} (weight ${3 - i}): ${n} of 6,000 starts (${((n / 6_000) * 100).toFixed(1)}%), expected ${e} (${((e / 6_000) * 100).toFixed(1)}%) within 10%; all: ${counts.join(':')}`,
      ).toBeLessThan(0.1);
    });
    // None ran dry in the window, so every queue stayed eligible throughout.
    expect(counts.every((n) => n < 3_300)).toBe(true);
  });

  it('never idles: with the weight-3 queue empty, the others run, its turns going to the next by weight', async () => {
    const { consumer, starts } = await setup('wempty', [0, 300, 300], {
      selection: 'weighted',
      weights: [3, 2, 1],
      pollInterval: 5_000,
      async: true,
    });
    const t0 = performance.now();
    await consumer.start();
    await waitUntil(() => starts.length === 600, { timeout: 10_000, what: '600 starts' });
    const elapsed = performance.now() - t0;
    // While both b and c have work: a's 3 turns in 6 go to b (the heavier of the rest), so b:c = 5:1.
    const [, b, c] = tally(starts.slice(0, 300), ['a', 'b', 'c']) as [number, number, number];
    expect([b, c]).toEqual([250, 50]);
    // No fetch waited for a wake-up (pollInterval is 5 s; 600 jobs take well under a second).
    expect(elapsed, `600 jobs took ${elapsed.toFixed(0)} ms`).toBeLessThan(4_000);
  });
});

describe('selection: strict', () => {
  it('a non-empty first queue starves the second until it is empty', async () => {
    const { consumer, starts } = await setup('strict', [50, 50], { selection: 'strict', concurrency: 4 });
    await consumer.start();
    await waitUntil(() => starts.length === 100, { what: '100 starts' });
    expect(starts.lastIndexOf('a'), starts.join('')).toBe(49);
    expect(starts.indexOf('b')).toBe(50);
  });

  it('jobs arriving in the first queue go before the rest of the second', async () => {
    const s = await setup('strict2', [0, 40], { selection: 'strict' });
    let added = false;
    s.consumer.on('completed', () => {
      if (s.starts.length === 10 && !added) {
        added = true;
        void s.producer.enqueueMany(s.queues[0] as QueueDefinition, Array.from({ length: 5 }, () => ({ payload: null })));
      }
    });
    await s.consumer.start();
    await waitUntil(() => s.starts.length === 45, { what: '45 starts' });
    // The five a jobs start together, as soon as they are there: long before b runs dry.
    const firstA = s.starts.indexOf('a');
    expect(firstA, s.starts.join('')).toBeGreaterThanOrEqual(10);
    expect(firstA, s.starts.join('')).toBeLessThan(25);
    expect(s.starts.slice(firstA, firstA + 5).join(''), s.starts.join('')).toBe('aaaaa');
  });
});

describe('selection: round-robin', () => {
  it('alternates between the queues, one fetch each', async () => {
    const { consumer, starts } = await setup('rr', [30, 30, 30], { selection: 'round-robin' });
    await consumer.start();
    await waitUntil(() => starts.length === 90, { what: '90 starts' });
    expect(starts.join('')).toBe('abc'.repeat(30));
  });

  it('keeps running the other queues at once when one runs dry', async () => {
    const { consumer, starts, startedAt } = await setup('rrdry', [2, 40], { selection: 'round-robin', pollInterval: 5_000, async: true });
    const t0 = performance.now();
    await consumer.start();
    await waitUntil(() => starts.length === 42, { timeout: 15_000, what: '42 starts' });
    expect(starts.join('')).toBe(`abab${'b'.repeat(38)}`);
    // No fetch waited for a wake-up once a was dry (pollInterval is 5 s).
    const gaps = startedAt.map((t, i) => t - (i === 0 ? t0 : (startedAt[i - 1] as number)));
    const longest = Math.max(...gaps);
    expect(longest, `longest gap between two starts: ${longest.toFixed(0)} ms, before start ${gaps.indexOf(longest)}`).toBeLessThan(2_000);
  });
});

describe('selection options', () => {
  const q1 = defineQueue('one');
  const q2 = defineQueue('two');
  const base = { connection: 'redis://127.0.0.1:1', handler: () => {} };
  it.each([
    [{ selection: 'weighted' }, 'weights'],
    [{ selection: 'weighted', weights: [1] }, 'weights'],
    [{ selection: 'weighted', weights: [1, 0] }, 'weights[1]'],
    [{ selection: 'weighted', weights: [1, 1.5] }, 'weights[1]'],
    [{ selection: 'strict', weights: [1, 2] }, 'weights'],
    [{ weights: [1, 2] }, 'weights'],
    [{ selection: 'fastest' }, 'selection'],
  ])('new Consumer(%j) throws INVALID_ARGUMENT naming `%s`', (opts, name) => {
    let err: unknown;
    try {
      new Consumer({ ...base, queues: [q1, q2], ...(opts as object) });
    } catch (e) {
      err = e;
    }
    expect(isDocketError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    expect((err as Error).message).toContain(`\`${name}\``);
  });
});
