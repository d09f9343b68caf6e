// The try runner: starts a leased job's try (its handler, or a sandbox thread), stops it early
// (timeout, cancellation), decides its outcome once, and settles the events when Redis has
// taken the report. What counts against `concurrency` is `running`; what this consumer still
// holds in Redis is `leases`.
import { DocketError } from '@docket/protocol';
import {
  MAX_TIMER_MS,
  STATE_CODES,
  type JobHeader,
  decodeRecord,
  decodeValue,
  describeThrown,
  encodeChecked,
} from '@docket/protocol/internal';
import { backoffDelay } from './backoff.js';
import type { Handler, Job } from './job.js';
import type { Notices } from './notices.js';
import type { ResolvedConsumerOptions } from './options.js';
import type { SandboxPool } from './sandbox.js';
import { TryContext, abortTry } from './try-context.js';
import type { Lease, QueueRuntime, Report, ReportKind } from './types.js';

const MAX_ERROR_LENGTH = 4096;
const MAX_PROGRESS_BYTES = 64 * 1024;
/** ms a handler gets to settle after its signal aborted (timeout, cancel) before the try is reported anyway. */
const STOP_GRACE_MS = 1_000;
const STATE_DEAD = STATE_CODES.indexOf('dead');
const STATE_CANCELLED = STATE_CODES.indexOf('cancelled');

