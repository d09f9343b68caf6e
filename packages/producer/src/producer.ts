import {
  type ConnectionInput,
  type QueueDefinition,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_PREFIX,
  DocketError,
} from '@docket/protocol';
import {
  type QueueKeys,
  type RedisClient,
  LuaScript,
  MAX_TIMER_MS,
  RECORD_LUA,
  checkInteger,
  checkKnownKeys,
  checkPlainObject,
  checkPrefix,
  checkConnection,
  checkQueue,
  composeLua,
  encodeChecked,
  encodeRecordHead,
  ensureQueueMeta,
  invalid,
  openConnection,
  queueKeyList,
  queueKeys,
  redisError,
  waitForConnection,
  validating,
} from '@docket/protocol/internal';
import { getStrategy } from '@docket/scheduler';
import cancelLua from './cancel.lua';
import countsLua from './counts.lua';
import deadLua from './dead.lua';
import enqueueLua from './enqueue.lua';
import { type QueueEvent, QueueEvents } from './events.js';
import { type JobInfo, deadJobInfo, toJobInfo } from './job-info.js';
import pauseLua from './pause.lua';
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

/** How many jobs a queue holds in each state. */
export interface QueueCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  dead: number;
  cancelled: number;
  paused: boolean;
}

interface QueueState {
  keys: QueueKeys;
  keyList: string[];
  scripts: { enqueue: LuaScript; cancel: LuaScript; counts: LuaScript; pause: LuaScript; dead: LuaScript };
  ready: Promise<void> | undefined;
}

/** One shared event-feed reader per queue for waitFor, with the calls waiting on it. */
interface Waiters {
  events: QueueEvents;
  started: Promise<void>;
  byJob: Map<string, Set<(event: QueueEvent) => void>>;
}

const FINAL_EVENTS = new Set(['completed', 'dead', 'cancelled']);

/**
 * The enqueue side of docket: safe in a web request path (no timers, no blocking
 * connections). One instance per process is enough; it is cheap to share.
 *
 * @example
 * const producer = new Producer({ connection: process.env.REDIS_URL });
 * const job = await producer.enqueue(emails, { to: 'a@b.c' }, { attempts: 5 });
 */
/**
 * Payload bytes after which a script call is sent without waiting for more jobs: far below
 * Redis's 512 MB limit for one argument, and small enough not to stall Redis on one call.
 */
const MAX_CALL_BYTES = 8 * 1024 * 1024;

/** One validated, encoded job: its spec (see enqueue.lua) and its record, as head + payload. */
interface PreparedJob {
  /** The id the caller gave, '' for a generated one. */
  id: string;
  spec: string;
  head: Buffer;
  payload: Buffer;
}

/** The enqueued jobs of one enqueue.lua call, from its reply { first generated id - 1, created flags }. */
function enqueued(queue: string, jobs: readonly PreparedJob[], reply: unknown): EnqueuedJob[] {
  const [base, flags] = reply as [number, Buffer | string];
  const created = String(flags);
  let generated = Number(base);
  return jobs.map((job, i) => ({ id: job.id === '' ? String(++generated) : job.id, queue, created: created[i] === '1' }));
}

/**
 * Jobs as enqueue.lua's one packed argument: per job, a 2-byte spec length, the spec, a
 * 4-byte record length and the record (copied straight from its head and payload).
 */
function packJobs(jobs: readonly PreparedJob[]): Buffer {
  let size = 0;
  for (const job of jobs) size += 6 + Buffer.byteLength(job.spec) + job.head.length + job.payload.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const { spec, head, payload } of jobs) {
    const specLength = spec === '' ? 0 : out.write(spec, at + 2);
    out.writeUInt16BE(specLength, at);
    at += 2 + specLength;
    out.writeUInt32BE(head.length + payload.length, at);
    at += 4;
    out.set(head, at);
    at += head.length;
    out.set(payload, at);
    at += payload.length;
  }
  return out;
}

