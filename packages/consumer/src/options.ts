import { isAbsolute } from 'node:path';
import { type ConnectionInput, type QueueDefinition, DEFAULT_PREFIX, DocketError } from '@docket/protocol';
import { checkConnection, checkPayloadLimit } from '@docket/protocol/internal';
import { MAX_TIMER_MS, checkInteger, checkKnownKeys, checkPlainObject, checkPrefix, checkQueue, describe, describeThrown, invalid, validating } from '@docket/protocol/internal';
import { type SelectionName, type Selector, createSelector } from '@docket/scheduler';
import type { Handler } from './job.js';

/** How many finished jobs of one kind a queue keeps, and for how long (a field left out keeps its default). */
export interface Retention {
  /** Most jobs kept; older ones are removed first. */
  count?: number;
  /** ms a finished job is kept. */
  age?: number;
}

/** Where the consumer writes warnings (for instance about Redis settings). */
export interface Logger {
  warn(message: string): void;
  error(message: string, error?: unknown): void;
  /** Optional notes, e.g. that a Redis setting could not be checked. */
  debug?(message: string): void;
}

export interface ConsumerOptions<Q extends QueueDefinition = QueueDefinition> {
  /**
   * A Redis URL, ioredis options, or an ioredis instance (which docket then does not close).
   * @default 'redis://127.0.0.1:6379'
   */
  connection?: ConnectionInput;
  /** The queues to run jobs from; `selection` decides which one fills free slots first. */
  queues: readonly Q[];
  /**
   * Which queue free slots are filled from first, when there are several:
   * 'strict' (in the order of `queues`; a busy first queue starves the rest), 'round-robin'
   * (the first queue rotates at every fetch), or 'weighted' (by `weights`: a queue with weight
   * 3 is first three times as often as one with weight 1). Slots the first queue cannot fill
   * go to the next, so no selection idles while any queue has work.
   * @default 'strict'
   */
  selection?: SelectionName;
  /** For selection 'weighted': one integer >= 1 per queue, in the order of `queues`. */
  weights?: readonly number[];
  /** Runs one try of a job, in this process. Give `handler` or `sandbox`, not both. */
  handler?: Handler<Q>;
  /**
   * Runs each try in a pool of worker threads (one per unit of concurrency) from a module
   * whose default export (or `handler` export) is the handler. A try that passes its timeout
   * is killed with its thread, which is replaced: for CPU-bound handlers that may ignore
   * their signal. Payloads, results and progress values cross by structured clone.
   * @example { module: new URL('./resize-image.js', import.meta.url) }
   */
  sandbox?: {
    module: string | URL;
    /** ms a thread gets to stop after its signal aborted (cancel, close) before it is killed. @default 1000 */
    abortGrace?: number;
  };
  /**
   * How many jobs run at once. The consumer never holds more jobs than this.
   * @default 1
   */
  concurrency?: number;
  /**
   * Prefix of every key; producers and consumers of a queue must use the same one.
   * @default 'docket'
   */
  prefix?: string;
  /**
   * ms a lease lasts. The consumer renews it every third of this while the handler runs; a
   * consumer that dies (or stalls) for longer loses its jobs to other consumers.
   * @default 30000
   */
  leaseDuration?: number;
  /**
   * Longest ms an idle consumer blocks before it looks for expired leases of dead consumers.
   * New jobs and due delayed jobs wake it at once regardless.
   * @default 5000
   */
  pollInterval?: number;
  /**
   * ms a try may run when its job sets no `timeout`: then its signal aborts, and the try fails
   * when the handler settles, or 1 s later if it ignores the signal (its slot stays taken
   * until it settles). At most 2,147,483,647 (a Node.js timer's limit).
   * @default no limit
   */
  timeout?: number;
  /**
   * Largest encoded result stored, in bytes; a larger (or unencodable) result fails the try.
   * At most 16 MiB: a large result stalls Redis for every client while it is stored.
   * @default 1048576 (1 MiB)
   */
  maxResultBytes?: number;
  /**
   * Completed jobs kept per queue.
   * @default { count: 1000, age: 86400000 } (1,000 jobs, 24 h)
   */
  keepCompleted?: Retention;
  /**
   * Dead jobs kept per queue.
   * @default { count: 10000, age: 604800000 } (10,000 jobs, 7 days)
   */
  keepDead?: Retention;
  /**
   * Source of randomness for queues with strategy 'random' (seeds each fetch). Inject a
   * seeded generator to make tests deterministic.
   * @default Math.random
   */
  random?: () => number;
  /**
   * Where warnings go.
   * @default console
   */
  logger?: Logger;
}

export interface ResolvedConsumerOptions {
  connection: ConnectionInput;
  queues: QueueDefinition[];
  handler: Handler | undefined;
  sandbox: { module: string | URL; abortGrace: number } | undefined;
  concurrency: number;
  prefix: string;
  leaseDuration: number;
  pollInterval: number;
  timeout: number;
  maxResultBytes: number;
  keepCompleted: Required<Retention>;
  keepDead: Required<Retention>;
  logger: Logger;
  random: () => number;
  selector: Selector;
}

const KEYS = [
  'connection',
  'queues',
  'handler',
  'sandbox',
  'concurrency',
  'prefix',
  'leaseDuration',
  'pollInterval',
  'timeout',
  'maxResultBytes',
  'keepCompleted',
  'keepDead',
  'logger',
  'random',
  'selection',
  'weights',
] as const;

