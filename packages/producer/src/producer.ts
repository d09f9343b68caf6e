import { type ConnectionInput, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_PREFIX, DocketError, MAX_PAYLOAD_CEILING, type QueueDefinition } from '@docket/protocol';
import { type RedisClient, checkConnection, checkPayloadLimit, openConnection } from '@docket/protocol/internal';
import { MAX_TIMER_MS, checkInteger, checkKnownKeys, checkPlainObject, checkPrefix, checkQueue, invalid, validating } from '@docket/protocol/internal';
import { Admin, type QueueCounts } from './admin.js';
import { type EnqueuedJob, Enqueuer, type JobToEnqueue } from './enqueue.js';
import type { JobInfo } from './job-info.js';
import type { JobOptions } from './options.js';
import { QueueAccess } from './queue-access.js';
import { JobWaiter, type WaitForOptions } from './wait-for.js';

export type { EnqueuedJob, JobToEnqueue } from './enqueue.js';
export type { QueueCounts } from './admin.js';

export interface ProducerOptions {
  /**
   * A Redis URL, ioredis options, or an ioredis instance (which docket then does not close).
   * @default 'redis://127.0.0.1:6379'
   */
  connection?: ConnectionInput;
  /**
   * Prefix of every key; producers and consumers of a queue must use the same one.
   * @default 'docket'
   */
  prefix?: string;
  /**
   * Largest encoded payload accepted, in bytes; at most 16 MiB (`MAX_PAYLOAD_CEILING`): Redis
   * serves no other client while it copies a payload (about 5 ms per MiB), so keep payloads
   * small and pass large data by reference (a key in object storage).
   * @default 1048576 (1 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * Most jobs sent in one script call by `enqueueMany` (at most 10,000: each job is 4 script
   * arguments, and ioredis passes a call's arguments on the stack).
   * @default 1000
   */
  chunkSize?: number;
  /**
   * Longest ms a call waits for a usable connection while there is none (at first use, or
   * while Redis is unreachable); it then rejects with `CONNECTION_FAILED`, naming the address
   * and the last connection error. Refused credentials reject at once with `AUTH_FAILED`.
   * @default 10000
   */
  connectTimeout?: number;
}

/**
 * The enqueue side of docket: safe in a web request path (no timers, no blocking
 * connections). One instance per process is enough; it is cheap to share. Its parts:
 * enqueue.ts (prepare, pack, batching), wait-for.ts, admin.ts, queue-access.ts and scripts.ts.
 *
 * @example
 * const producer = new Producer({ connection: process.env.REDIS_URL });
 * const job = await producer.enqueue(emails, { to: 'a@b.c' }, { attempts: 5 });
 */
export class Producer {
  readonly #client: RedisClient;
  readonly #owned: boolean;
  readonly #access: QueueAccess;
  readonly #enqueuer: Enqueuer;
  readonly #admin: Admin;
  readonly #waiter: JobWaiter;
  #closed = false;

  constructor(options: ProducerOptions) {
    const o = validating('options', () => {
      const given = checkPlainObject('options', options);
      checkKnownKeys('options', given, ['connection', 'prefix', 'maxPayloadBytes', 'chunkSize', 'connectTimeout']);
      return {
        prefix: given.prefix === undefined ? DEFAULT_PREFIX : checkPrefix(given.prefix),
        maxPayloadBytes:
          given.maxPayloadBytes === undefined ? DEFAULT_MAX_PAYLOAD_BYTES : checkPayloadLimit('maxPayloadBytes', given.maxPayloadBytes),
        chunkSize: given.chunkSize === undefined ? 1000 : checkInteger('chunkSize', given.chunkSize, 1, 10_000),
        connectTimeout: given.connectTimeout === undefined ? 10_000 : checkInteger('connectTimeout', given.connectTimeout, 1, MAX_TIMER_MS),
        connection: checkConnection(given.connection),
      };
    });
    // No ioredis auto-pipelining: enqueues made in one turn of the event loop are already one
    // script call (enqueue.ts), and auto-pipelining would add a Pipeline object and a deferral
    // to each (measured at 2,000 jobs/s: producer CPU 80 -> 68 us/job, p99 1.4-2.1 -> 0.9-1.1 ms).
    const { client, owned } = openConnection(o.connection, { enableAutoPipelining: false });
    this.#client = client;
    this.#owned = owned;
    // ioredis reports connection trouble as 'error' events; the failing command rejects with
    // the details, so the event needs no second report (and must not crash the process).
    if (owned) client.on('error', () => {});
    this.#access = new QueueAccess(client, o.prefix, o.connectTimeout);
    this.#enqueuer = new Enqueuer(this.#access, o.maxPayloadBytes, o.chunkSize);
    this.#admin = new Admin(this.#access);
    this.#waiter = new JobWaiter(o.connection, o.prefix, o.connectTimeout, (queue, id) => this.#admin.getJob(queue, id));
  }

