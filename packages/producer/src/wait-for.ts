// waitFor: resolves with a job's result when it completes, rejects when it dies or is
// cancelled. One event-feed reader (QueueEvents) per queue, opened on first use and shared by
// every call waiting on that queue: nothing polls.
import { type ConnectionInput, DocketError, type QueueDefinition } from '@docket/protocol';
import { checkInteger, checkKnownKeys, checkPlainObject, invalid, MAX_TIMER_MS } from '@docket/protocol/internal';
import { type QueueEvent, QueueEvents } from './events.js';
import type { JobInfo } from './job-info.js';
import { checkId } from './options.js';

const FINAL_EVENTS = new Set(['completed', 'dead', 'cancelled']);

/** One shared event-feed reader per queue, with the calls waiting on it. */
interface Waiters {
  events: QueueEvents;
  started: Promise<void>;
  byJob: Map<string, Set<(event: QueueEvent) => void>>;
  /** Closes the reader once no call has waited on it for READER_IDLE_MS. */
  retire: NodeJS.Timeout | undefined;
}

/**
 * ms a queue's feed reader stays open with nobody waiting: a web app that waits on many queues
 * (one per tenant) keeps connections only for the queues in use.
 */
const READER_IDLE_MS = 30_000;

export interface WaitForOptions {
  /** ms to wait; then it rejects with TIMEOUT (the job itself is not affected). @default 30000 */
  timeout?: number;
  /** Aborting it rejects the wait with the signal's reason (e.g. the HTTP client went away). */
  signal?: AbortSignal;
}

function jobFailed(queue: string, id: string, error: string | undefined): DocketError {
  return new DocketError('JOB_FAILED', `Job "${id}" of queue "${queue}" is dead: ${error ?? 'no error recorded'}`, {
    jobId: id,
    queue,
    ...(error === undefined ? {} : { cause: new Error(error) }),
  });
}

export class JobWaiter {
  readonly #connection: ConnectionInput;
  readonly #prefix: string;
  readonly #connectTimeout: number;
  readonly #getJob: (queue: QueueDefinition, id: string) => Promise<JobInfo | null>;
  readonly #waiters = new Map<string, Waiters>();
  /** Rejects every pending wait (on close). */
  readonly #pending = new Set<(err: Error) => void>();

  constructor(connection: ConnectionInput, prefix: string, connectTimeout: number, getJob: (queue: QueueDefinition, id: string) => Promise<JobInfo | null>) {
    this.#connection = connection;
    this.#prefix = prefix;
    this.#connectTimeout = connectTimeout;
    this.#getJob = getJob;
  }

  /** Validates `options` and waits (see Producer.waitFor); `ready` resolves once the queue is usable. */
  async waitFor<Result>(queue: QueueDefinition<unknown, Result>, id: string, options: WaitForOptions, ready: () => Promise<unknown>): Promise<Result> {
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
    await ready();
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
        this.#pending.delete(onClose);
        const set = waiters.byJob.get(id);
        set?.delete(onEvent);
        if (set?.size === 0) waiters.byJob.delete(id);
        if (waiters.byJob.size === 0) this.#retireLater(queue.name, waiters);
        fn();
      };
      const onAbort = () => settle(() => reject(signal?.reason));
      const onClose = (err: Error) => settle(() => reject(err));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.add(onClose);
      const fromState = (state: string, error: string | undefined, result: unknown) => {
        if (state === 'completed') settle(() => resolve(result as Result));
        else if (state === 'dead') settle(() => reject(jobFailed(queue.name, id, error)));
        else if (state === 'cancelled') settle(() => reject(new DocketError('CANCELLED', `Job "${id}" of queue "${queue.name}" was cancelled`, { jobId: id, queue: queue.name })));
      };
      const onEvent = (event: QueueEvent) => {
        if (event.type === 'completed') {
          this.#getJob(queue, id).then(
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
      this.#getJob(queue, id).then(
        (job) => {
          if (!job) settle(() => reject(new DocketError('NOT_FOUND', `No job "${id}" in queue "${queue.name}"`, { jobId: id, queue: queue.name })));
          else fromState(job.state, job.error, job.result);
        },
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }

  #retireLater(name: string, waiters: Waiters): void {
    clearTimeout(waiters.retire);
    waiters.retire = setTimeout(() => {
      if (waiters.byJob.size > 0 || this.#waiters.get(name) !== waiters) return;
      this.#waiters.delete(name);
      void waiters.events.close();
    }, READER_IDLE_MS);
    waiters.retire.unref();
  }

  #waitersFor(queue: QueueDefinition): Waiters {
    let waiters = this.#waiters.get(queue.name);
    if (waiters) {
      clearTimeout(waiters.retire);
      waiters.retire = undefined;
    } else {
      const events = new QueueEvents({ connection: this.#connection as never, prefix: this.#prefix, queue });
      const byJob = new Map<string, Set<(event: QueueEvent) => void>>();
      events.on('event', (event) => {
        if (!FINAL_EVENTS.has(event.type)) return;
        for (const listener of byJob.get(event.jobId) ?? []) listener(event);
      });
      events.on('error', () => {}); // waitFor callers see their own timeouts
      const started = events.start({ connectTimeout: this.#connectTimeout });
      waiters = { events, started, byJob, retire: undefined };
      this.#waiters.set(queue.name, waiters);
      started.catch(() => this.#waiters.delete(queue.name));
    }
    return waiters;
  }

  /** Rejects every pending wait with CLOSED and closes the feed readers. */
  async close(): Promise<void> {
    for (const rejectWait of [...this.#pending]) rejectWait(new DocketError('CLOSED', 'The producer was closed while waiting for the job'));
    for (const w of this.#waiters.values()) clearTimeout(w.retire);
    await Promise.all([...this.#waiters.values()].map((w) => w.events.close()));
    this.#waiters.clear();
  }
}
