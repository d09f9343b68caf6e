import {
  type ConnectionInput,
  type QueueDefinition,
  type QueueKeys,
  type RedisClient,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_PREFIX,
  DocketError,
  LuaScript,
  RECORD_LUA,
  checkInteger,
  checkKnownKeys,
  checkPlainObject,
  checkPrefix,
  checkQueue,
  composeLua,
  encodeChecked,
  encodeRecord,
  ensureQueueMeta,
  invalid,
  openConnection,
  queueKeyList,
  queueKeys,
  redisError,
} from '@docket/protocol';
import { getStrategy } from '@docket/scheduler';
import enqueueLua from './enqueue.lua';
import { type JobInfo, toJobInfo } from './job-info.js';
import { type JobOptions, type NormalizedJob, checkPayloadArgument, normalizeJobOptions } from './options.js';

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
   * Largest encoded payload accepted, in bytes.
   * @default 1048576 (1 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * Most jobs sent in one script call by `enqueueMany`.
   * @default 1000
   */
  chunkSize?: number;
}

/** What `enqueue` resolves with. */
export interface EnqueuedJob {
  id: string;
  queue: string;
  /** False when a job with this id already existed, so nothing new was enqueued. */
  created: boolean;
}

/** One job of `enqueueMany`. */
export interface JobToEnqueue<Payload> {
  payload: Payload;
  opts?: JobOptions;
}

interface QueueState {
  keys: QueueKeys;
  keyList: string[];
  script: LuaScript;
  ready: Promise<void> | undefined;
}

/**
 * The enqueue side of docket: safe in a web request path (no timers, no blocking
 * connections). One instance per process is enough; it is cheap to share.
 *
 * @example
 * const producer = new Producer({ connection: process.env.REDIS_URL });
 * const job = await producer.enqueue(emails, { to: 'a@b.c' }, { attempts: 5 });
 */
export class Producer {
  readonly #client: RedisClient;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #maxPayloadBytes: number;
  readonly #chunkSize: number;
  readonly #queues = new Map<string, QueueState>();
  #closed = false;

  constructor(options: ProducerOptions) {
    const o = checkPlainObject('options', options);
    checkKnownKeys('options', o, ['connection', 'prefix', 'maxPayloadBytes', 'chunkSize']);
    this.#prefix = options.prefix === undefined ? DEFAULT_PREFIX : checkPrefix(options.prefix);
    this.#maxPayloadBytes =
      options.maxPayloadBytes === undefined ? DEFAULT_MAX_PAYLOAD_BYTES : checkInteger('maxPayloadBytes', options.maxPayloadBytes, 1, 512 * 1024 * 1024);
    this.#chunkSize = options.chunkSize === undefined ? 1000 : checkInteger('chunkSize', options.chunkSize, 1, 100_000);
    const { client, owned } = openConnection(options.connection, { enableAutoPipelining: true });
    this.#client = client;
    this.#owned = owned;
    // ioredis reports connection trouble as 'error' events; the failing command rejects with
    // the details, so the event needs no second report (and must not crash the process).
    if (owned) client.on('error', () => {});
  }

  /**
   * Enqueues one job. Resolves once the job is stored in Redis.
   *
   * @example
   * await producer.enqueue(emails, { to: 'a@b.c' }, { id: 'welcome:42', delay: 5_000 });
   */
  async enqueue<Payload>(queue: QueueDefinition<Payload>, payload: Payload, opts?: JobOptions): Promise<EnqueuedJob> {
    const [job] = await this.#enqueue(queue, [{ payload, ...(opts === undefined ? {} : { opts }) }], false);
    return job as EnqueuedJob;
  }

  /**
   * Enqueues many jobs of one queue, one round trip per chunk of `chunkSize` jobs. Every job
   * is validated before any is sent; the result has one entry per job, in order.
   */
  async enqueueMany<Payload>(queue: QueueDefinition<Payload>, jobs: readonly JobToEnqueue<Payload>[]): Promise<EnqueuedJob[]> {
    if (!Array.isArray(jobs)) throw invalid('jobs', 'an array of { payload, opts }', jobs);
    return this.#enqueue(queue, jobs, true);
  }