export class Producer {
  readonly #client: RedisClient;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #maxPayloadBytes: number;
  readonly #chunkSize: number;
  readonly #queues = new Map<string, QueueState>();
  readonly #waiters = new Map<string, Waiters>();
  /** Single enqueues waiting (until the next turn of the event loop) to share a script call. */
  /** The options of a job enqueued without any (they depend neither on the queue nor on the time). */
  #plainJob: NormalizedJob | undefined;
  /** The encoded header shared by jobs without options, for one `Date.now()` value. */
  #plainHead: { at: number; bytes: Buffer } | undefined;
  readonly #batches = new Map<
    string,
    { queue: QueueDefinition; state: QueueState; bytes: number; items: { args: PreparedJob; resolve(job: EnqueuedJob): void; reject(err: unknown): void }[] }
  >();
  /** Rejects every pending waitFor (on close). */
  readonly #pendingWaits = new Set<(err: Error) => void>();
  readonly #connection: unknown;
  readonly #connectTimeout: number;
  /** The wait for a usable connection, shared by every call made meanwhile. */
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(options: ProducerOptions) {
    const o = validating('options', () => {
      const given = checkPlainObject('options', options);
      checkKnownKeys('options', given, ['connection', 'prefix', 'maxPayloadBytes', 'chunkSize', 'connectTimeout']);
      return {
        prefix: given.prefix === undefined ? DEFAULT_PREFIX : checkPrefix(given.prefix),
        maxPayloadBytes:
          given.maxPayloadBytes === undefined ? DEFAULT_MAX_PAYLOAD_BYTES : checkInteger('maxPayloadBytes', given.maxPayloadBytes, 1, 512 * 1024 * 1024),
        chunkSize: given.chunkSize === undefined ? 1000 : checkInteger('chunkSize', given.chunkSize, 1, 10_000),
        connectTimeout: given.connectTimeout === undefined ? 10_000 : checkInteger('connectTimeout', given.connectTimeout, 1, MAX_TIMER_MS),
        connection: checkConnection(given.connection),
      };
    });
    this.#prefix = o.prefix;
    this.#maxPayloadBytes = o.maxPayloadBytes;
    this.#chunkSize = o.chunkSize;
    this.#connectTimeout = o.connectTimeout;
    this.#connection = o.connection;
    // No ioredis auto-pipelining: enqueues made in one turn of the event loop are already one
    // script call (see enqueue), and auto-pipelining would add a Pipeline object and a deferral
    // to each (measured at 2,000 jobs/s: producer CPU 80 -> 68 us/job, p99 1.4-2.1 -> 0.9-1.1 ms).
    const { client, owned } = openConnection(o.connection, { enableAutoPipelining: false });
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
  async enqueue<Payload>(queueArg: QueueDefinition<Payload>, payload: Payload, opts?: JobOptions): Promise<EnqueuedJob> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    const args = this.#prepare(queue, { payload, ...(opts === undefined ? {} : { opts }) }, 0, false, Date.now());
    const state = await this.#ready(queue);
    // Enqueues to one queue made in the same turn of the event loop (a web server under load,
    // Promise.all over a list) share one script call: the per-call cost is paid once.
    return new Promise<EnqueuedJob>((resolve, reject) => {
      let batch = this.#batches.get(queue.name);
      if (!batch) {
        batch = { queue, state, items: [], bytes: 0 };
        this.#batches.set(queue.name, batch);
        setImmediate(() => this.#flush(queue.name));
      }
      batch.items.push({ args, resolve, reject });
      batch.bytes += args.payload.length;
      if (batch.items.length >= this.#chunkSize || batch.bytes >= MAX_CALL_BYTES) this.#flush(queue.name);
    });
  }

  /** Sends the enqueues waiting for one queue as one script call. */
  #flush(name: string): void {
    const batch = this.#batches.get(name);
    if (!batch || batch.items.length === 0) return;
    this.#batches.delete(name);
    const { queue, state, items } = batch;
    const args = [items.length, packJobs(items.map((item) => item.args))];
    state.scripts.enqueue.run(this.#client, state.keyList, args).then(
      (reply) => {
        const jobs = enqueued(queue.name, items.map((item) => item.args), reply);
        items.forEach((item, i) => item.resolve(jobs[i] as EnqueuedJob));
      },
      (err: unknown) => {
        const error = redisError(err, `Enqueueing to queue "${queue.name}"`, queue.name);
        for (const item of items) item.reject(error);
      },
    );
  }

  /**
   * Enqueues many jobs of one queue, one round trip per chunk of `chunkSize` jobs. Every job
   * is validated before any is sent; the result has one entry per job, in order.
   */
  async enqueueMany<Payload>(queue: QueueDefinition<Payload>, jobs: readonly JobToEnqueue<Payload>[]): Promise<EnqueuedJob[]> {
    if (!validating('jobs', () => Array.isArray(jobs))) throw invalid('jobs', 'an array of { payload, opts }', jobs);
    return this.#enqueue(queue, jobs, true);
  }

  /** Validates and encodes one job (see enqueue.lua for what is sent). */
  #prepare(queue: QueueDefinition, item: JobToEnqueue<unknown>, i: number, many: boolean, now: number): PreparedJob {
    const { payload: value, opts } = validating(`jobs[${i}]`, () => {
      if (typeof item !== 'object' || item === null) throw invalid(`jobs[${i}]`, 'an object { payload, opts }', item);
      // A misspelt `opts` (`options`) would otherwise enqueue the job with every default.
      if (many) checkKnownKeys(`jobs[${i}]`, item as unknown as Record<string, unknown>, ['payload', 'opts']);
      return { payload: item.payload, opts: item.opts };
    });
    let job: NormalizedJob;
    let payload: Buffer;
    try {
      checkPayloadArgument(value);
      job = opts === undefined ? (this.#plainJob ??= normalizeJobOptions(queue, undefined, now)) : normalizeJobOptions(queue, opts, now);
      payload = encodeChecked(value, this.#maxPayloadBytes);
    } catch (err) {
      // In a batch, say which job was refused (nothing of the batch has been sent).
      if (!many || !(err instanceof DocketError)) throw err;
      throw new DocketError(err.code, `jobs[${i}]: ${err.message}`, { cause: err, queue: queue.name });
    }
    // Jobs without options (the common case) share one encoded header per millisecond.
    const plain = opts === undefined;
    let head = plain && this.#plainHead?.at === now ? this.#plainHead.bytes : undefined;
    if (!head) {
      head = encodeRecordHead({
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
        cancelRequested: false,
        dedupeFor: job.dedupeFor,
      });
      if (plain) this.#plainHead = { at: now, bytes: head };
    }
    return { id: job.id, spec: plain ? '' : `${job.delay}:${job.priority}:${job.id}`, head, payload };
  }

  async #enqueue(queueArg: QueueDefinition, jobs: readonly JobToEnqueue<unknown>[], many: boolean): Promise<EnqueuedJob[]> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    const now = Date.now();
    // Encode and validate everything first: one bad job rejects the call before anything is sent.
    const args = jobs.map((item, i) => this.#prepare(queue, item, i, many, now));
    const state = await this.#ready(queue);
    const chunks: Promise<unknown>[] = [];
    const sent: PreparedJob[][] = [];
    // A chunk holds at most chunkSize jobs and about MAX_CALL_BYTES of payloads.
    let chunk: PreparedJob[] = [];
    let bytes = 0;
    const send = () => {
      chunks.push(state.scripts.enqueue.run(this.#client, state.keyList, [chunk.length, packJobs(chunk)]));
      sent.push(chunk);
      chunk = [];
      bytes = 0;
    };
    for (const job of args) {
      chunk.push(job);
      bytes += job.payload.length;
      if (chunk.length >= this.#chunkSize || bytes >= MAX_CALL_BYTES) send();
    }
    if (chunk.length > 0) send();
    let replies: unknown[];
    try {
      replies = await Promise.all(chunks);
    } catch (err) {
      throw redisError(err, `Enqueueing to queue "${queue.name}"`, queue.name);
    }
    const out: EnqueuedJob[] = [];
    replies.forEach((reply, k) => out.push(...enqueued(queue.name, sent[k] as PreparedJob[], reply)));
    return out;
  }

  /** A snapshot of a job, or null if no job with this id exists (any more). */
  async getJob<Payload, Result>(queueArg: QueueDefinition<Payload, Result>, id: string): Promise<JobInfo<Payload, Result> | null> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    checkId(id);
    const { keys } = await this.#ready(queue);
    let replies: (Buffer | null)[];
    try {
      // Sent back to back: one round trip.
      replies = await Promise.all([
        this.#client.hgetBuffer(keys.jobs, id),
        this.#client.hgetBuffer(keys.results, id),
        this.#client.hgetBuffer(keys.progress, id),
      ]);
    } catch (err) {
      throw redisError(err, `Reading job "${id}" of queue "${queue.name}"`, queue.name);
    }
    const [record, result, progress] = replies;
    return record ? toJobInfo<Payload, Result>(queue.name, id, record, result, progress) : null;
  }

  /**
   * Cancels a job. A waiting or delayed job (or one waiting to retry) is cancelled at once.
   * For an active job, its handler's signal aborts (across processes, within moments) and the
   * job ends `cancelled` when the handler stops, without a retry. Resolves true in both
   * cases, false if there was nothing to cancel (no such job, or it already finished).
   */
  async cancel(queueArg: QueueDefinition, id: string): Promise<boolean> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    checkId(id);
    const state = await this.#ready(queue);
    try {
      const reply = await state.scripts.cancel.run(this.#client, state.keyList, [id, state.keys.cancelChannel]);
      return reply !== 0;
    } catch (err) {
      throw redisError(err, `Cancelling job "${id}" of queue "${queue.name}"`, queue.name);
    }
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
  async waitFor<Result>(
    queueArg: QueueDefinition<unknown, Result>,
    id: string,
    options: { timeout?: number; signal?: AbortSignal } = {},
  ): Promise<Result> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    checkId(id);
    const o = checkPlainObject('options', options);
    checkKnownKeys('options', o, ['timeout', 'signal']);
    const timeout = options.timeout === undefined ? 30_000 : checkInteger('timeout', options.timeout, 1, MAX_TIMER_MS);
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', signal);
    signal?.throwIfAborted();
    if (!queue.events) {
      throw new DocketError('INVALID_ARGUMENT', `waitFor needs the event feed, but queue "${queue.name}" is defined with events: false`);
    }
    await this.#ready(queue);
    const waiters = this.#waitersFor(queue);
    // The reader pins its position before the job is looked up, so a job finishing in between
    // is seen either in the lookup or in the feed.
    await waiters.started;
    return new Promise<Result>((resolve, reject) => {
      let done = false;
      const settle = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#pendingWaits.delete(onClose);
        const set = waiters.byJob.get(id);
        set?.delete(onEvent);
        if (set?.size === 0) waiters.byJob.delete(id);
        fn();
      };
      const onAbort = () => settle(() => reject(signal?.reason));
      const onClose = (err: Error) => settle(() => reject(err));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pendingWaits.add(onClose);
      const fromState = (state: string, error: string | undefined, result: unknown) => {
        if (state === 'completed') settle(() => resolve(result as Result));
        else if (state === 'dead') settle(() => reject(jobFailed(queue.name, id, error)));
        else if (state === 'cancelled') settle(() => reject(new DocketError('CANCELLED', `Job "${id}" of queue "${queue.name}" was cancelled`, { jobId: id, queue: queue.name })));
      };
      const onEvent = (event: QueueEvent) => {
        if (event.type === 'completed') {
          this.getJob(queue, id).then(
            (job) =>
              job
                ? fromState('completed', undefined, job.result)
                : settle(() =>
                    reject(
                      new DocketError(
                        'NOT_FOUND',
                        `Job "${id}" of queue "${queue.name}" completed, but its result is no longer kept (see the consumers' keepCompleted)`,
                        { jobId: id, queue: queue.name },
                      ),
                    ),
                  ),
            (err: unknown) => settle(() => reject(err)),
          );
        } else {
          fromState(event.type, event.error, undefined);
        }
      };
      const timer = setTimeout(
        () => settle(() => reject(new DocketError('TIMEOUT', `Job "${id}" of queue "${queue.name}" did not finish within ${timeout} ms`, { jobId: id, queue: queue.name }))),
        timeout,
      );
      let set = waiters.byJob.get(id);
      if (!set) waiters.byJob.set(id, (set = new Set()));
      set.add(onEvent);
      this.getJob(queue, id).then(
        (job) => {
          if (!job) settle(() => reject(new DocketError('NOT_FOUND', `No job "${id}" in queue "${queue.name}"`, { jobId: id, queue: queue.name })));
          else fromState(job.state, job.error, job.result);
        },
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }

  /** How many jobs the queue holds in each state, and whether it is paused. O(1). */
  async counts(queueArg: QueueDefinition): Promise<QueueCounts> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    const state = await this.#ready(queue);
    try {
      const r = (await state.scripts.counts.run(this.#client, state.keyList, [])) as number[];
      return { waiting: r[0] ?? 0, delayed: r[1] ?? 0, active: r[2] ?? 0, completed: r[3] ?? 0, dead: r[4] ?? 0, cancelled: r[5] ?? 0, paused: r[6] === 1 };
    } catch (err) {
      throw redisError(err, `Counting the jobs of queue "${queue.name}"`, queue.name);
    }
  }

  /** Pauses a queue: consumers finish running jobs but lease no new ones; enqueueing still works. */
  async pause(queue: QueueDefinition): Promise<void> {
    await this.#control(queue, 'pause', ['1'], 'Pausing');
  }

  /** Resumes a paused queue; idle consumers are woken. */
  async resume(queue: QueueDefinition): Promise<void> {
    await this.#control(queue, 'pause', ['0'], 'Resuming');
  }

  /** Dead jobs, newest first, with their errors. */
  async listDead<Payload>(queueArg: QueueDefinition<Payload>, options: { offset?: number; limit?: number } = {}): Promise<JobInfo<Payload>[]> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    const o = checkPlainObject('options', options);
    checkKnownKeys('options', o, ['offset', 'limit']);
    const offset = options.offset === undefined ? 0 : checkInteger('offset', options.offset, 0);
    const limit = options.limit === undefined ? 100 : checkInteger('limit', options.limit, 1, 10_000);
    const { keys } = await this.#ready(queue);
    try {
      const ids = await this.#client.zrevrange(keys.dead, offset, offset + limit - 1);
      if (ids.length === 0) return [];
      const records = await this.#client.hmgetBuffer(keys.jobs, ...ids);
      const out: JobInfo<Payload>[] = [];
      ids.forEach((id, i) => {
        const record = records[i];
        if (record) out.push(deadJobInfo<Payload>(queue.name, id, record));
      });
      return out;
    } catch (err) {
      throw redisError(err, `Listing the dead jobs of queue "${queue.name}"`, queue.name);
    }
  }

  /**
   * Gives dead jobs another run: they start over (attempts 0) through the queue's strategy.
   * Without `ids`, requeues every dead job. Resolves with how many were requeued.
   */
  requeueDead(queue: QueueDefinition, ids?: readonly string[]): Promise<number> {
    return this.#deadAction(queue, 'requeue', ids);
  }

  /** Deletes dead jobs for good (all of them without `ids`). Resolves with how many. */
  purgeDead(queue: QueueDefinition, ids?: readonly string[]): Promise<number> {
    return this.#deadAction(queue, 'purge', ids);
  }

  async #deadAction(queueArg: QueueDefinition, action: 'requeue' | 'purge', ids: readonly string[] | undefined): Promise<number> {
    if (ids !== undefined) {
      if (!Array.isArray(ids)) throw invalid('ids', 'an array of job ids', ids);
      ids.forEach((id, i) => checkId(id, `ids[${i}]`));
      let total = 0;
      for (let i = 0; i < ids.length; i += 1000) {
        total += await this.#control(queueArg, 'dead', [action, '1', ...ids.slice(i, i + 1000)], 'Changing dead jobs');
      }
      return total;
    }
    let total = 0;
    for (;;) {
      const n = await this.#control(queueArg, 'dead', [action, '', 1000], 'Changing dead jobs');
      total += n;
      if (n < 1000) return total;
    }
  }

  async #control(queueArg: QueueDefinition, script: 'pause' | 'dead', args: (string | number)[], what: string): Promise<number> {
    this.#checkOpen();
    const queue = checkQueue(queueArg);
    const state = await this.#ready(queue);
    try {
      return Number(await state.scripts[script].run(this.#client, state.keyList, args));
    } catch (err) {
      throw redisError(err, `${what} queue "${queue.name}"`, queue.name);
    }
  }

  #waitersFor(queue: QueueDefinition): Waiters {
    let waiters = this.#waiters.get(queue.name);
    if (!waiters) {
      const events = new QueueEvents({ connection: this.#connection as never, prefix: this.#prefix, queue });
      const byJob = new Map<string, Set<(event: QueueEvent) => void>>();
      events.on('event', (event) => {
        if (!FINAL_EVENTS.has(event.type)) return;
        for (const listener of byJob.get(event.jobId) ?? []) listener(event);
      });
      events.on('error', () => {}); // waitFor callers see their own timeouts
      const started = events.start({ connectTimeout: this.#connectTimeout });
      waiters = { events, started, byJob };
      this.#waiters.set(queue.name, waiters);
      started.catch(() => this.#waiters.delete(queue.name));
    }
    return waiters;
  }

  /** Closes the connection if the producer created it. Further calls reject with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Enqueues still waiting for their shared call go out before the connection closes.
    for (const name of [...this.#batches.keys()]) this.#flush(name);
    for (const rejectWait of [...this.#pendingWaits]) rejectWait(new DocketError('CLOSED', 'The producer was closed while waiting for the job'));
    await Promise.all([...this.#waiters.values()].map((w) => w.events.close()));
    this.#waiters.clear();
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

  #checkOpen(): void {
    if (this.#closed) throw new DocketError('CLOSED', 'The producer is closed');
  }

  /**
   * Per queue, once per producer: keys, the composed script, and the meta check. Without a
   * usable connection, waits for one first (at most connectTimeout): ioredis alone would
   * queue the call and retry for long with no word about the cause.
   */
  #ready(queue: QueueDefinition): Promise<QueueState> {
    if (this.#client.status !== 'ready') {
      this.#connecting ??= waitForConnection(this.#client, this.#connectTimeout).finally(() => (this.#connecting = undefined));
      return this.#connecting.then(() => this.#readyQueue(queue));
    }
    return this.#readyQueue(queue);
  }

  #readyQueue(queue: QueueDefinition): Promise<QueueState> {
    let state = this.#queues.get(queue.name);
    if (!state) {
      const keys = queueKeys(this.#prefix, queue.name);
      const strategy = getStrategy(queue.strategy).lua;
      const script = (name: string, body: string) => new LuaScript(name, composeLua(RECORD_LUA, strategy, body));
      state = {
        keys,
        keyList: queueKeyList(keys),
        scripts: {
          enqueue: script('enqueue', enqueueLua),
          cancel: script('cancel', cancelLua),
          counts: script('counts', countsLua),
          pause: script('pause', pauseLua),
          dead: script('dead', deadLua),
        },
        ready: undefined,
      };
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

function checkId(id: unknown, option = 'id'): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) throw invalid(option, 'a job id (a string of 1-256 characters)', id);
}

function jobFailed(queue: string, id: string, error: string | undefined): DocketError {
  return new DocketError('JOB_FAILED', `Job "${id}" of queue "${queue}" is dead: ${error ?? 'no error recorded'}`, {
    jobId: id,
    queue,
    ...(error === undefined ? {} : { cause: new Error(error) }),
  });
}
