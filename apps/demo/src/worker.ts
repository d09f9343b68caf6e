// The consumer side: one worker process running jobs from every demo queue. main.ts forks
// two of them; each reports every outcome (completed, retrying, dead, cancelled) to its
// parent over IPC so the driver can count jobs and measure latency without polling Redis.
// The handler honours its AbortSignal (a job `timeout`, a cancellation, a shutdown), reports
// progress during long work and returns a small result, which docket stores.
//
// Run on its own, once built (`pnpm demo` builds it; see the README):
//   REDIS_URL=redis://127.0.0.1:6379 DEMO_PREFIX=demo node dist/worker.js
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, type Job, closeOnSignal, isDocketError } from '@docket/consumer';
import type { ClosedMessage, OutcomeMessage, OutcomeType, ReadyMessage } from './ipc-messages.js';
import { type DemoFields, type DemoProgress, allQueues } from './queues.js';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = process.env.DEMO_PREFIX || 'demo';
const name = process.env.DEMO_WORKER_NAME || `worker ${process.pid}`;

/** Work at least this long reports progress... */
const PROGRESS_FROM_MS = 200;
/** ...this often. */
const PROGRESS_EVERY_MS = 100;

/**
 * When each try's handler started and stopped, keyed by the job object: docket hands the
 * handler and the outcome events the same (frozen) object, so no id bookkeeping is needed,
 * and entries vanish with the job.
 */
const tries = new WeakMap<object, { startedAt: number; stoppedAt: number }>();

/**
 * Pretends to work for `ms`, the way real work should: it passes the signal on, so a
 * timeout, a cancellation or a shutdown stops it at once; long work reports progress.
 */
async function work(ms: number, signal: AbortSignal, progress: (value: DemoProgress) => void): Promise<void> {
  try {
    if (ms < PROGRESS_FROM_MS) {
      await sleep(ms, undefined, { signal });
      return;
    }
    const start = Date.now();
    for (let doneMs = 0; doneMs < ms; ) {
      await sleep(Math.min(PROGRESS_EVERY_MS, ms - doneMs), undefined, { signal });
      doneMs = Math.min(ms, Date.now() - start);
      progress({ percent: Math.floor((doneMs * 100) / ms), doneMs, totalMs: ms });
    }
  } catch (err) {
    // timers/promises rejects with its own AbortError; the try should fail with docket's
    // reason instead (a DocketError: TIMEOUT, CANCELLED or CLOSED), which says what happened.
    // (docket decides the outcome of a stopped try from that reason whatever the handler
    // throws, but the error the handler throws is what its own logs and callers see.)
    if (signal.aborted) throw signal.reason;
    throw err;
  }
}

const consumer = new Consumer({
  connection: redisUrl,
  prefix,
  queues: allQueues,
  concurrency: 20,
  async handler(job, { signal, progress }) {
    const t = { startedAt: Date.now(), stoppedAt: 0 };
    tries.set(job, t);
    try {
      const { workMs = 5, failTimes = 0 } = job.payload;
      await work(workMs, signal, progress);
      if (job.attempt <= failTimes) {
        throw new Error(`simulated failure (try ${job.attempt}, planned to fail ${failTimes > 1000 ? 'always' : `${failTimes}x`})`);
      }
      // The return value is the job's result: docket stores it, getJob and waitFor return it.
      return job.queue === 'emails'
        ? { sentAt: Date.now(), messageId: randomUUID() }
        : { builtAt: Date.now(), rows: 1 + Math.floor(Math.random() * 500) };
    } finally {
      t.stoppedAt = Date.now();
    }
  },
});

/**
 * Sends one outcome to the parent. Only outcomes Redis has accepted reach these events, so
 * what the driver counts is what is stored.
 */
function report(type: OutcomeType, job: Job, { error, result }: { error?: unknown; result?: unknown } = {}): void {
  // The events type jobs as Job<unknown> (they are not tied to the consumer's queues), but
  // every job here came from one of our queues.
  const payload = job.payload as DemoFields;
  const t = tries.get(job);
  const message: OutcomeMessage = {
    type,
    worker: name,
    queue: job.queue,
    id: job.id,
    attempt: job.attempt,
    enqueuedAt: payload.enqueuedAt ?? job.createdAt,
    startedAt: t?.startedAt ?? 0,
    stoppedAt: t?.stoppedAt || 0,
    finishedAt: Date.now(),
    ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }),
    ...(isDocketError(error) ? { code: error.code } : {}),
    ...(result === undefined ? {} : { result }),
  };
  if (process.send) process.send(message);
  else console.log(`[${name}] ${type} ${job.queue}/${job.id} try ${job.attempt}${message.error ? `: ${message.error}` : ''}`);
}

consumer.on('completed', (job, result) => report('completed', job, { result }));
consumer.on('retrying', (job, error) => report('retrying', job, { error }));
consumer.on('dead', (job, error) => report('dead', job, { error }));
// A running job stopped by producer.cancel (DELETE /tasks/:id): it ends `cancelled`, no retry.
consumer.on('cancelled', (job) => report('cancelled', job));
// Trouble outside a handler (Redis down, a lost lease): the consumer carries on by itself,
// this only makes it visible.
consumer.on('error', (err) => console.error(`[${name}] ${err.message}`));

await consumer.start();
process.send?.({ type: 'ready', worker: name } satisfies ReadyMessage);

// closeOnSignal does the graceful close (and logs it). `exit: false` because its
// process.exit() could drop outcome messages still queued on the IPC channel; we exit
// ourselves once close() (the same, shared close) has finished.
closeOnSignal(consumer, { timeout: 5_000, exit: false });
const exitWhenClosed = (): Promise<void> =>
  consumer.close().then(
    () => {
      // The send callback runs once this last message is written, and IPC keeps order: every
      // outcome before it has reached the parent. Exiting right away also saves the ~2 s the
      // process would otherwise linger while ioredis waits for its blocking socket to close.
      if (process.send && process.connected) process.send({ type: 'closed', worker: name } satisfies ClosedMessage, () => process.exit(0));
      else process.exit(0);
    },
    () => process.exit(1), // closeOnSignal has already printed why
  );
process.once('SIGTERM', exitWhenClosed);
process.once('SIGINT', exitWhenClosed);
// If the parent dies without telling us, do not linger as an orphan holding jobs.
process.once('disconnect', exitWhenClosed);
