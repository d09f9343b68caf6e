import { type Cluster, Redis, type RedisOptions } from 'ioredis';
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

/** Replies that mean the credentials were refused: WRONGPASS and NOAUTH (Redis 6+), 'invalid password' (Redis 5). */
const AUTH_REFUSED = /\b(?:WRONGPASS|NOAUTH)\b|invalid password|invalid username-password/i;

/** True for an error saying Redis refused the connection's credentials (or that it needs some). */
export function isAuthError(err: unknown): boolean {
  return err instanceof Error && AUTH_REFUSED.test(err.message);
}

/**
 * Wraps an error from Redis or ioredis in a DocketError (DocketErrors pass through):
 * `AUTH_FAILED` when the credentials were refused, else `REDIS_ERROR`. A NOPERM reply (the
 * ACL user lacks a right) says which right docket needs; an OOM reply names `maxmemory`.
 */
export function redisError(err: unknown, what: string, queue?: string): Error {
  if (err instanceof DocketError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const options = { cause: err, ...(queue ? { queue } : {}) };
  if (isAuthError(err)) return new DocketError('AUTH_FAILED', `${what} failed: Redis refused the credentials: ${message}`, options);
  const hint = /^NOPERM\b/.test(message)
    ? " (the Redis ACL user lacks a right docket needs: see the ACL rule in docket's README, 'Locked-down Redis')"
    : /^OOM\b/.test(message)
      ? ' (Redis is full: its memory use is at `maxmemory` and, with maxmemory-policy noeviction, it refuses writes that add ' +
        'data. Consumers keep draining the queues, and reads, cancels and purges still work; free memory (purge dead jobs, ' +
        'keep fewer finished jobs) or raise `maxmemory`)'
      : '';
  return new DocketError('REDIS_ERROR', `${what} failed: ${message}${hint}`, options);
}

/** host:port of a startup node of a Cluster, without credentials. */
function nodeAddress(node: unknown): string {
  if (typeof node === 'number') return `localhost:${node}`;
  if (typeof node === 'string') {
    try {
      const url = new URL(node.includes('://') ? node : `redis://${node}`);
      return `${url.hostname}:${url.port || 6379}`;
    } catch {
      return '?';
    }
  }
  const n = node as { host?: string; port?: number } | null;
  return `${n?.host ?? 'localhost'}:${n?.port ?? 6379}`;
}

/**
 * Where a client connects, for messages: `redis://host:port`, `rediss://host:port` (TLS), a
 * unix socket, or a Cluster's startup nodes, with the ACL user name if one is set. Never the
 * password.
 */
export function describeConnection(client: RedisClient): string {
  if ((client as Cluster).isCluster) {
    const nodes = (client as unknown as { startupNodes?: unknown[] }).startupNodes ?? [];
    return `the Redis Cluster at ${nodes.map(nodeAddress).join(', ') || '?'}`;
  }
  const o = (client as Redis).options;
  const user = o.username ? ` as user "${o.username}"` : '';
  if (o.path) return `Redis at unix socket ${o.path}${user}`;
  return `${o.tls ? 'rediss' : 'redis'}://${o.host ?? 'localhost'}:${o.port ?? 6379}${user}`;
}

/**
 * Resolves once `client` is ready for commands (connecting it if it was created with
 * `lazyConnect`). Rejects with a DocketError naming the address and the cause: `AUTH_FAILED`
 * as soon as Redis refuses the credentials (retrying cannot help), `CONNECTION_FAILED` when
 * the client gives up reconnecting or `timeout` ms pass without a usable connection (with
 * the last connection error, e.g. ECONNREFUSED or a TLS certificate problem). The client
 * itself is left as it is: the caller decides whether to disconnect it.
 */
export function waitForConnection(client: RedisClient, timeout: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const fail = (code: 'AUTH_FAILED' | 'CONNECTION_FAILED', reason: string) => {
      const where = describeConnection(client);
      const message =
        code === 'AUTH_FAILED'
          ? `${where} refused the credentials (${reason.replace(/\.$/, '')}); check the user name and password in \`connection\``
          : `Could not connect to ${where}: ${reason}`;
      finish(new DocketError(code, message, lastError ? { cause: lastError } : {}));
    };
    const finish = (err?: DocketError) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => finish();
    const onError = (err: Error) => {
      lastError = err;
      if (isAuthError(err)) fail('AUTH_FAILED', err.message);
    };
    // 'end': the client will not reconnect (closed, or its retryStrategy gave up).
    const onEnd = () => fail('CONNECTION_FAILED', lastError ? lastError.message : 'the connection was closed');
    const timer = setTimeout(() => {
      const cause = lastError ? `${lastError.message} (still failing after ${timeout} ms)` : `no connection within ${timeout} ms`;
      fail(lastError && isAuthError(lastError) ? 'AUTH_FAILED' : 'CONNECTION_FAILED', cause);
    }, timeout);
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('end', onEnd);
    if (client.status === 'wait' || client.status === 'end') client.connect().catch(() => {});
  });
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
