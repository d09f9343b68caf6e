import { randomBytes } from 'node:crypto';

export { freePort, startRedisServer, type RedisServer, type RedisServerOptions, type RedisServerTls } from './redis-server.js';
export { probeRedis, type RedisProbe } from './probe.js';
export { startTcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
export { SOURCE_CONDITION, sourceNodeArgs } from './source.js';
export { anyOptions, anyValue, forDuration, fuzzer, plainValue, type Fuzz } from './fuzz.js';

/** A key prefix no other test uses, so tests share a server without FLUSHALL. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** Resolves when `predicate` returns true, polling every `interval` ms; rejects after `timeout`. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  { timeout = 10_000, interval = 20, what = 'condition' }: { timeout?: number; interval?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