  /**
   * Enqueues one job. Resolves once the job is stored in Redis.
   *
   * @example
   * await producer.enqueue(emails, { to: 'a@b.c' }, { id: 'welcome:42', delay: 5_000 });
   */
  async enqueue<Payload>(queue: QueueDefinition<Payload>, payload: Payload, opts?: JobOptions): Promise<EnqueuedJob> {
    return this.#enqueuer.one(this.#open(queue), payload, opts);
  }

  /**
   * Enqueues many jobs of one queue, one round trip per chunk of `chunkSize` jobs. Every job
   * is validated before any is sent; the result has one entry per job, in order.
   */
  async enqueueMany<Payload>(queue: QueueDefinition<Payload>, jobs: readonly JobToEnqueue<Payload>[]): Promise<EnqueuedJob[]> {
    if (!validating('jobs', () => Array.isArray(jobs))) throw invalid('jobs', 'an array of { payload, opts }', jobs);
    return this.#enqueuer.many(this.#open(queue), jobs);
  }

  /** A snapshot of a job, or null if no job with this id exists (any more). */
  async getJob<Payload, Result>(queue: QueueDefinition<Payload, Result>, id: string): Promise<JobInfo<Payload, Result> | null> {
    return this.#admin.getJob(this.#open(queue) as QueueDefinition<Payload, Result>, id);
  }

  /**
   * Cancels a job. A waiting or delayed job (or one waiting to retry) is cancelled at once.
   * For an active job, its handler's signal aborts (across processes, within moments) and the
   * job ends `cancelled` when the handler stops, without a retry. Resolves true in both
   * cases, false if there was nothing to cancel (no such job, or it already finished).
   */
  async cancel(queue: QueueDefinition, id: string): Promise<boolean> {
    return this.#admin.cancel(this.#open(queue), id);
  }

  /**
   * Waits until a job finishes. Resolves with its result; rejects with a DocketError:
   * `JOB_FAILED` (dead; the message carries its last error), `CANCELLED`, `NOT_FOUND`, or
   * `TIMEOUT` after `timeout` ms (the job itself is not affected), `CLOSED` if the producer
   * closes, or the `signal`'s reason if it aborts (e.g. the HTTP client went away). Listens to
   * the queue's event feed (one blocking connection per queue, opened on first use), never
   * polls. A job whose result retention already removed rejects with `NOT_FOUND`.
   *
   * @example
   * const { id } = await producer.enqueue(reports, { month: '2026-10' });
   * const url = await producer.waitFor(reports, id, { timeout: 10_000 });
   */
  async waitFor<Result>(queue: QueueDefinition<unknown, Result>, id: string, options: WaitForOptions = {}): Promise<Result> {
    const q = this.#open(queue) as QueueDefinition<unknown, Result>;
    return this.#waiter.waitFor(q, id, options, () => this.#access.ready(q));
  }

  /** How many jobs the queue holds in each state, and whether it is paused. O(1). */
  async counts(queue: QueueDefinition): Promise<QueueCounts> {
    return this.#admin.counts(this.#open(queue));
  }

  /** Pauses a queue: consumers finish running jobs but lease no new ones; enqueueing still works. */
  async pause(queue: QueueDefinition): Promise<void> {
    await this.#admin.setPaused(this.#open(queue), true);
  }

  /** Resumes a paused queue; idle consumers are woken. */
  async resume(queue: QueueDefinition): Promise<void> {
    await this.#admin.setPaused(this.#open(queue), false);
  }

  /** Dead jobs, newest first, with their errors. */
  async listDead<Payload>(queue: QueueDefinition<Payload>, options: { offset?: number; limit?: number } = {}): Promise<JobInfo<Payload>[]> {
    return this.#admin.listDead(this.#open(queue) as QueueDefinition<Payload>, options);
  }

  /**
   * Gives dead jobs another run: they start over (attempts 0) through the queue's strategy.
   * Without `ids`, requeues every dead job. Resolves with how many were requeued.
   */
  async requeueDead(queue: QueueDefinition, ids?: readonly string[]): Promise<number> {
    return this.#admin.deadAction(this.#open(queue), 'requeue', ids);
  }

  /** Deletes dead jobs for good (all of them without `ids`). Resolves with how many. */
  async purgeDead(queue: QueueDefinition, ids?: readonly string[]): Promise<number> {
    return this.#admin.deadAction(this.#open(queue), 'purge', ids);
  }

  /** Closes the connection if the producer created it. Further calls reject with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Enqueues still waiting for their shared call go out before the connection closes.
    this.#enqueuer.flushAll();
    await this.#waiter.close();
    this.#access.clear();
    if (!this.#owned) return;
    if (this.#client.status !== 'ready') {
      // QUIT would wait in ioredis's queue for a connection that may never come (up to
      // maxRetriesPerRequest reconnects); calls still queued there reject with the closing.
      this.#client.disconnect();
      return;
    }
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }

  /** Throws CLOSED after close(), and INVALID_ARGUMENT for something that is not a queue. */
  #open(queue: unknown): QueueDefinition {
    if (this.#closed) throw new DocketError('CLOSED', 'The producer is closed');
    return checkQueue(queue);
  }
}
