// Guarantee 7: a consumer warns at start when Redis's maxmemory-policy is not noeviction (with
// eviction, Redis may drop job data under memory pressure), and starts anyway, with a debug
// note, when it may not read the setting (CONFIG denied to its ACL user).
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue, isDocketError } from '@docket/producer';
import { uniquePrefix } from '@docket/testing';
import { startRedisServerForTest } from '@docket/testing/vitest';
import { describe, expect, it } from 'vitest';

interface Logs {
  warn: string[];
  error: string[];
  debug: string[];
}

/** Starts a consumer on `connection` with a recording logger, runs one job, closes; returns what was logged. */
async function startAndRun(connection: unknown, withDebug = true): Promise<Logs> {
  const logs: Logs = { warn: [], error: [], debug: [] };
  const logger = {
    warn: (m: string) => logs.warn.push(m),
    error: (m: string) => logs.error.push(m),
    ...(withDebug ? { debug: (m: string) => logs.debug.push(m) } : {}),
  };
  const prefix = uniquePrefix();
  const queue = defineQueue(`config-${prefix}`);
  const consumer = new Consumer({ connection: connection as string, prefix, queues: [queue], handler: () => 'ran', logger });
  const producer = new Producer({ connection: connection as string, prefix });
  await consumer.start();
  try {
    const job = await producer.enqueue(queue, {});
    expect(await producer.waitFor(queue, job.id, { timeout: 10_000 })).toBe('ran');
  } finally {
    await consumer.close();
    await producer.close();
  }
  return logs;
}

describe("the consumer's check of maxmemory-policy at start", () => {
  it("warns once, naming the policy, when it is not 'noeviction'", async () => {
    const redis = await startRedisServerForTest({ appendonly: false, args: ['--maxmemory-policy', 'allkeys-lru'] });
    const logs = await startAndRun(redis.url);
    expect(logs.warn).toHaveLength(1);
    expect(logs.warn[0]).toContain("'allkeys-lru'");
    expect(logs.warn[0]).toContain('noeviction');
    expect(logs.error).toEqual([]);
  });

  it("says nothing when it is 'noeviction'", async () => {
    const redis = await startRedisServerForTest({ appendonly: false, args: ['--maxmemory-policy', 'noeviction'] });
    const logs = await startAndRun(redis.url);
    expect(logs).toEqual({ warn: [], error: [], debug: [] });
  });

  it('skips the check with a debug note when CONFIG GET is denied, even on an evicting Redis, and runs jobs', async () => {
    const redis = await startRedisServerForTest({
      appendonly: false,
      args: ['--maxmemory-policy', 'volatile-lru'],
      aclUsers: ['noconfig on >pw ~* &* +@all -config'],
    });
    const connection = { host: '127.0.0.1', port: redis.port, username: 'noconfig', password: 'pw' };
    const logs = await startAndRun(connection);
    expect(logs.warn).toEqual([]);
    expect(logs.error).toEqual([]);
    expect(logs.debug).toHaveLength(1);
    expect(logs.debug[0]).toMatch(/maxmemory-policy.*NOPERM/);
    // A logger without debug() is fine too: nothing is logged, nothing throws.
    const quiet = await startAndRun(connection, false);
    expect(quiet).toEqual({ warn: [], error: [], debug: [] });
  });
});

describe('the logger option', () => {
  it('refuses a debug that is not a function, naming `logger`', () => {
    let caught: unknown;
    try {
      new Consumer({ queues: [defineQueue('q')], handler: () => 1, logger: { warn() {}, error() {}, debug: 'yes' } as never });
    } catch (err) {
      caught = err;
    }
    expect(isDocketError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toContain('`logger`');
  });
});
