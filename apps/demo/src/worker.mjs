// @ts-check
// The consumer side: one worker process running jobs from every demo queue. main.mjs forks
// two of them; each reports every outcome to its parent over IPC so the driver can count
// jobs and measure latency without polling Redis.
//
// Run on its own: REDIS_URL=redis://127.0.0.1:6379 DEMO_PREFIX=demo node src/worker.mjs
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, closeOnSignal } from '@docket/consumer';
import { allQueues } from './queues.mjs';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = process.env.DEMO_PREFIX || 'demo';
const name = process.env.DEMO_WORKER_NAME || `worker ${process.pid}`;

/**
 * When each try's handler started, keyed by the job object: docket hands the handler and
 * the outcome events the same (frozen) object, so no id bookkeeping is needed, and entries
 * vanish with the job.
 * @type {WeakMap<object, number>}
 */
const startedAt = new WeakMap();

const consumer = new Consumer({
  connection: redisUrl,
  prefix,
  queues: allQueues,
  concurrency: 20,
  async handler(job, { signal }) {
    startedAt.set(job, Date.now());
    const { workMs = 5, failTimes = 0 } = job.payload;
    // Pass the signal on, as real work should: on shutdown (or timeout) the sleep stops at
    // once and the job goes back to the queue instead of holding up the close.
    await sleep(workMs, undefined, { signal });
    if (job.attempt <= failTimes) {
      throw new Error(`simulated failure (try ${job.attempt}, planned to fail ${failTimes > 1000 ? 'always' : `${failTimes}x`})`);
    }
    return job.queue === 'emails' ? { messageId: randomUUID() } : { rows: 1 + Math.floor(Math.random() * 500) };
  },
});

/**
 * Sends one outcome to the parent. Only outcomes Redis has accepted reach these events, so
 * what the driver counts is what is stored.
 * @param {'completed' | 'retrying' | 'dead'} type
 * @param {import('@docket/consumer').Job} job
 * @param {unknown} [error]
 */
function report(type, job, error) {
  // The events type jobs as Job<unknown> (they are not tied to the consumer's queues), but
  // every job here came from one of our queues.
  const payload = /** @type {import('./queues.mjs').DemoFields} */ (job.payload);
  const message = {
    type,
    worker: name,
    queue: job.queue,
    id: job.id,
    attempt: job.attempt,
    enqueuedAt: payload.enqueuedAt ?? job.createdAt,
    startedAt: startedAt.get(job) ?? 0,
    finishedAt: Date.now(),
    ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }),
  };
  if (process.send) process.send(message);
  else console.log(`[${name}] ${type} ${job.queue}/${job.id} try ${job.attempt}${message.error ? `: ${message.error}` : ''}`);
}

consumer.on('completed', (job) => report('completed', job));
consumer.on('retrying', (job, error) => report('retrying', job, error));
consumer.on('dead', (job, error) => report('dead', job, error));
// Trouble outside a handler (Redis down, a lost lease): the consumer carries on by itself,
// this only makes it visible.
consumer.on('error', (err) => console.error(`[${name}] ${err.message}`));

await consumer.start();
process.send?.({ type: 'ready', worker: name });

// closeOnSignal does the graceful close (and logs it). `exit: false` because its
// process.exit() could drop outcome messages still queued on the IPC channel; we exit
// ourselves once close() (the same, shared close) has finished.
closeOnSignal(consumer, { timeout: 5_000, exit: false });
const exitWhenClosed = () =>
  consumer.close().then(() => {
    // The send callback runs once this last message is written, and IPC keeps order: every
    // outcome before it has reached the parent. Exiting right away also saves the ~2 s the
    // process would otherwise linger while ioredis waits for its blocking socket to close.
    if (process.send && process.connected) process.send({ type: 'closed', worker: name }, () => process.exit(0));
    else process.exit(0);
  }, () => process.exit(1)); // closeOnSignal has already printed why
process.once('SIGTERM', exitWhenClosed);
process.once('SIGINT', exitWhenClosed);
// If the parent dies without telling us, do not linger as an orphan holding jobs.
process.once('disconnect', exitWhenClosed);
