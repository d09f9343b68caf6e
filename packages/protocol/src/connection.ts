import { Redis, type RedisOptions } from 'ioredis';
import { DocketError } from './errors.js';
import type { RedisClient } from './script.js';
import { describe } from './validate.js';

/**
 * How to reach Redis: a URL (`redis://`, `rediss://`), ioredis options, or an existing
 * ioredis `Redis`/`Cluster` instance. docket closes only the connections it created.
 */
export type ConnectionInput = string | RedisOptions | RedisClient | undefined;

export interface OpenedConnection {
  client: RedisClient;
  /** True when docket created the client and so must close it. */
  owned: boolean;
}

function isClient(value: object): value is RedisClient {
  const v = value as { duplicate?: unknown; status?: unknown; evalsha?: unknown };
  return typeof v.duplicate === 'function' && typeof v.status === 'string' && typeof v.evalsha === 'function';
}

/**
 * Turns a {@link ConnectionInput} into a client. `defaults` apply only to clients docket
 * creates, under the caller's options; `forced` apply over them (settings docket's
 * correctness depends on). An instance the caller passes is returned as it is.
 */
export function openConnection(input: unknown, defaults: RedisOptions = {}, forced: RedisOptions = {}): OpenedConnection {
  // Like ioredis itself, no connection means the local default (also what an unset
  // REDIS_URL gives): a wrong guess shows up as a connection error, not as lost jobs.
  if (input === undefined) return { client: new Redis({ ...defaults, ...forced }), owned: true };
  if (typeof input === 'string') {
    if (!/^rediss?:\/\//.test(input)) {
      throw new DocketError('INVALID_ARGUMENT', `Expected \`connection\` to be a redis:// or rediss:// URL, got \`${describe(input)}\``);
    }
    return { client: new Redis(input, { ...defaults, ...forced }), owned: true };
  }
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    if (isClient(input)) return { client: input, owned: false };
    return { client: new Redis({ ...defaults, ...(input as RedisOptions), ...forced }), owned: true };
  }
  throw new DocketError(
    'INVALID_ARGUMENT',
    `Expected \`connection\` to be a Redis URL, ioredis options or an ioredis instance, got \`${describe(input)}\``,
  );
}

/** Wraps an error from Redis or ioredis in a `REDIS_ERROR` DocketError (others pass through). */
export function redisError(err: unknown, what: string, queue?: string): Error {
  if (err instanceof DocketError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DocketError('REDIS_ERROR', `${what} failed: ${message}`, { cause: err, ...(queue ? { queue } : {}) });
}

/**
 * Throws the `INVALID_ARGUMENT` DocketError that {@link openConnection} would, without
 * connecting: constructors call it so a bad `connection` is refused at once, not at start().
 */
export function checkConnection(input: unknown): ConnectionInput {
  if (input === undefined || (typeof input === 'object' && input !== null && !Array.isArray(input))) {
    return input as ConnectionInput;
  }
  if (typeof input === 'string') {
    if (/^rediss?:\/\//.test(input)) return input;
    throw new DocketError('INVALID_ARGUMENT', `Expected \`connection\` to be a redis:// or rediss:// URL, got \`${describe(input)}\``);
  }
  throw new DocketError(
    'INVALID_ARGUMENT',
    `Expected \`connection\` to be a Redis URL, ioredis options or an ioredis instance, got \`${describe(input)}\``,
  );
}
