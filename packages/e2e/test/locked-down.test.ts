// Locked-down Redis: docket works as an ACL user restricted to its key prefix and the commands
// of the rule documented in the root README (the rule is read from the README itself, so the
// documented line is the tested one), over TLS with a test CA, and with a password.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Consumer } from '@docket/consumer';
import { type ConnectionInput, Producer, type QueueEvent, QueueEvents, defineQueue, isDocketError } from '@docket/producer';
import { rejection, sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { forkConsumer } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const USER = 'docket';
const PASSWORD = 'user-secret-7f3a';

/** The one ACL line of the README's "Locked-down Redis" section. */
function documentedRule(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Locked-down Redis');
  expect(start).toBeGreaterThan(-1);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const lines = section.split('\n').filter((line) => line.startsWith('user docket '));
  expect(lines).toHaveLength(1);
  return lines[0] as string;
}

/** The documented rule for `prefix` and PASSWORD, as `aclUsers` takes it (without `user`). */
function ruleFor(prefix: string): string {
  const rule = documentedRule();
  for (const placeholder of ['>CHANGE-ME', ' ~docket:* ', ' &docket:* ']) expect(rule).toContain(placeholder);
  return rule
    .replace('>CHANGE-ME', `>${PASSWORD}`)
    .replace(' ~docket:* ', ` ~${prefix}:* `)
    .replace(' &docket:* ', ` &${prefix}:* `)
    .replace(/^user /, '');
}

/** Every command the Lua scripts of the packages call, lower-cased. */
function luaCommands(): Set<string> {
  const commands = new Set<string>();
  const packages = join(ROOT, 'packages');
  for (const pkg of readdirSync(packages)) {
    const src = join(packages, pkg, 'src');
    let files: string[];
    try {
      files = readdirSync(src, { recursive: true }) as string[];
    } catch {
      continue;
    }
    for (const file of files.filter((f) => f.endsWith('.lua'))) {
      const lua = readFileSync(join(src, file), 'utf8');
      for (const m of lua.matchAll(/(?:redis\.p?call|call_chunked)\(\s*'([A-Za-z]+)'/g)) commands.add((m[1] as string).toLowerCase());
    }
  }
  return commands;
}

interface Logs {
  warn: string[];
  error: string[];
  debug: string[];
}

/**
 * Runs every producer, consumer and QueueEvents operation on `connection`: enqueue (waking an
 * idle consumer), enqueueMany, a delayed job, progress, results, getJob, waitFor, a job that
 * dies and is listed, requeued and purged, the cancellation of a running job (over pub/sub:
 * the lease renewal that backs it up is too slow to count here), pause/resume, counts, and the
 * event feed live and replayed. Any refused command fails it. Returns the consumer's logs.
 */
async function exercise(connection: ConnectionInput, prefix: string): Promise<Logs> {
  const queue = defineQueue<{ n?: number; fail?: boolean; hold?: boolean }, number>(uniquePrefix('locked'));
  const logs: Logs = { warn: [], error: [], debug: [] };
  const errors: string[] = [];
  const started = new Set<string>();
  const consumer = new Consumer({
    connection,
    prefix,
    queues: [queue],
    concurrency: 4,
    leaseDuration: 120_000, // renewals (every 40 s) cannot stand in for the cancel message
    logger: { warn: (m) => logs.warn.push(m), error: (m) => logs.error.push(m), debug: (m) => logs.debug.push(m) },
    handler: async (job, { signal, progress }) => {
      started.add(job.id);
      if (job.payload.hold) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        throw signal.reason;
      }
      if (job.payload.fail) throw new Error('refused on purpose');
      progress(50);
      return (job.payload.n ?? 0) * 2;
    },
  });
  consumer.on('error', (err) => errors.push(err.message));
  const producer = new Producer({ connection, prefix });
  const events = new QueueEvents({ connection, prefix, queue });
  const seen: QueueEvent[] = [];
  events.on('event', (e) => seen.push(e));
  events.on('error', (err) => errors.push(err.message));
  let replay: QueueEvents | undefined;
  try {
    await consumer.start();
    await events.start();
    await sleep(100); // the consumer is idle, blocked on its wake-up key

    const one = await producer.enqueue(queue, { n: 21 });
    expect(await producer.waitFor(queue, one.id, { timeout: 10_000 })).toBe(42);
    const many = await producer.enqueueMany(queue, Array.from({ length: 10 }, (_, i) => ({ payload: { n: i } })));
    const delayed = await producer.enqueue(queue, { n: 50 }, { delay: 300 });
    const results = await Promise.all([...many, delayed].map((job) => producer.waitFor(queue, job.id, { timeout: 10_000 })));
    expect(results).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 100]);
    const info = await producer.getJob(queue, one.id);
    expect(info).toMatchObject({ state: 'completed', result: 42 });

    const doomed = await producer.enqueue(queue, { fail: true }, { attempts: 1 });
    expect((await rejection(producer.waitFor(queue, doomed.id, { timeout: 10_000 }))).code).toBe('JOB_FAILED');
    expect((await producer.listDead(queue)).map((job) => job.id)).toEqual([doomed.id]);
    expect(await producer.requeueDead(queue)).toBe(1);
    expect((await rejection(producer.waitFor(queue, doomed.id, { timeout: 10_000 }))).code).toBe('JOB_FAILED');
    expect(await producer.purgeDead(queue)).toBe(1);
    expect(await producer.getJob(queue, doomed.id)).toBeNull();

    const held = await producer.enqueue(queue, { hold: true });
    await waitUntil(() => started.has(held.id), { what: 'the held job to start' });
    expect(await producer.cancel(queue, held.id)).toBe(true);
    expect((await rejection(producer.waitFor(queue, held.id, { timeout: 10_000 }))).code).toBe('CANCELLED');

    await producer.pause(queue);
    expect((await producer.counts(queue)).paused).toBe(true);
    const afterPause = await producer.enqueue(queue, { n: 4 });
    await producer.resume(queue);
    expect(await producer.waitFor(queue, afterPause.id, { timeout: 10_000 })).toBe(8);
    expect(await producer.counts(queue)).toEqual({ waiting: 0, delayed: 0, active: 0, completed: 13, dead: 0, cancelled: 1, paused: false });

    await waitUntil(() => seen.some((e) => e.type === 'completed' && e.jobId === afterPause.id), { what: 'the last completion in the feed' });
    expect(seen.filter((e) => e.type === 'completed')).toHaveLength(13);
    expect(seen.filter((e) => e.type === 'cancelled').map((e) => e.jobId)).toEqual([held.id]);
    expect(seen.some((e) => e.type === 'progress')).toBe(true);
    // Resuming inside a feed entry reads it again (XRANGE) before following the feed (XREAD).
    const from = seen[1] as QueueEvent;
    replay = new QueueEvents({ connection, prefix, queue, from: from.eventId });
    const replayed: QueueEvent[] = [];
    replay.on('event', (e) => replayed.push(e));
    await replay.start();
    await waitUntil(() => replayed.length === seen.length - 2, { what: 'the replayed feed' });
    expect(replayed.map((e) => e.eventId)).toEqual(seen.slice(2).map((e) => e.eventId));

    expect(errors).toEqual([]);
    expect(logs.error).toEqual([]);
    return logs;
  } finally {
    await replay?.close();
    await events.close();
    await consumer.close();
    await producer.close();
  }
}

