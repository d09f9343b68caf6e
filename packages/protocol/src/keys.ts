import { invalid } from './validate.js';

/** The key prefix used when none is given. */
export const DEFAULT_PREFIX = 'docket';

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/**
 * Queue names: 1 to 100 characters of letters, digits, `.`, `_`, `:` and `-`, starting with a
 * letter or digit. Braces are excluded because they would break the `{queue}` hash tag.
 */
export function checkQueueName(name: unknown, option = 'name'): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalid(option, 'a queue name of 1-100 letters, digits, ".", "_", ":" or "-" starting with a letter or digit', name);
  }
  return name;
}

/** Key prefixes follow the queue-name rules. */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !NAME_PATTERN.test(prefix)) {
    throw invalid('prefix', 'a key prefix of 1-100 letters, digits, ".", "_", ":" or "-"', prefix);
  }
  return prefix;
}

/**
 * Every Redis key of one queue. They share the hash tag `{<queue>}`, so every script touches
 * a single slot and queues spread over the shards of a Redis Cluster.
 */
export interface QueueKeys {
  /** hash: protocol version, strategy, id and fencing-token counters */
  readonly meta: string;
  /** hash: job id -> job record (one msgpack blob per job) */
  readonly jobs: string;
  /** the strategy's structure of waiting job ids (a list for fifo) */
  readonly waiting: string;
  /**
   * sorted set: job id -> lease deadline (ms), plus one anchor member (300 characters, deadline
   * +inf) that keeps it in Redis's skiplist encoding; count leases with ZCOUNT -inf (+inf
   */
  readonly active: string;
  /** sorted set: job id -> time it becomes due (ms) */
  readonly delayed: string;
  /** sorted set: job id -> time it completed (ms); trimmed by retention */
  readonly completed: string;
  /** sorted set: job id -> time it died (ms); trimmed by retention */
  readonly dead: string;
  /** list: at most one token; idle consumers block on it and producers push to it */
  readonly wake: string;
  /** sorted set: job id -> time it was cancelled (ms); trimmed like completed jobs */
  readonly cancelled: string;
  /** hash: job id -> the handler's result (msgpack), for completed jobs */
  readonly results: string;
  /** hash: job id -> the latest progress value (msgpack) */
  readonly progress: string;
  /** stream: the queue's event feed (enqueued, active, progress, completed, retrying, dead, cancelled), capped */
  readonly events: string;
  /** sorted set: id -> until when (ms) it still deduplicates enqueues after its job finished (`dedupeFor`) */
  readonly dedupe: string;
  /**
   * sorted set: consumer id -> until when (ms) its registration as idle holds. A consumer
   * that found nothing to lease registers before it blocks, and an enqueue of a single ready
   * job into an empty queue then leases the job to it directly, pushing it to the consumer's
   * inbox list (`inbox:<consumer id>` under the same hash tag) instead of waking it to fetch
   */
  readonly idle: string;
  /** hash: consumer id -> '<free slots>:<lease ms>' of each registration in `idle` */
  readonly idleSlots: string;
  /**
   * sorted set: the step calls whose leases their consumer has not yet confirmed receiving,
   * member '<consumer id>:<call seq>:<first token>:<lease deadline>', score the call's last token.
   * A consumer removes the entry as soon as the reply arrives (before the tries start); a lease
   * that expires while its call is unconfirmed never reached a running consumer, so it goes back
   * with its attempt uncounted.
   */
  readonly handed: string;
  /**
   * sorted set: the enqueue calls applied recently, member '<call nonce>:<reply>', score the
   * producer's clock (ms) at the call. A call that ioredis sends again after its reply was lost
   * finds its first application here and gets the same reply instead of enqueueing twice.
   * Producers remove an entry with their next call; the rest goes after a few minutes.
   */
  readonly calls: string;
  /** pub/sub channel: ids of active jobs whose cancellation was requested */
  readonly cancelChannel: string;
  /** pub/sub channel: the queue may have work now (consumers of many queues listen here instead of blocking on `wake`) */
  readonly readyChannel: string;
}

/** The order of {@link QueueKeys} as scripts receive them in KEYS (see lua/keys.lua). */
export const QUEUE_KEY_ORDER = [
  'meta',
  'jobs',
  'waiting',
  'active',
  'delayed',
  'completed',
  'dead',
  'wake',
  'cancelled',
  'results',
  'progress',
  'events',
  'dedupe',
  'idle',
  'idleSlots',
  'handed',
  'calls',
] as const;

export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `${prefix}:{${queue}}:`;
  return {
    meta: `${base}meta`,
    jobs: `${base}jobs`,
    waiting: `${base}waiting`,
    active: `${base}active`,
    delayed: `${base}delayed`,
    completed: `${base}completed`,
    dead: `${base}dead`,
    wake: `${base}wake`,
    cancelled: `${base}cancelled`,
    results: `${base}results`,
    progress: `${base}progress`,
    events: `${base}events`,
    dedupe: `${base}dedupe`,
    idle: `${base}idle`,
    idleSlots: `${base}idle-slots`,
    handed: `${base}handed`,
    calls: `${base}calls`,
    cancelChannel: `${base}cancel`,
    readyChannel: `${base}ready`,
  };
}

/** A consumer's inbox: leased jobs pushed to it while it is registered as idle (see `idle`). */
export function inboxKey(keys: QueueKeys, consumerId: string): string {
  return `${keys.wake.slice(0, -'wake'.length)}inbox:${consumerId}`;
}

/** The keys of a queue in {@link QUEUE_KEY_ORDER}, ready to pass as a script's KEYS. */

export function queueKeyList(keys: QueueKeys): string[] {
  return QUEUE_KEY_ORDER.map((k) => keys[k]);
}
