// How the consumer tells its user what happened: its events, with listeners that may throw,
// and Redis trouble, reported at most once per 5 s so that an outage does not flood the logs.
import type { EventEmitter } from 'node:events';
import { redisError } from '@docket/protocol/internal';
import type { LoopWatch } from './lag.js';
import type { Job } from './job.js';
import type { Logger } from './options.js';
import type { ConsumerStatus } from './types.js';

/** The consumer's events and their listener arguments. */
export interface ConsumerEvents {
  /** A try succeeded and the job is completed. */
  completed: [job: Job, result: unknown];
  /**
   * A try failed (followed by 'retrying' or 'dead'). `error` is what the handler threw, or, when
   * that was not an Error (a string, an object), an Error whose `cause` is the thrown value.
   */
  failed: [job: Job, error: Error];
  /** A failed job will run again after `delay` ms. */
  retrying: [job: Job, error: Error, delay: number];
  /** A job ran out of attempts or cannot run at all; it stays in the dead set with its error. */
  dead: [job: Job, error: Error];
  /** A running job was cancelled (`producer.cancel`) and its try stopped; it is not retried. */
  cancelled: [job: Job];
  /** A handler reported progress. */
  progress: [job: Job, value: unknown];
  /** Something went wrong outside a handler (Redis trouble, a lost lease). The consumer keeps going. */
  error: [error: Error];
}

const TROUBLE_EVERY_MS = 5_000;

export class Notices {
  readonly #emitter: EventEmitter<ConsumerEvents>;
  readonly #logger: Logger;
  readonly #status: () => ConsumerStatus;
  readonly #leaseDuration: number;
  #lastTroubleAt = Number.NEGATIVE_INFINITY;
  /** Notices a blocked event loop, to warn and to name it when a lease is lost (set while running). */
  loopWatch: LoopWatch | undefined;

  constructor(emitter: EventEmitter<ConsumerEvents>, logger: Logger, leaseDuration: number, status: () => ConsumerStatus) {
    this.#emitter = emitter;
    this.#logger = logger;
    this.#leaseDuration = leaseDuration;
    this.#status = status;
  }

  get logger(): Logger {
    return this.#logger;
  }

  /** A throwing listener must not break the consumer's bookkeeping. */
  emit<E extends keyof ConsumerEvents>(event: E, ...args: ConsumerEvents[E]): void {
    try {
      (this.#emitter.emit as (e: string, ...a: unknown[]) => boolean).call(this.#emitter, event, ...args);
    } catch (err) {
      this.#logger.error(`[docket] a '${event}' listener threw`, err);
    }
  }

  /** 'error' without listeners would crash the process: log instead. */
  error(err: Error): void {
    if (this.#emitter.listenerCount('error') > 0) this.emit('error', err);
    else this.#logger.error(`[docket] ${err.message}`, err);
  }

  /**
   * Redis trouble while doing `what`: reported at most once per 5 s, and only while running
   * (start() reports its own trouble by rejecting; a closing consumer's is expected).
   */
  redisTrouble(err: unknown, what: string): void {
    const now = performance.now();
    if (now - this.#lastTroubleAt < TROUBLE_EVERY_MS || this.#status() !== 'running') return;
    this.#lastTroubleAt = now;
    this.error(redisError(err, what));
  }

  /** For LEASE_LOST messages: a recent long block of the event loop if there was one. */
  leaseLossCause(): string {
    return (
      this.loopWatch?.leaseLossCause() ??
      `the consumer lost Redis or stalled for longer than leaseDuration (${this.#leaseDuration.toLocaleString('en-US')} ms)`
    );
  }
}