/** ACL LOG entries (who was refused what), as objects. */
async function aclLog(admin: Redis): Promise<{ username: string; reason: string; object: string }[]> {
  const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
  return entries.map((entry) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < entry.length; i += 2) o[String(entry[i])] = entry[i + 1];
    return { username: String(o.username), reason: String(o.reason), object: String(o.object) };
  });
}

describe('the documented ACL rule', () => {
  it('grants every command the Lua scripts call', () => {
    const granted = new Set([...documentedRule().matchAll(/ \+([a-z|]+)/g)].map((m) => m[1]));
    const called = luaCommands();
    expect(called.size).toBeGreaterThan(20); // the scan found the scripts
    expect([...called].filter((c) => !granted.has(c))).toEqual([]);
  });

  describe('applied to a user on a private redis-server', () => {
    const prefix = uniquePrefix('acl');
    const redis = useRedisServer(() => ({ appendonly: false, aclUsers: [ruleFor(prefix)] }));
    const userUrl = () => `redis://${USER}:${PASSWORD}@127.0.0.1:${redis.port}`;

    it('runs producer, consumer and QueueEvents end to end; only CONFIG GET is refused, and the consumer skips that check', async () => {
      const admin = redis.client();
      await admin.call('ACL', 'LOG', 'RESET');
      const logs = await exercise(userUrl(), prefix);
      expect(logs.warn).toEqual([]);
      expect(logs.debug.join('\n')).toMatch(/maxmemory-policy.*NOPERM/);
      const refused = (await aclLog(admin)).filter((e) => e.username === USER);
      expect(refused.map((e) => e.object)).toContain('config|get');
      // Redis 7.2+ also logs ioredis's CLIENT SETINFO at connect (refused, harmless: see the README).
      expect(refused.filter((e) => e.object !== 'config|get' && e.object !== 'client|setinfo')).toEqual([]);
    });

    it('confines the user to its prefix and commands', async () => {
      const client = new Redis(userUrl(), { maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      try {
        await expect(client.hset(`other:{q}:jobs`, 'a', '1')).rejects.toThrow(/NOPERM/);
        await expect(client.set(`${prefix}:{q}:x`, '1')).rejects.toThrow(/NOPERM/); // SET is not docket's
        await expect(client.del(`${prefix}:{q}:x`)).rejects.toThrow(/NOPERM/);
        await expect(client.keys('*')).rejects.toThrow(/NOPERM/);
        await expect(client.flushall()).rejects.toThrow(/NOPERM/);
        await expect(client.config('GET', 'maxmemory-policy')).rejects.toThrow(/NOPERM/);
        // A script cannot reach outside the prefix either.
        await expect(client.eval("return redis.call('HSET', KEYS[1], 'a', '1')", 1, 'other:k')).rejects.toThrow(/NOPERM/);
      } finally {
        client.disconnect();
      }
      // docket with another prefix: a clear REDIS_ERROR that names the refusal and points to the README.
      const producer = new Producer({ connection: userUrl(), prefix: 'elsewhere' });
      const err = await rejection(producer.enqueue(defineQueue('q'), {}));
      await producer.close();
      expect(isDocketError(err, 'REDIS_ERROR')).toBe(true);
      expect(err.message).toMatch(/NOPERM/);
      expect(err.message).toContain('Locked-down Redis');
      const consumer = new Consumer({ connection: userUrl(), prefix: 'elsewhere', queues: [defineQueue('q')], handler: () => 1 });
      consumer.on('error', () => {});
      const startErr = await rejection(consumer.start());
      expect(isDocketError(startErr, 'REDIS_ERROR')).toBe(true);
      expect(startErr.message).toMatch(/NOPERM/);
      // Nothing outside the prefix was written.
      expect(await redis.client().keys('*')).toSatisfy((keys: string[]) => keys.every((k) => k.startsWith(`${prefix}:`)));
    });
  });
});

describe('TLS with a test CA, a password on the default user, and the ACL user', () => {
  const prefix = uniquePrefix('tls');
  const redis = useRedisServer(() => ({ appendonly: false, tls: true, password: 'default-secret', aclUsers: [ruleFor(prefix)] }));
  const userOptions = () => redis.connectionOptions({ username: USER, password: PASSWORD });

  it('runs everything over TLS with ioredis options { tls: { ca } }', async () => {
    const logs = await exercise(userOptions(), prefix);
    expect(logs.debug.join('\n')).toMatch(/maxmemory-policy.*NOPERM/);
  });

  it('runs everything over TLS with an ioredis instance passed in (duplicated for the consumer and the feed)', async () => {
    const instance = new Redis(userOptions());
    instance.on('error', () => {});
    try {
      await exercise(instance, prefix);
      expect(instance.status).toBe('ready'); // docket closed its copies, not the caller's instance
    } finally {
      instance.disconnect();
    }
  });

  it('runs a consumer child process from a rediss:// URL, trusting the CA through NODE_EXTRA_CA_CERTS', async () => {
    const queue = defineQueue(`tls-child-${prefix}`);
    const url = `rediss://${USER}:${PASSWORD}@127.0.0.1:${redis.port}`;
    const child = await forkConsumer({ url, prefix, queue: queue.name }, { env: { NODE_EXTRA_CA_CERTS: redis.tls?.caFile as string } });
    const producer = new Producer({ connection: userOptions(), prefix });
    try {
      const jobs = await producer.enqueueMany(queue, Array.from({ length: 5 }, (_, i) => ({ payload: { i } })));
      for (const job of jobs) expect(await producer.waitFor(queue, job.id, { timeout: 10_000 })).toEqual({ by: child.process.pid });
    } finally {
      await producer.close();
      await child.kill();
    }
  });

  it('refuses a connection that does not trust the CA, and a plain one, with CONNECTION_FAILED naming the address and cause', async () => {
    const untrusted = new Consumer({
      connection: { host: '127.0.0.1', port: redis.port, username: USER, password: PASSWORD, tls: {} },
      prefix,
      queues: [defineQueue('q')],
      handler: () => 1,
      logger: { warn() {}, error() {} },
    });
    const err = await rejection(untrusted.start({ connectTimeout: 3_000 }));
    expect(isDocketError(err, 'CONNECTION_FAILED')).toBe(true);
    expect(err.message).toContain(`rediss://127.0.0.1:${redis.port}`);
    expect(err.message).toMatch(/certificate/);

    const plain = new Producer({ connection: `redis://${USER}:${PASSWORD}@127.0.0.1:${redis.port}`, prefix, connectTimeout: 3_000 });
    const plainErr = await rejection(plain.enqueue(defineQueue('q'), {}));
    // close() does not wait for a connection that never comes (ioredis would hold QUIT ~10 s).
    const closing = plain.close().then(() => 'closed');
    expect(await Promise.race([closing, sleep(5_000).then(() => 'still closing after 5 s')])).toBe('closed');
    expect(isDocketError(plainErr, 'CONNECTION_FAILED')).toBe(true);
    expect(plainErr.message).toContain(`redis://127.0.0.1:${redis.port}`);
    expect(plainErr.message).not.toContain(PASSWORD);
  });
});
