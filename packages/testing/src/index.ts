import { randomBytes } from 'node:crypto';

export { freePort, startRedisServer, type RedisServer, type RedisServerOptions, type RedisServerTls } from './redis-server.js';
export { probeRedis, type RedisProbe } from './probe.js';
export { startTcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
export { SOURCE_CONDITION, sourceNodeArgs } from './source.js';
export { anyOptions, anyValue, forDuration, fuzzer, seededNumbers, plainValue, type Fuzz } from './fuzz.js';

/** A key prefix no other test uses, so tests share a server without FLUSHALL. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when `predicate` returns true, polling every `interval` ms; rejects after `timeout`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  { timeout = 10_000, interval = 20, what = 'condition' }: { timeout?: number; interval?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

/** Runs `fn` and returns what it threw; throws if it returned instead. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

/**
 * What `promise` rejects with, or what `fn` throws or rejects with (called and awaited, so a
 * synchronous throw counts too); throws if it resolves instead. Typed as the errors docket
 * raises (`code`, `jobId`); check what it really is in the test.
 */
export async function rejection<E = Error & { code?: string; jobId?: string }>(promise: Promise<unknown> | (() => unknown)): Promise<E> {
  let value: unknown;
  try {
    value = await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    return err as E;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}
export { Expected, expectedOrder, referenceModels, scrambledId, type OrderedStrategy, type RefJob, type ReferenceModel } from './strategy-models.js';
