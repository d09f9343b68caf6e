import { type Backoff, type QueueDefinition, DocketError } from '@docket/protocol';
import {
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  checkOneOf,
  checkPlainObject,
  MAX_TIMER_MS,
  describe,
  invalid,
  optionalInteger,
  validating,
} from '@docket/protocol/internal';

export const MIN_PRIORITY = -1_000_000;
export const MAX_PRIORITY = 1_000_000;
export const DEFAULT_ATTEMPTS = 3;
/** Retries wait 1 s, 2 s, 4 s, ... up to 5 minutes, spread by jitter. */
export const DEFAULT_BACKOFF: Readonly<Backoff> = Object.freeze({ type: 'exponential', delay: 1_000, max: 300_000, jitter: true });
const MAX_ID_LENGTH = 256;

/** Options of one job. */
export interface JobOptions {
  /**
   * The job's id, and so its idempotency key: while a job with this id exists, enqueueing the
   * same id returns that job instead of creating another. Any string of 1-256 characters that
   * is not a plain integer (integers are reserved for generated ids).
   * @default a generated id
   */
  id?: string;
  /**
   * Integer from -1,000,000 to 1,000,000; higher runs first, first-in first-out among equals.
   * Only for queues with strategy 'priority'.
   * @default 0
   */
  priority?: number;
  /**
   * ms to wait before the job may run. Use `delay` or `runAt`, not both.
   * @default 0
   */
  delay?: number;
  /** When the job may run: a Date or epoch ms. A time in the past means now. */
  runAt?: Date | number;
  /**
   * Total tries before the job is dead, including the first.
   * @default 3
   */
  attempts?: number;
  /**
   * How long to wait before each retry.
   * @default { type: 'exponential', delay: 1000, max: 300000, jitter: true }
   * @example { type: 'fixed', delay: 5000 }
   */
  backoff?: Backoff;
  /**
   * ms a single try may run (at most 2,147,483,647, a Node.js timer's limit); then its
   * AbortSignal fires and the try fails (1 s later at the latest, if the handler ignores it).
   * @default no limit (the consumer's `timeout`, if it sets one)
   */
  timeout?: number;
  /**
   * ms the `id` keeps deduplicating after the job finished (completed, dead or cancelled):
   * enqueueing the same id in that window returns `created: false` even after the finished
   * job itself was trimmed. Needs an `id`.
   * @default 0 (deduplicate only while the job exists)
   */
  dedupeFor?: number;
}

export interface NormalizedJob {
  id: string;
  delay: number;
  priority: number;
  attempts: number;
  backoff: Backoff;
  timeout: number;
  dedupeFor: number;
}

const JOB_OPTION_KEYS = ['id', 'priority', 'delay', 'runAt', 'attempts', 'backoff', 'timeout', 'dedupeFor'] as const;

export function checkBackoff(value: unknown): Backoff {
  const b = checkPlainObject('backoff', value);
  checkKnownKeys('backoff', b, ['type', 'delay', 'max', 'jitter']);
  const type = checkOneOf('backoff.type', b.type, ['fixed', 'exponential'] as const);
  const delay = checkInteger('backoff.delay', b.delay, 0);
  const max = optionalInteger('backoff.max', b.max, 1);
  if (max !== undefined && max < delay) throw invalid('backoff.max', `an integer >= backoff.delay (${delay})`, max);
  const jitter = b.jitter === undefined ? false : checkBoolean('backoff.jitter', b.jitter);
  return { type, delay, ...(max === undefined ? {} : { max }), jitter };
}

/** Validates one job's options and fills in the defaults. `now` is the client clock in ms. */
export function normalizeJobOptions(queue: QueueDefinition, options: unknown, now: number): NormalizedJob {
  return validating('options', () => normalize(queue, options, now));
}

function normalize(queue: QueueDefinition, options: unknown, now: number): NormalizedJob {
  const o = options === undefined ? {} : checkPlainObject('options', options);
  checkKnownKeys('options', o, JOB_OPTION_KEYS);

  let id = '';
  if (o.id !== undefined) {
    if (typeof o.id !== 'string' || o.id.length === 0 || o.id.length > MAX_ID_LENGTH) {
      throw invalid('id', `a string of 1-${MAX_ID_LENGTH} characters`, o.id);
    }
    if (/^\d+$/.test(o.id)) throw invalid('id', 'a string that is not a plain integer (integers are reserved for generated ids)', o.id);
    id = o.id;
  }

  let priority = 0;
  if (o.priority !== undefined) {
    priority = checkInteger('priority', o.priority, MIN_PRIORITY, MAX_PRIORITY);
    if (queue.strategy !== 'priority' && priority !== 0) {
      throw new DocketError(
        'INVALID_ARGUMENT',
        `\`priority\` applies only to queues with strategy 'priority'; queue "${queue.name}" is '${queue.strategy}' (got \`${priority}\`)`,
      );
    }
  }

  if (o.delay !== undefined && o.runAt !== undefined) {
    throw new DocketError('INVALID_ARGUMENT', 'Give `delay` or `runAt`, not both');
  }
  let delay = 0;
  if (o.delay !== undefined) delay = checkInteger('delay', o.delay, 0);
  if (o.runAt !== undefined) {
    const at = o.runAt instanceof Date ? o.runAt.getTime() : o.runAt;
    // 8.64e15 ms is the last instant a Date can hold: a later "time" is a mistake, not a plan.
    if (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > 8.64e15) {
      throw invalid('runAt', 'a valid Date or epoch milliseconds', o.runAt);
    }
    delay = Math.max(0, Math.ceil(at - now));
  }

  const attempts = o.attempts === undefined ? DEFAULT_ATTEMPTS : checkInteger('attempts', o.attempts, 1, 1_000_000);
  const backoff = o.backoff === undefined ? DEFAULT_BACKOFF : checkBackoff(o.backoff);
  const timeout = o.timeout === undefined ? 0 : checkInteger('timeout', o.timeout, 1, MAX_TIMER_MS);
  const dedupeFor = o.dedupeFor === undefined ? 0 : checkInteger('dedupeFor', o.dedupeFor, 0);
  if (dedupeFor > 0 && id === '') throw new DocketError('INVALID_ARGUMENT', '`dedupeFor` needs an `id` to deduplicate by');
  return { id, delay, priority, attempts, backoff, timeout, dedupeFor };
}

export function checkPayloadArgument(payload: unknown): void {
  if (payload === undefined) throw invalid('payload', 'a value msgpack can encode (use null for "no payload")', payload);
  if (typeof payload === 'function' || typeof payload === 'symbol') {
    throw new DocketError('NOT_ENCODABLE', `Cannot encode the payload: it is ${describe(payload)}`);
  }
}

/** A job id: a string of 1-256 characters. */
export function checkId(id: unknown, option = 'id'): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) throw invalid(option, 'a job id (a string of 1-256 characters)', id);
}
