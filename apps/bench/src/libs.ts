// The three libraries behind one small interface, so every scenario runs the same code for
// each of them. Settings are each library's defaults, except that finished jobs are removed:
//   docket:    consumer keepCompleted { count: 0 }, keepDead { count: 0 }
//   BullMQ:    job options removeOnComplete: true, removeOnFail: true (as the queue's defaultJobOptions)
//   Bee-Queue: queue settings removeOnSuccess: true, removeOnFailure: true
import { createRequire } from 'node:module';
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import BeeQueue from 'bee-queue';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { LABELS, type LibraryName } from './names.js';

export { LABELS, LIBRARIES, type LibraryName } from './names.js';

/** Each library's own default key prefix; on a shared Redis a run-specific suffix is added. */
export const DEFAULT_PREFIXES: Record<LibraryName, string> = { docket: 'docket', bullmq: 'bull', 'bee-queue': 'bq' };

/** The same payload for every library: `{ i, user, email, at }`. */
export interface Payload {
  i: number;
  user: string;
  email: string;
  /** Epoch ms when created; in the latency scenario, the monotonic clock (monoMs) at enqueue. */
  at: number;
}

export function payload(i: number, at = Date.now()): Payload {
  return { i, user: `user-${i}`, email: `user-${i}@example.com`, at };
}

/**
 * Milliseconds (with microseconds) on the system-wide monotonic clock: the same clock in the
 * parent and in the consumer child, so a timestamp can travel in a payload.
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

export interface Target {
  /** The Redis URL (docket takes it as is). */
  url: string;
  /** Key prefix for this library. */
  prefix: string;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  /** Finished (completed or failed/dead) jobs still stored: 0 when removal works. */
  finishedKept: number;
}

export interface ProducerSide {
  enqueue(p: Payload): Promise<unknown>;
  /** One call of the library's bulk API (enqueueMany, addBulk, saveAll). */
  enqueueChunk(ps: Payload[]): Promise<unknown>;
  counts(): Promise<QueueCounts>;
  close(): Promise<void>;
}

export interface ConsumerHooks {
  /** Called first thing in the handler. */
  onStart(p: Payload): void;
  /** A job completed and the library has recorded it in Redis. */
  onCompleted(): void;
  /** A job failed, or the library reported an error. */
  onError(error: unknown): void;
}

export interface ConsumerSide {
  close(): Promise<void>;
}

export interface Library {
  name: LibraryName;
  label: string;
  version: string;
  producer(target: Target, queue: string): Promise<ProducerSide>;
  consumer(target: Target, queue: string, concurrency: number, hooks: ConsumerHooks): Promise<ConsumerSide>;
}

const require = createRequire(import.meta.url);
const versionOf = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;

/** host/port/credentials for the clients BullMQ (ioredis) and Bee-Queue (node_redis 3) create. */
function redisOptions(url: string): { host: string; port: number; username?: string; password?: string; db?: number } {
  const u = new URL(url);
  if (u.protocol !== 'redis:') throw new Error(`the benchmark supports redis:// URLs only, got ${u.protocol}`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
  };
}

const docket: Library = {
  name: 'docket',
  label: LABELS.docket,
  version: versionOf('@docket/producer'),
  async producer(target, name) {
    const queue = defineQueue<Payload>(name);
    const producer = new Producer({ connection: target.url, prefix: target.prefix });
    return {
      enqueue: (p) => producer.enqueue(queue, p),
      enqueueChunk: (ps) => producer.enqueueMany(queue, ps.map((p) => ({ payload: p }))),
      async counts() {
        const c = await producer.counts(queue);
        return { waiting: c.waiting + c.delayed, active: c.active, finishedKept: c.completed + c.dead };
      },
      close: () => producer.close(),
    };
  },
  async consumer(target, name, concurrency, hooks) {
    const queue = defineQueue<Payload>(name);
    const consumer = new Consumer({
      connection: target.url,
      prefix: target.prefix,
      queues: [queue],
      concurrency,
      keepCompleted: { count: 0 },
      keepDead: { count: 0 },
      handler: async (job) => {
        hooks.onStart(job.payload);
      },
    });
    consumer.on('completed', () => hooks.onCompleted());
    consumer.on('failed', (_job, error) => hooks.onError(error));
    consumer.on('error', (error) => hooks.onError(error));
    await consumer.start();
    return { close: () => consumer.close() };
  },
};

const bullmq: Library = {
  name: 'bullmq',
  label: LABELS.bullmq,
  version: versionOf('bullmq'),
  async producer(target, name) {
    const queue = new BullQueue<Payload>(name, {
      connection: redisOptions(target.url),
      prefix: target.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    queue.on('error', () => {}); // surfaced by the rejected calls instead
    await queue.waitUntilReady();
    return {
      enqueue: (p) => queue.add('job', p),
      enqueueChunk: (ps) => queue.addBulk(ps.map((p) => ({ name: 'job', data: p }))),
      async counts() {
        const c = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
        return {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0),
          active: c.active ?? 0,
          finishedKept: (c.completed ?? 0) + (c.failed ?? 0),
        };
      },
      close: () => queue.close(),
    };
  },
  async consumer(target, name, concurrency, hooks) {
    const worker = new BullWorker<Payload>(
      name,
      async (job) => {
        hooks.onStart(job.data);
      },
      { connection: redisOptions(target.url), prefix: target.prefix, concurrency },
    );
    worker.on('completed', () => hooks.onCompleted());
    worker.on('failed', (_job, error) => hooks.onError(error));
    worker.on('error', (error) => hooks.onError(error));
    await worker.waitUntilReady();
    return { close: () => worker.close() };
  },
};

function beeQueue(target: Target, name: string): BeeQueue<Payload> {
  return new BeeQueue<Payload>(name, {
    redis: redisOptions(target.url),
    prefix: target.prefix,
    removeOnSuccess: true,
    removeOnFailure: true,
  });
}

const bee: Library = {
  name: 'bee-queue',
  label: LABELS['bee-queue'],
  version: versionOf('bee-queue'),
  async producer(target, name) {
    const queue = beeQueue(target, name);
    queue.on('error', () => {}); // surfaced by the rejected calls instead
    await queue.ready();
    return {
      enqueue: (p) => queue.createJob(p).save(),
      async enqueueChunk(ps) {
        // saveAll resolves with a Map of the jobs that failed (it does not reject).
        const errors = (await queue.saveAll(ps.map((p) => queue.createJob(p)))) as Map<unknown, Error>;
        if (errors.size > 0) throw [...errors.values()][0];
      },
      async counts() {
        const c = await queue.checkHealth();
        return { waiting: c.waiting + c.delayed, active: c.active, finishedKept: c.succeeded + c.failed };
      },
      async close() {
        await queue.close();
      },
    };
  },
  async consumer(target, name, concurrency, hooks) {
    const queue = beeQueue(target, name);
    queue.on('succeeded', () => hooks.onCompleted());
    queue.on('failed', (_job, error) => hooks.onError(error));
    queue.on('error', (error) => hooks.onError(error));
    await queue.ready();
    queue.process(concurrency, async (job) => {
      hooks.onStart(job.data);
    });
    return {
      async close() {
        await queue.close();
      },
    };
  },
};

export const LIBRARY: Record<LibraryName, Library> = { docket, bullmq, 'bee-queue': bee };
