// Enqueueing: validate and encode each job (prepare), pack a chunk into the enqueue script's
// one argument (protocol's wire/enqueue-args), and batch: enqueues to one queue made in the
// same turn of the event loop share one script call; enqueueMany sends one call per chunk.
import { randomBytes } from 'node:crypto';
import { DocketError, type QueueDefinition } from '@docket/protocol';
import {
  type EnqueueArgsJob,
  checkKnownKeys,
  encodeChecked,
  encodeRecordHead,
  invalid,
  jobSpec,
  packEnqueueArgs,
  redisError,
  validating,
} from '@docket/protocol/internal';
import { type JobOptions, type NormalizedJob, checkPayloadArgument, normalizeJobOptions } from './options.js';
import type { QueueAccess, QueueState } from './queue-access.js';

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

/**
 * Payload bytes after which a script call is sent without waiting for more jobs: far below
 * Redis's 512 MB limit for one argument, and small enough not to stall Redis on one call.
 */
const MAX_CALL_BYTES = 8 * 1024 * 1024;
/** Confirmations of earlier calls one call carries at most. */
const MAX_CONFIRMED = 100;

/** One validated, encoded job: its spec and record (the wire format) and the id the caller gave ('' for a generated one). */
interface PreparedJob extends EnqueueArgsJob {
  id: string;
}

interface Batch {
  queue: QueueDefinition;
  state: QueueState;
  bytes: number;
  items: { job: PreparedJob; resolve(job: EnqueuedJob): void; reject(err: unknown): void }[];
}

/** The enqueued jobs of one enqueue.lua call, from its reply { first generated id - 1, created flags }. */
function enqueued(queue: string, jobs: readonly PreparedJob[], reply: unknown): EnqueuedJob[] {
  const [base, flags] = reply as [number, Buffer | string];
  const created = String(flags);
  let generated = Number(base);
  return jobs.map((job, i) => ({ id: job.id === '' ? String(++generated) : job.id, queue, created: created[i] === '1' }));
}

export class Enqueuer {
  readonly #access: QueueAccess;
  readonly #maxPayloadBytes: number;
  readonly #chunkSize: number;
  /** Single enqueues waiting (until the next turn of the event loop) to share a script call. */
  readonly #batches = new Map<string, Batch>();
  /** The options of a job enqueued without any (they depend neither on the queue nor on the time). */
  #plainJob: NormalizedJob | undefined;
  /** The encoded header shared by jobs without options, for one `Date.now()` value. */
  #plainHead: { at: number; bytes: Buffer } | undefined;

  constructor(access: QueueAccess, maxPayloadBytes: number, chunkSize: number) {
    this.#access = access;
    this.#maxPayloadBytes = maxPayloadBytes;
    this.#chunkSize = chunkSize;
  }

  /** One job, sharing a script call with the other enqueues to its queue in this turn of the event loop. */
  async one(queue: QueueDefinition, payload: unknown, opts: JobOptions | undefined): Promise<EnqueuedJob> {
    const job = this.#prepare(queue, { payload, ...(opts === undefined ? {} : { opts }) }, 0, false, Date.now());
    const state = await this.#access.ready(queue);
    // Enqueues to one queue made in the same turn of the event loop (a web server under load,
    // Promise.all over a list) share one script call: the per-call cost is paid once.
    return new Promise<EnqueuedJob>((resolve, reject) => {
      let batch = this.#batches.get(queue.name);
      if (!batch) {
        batch = { queue, state, items: [], bytes: 0 };
        this.#batches.set(queue.name, batch);
        setImmediate(() => this.#flush(queue.name));
      }
      batch.items.push({ job, resolve, reject });
      batch.bytes += job.payload.length;
      if (batch.items.length >= this.#chunkSize || batch.bytes >= MAX_CALL_BYTES) this.#flush(queue.name);
    });
  }

  /** Sends every waiting batch now (before the connection closes). */
  flushAll(): void {
    for (const name of [...this.#batches.keys()]) this.#flush(name);
  }

  /** Sends the enqueues waiting for one queue as one script call. */
  #flush(name: string): void {
    const batch = this.#batches.get(name);
    if (!batch || batch.items.length === 0) return;
    this.#batches.delete(name);
    const { queue, state, items } = batch;
    const jobs = items.map((item) => item.job);
    this.#call(state, jobs).then(
      (reply) => {
        const out = enqueued(queue.name, jobs, reply);
        items.forEach((item, i) => item.resolve(out[i] as EnqueuedJob));
      },
      (err: unknown) => {
        const error = redisError(err, `Enqueueing to queue "${queue.name}"`, queue.name);
        for (const item of items) item.reject(error);
      },
    );
  }

  /**
   * Many jobs of one queue, one script call per chunk of `chunkSize` jobs (and about
   * MAX_CALL_BYTES of payloads). Every job is validated before any is sent.
   */
  async many(queue: QueueDefinition, items: readonly JobToEnqueue<unknown>[]): Promise<EnqueuedJob[]> {
    const now = Date.now();
    // Encode and validate everything first: one bad job rejects the call before anything is sent.
    const jobs = items.map((item, i) => this.#prepare(queue, item, i, true, now));
    const state = await this.#access.ready(queue);
    const calls: Promise<unknown>[] = [];
    const sent: PreparedJob[][] = [];
    let chunk: PreparedJob[] = [];
    let bytes = 0;
    const send = () => {
      calls.push(this.#call(state, chunk));
      sent.push(chunk);
      chunk = [];
      bytes = 0;
    };
    for (const job of jobs) {
      chunk.push(job);
      bytes += job.payload.length;
      if (chunk.length >= this.#chunkSize || bytes >= MAX_CALL_BYTES) send();
    }
    if (chunk.length > 0) send();
    let replies: unknown[];
    try {
      replies = await Promise.all(calls);
    } catch (err) {
      throw redisError(err, `Enqueueing to queue "${queue.name}"`, queue.name);
    }
    const out: EnqueuedJob[] = [];
    replies.forEach((reply, k) => out.push(...enqueued(queue.name, sent[k] as PreparedJob[], reply)));
    return out;
  }

  /**
   * One enqueue script call. It carries an id, so that a call ioredis sends again after its reply
   * was lost (it resends the calls in flight when a connection drops) is applied once
   * (lua/enqueue.lua), and confirms the ids of earlier calls to the queue whose replies arrived,
   * so Redis keeps ids only for calls still in flight.
   */
  #call(state: QueueState, jobs: readonly PreparedJob[]): Promise<unknown> {
    const confirmed = state.calls.splice(0, MAX_CONFIRMED);
    const id = `${Date.now()}:${randomBytes(9).toString('base64url')}`;
    return state.scripts.enqueue.run(this.#access.client, state.keyList, [jobs.length, packEnqueueArgs(jobs), id, confirmed.join(' ')]).then(
      (reply) => {
        const entry = String((reply as unknown[])[2] ?? '');
        if (entry !== '') state.calls.push(entry);
        return reply;
      },
      (err: unknown) => {
        state.calls.unshift(...confirmed);
        throw err;
      },
    );
  }

  /** Validates and encodes one job. */
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
    return { id: job.id, spec: jobSpec(job.id, job.delay, job.priority), head, payload };
  }
}