function errorMessage(error: unknown): string {
  const text = describeThrown(error); // never throws, whatever the handler threw
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 3)}...` : text;
}

/** `value` if it is an Error, else an Error with `message` whose cause is `value` (a revoked Proxy included). */
function asError(value: unknown, message: string): Error {
  try {
    if (value instanceof Error) return value;
  } catch {
    // instanceof on a revoked Proxy throws
  }
  return new Error(message, { cause: value });
}

export interface TryRunnerHooks {
  /** Whether new tries may start (a job fetched while closing goes straight back). */
  running(): boolean;
  /** The sandbox pool, when the consumer runs handlers in threads. */
  pool(): SandboxPool | undefined;
  /** A cancel request that arrived before the lease it names (see cancellation.ts), taken once. */
  takeEarlyCancel(lease: Lease): boolean;
  /** A report on a try of `rt` is waiting to be sent. */
  reported(rt: QueueRuntime): void;
  /** A slot came free. */
  wake(): void;
  /** Stores a try's latest progress value in Redis. */
  sendProgress(lease: Lease, value: Buffer): Promise<unknown>;
}

export class TryRunner {
  /** Tries whose handler is still running: what counts against `concurrency`. */
  readonly running = new Set<Lease>();
  /** Tries whose lease this consumer still holds in Redis (running or awaiting their report). */
  readonly leases = new Set<Lease>();
  readonly #opts: ResolvedConsumerOptions;
  readonly #notices: Notices;
  readonly #hooks: TryRunnerHooks;

  constructor(opts: ResolvedConsumerOptions, notices: Notices, hooks: TryRunnerHooks) {
    this.#opts = opts;
    this.#notices = notices;
    this.#hooks = hooks;
  }

  /** Starts a try of the leased job `id` (its record as leased), or buries a record that cannot be read. */
  start(rt: QueueRuntime, id: string, token: number, record: Buffer): void {
    let header: JobHeader;
    let payload: unknown;
    let decodeError: unknown;
    let part = 'record';
    try {
      const decoded = decodeRecord(record, id);
      header = decoded.header;
      part = 'payload';
      payload = decodeValue(decoded.payload);
    } catch (err) {
      decodeError = err;
      header = { state: 'active', attempt: 1, maxAttempts: 1, token, createdAt: 0, startedAt: 0, finishedAt: 0, runAt: 0, timeout: 0, backoff: undefined, priority: 0, error: undefined, cancelRequested: false, dedupeFor: 0 };
    }
    const job: Job = Object.freeze({
      id,
      queue: rt.def.name,
      payload,
      attempt: header.attempt,
      maxAttempts: header.maxAttempts,
      priority: header.priority,
      createdAt: header.createdAt,
      token,
    });
    const lease: Lease = {
      rt,
      job,
      header,
      controller: undefined,
      abortReason: undefined,
      timer: undefined,
      reported: false,
      lost: false,
      stopped: undefined,
      progressPending: undefined,
      progressSending: false,
    };
    this.leases.add(lease);
    if (decodeError !== undefined) {
      // A record that cannot be decoded can never run: bury it with the reason.
      const reason = ((decodeError as Error).cause as Error | undefined)?.message ?? (decodeError as Error).message;
      this.decide(lease, 'x', new DocketError('CORRUPT_RECORD', `Job "${id}" cannot run: its ${part} cannot be decoded: ${reason}`, { cause: decodeError, jobId: id, queue: rt.def.name }));
      return;
    }
    if (!this.#hooks.running()) {
      this.decide(lease, 'r'); // fetched while closing: hand it straight back
      return;
    }
    this.running.add(lease);
    if (this.#hooks.takeEarlyCancel(lease)) this.cancelRequested(lease);
    this.#run(lease);
  }

  #run(lease: Lease): void {
    const { job, header } = lease;
    const pool = this.#hooks.pool();
    const timeout = header.timeout || this.#opts.timeout;
    if (timeout > 0 && !pool) {
      // The try fails when the handler settles (its slot is free again), not earlier, so that a
      // retry does not run beside a try that is still going; see stop() for one that never does.
      lease.timer = setTimeout(() => {
        this.stop(lease, new DocketError('TIMEOUT', `Job "${job.id}" try ${header.attempt} timed out after ${timeout} ms`, { jobId: job.id, queue: job.queue }));
      }, Math.min(timeout, MAX_TIMER_MS));
    }
    const context = new TryContext(lease, this.#reportProgress);
    let outcome: Promise<unknown>;
    try {
      // The pool enforces the timeout itself: it kills the thread, then rejects with TIMEOUT.
      outcome = pool
        ? pool.run({ job, timeout, signal: context.signal, onProgress: context.progress })
        : Promise.resolve((this.#opts.handler as Handler)(job as Job<never>, context));
    } catch (err) {
      outcome = Promise.reject(err);
    }
    // The slot is free before the outcome is recorded: the loop that the report wakes must see
    // it, or it sends the report alone and blocks instead of leasing the next job.
    const settled = () => {
      clearTimeout(lease.timer);
      this.running.delete(lease);
    };
    outcome.then(
      (result) => {
        settled();
        try {
          if (lease.stopped) this.decideStopped(lease);
          else this.decide(lease, 'c', undefined, result);
        } finally {
          this.#hooks.wake();
        }
      },
      (err: unknown) => {
        settled();
        try {
          if (lease.stopped) this.decideStopped(lease);
          else this.decide(lease, 'f', err);
        } finally {
          this.#hooks.wake();
        }
      },
    );
  }

  /** Stops a running try early: its signal aborts; the outcome is decided when it settles. */
  stop(lease: Lease, reason: DocketError): void {
    if (lease.stopped || lease.reported) return;
    lease.stopped = reason;
    clearTimeout(lease.timer);
    abortTry(lease, reason);
    if (this.#hooks.pool()) return; // the pool terminates a thread that does not stop
    // A handler that ignores its signal and never settles must not hold its job forever: after
    // a grace the try is reported as stopped anyway (retried or dead per its attempts, or
    // cancelled). The handler keeps its slot until it settles, so no more than `concurrency`
    // handlers ever run at once. The settling and decide() clear this timer.
    lease.timer = setTimeout(() => {
      lease.stopped = new DocketError(
        reason.code,
        `${reason.message}; its handler did not stop within ${STOP_GRACE_MS} ms of its signal aborting, so the try ` +
          'is reported now (the handler keeps its concurrency slot until it settles)',
        { cause: reason, jobId: lease.job.id, queue: lease.job.queue },
      );
      this.decideStopped(lease);
    }, STOP_GRACE_MS);
  }

  /** A try stopped early is decided by why it was stopped. */
  decideStopped(lease: Lease): void {
    const reason = lease.stopped as DocketError;
    this.decide(lease, reason.code === 'CANCELLED' ? 'k' : 'f', reason);
  }

  /** `producer.cancel` asked to stop a try this consumer runs. */
  cancelRequested(lease: Lease): void {
    this.stop(lease, new DocketError('CANCELLED', `Job "${lease.job.id}" was cancelled`, { jobId: lease.job.id, queue: lease.job.queue }));
  }

  /** Records a try's outcome, once; it reaches Redis with the next step call. */
  decide(lease: Lease, kind: ReportKind, error?: unknown, result?: unknown): void {
    if (lease.reported) return;
    lease.reported = true;
    clearTimeout(lease.timer);
    if (lease.lost) {
      this.leases.delete(lease);
      return;
    }
    const report: Report = { kind, lease, id: lease.job.id, token: lease.job.token, message: '', delay: 0, resultBytes: '' };
    if (kind === 'c' && result !== undefined) {
      try {
        report.resultBytes = encodeChecked(result, this.#opts.maxResultBytes, 'result', '`maxResultBytes`');
      } catch (err) {
        // A result that cannot be stored fails the try like a thrown error would.
        report.kind = kind = 'f';
        error = err;
      }
    }
    if (kind === 'f' || kind === 'x' || kind === 'k') {
      report.message = errorMessage(error);
      // Listeners get an Error whatever was thrown (a string, an object, undefined): the thrown
      // value is its cause.
      report.error = asError(error, report.message);
      if (kind === 'f') report.delay = backoffDelay(lease.header.backoff, lease.job.attempt);
    }
    if (report.kind === 'c') report.result = result;
    lease.rt.reports.push(report);
    this.#hooks.reported(lease.rt);
  }

  /** Redis has answered a report with the job's new state (-1: refused): emit the matching events. */
  settle(report: Report, outcome: number): void {
    const { lease, kind } = report;
    this.leases.delete(lease);
    const { job } = lease;
    if (outcome < 0) {
      if (kind === 'r' || report.resent) return; // nothing to release / most likely applied before the reply was lost
      this.#notices.error(
        new DocketError(
          'LEASE_LOST',
          `The outcome of job "${job.id}" try ${job.attempt} was refused: its lease expired and the job was recovered or handed ` +
            `to another consumer. Likely cause: ${this.#notices.leaseLossCause()}`,
          { jobId: job.id, queue: job.queue },
        ),
      );
      return;
    }
    if (outcome === STATE_CANCELLED) {
      this.#notices.emit('cancelled', job);
    } else if (kind === 'c') {
      this.#notices.emit('completed', job, report.result);
    } else if (kind === 'f' || kind === 'x') {
      const error = report.error ?? new Error(report.message);
      this.#notices.emit('failed', job, error);
      if (outcome === STATE_DEAD) this.#notices.emit('dead', job, error);
      else this.#notices.emit('retrying', job, error, report.delay);
    }
  }

  /** Another consumer owns the job now: the try's outcome will be discarded, and its signal says why. */
  lose(lease: Lease, reason: DocketError): void {
    lease.lost = true;
    this.leases.delete(lease);
    abortTry(lease, reason);
  }

  /** progress(), as a function every try's context shares. */
  readonly #reportProgress = (lease: Lease, value: unknown): void => this.#progress(lease, value);

  /** Stores the latest progress value (one send at a time per try; only the newest value is sent). */
  #progress(lease: Lease, value: unknown): void {
    if (lease.reported || lease.lost) return;
    const bytes = encodeChecked(value, MAX_PROGRESS_BYTES, 'progress value', 'the limit for progress values');
    this.#notices.emit('progress', lease.job, value);
    lease.progressPending = bytes;
    if (lease.progressSending) return;
    const send = async (): Promise<void> => {
      lease.progressSending = true;
      try {
        while (lease.progressPending && !lease.reported && !lease.lost) {
          const next = lease.progressPending;
          lease.progressPending = undefined;
          await this.#hooks.sendProgress(lease, next);
        }
      } catch (err) {
        this.#notices.redisTrouble(err, 'Storing progress');
      } finally {
        lease.progressSending = false;
      }
    };
    void send();
  }
}
