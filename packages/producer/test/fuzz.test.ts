// Fuzz tests of the producer's validators, against a private redis-server: random job options
// and payloads through enqueue/enqueueMany, random Producer and QueueEvents options. Each call
// must be accepted (and then store what was asked) or refused with a typed error naming the
// option, writing nothing. The seed is printed; replay with DOCKET_FUZZ_SEED=<seed>.
import { anyOptions, anyValue, forDuration, fuzzer, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { isDocketError } from '@docket/protocol';
import { describeThrown, queueKeys } from '@docket/protocol/internal';
import { Producer, QueueEvents, defineQueue } from '../src/index.js';

const BUDGET_MS = 2_000;
const server = useRedisServer({ appendonly: false });
let redis: Redis;

beforeAll(() => {
  redis = server.client();
});

const JOB_OPTION_NAMES = ['options', 'id', 'priority', 'delay', 'runAt', 'attempts', 'backoff', 'backoff.type', 'backoff.delay', 'backoff.max', 'backoff.jitter', 'timeout', 'dedupeFor', 'payload'];

/** The refusal is typed, and its message names the option (or says which value it could not encode). */
function expectRefusal(err: unknown, names: readonly string[], context: string): void {
  const text = `${context}: ${describeThrown(err)}`;
  expect(isDocketError(err), text).toBe(true);
  const { code, message } = err as { code: string; message: string };
  const body = message.replace(/^jobs\[\d+\]: /, '');
  if (code === 'NOT_ENCODABLE') expect(body, text).toMatch(/^Cannot encode the payload: ./);
  else if (code === 'PAYLOAD_TOO_LARGE') expect(body, text).toMatch(/^The encoded payload is \d+ bytes, over `maxPayloadBytes`/);
  else {
    expect(code, text).toBe('INVALID_ARGUMENT');
    const named = names.some((n) => body.includes(`\`${n}\``)) || /^Unknown option `[\w.[\]]+(\.[\w$]+|\[".*"\])`; expected one of /.test(body);
    expect(named, `${text} names none of ${names.join(', ')}`).toBe(true);
  }
}

describe('fuzz: enqueue', () => {
  it('random job options and payloads: stored as asked, or refused naming the option with nothing written', async () => {
    const f = fuzzer('enqueue');
    const prefix = uniquePrefix('fuzz');
    const producer = new Producer({ connection: server.url, prefix, maxPayloadBytes: 4096 });
    const queues = [defineQueue('fuzz-fifo'), defineQueue('fuzz-priority', { strategy: 'priority' })];
    const hlen = (name: string) => redis.hlen(queueKeys(prefix, name).jobs);
    let accepted = 0;
    const runs = await forDuration(BUDGET_MS, async (i) => {
      const queue = f.pick(queues);
      const opts = f.chance(0.1)
        ? anyValue(f, 1)
        : anyOptions(f, {
            id: [`job-${i}`, `k:${f.int(20)}`, 'x'.repeat(256)],
            priority: [0, 1, -1, 1_000_000, -1_000_000, 42],
            delay: [0, 1, 60_000],
            runAt: [new Date(Date.now() + 60_000), Date.now() - 1_000, 0],
            attempts: [1, 3, 1_000_000],
            backoff: [{ type: 'fixed', delay: 0 }, { type: 'exponential', delay: 100, max: 1_000, jitter: true }],
            timeout: [1, 30_000, 2 ** 31 - 1],
            dedupeFor: [0, 60_000],
          });
      const payload = f.chance(0.8) ? { i, data: anyValue(f, 2) } : anyValue(f, 2);
      const before = await hlen(queue.name);
      const context = `seed ${f.seed}, run ${i}`;
      let job: Awaited<ReturnType<Producer['enqueue']>>;
      try {
        job = await producer.enqueue(queue, payload, opts as never);
      } catch (err) {
        expectRefusal(err, JOB_OPTION_NAMES, context);
        expect(await hlen(queue.name), `${context}: written although refused`).toBe(before);
        return;
      }
      accepted++;
      expect(await hlen(queue.name), context).toBe(before + (job.created ? 1 : 0));
      if (!job.created) return; // an id used before: that earlier job stays as it was
      const o = (opts ?? {}) as Record<string, unknown>; // undefined options: every default
      // What a valid call must satisfy, and what it must have stored.
      expect(o.delay !== undefined && o.runAt !== undefined, context).toBe(false);
      if (queue.strategy !== 'priority') expect((o.priority ?? 0) === 0, context).toBe(true); // -0 counts as 0
      if ((o.dedupeFor ?? 0) !== 0) expect(o.id, context).toBeDefined();
      if (o.id !== undefined) expect(job.id).toBe(o.id);
      const stored = await producer.getJob(queue, job.id);
      expect(stored?.maxAttempts, context).toBe(o.attempts ?? 3);
      expect(stored?.priority === (o.priority ?? 0), context).toBe(true);
      const later = (o.delay as number) > 0 || (o.runAt !== undefined && new Date(o.runAt as number).getTime() > Date.now());
      expect(stored?.state, context).toBe(later ? 'delayed' : 'waiting');
    });
    console.log(`[fuzz] enqueue: ${runs} calls, ${accepted} accepted`);
    await producer.close();
  });

  it('random batches: enqueueMany stores all of them, or refuses naming jobs[i] and stores none', async () => {
    const f = fuzzer('enqueueMany');
    const prefix = uniquePrefix('fuzz');
    const producer = new Producer({ connection: server.url, prefix, maxPayloadBytes: 2048, chunkSize: 1 + f.int(5) });
    const queue = defineQueue('fuzz-many');
    const key = queueKeys(prefix, queue.name).jobs;
    const runs = await forDuration(BUDGET_MS / 2, async (i) => {
      const items = Array.from({ length: 1 + f.int(8) }, (_, k) =>
        f.chance(0.9) ? { payload: f.chance(0.8) ? { i, k } : anyValue(f, 1), ...(f.chance(0.3) ? { opts: anyOptions(f, { attempts: [1, 2], delay: [0, 10] }) } : {}) } : anyValue(f, 1),
      );
      const before = await redis.hlen(key);
      try {
        const jobs = await producer.enqueueMany(queue, items as never);
        expect(jobs).toHaveLength(items.length);
        expect(await redis.hlen(key)).toBe(before + items.length);
      } catch (err) {
        expectRefusal(err, [...JOB_OPTION_NAMES, ...items.map((_, k) => `jobs[${k}]`)], `seed ${f.seed}, run ${i}`);
        expect((err as Error).message, `seed ${f.seed}, run ${i}`).toMatch(/jobs\[\d+\]/);
        expect(await redis.hlen(key)).toBe(before);
      }
    });
    console.log(`[fuzz] enqueueMany: ${runs} batches`);
    await producer.close();
  });
});

describe('fuzz: constructors', () => {
  // Only the private server, or values refused before any connection is made: a valid
  // connection left to its default would reach 127.0.0.1:6379, which tests never touch.
  const connections = () => [server.url, { host: '127.0.0.1', port: server.port }, 6379, null, 'http://127.0.0.1', '127.0.0.1:6379', ['redis://x'], true];

  it('new Producer(random options): opens on the private server or refuses naming the option', async () => {
    const f = fuzzer('Producer');
    let accepted = 0;
    const runs = await forDuration(BUDGET_MS / 2, async (i) => {
      let options: unknown;
      if (f.chance(0.1)) {
        options = anyValue(f, 0);
        if (typeof options === 'object' && options !== null) options = 'not an object';
      } else {
        options = { ...anyOptions(f, { prefix: ['app', 'a.b:c', '{x}', ''], maxPayloadBytes: [1, 1024, 16 * 1024 * 1024], chunkSize: [1, 10_000] }), connection: f.pick(connections()) };
      }
      let producer: Producer;
      try {
        producer = new Producer(options as never);
      } catch (err) {
        expectRefusal(err, ['options', 'connection', 'prefix', 'maxPayloadBytes', 'chunkSize'], `seed ${f.seed}, run ${i}`);
        return;
      }
      accepted++;
      await producer.close();
    });
    console.log(`[fuzz] Producer: ${runs} option sets, ${accepted} accepted`);
  });

  it('new QueueEvents(random options): accepted or refused naming the option (it connects only on start)', async () => {
    const f = fuzzer('QueueEvents');
    const queues = [defineQueue('fuzz-ev'), defineQueue('fuzz-quiet', { events: false })];
    await forDuration(BUDGET_MS / 2, (i) => {
      const options = f.chance(0.1)
        ? anyValue(f, 1)
        : anyOptions(f, { connection: connections(), queue: queues, prefix: ['app', ''], from: ['$', '0', '1-0#2', '$#1', 'x'], blockMs: [10, 5_000, 9] });
      try {
        expect(new QueueEvents(options as never)).toBeInstanceOf(QueueEvents);
      } catch (err) {
        expectRefusal(err, ['options', 'connection', 'queue', 'prefix', 'from', 'blockMs'], `seed ${f.seed}, run ${i}`);
      }
    });
  });
});
