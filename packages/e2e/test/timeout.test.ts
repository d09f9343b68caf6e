// Job `timeout`: the try's signal aborts and the try fails with TIMEOUT (retried per its
// attempts); the slot stays taken until the handler really stops; in sandbox mode a try that
// ignores its signal is stopped by terminating its thread.
import { fileURLToPath } from 'node:url';
import { isDocketError } from '@docket/consumer';
import { sleep, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { collectIds, testQueue } from './helpers.js';

const redis = useRedisServer();

describe('a job with a timeout', () => {
  it('reaches a handler that got a copy of its context ({ ...context }): signal and progress still work', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'timeout-copy');
    const progress: unknown[] = [];
    const codes: unknown[] = [];
    // A wrapper that passes the context on with something added, as middleware does.
    const inner = async (copy: { signal: AbortSignal; progress: (value: unknown) => void; note: string }) => {
      copy.progress({ note: copy.note });
      await new Promise((resolve) => copy.signal.addEventListener('abort', resolve, { once: true }));
      codes.push((copy.signal.reason as { code?: unknown }).code);
      throw copy.signal.reason;
    };
    const consumer = newConsumer({
      handler: async (_job, context) => inner({ ...context, note: 'copied' }),
    });
    consumer.on('progress', (_job, value) => progress.push(value));
    await consumer.start();
    await producer.enqueue(queue, {}, { timeout: 200, attempts: 1 });
    await waitUntil(() => codes.length === 1, { what: 'the copied signal to abort' });
    expect(codes).toEqual(['TIMEOUT']);
    expect(progress).toEqual([{ note: 'copied' }]);
  });

  it('aborts a handler that respects its signal: each try fails with TIMEOUT, retried per attempts, then dead', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'timeout-a');
    const tries: { attempt: number; code: unknown; ranMs: number }[] = [];
    const failed: unknown[] = [];
    const events: string[] = [];
    const consumer = newConsumer({
      handler: async (job, { signal }) => {
        const started = Date.now();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        tries.push({ attempt: job.attempt, code: (signal.reason as { code?: unknown }).code, ranMs: Date.now() - started });
        throw signal.reason;
      },
    });
    consumer.on('failed', (_job, err) => {
      failed.push(err);
      events.push('failed');
    });
    consumer.on('retrying', () => events.push('retrying'));
    consumer.on('dead', () => events.push('dead'));
    consumer.on('completed', () => events.push('completed'));
    await consumer.start();

    const { id } = await producer.enqueue(queue, { x: 1 }, { timeout: 300, attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    await waitUntil(() => events.includes('dead'), { what: 'the job to die' });

    expect(tries.map((t) => t.attempt)).toEqual([1, 2]);
    for (const t of tries) {
      expect(t.code).toBe('TIMEOUT');
      expect(t.ranMs).toBeGreaterThanOrEqual(290); // the signal fires at the timeout, not before
    }
    expect(events).toEqual(['failed', 'retrying', 'failed', 'dead']);
    for (const err of failed) expect(isDocketError(err, 'TIMEOUT')).toBe(true);
    const job = await producer.getJob(queue, id);
    expect(job?.state).toBe('dead');
    expect(job?.attempts).toBe(2);
    expect(job?.error).toContain('timed out');
  });

  it('keeps the slot until a handler that ignores its signal settles, and reports the try failed, not completed', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'timeout-b');
    const timeline: string[] = [];
    let abortedBeforeSettling = false;
    const outcomes: { id: string; event: string; error?: unknown }[] = [];
    const consumer = newConsumer({
      concurrency: 1,
      handler: async (job, { signal }) => {
        const { name } = job.payload as { name: string };
        timeline.push(`${name}:start`);
        if (name === 'slow') {
          await sleep(800); // ignores the signal
          abortedBeforeSettling = signal.aborted;
          timeline.push(`${name}:settled`);
        }
        return `${name} done`;
      },
    });
    consumer.on('completed', (job) => outcomes.push({ id: job.id, event: 'completed' }));
    consumer.on('failed', (job, error) => outcomes.push({ id: job.id, event: 'failed', error }));
    consumer.on('dead', (job) => outcomes.push({ id: job.id, event: 'dead' }));

    const slow = await producer.enqueue(queue, { name: 'slow' }, { timeout: 200, attempts: 1 });
    const next = await producer.enqueue(queue, { name: 'next' });
    await consumer.start();
    await waitUntil(() => outcomes.some((o) => o.id === next.id && o.event === 'completed'), { what: 'the second job to complete' });

    // The second job started only after the first handler had really stopped.
    expect(timeline).toEqual(['slow:start', 'slow:settled', 'next:start']);
    expect(abortedBeforeSettling).toBe(true); // its signal did fire at the timeout
    const slowOutcomes = outcomes.filter((o) => o.id === slow.id);
    expect(slowOutcomes.map((o) => o.event)).toEqual(['failed', 'dead']);
    expect(isDocketError(slowOutcomes[0]?.error, 'TIMEOUT')).toBe(true);
    const job = await producer.getJob(queue, slow.id);
    expect(job?.state).toBe('dead');
    expect(job?.error).toContain('timed out');
    expect(job?.result).toBeUndefined();
  });

  it('in sandbox mode terminates a try that spins forever, and the consumer keeps running other jobs', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'timeout-c');
    const completed = new Map<string, unknown>();
    const failed: { id: string; error: unknown }[] = [];
    const consumer = newConsumer({
      concurrency: 2,
      sandbox: { module: fileURLToPath(new URL('../fixtures/spin-handler.mjs', import.meta.url)) },
    });
    consumer.on('completed', (job, result) => completed.set(job.id, result));
    consumer.on('failed', (job, error) => failed.push({ id: job.id, error }));
    const dead = collectIds(consumer, 'dead');
    await consumer.start();

    const spin = await producer.enqueue(queue, { spin: true }, { timeout: 300, attempts: 2, backoff: { type: 'fixed', delay: 10 } });
    const normal = await producer.enqueueMany(
      queue,
      Array.from({ length: 20 }, (_, i) => ({ payload: { i } })),
    );
    await waitUntil(() => dead.includes(spin.id) && completed.size === 20, { what: 'the spinning job to die and 20 jobs to complete' });

    expect(failed.map((f) => f.id)).toEqual([spin.id, spin.id]); // both tries, and nothing else, failed
    for (const f of failed) {
      expect(isDocketError(f.error, 'TIMEOUT')).toBe(true);
      expect((f.error as Error).message).toContain('timed out');
    }
    const job = await producer.getJob(queue, spin.id);
    expect(job?.state).toBe('dead');
    expect(job?.attempts).toBe(2);
    expect(job?.error).toContain('timed out');
    normal.forEach(({ id }, i) => expect(completed.get(id)).toEqual({ i }));

    // Both slots still work after their threads were replaced.
    const after = await producer.enqueueMany(queue, [{ payload: { i: 100 } }, { payload: { i: 101 } }]);
    await waitUntil(() => after.every(({ id }) => completed.has(id)), { what: 'two more jobs to complete' });
  });
});
