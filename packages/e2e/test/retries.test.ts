// Retries follow the job's backoff and end in `dead` with the last error.
import type { Job } from '@docket/consumer';
import { waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';
import { testQueue } from './helpers.js';

const redis = useRedisServer();

async function runFailingJob(backoff: { type: 'fixed' | 'exponential'; delay: number }, attempts: number) {
  const { queue, producer, newConsumer } = testQueue(redis, 'retry');
  const tries: { attempt: number; at: number }[] = [];
  const events: string[] = [];
  let deadError: unknown;
  const consumer = newConsumer({
    pollInterval: 60_000,
    handler: async (job: Job) => {
      tries.push({ attempt: job.attempt, at: Date.now() });
      throw new Error(`smtp refused try ${job.attempt}`);
    },
  });
  consumer.on('failed', () => events.push('failed'));
  consumer.on('retrying', (_job, _err, delay) => events.push(`retrying:${delay}`));
  consumer.on('dead', (_job, err) => {
    events.push('dead');
    deadError = err;
  });
  await consumer.start();
  const { id } = await producer.enqueue(queue, { to: 'a@b.c' }, { attempts, backoff });
  await waitUntil(() => events.includes('dead'), { timeout: 10_000, what: 'the job to die' });
  const job = await producer.getJob(queue, id);
  await consumer.close();
  return { tries, events, deadError, job };
}

describe('a job whose handler always fails', () => {
  it('is retried after a fixed backoff until its attempts run out, then dead with the last error', async () => {
    const { tries, events, deadError, job } = await runFailingJob({ type: 'fixed', delay: 300 }, 3);
    expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
    for (let i = 1; i < tries.length; i++) expect(tries[i]!.at - tries[i - 1]!.at).toBeGreaterThanOrEqual(295);
    expect(events).toEqual(['failed', 'retrying:300', 'failed', 'retrying:300', 'failed', 'dead']);
    expect((deadError as Error).message).toBe('smtp refused try 3');
    expect(job?.state).toBe('dead');
    expect(job?.attempts).toBe(3);
    expect(job?.error).toBe('Error: smtp refused try 3');
  });

  it('doubles an exponential backoff after each try', async () => {
    const { tries, events, job } = await runFailingJob({ type: 'exponential', delay: 200 }, 4);
    expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3, 4]);
    const gaps = tries.slice(1).map((t, i) => t.at - tries[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(195);
    expect(gaps[1]).toBeGreaterThanOrEqual(395);
    expect(gaps[2]).toBeGreaterThanOrEqual(795);
    expect(events.filter((e) => e.startsWith('retrying'))).toEqual(['retrying:200', 'retrying:400', 'retrying:800']);
    expect(job?.state).toBe('dead');
  });

  it('that throws something other than an Error: listeners get an Error whose cause is the thrown value', async () => {
    const { queue, producer, newConsumer } = testQueue(redis, 'retry-thrown');
    const received: { event: string; err: unknown }[] = [];
    const thrown = [undefined, 'smtp refused', { code: 550 }];
    const consumer = newConsumer({
      handler: async (job: Job) => {
        throw thrown[(job.payload as { k: number }).k];
      },
    });
    consumer.on('failed', (_job, err) => received.push({ event: 'failed', err }));
    consumer.on('dead', (_job, err) => received.push({ event: 'dead', err }));
    await consumer.start();
    for (let k = 0; k < thrown.length; k++) await producer.enqueue(queue, { k }, { attempts: 1 });
    await waitUntil(() => received.length === 2 * thrown.length, { what: 'failed and dead for each job' });
    await consumer.close();
    for (const { err } of received) {
      expect(err).toBeInstanceOf(Error);
      expect(thrown).toContain((err as Error).cause);
      expect(typeof (err as Error).message).toBe('string');
    }
    const causes = received.filter((r) => r.event === 'dead').map((r) => (r.err as Error).cause);
    expect(new Set(causes)).toEqual(new Set(thrown));
    const fromString = received.find((r) => (r.err as Error).cause === 'smtp refused')?.err as Error;
    expect(fromString.message).toContain('smtp refused');
  });
});