function checkRetention(name: string, value: unknown, fallback: Required<Retention>): Required<Retention> {
  if (value === undefined) return fallback;
  const r = checkPlainObject(name, value);
  checkKnownKeys(name, r, ['count', 'age']);
  return {
    count: r.count === undefined ? fallback.count : checkInteger(`${name}.count`, r.count, 0),
    age: r.age === undefined ? fallback.age : checkInteger(`${name}.age`, r.age, 1),
  };
}

export function resolveConsumerOptions(options: unknown): ResolvedConsumerOptions {
  return validating('options', () => resolve(options));
}

function resolve(options: unknown): ResolvedConsumerOptions {
  const o = checkPlainObject('options', options);
  checkKnownKeys('options', o, KEYS);
  if (!Array.isArray(o.queues) || o.queues.length === 0) throw invalid('queues', 'a non-empty array of queues from defineQueue()', o.queues);
  const queues = o.queues.map((q, i) => checkQueue(q, `queues[${i}]`));
  const names = new Set(queues.map((q) => q.name));
  if (names.size !== queues.length) {
    const twice = queues.find((q, i) => queues.findIndex((other) => other.name === q.name) !== i)?.name;
    throw new DocketError('INVALID_ARGUMENT', `Expected \`queues\` to name each queue once, got "${twice}" twice`);
  }
  let sandbox: ResolvedConsumerOptions['sandbox'];
  if (o.sandbox !== undefined) {
    if (o.handler !== undefined) throw new DocketError('INVALID_ARGUMENT', 'Give `handler` or `sandbox`, not both');
    const s = checkPlainObject('sandbox', o.sandbox);
    checkKnownKeys('sandbox', s, ['module', 'abortGrace']);
    const isFile = s.module instanceof URL ? s.module.protocol === 'file:' : typeof s.module === 'string' && (isAbsolute(s.module) || s.module.startsWith('file:'));
    if (!isFile) throw invalid('sandbox.module', 'an absolute module path or a file: URL', s.module instanceof URL ? s.module.href : s.module);
    sandbox = { module: s.module as string | URL, abortGrace: s.abortGrace === undefined ? 1_000 : checkInteger('sandbox.abortGrace', s.abortGrace, 0, MAX_TIMER_MS) };
  } else if (typeof o.handler !== 'function') {
    throw invalid('handler', 'a function (job, context) => result (or give `sandbox`)', o.handler);
  }
  const leaseDuration = o.leaseDuration === undefined ? 30_000 : checkInteger('leaseDuration', o.leaseDuration, 100, MAX_TIMER_MS);
  const given = o.logger === undefined ? console : (o.logger as Logger);
  if (typeof given?.warn !== 'function' || typeof given.error !== 'function' || !['function', 'undefined'].includes(typeof given.debug)) {
    throw invalid('logger', 'an object with warn() and error() methods (and optionally debug())', o.logger);
  }
  const logger = safeLogger(given);
  return {
    connection: checkConnection(o.connection),
    queues,
    handler: o.handler as Handler | undefined,
    sandbox,
    concurrency: o.concurrency === undefined ? 1 : checkInteger('concurrency', o.concurrency, 1, 10_000),
    prefix: o.prefix === undefined ? DEFAULT_PREFIX : checkPrefix(o.prefix),
    leaseDuration,
    pollInterval: o.pollInterval === undefined ? 5_000 : checkInteger('pollInterval', o.pollInterval, 10, 600_000),
    timeout: o.timeout === undefined ? 0 : checkInteger('timeout', o.timeout, 1, MAX_TIMER_MS),
    maxResultBytes: o.maxResultBytes === undefined ? 1024 * 1024 : checkPayloadLimit('maxResultBytes', o.maxResultBytes),
    keepCompleted: checkRetention('keepCompleted', o.keepCompleted, { count: 1_000, age: 24 * 3_600_000 }),
    keepDead: checkRetention('keepDead', o.keepDead, { count: 10_000, age: 7 * 24 * 3_600_000 }),
    logger,
    random: o.random === undefined ? Math.random : checkRandom(o.random, logger),
    selector: createSelector((o.selection === undefined ? 'strict' : o.selection) as SelectionName, queues.length, o.weights as number[] | undefined),
  };
}

/**
 * The consumer calls `random` on every fetch, deep in its loop: a value out of range (or a
 * throw) must not break fetching. It is reported once and Math.random is used instead.
 */
function checkRandom(value: unknown, logger: Logger): () => number {
  if (typeof value !== 'function') throw invalid('random', 'a function returning a number in [0, 1)', value);
  const random = value as () => number;
  let warned = false;
  return () => {
    let r: unknown;
    let got: string;
    try {
      r = random();
      got = `returned \`${describe(r)}\``;
    } catch (err) {
      got = `threw ${describeThrown(err)}`;
    }
    if (typeof r === 'number' && r >= 0 && r < 1) return r;
    if (!warned) {
      warned = true;
      logger.warn(`[docket] Expected \`random\` to return a number in [0, 1), but it ${got}; using Math.random instead`);
    }
    return Math.random();
  };
}

/** Logging must never break the consumer: a logger that throws (an unbound method) falls back to console. */
function safeLogger(logger: Logger): Logger {
  if (logger === console) return logger;
  return {
    warn(message) {
      try {
        logger.warn(message);
      } catch {
        console.warn(message);
      }
    },
    error(message, error) {
      try {
        logger.error(message, error);
      } catch {
        console.error(message, error);
      }
    },
    ...(logger.debug
      ? {
          debug(message: string) {
            try {
              logger.debug?.(message);
            } catch {
              // a debug note is not worth failing for
            }
          },
        }
      : {}),
  };
}