  async #enqueue(queueArg: QueueDefinition, jobs: readonly JobToEnqueue<unknown>[], many: boolean): Promise<EnqueuedJob[]> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    const now = Date.now();
    // Encode and validate everything first: one bad job rejects the call before anything is sent.
    const args: (string | number | Buffer)[][] = [];
    for (let i = 0; i < jobs.length; i++) {
      const item = jobs[i];
      if (typeof item !== 'object' || item === null) throw invalid(`jobs[${i}]`, 'an object { payload, opts }', item);
      let job: NormalizedJob;
      let payload: Buffer;
      try {
        checkPayloadArgument(item.payload);
        job = normalizeJobOptions(queue, item.opts, now);
        payload = encodeChecked(item.payload, this.#maxPayloadBytes);
      } catch (err) {
        // In a batch, say which job was refused (nothing of the batch has been sent).
        if (!many || !(err instanceof DocketError)) throw err;
        throw new DocketError(err.code, `jobs[${i}]: ${err.message}`, { cause: err, queue: queue.name });
      }
      const record = encodeRecord(
        {
          state: job.delay > 0 ? 'delayed' : 'waiting',
          attempt: 0,
          maxAttempts: job.attempts,
          token: 0,
          createdAt: now,
          startedAt: 0,
          finishedAt: 0,
          runAt: 0,
          timeout: job.timeout,
          backoff: job.backoff,
          priority: job.priority,
          error: undefined,
        },
        payload,
      );
      args.push([job.id, job.delay, job.priority, record]);
    }
    const state = await this.#ready(queue);
    const chunks: Promise<unknown>[] = [];
    for (let start = 0; start < args.length; start += this.#chunkSize) {
      const chunk = args.slice(start, start + this.#chunkSize);
      chunks.push(state.script.run(this.#client, state.keyList, [chunk.length, ...chunk.flat()]));
    }
    let replies: unknown[];
    try {
      replies = await Promise.all(chunks);
    } catch (err) {
      throw redisError(err, `Enqueueing to queue "${queue.name}"`, queue.name);
    }
    const out: EnqueuedJob[] = [];
    for (const reply of replies as (Buffer | number)[][]) {
      for (let i = 0; i < reply.length; i += 2) {
        out.push({ id: String(reply[i]), queue: queue.name, created: reply[i + 1] === 1 });
      }
    }
    return out;
  }

  /** A snapshot of a job, or null if no job with this id exists (any more). */
  async getJob<Payload>(queueArg: QueueDefinition<Payload>, id: string): Promise<JobInfo<Payload> | null> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    if (typeof id !== 'string' || id.length === 0) throw invalid('id', 'a non-empty string', id);
    const state = await this.#ready(queue);
    let record: Buffer | null;
    try {
      record = await this.#client.hgetBuffer(state.keys.jobs, id);
    } catch (err) {
      throw redisError(err, `Reading job "${id}" of queue "${queue.name}"`, queue.name);
    }
    return record === null ? null : toJobInfo<Payload>(queue.name, id, record);
  }

  /** Closes the connection if the producer created it. Further calls reject with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new DocketError('CLOSED', 'The producer is closed');
  }

  /** Per queue, once per producer: keys, the composed script, and the meta check. */
  #ready(queue: QueueDefinition): Promise<QueueState> {
    let state = this.#queues.get(queue.name);
    if (!state) {
      const keys = queueKeys(this.#prefix, queue.name);
      const script = new LuaScript('enqueue', composeLua(RECORD_LUA, getStrategy(queue.strategy).lua, enqueueLua));
      state = { keys, keyList: queueKeyList(keys), script, ready: undefined };
      this.#queues.set(queue.name, state);
    }
    const current = state;
    current.ready ??= ensureQueueMeta(this.#client, current.keys, queue).catch((err: unknown) => {
      current.ready = undefined; // try again on the next call
      throw err;
    });
    return current.ready.then(() => current);
  }
}
