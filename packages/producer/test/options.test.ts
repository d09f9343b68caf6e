import { PROTOCOL_VERSION } from '@docket/protocol';
import { encodeValue, queueKeys } from '@docket/protocol/internal';
import { rejection, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ATTEMPTS,
  type DocketErrorCode,
  type JobOptions,
  MAX_PRIORITY,
  MIN_PRIORITY,
  Producer,
  type ProducerOptions,
  QueueEvents,
  type QueueEventsOptions,
  defineQueue,
  isDocketError,
} from '../src/index.js';

const server = useRedisServer({ appendonly: false });
let redis: Redis;
const open: Producer[] = [];

beforeAll(() => {
  redis = server.client();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

function producer(options: Partial<ProducerOptions> = {}): { producer: Producer; prefix: string } {
  const prefix = options.prefix ?? uniquePrefix('prod');
  const p = new Producer({ connection: server.url, ...options, prefix });
  open.push(p);
  return { producer: p, prefix };
}

async function keysUnder(prefix: string): Promise<string[]> {
  return redis.keys(`${prefix}:*`);
}

/** Expects `fn` to throw (synchronously or by rejecting) a DocketError with `code`; returns its message. */
async function failure(fn: () => unknown, code: DocketErrorCode): Promise<string> {
  const caught = await rejection<unknown>(fn);
  expect(caught, 'expected a DocketError').toBeDefined();
  expect(isDocketError(caught), String(caught)).toBe(true);
  expect((caught as { code: string }).code, (caught as Error).message).toBe(code);
  return (caught as Error).message;
}

const fifoQueue = defineQueue<unknown>('opts-fifo');
const priorityQueue = defineQueue<unknown>('opts-priority', { strategy: 'priority' });

describe('invalid job options', () => {
  // [label, queue, options, the option the message must name (with backticks)]
  const cases: [string, typeof fifoQueue, unknown, string][] = [
    ['id numeric-only', fifoQueue, { id: '12345' }, '`id`'],
    ['id zero', fifoQueue, { id: '0' }, '`id`'],
    ['id too long', fifoQueue, { id: 'x'.repeat(257) }, '`id`'],
    ['id empty', fifoQueue, { id: '' }, '`id`'],
    ['id a number', fifoQueue, { id: 42 }, '`id`'],
    ['priority on a fifo queue', fifoQueue, { priority: 5 }, '`priority`'],
    ['negative priority on a fifo queue', fifoQueue, { priority: -5 }, '`priority`'],
    ['priority above the range', priorityQueue, { priority: MAX_PRIORITY + 1 }, '`priority`'],
    ['priority below the range', priorityQueue, { priority: MIN_PRIORITY - 1 }, '`priority`'],
    ['priority a float', priorityQueue, { priority: 1.5 }, '`priority`'],
    ['priority a string', priorityQueue, { priority: '10' }, '`priority`'],
    ['delay negative', fifoQueue, { delay: -1 }, '`delay`'],
    ['delay a float', fifoQueue, { delay: 1.5 }, '`delay`'],
    ['delay NaN', fifoQueue, { delay: Number.NaN }, '`delay`'],
    ['delay Infinity', fifoQueue, { delay: Number.POSITIVE_INFINITY }, '`delay`'],
    ['delay a string', fifoQueue, { delay: '100' }, '`delay`'],
    ['delay and runAt together', fifoQueue, { delay: 10, runAt: Date.now() + 10 }, '`runAt`'],
    ['runAt an invalid Date', fifoQueue, { runAt: new Date('not a date') }, '`runAt`'],
    ['runAt a string', fifoQueue, { runAt: '2030-01-01' }, '`runAt`'],
    ['runAt NaN', fifoQueue, { runAt: Number.NaN }, '`runAt`'],
    ['runAt past the last instant a Date can hold', fifoQueue, { runAt: 2e17 }, '`runAt`'],
    ['runAt negative', fifoQueue, { runAt: -1 }, '`runAt`'],
    ['attempts 0', fifoQueue, { attempts: 0 }, '`attempts`'],
    ['attempts 1.5', fifoQueue, { attempts: 1.5 }, '`attempts`'],
    ['attempts negative', fifoQueue, { attempts: -1 }, '`attempts`'],
    ['attempts a string', fifoQueue, { attempts: '3' }, '`attempts`'],
    ['backoff not an object', fifoQueue, { backoff: 'exponential' }, '`backoff`'],
    ['backoff bad type', fifoQueue, { backoff: { type: 'linear', delay: 100 } }, '`backoff.type`'],
    ['backoff missing type', fifoQueue, { backoff: { delay: 100 } }, '`backoff.type`'],
    ['backoff negative delay', fifoQueue, { backoff: { type: 'fixed', delay: -1 } }, '`backoff.delay`'],
    ['backoff float delay', fifoQueue, { backoff: { type: 'fixed', delay: 0.5 } }, '`backoff.delay`'],
    ['backoff max < delay', fifoQueue, { backoff: { type: 'exponential', delay: 1000, max: 999 } }, '`backoff.max`'],
    ['backoff unknown key', fifoQueue, { backoff: { type: 'fixed', delay: 10, factor: 3 } }, 'backoff.factor'],
    ['backoff jitter not boolean', fifoQueue, { backoff: { type: 'fixed', delay: 10, jitter: 'yes' } }, '`backoff.jitter`'],
    ['backoff jitter a number', fifoQueue, { backoff: { type: 'fixed', delay: 10, jitter: 1 } }, '`backoff.jitter`'],
    ['timeout 0', fifoQueue, { timeout: 0 }, '`timeout`'],
    ['timeout negative', fifoQueue, { timeout: -100 }, '`timeout`'],
    ['timeout a float', fifoQueue, { timeout: 10.5 }, '`timeout`'],
    ['timeout past what a timer can wait (it would fire at once)', fifoQueue, { timeout: 2 ** 31 }, '`timeout`'],
    ['dedupeFor negative', fifoQueue, { id: 'd', dedupeFor: -1 }, '`dedupeFor`'],
    ['dedupeFor a float', fifoQueue, { id: 'd', dedupeFor: 0.5 }, '`dedupeFor`'],
    ['dedupeFor without an id', fifoQueue, { dedupeFor: 60_000 }, '`dedupeFor`'],
    ['unknown option key', fifoQueue, { atempts: 3 }, 'atempts'],
    ['unknown option key (delayMs)', fifoQueue, { delayMs: 5 }, 'delayMs'],
    ['options not an object', fifoQueue, 'fast', '`options`'],
    ['options an array', fifoQueue, [], '`options`'],
  ];

  it.each(cases)('%s', async (_label, queue, opts, option) => {
    const { producer: p, prefix } = producer();
    const message = await failure(() => p.enqueue(queue, { ok: true }, opts as JobOptions), 'INVALID_ARGUMENT');
    expect(message).toContain(option);
    // The same options inside enqueueMany are refused the same way.
    await failure(() => p.enqueueMany(queue, [{ payload: 1 }, { payload: 2, opts: opts as JobOptions }]), 'INVALID_ARGUMENT');
    expect(await keysUnder(prefix)).toEqual([]); // nothing written
  });

  it('options or an enqueueMany item that cannot be read (a getter that throws, a revoked Proxy) are refused naming them', async () => {
    const { producer: p, prefix } = producer();
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const getter = {
      get attempts(): number {
        throw new Error('config not loaded');
      },
    };
    expect(await failure(() => p.enqueue(fifoQueue, 1, getter as never), 'INVALID_ARGUMENT')).toContain('`options` cannot be read: Error: config not loaded');
    expect(await failure(() => p.enqueue(fifoQueue, 1, proxy as never), 'INVALID_ARGUMENT')).toContain('`options`');
    expect(await failure(() => p.enqueueMany(fifoQueue, proxy as never), 'INVALID_ARGUMENT')).toContain('`jobs`');
    expect(await failure(() => p.enqueueMany(fifoQueue, [{ payload: 1 }, proxy] as never), 'INVALID_ARGUMENT')).toContain('`jobs[1]`');
    expect(await failure(() => p.enqueue(proxy as never, 1), 'INVALID_ARGUMENT')).toContain('`queue`');
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('messages show the rejected value', async () => {
    const { producer: p } = producer();
    expect(await failure(() => p.enqueue(fifoQueue, 1, { attempts: 0 }), 'INVALID_ARGUMENT')).toContain('`0`');
    expect(await failure(() => p.enqueue(fifoQueue, 1, { timeout: 10.5 }), 'INVALID_ARGUMENT')).toContain('10.5');
    expect(await failure(() => p.enqueue(fifoQueue, 1, { id: '12345' }), 'INVALID_ARGUMENT')).toContain('12345');
  });

  it('delay and runAt together names both', async () => {
    const { producer: p } = producer();
    const message = await failure(() => p.enqueue(fifoQueue, 1, { delay: 1, runAt: new Date() }), 'INVALID_ARGUMENT');
    expect(message).toContain('`delay`');
    expect(message).toContain('`runAt`');
  });

  it('an undefined payload is refused, a function payload is not encodable', async () => {
    const { producer: p, prefix } = producer();
    expect(await failure(() => p.enqueue(fifoQueue, undefined), 'INVALID_ARGUMENT')).toContain('`payload`');
    await failure(() => p.enqueue(fifoQueue, () => 1), 'NOT_ENCODABLE');
    await failure(() => p.enqueue(fifoQueue, { nested: { cb: () => 1 } }), 'NOT_ENCODABLE');
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('a queue that is not from defineQueue is refused', async () => {
    const { producer: p } = producer();
    const message = await failure(() => p.enqueue({ name: 'q', strategy: 'fifo' } as typeof fifoQueue, 1), 'INVALID_ARGUMENT');
    expect(message).toContain('`queue`');
  });

  it('one bad job in enqueueMany rejects the call before anything is written', async () => {
    const { producer: p, prefix } = producer();
    const jobs = [...Array.from({ length: 1500 }, (_, i) => ({ payload: i })), { payload: 'bad', opts: { attempts: 0 } }];
    await failure(() => p.enqueueMany(fifoQueue, jobs), 'INVALID_ARGUMENT');
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('enqueueMany refuses a non-array and non-object items, naming them', async () => {
    const { producer: p, prefix } = producer();
    expect(await failure(() => p.enqueueMany(fifoQueue, 'jobs' as never), 'INVALID_ARGUMENT')).toContain('`jobs`');
    expect(await failure(() => p.enqueueMany(fifoQueue, [{ payload: 1 }, null] as never), 'INVALID_ARGUMENT')).toContain(
      '`jobs[1]`',
    );
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('enqueueMany refuses an item with a misspelt key instead of enqueueing it with every default', async () => {
    const { producer: p, prefix } = producer();
    const message = await failure(
      () => p.enqueueMany(fifoQueue, [{ payload: 1 }, { payload: 2, options: { attempts: 9 } }] as never),
      'INVALID_ARGUMENT',
    );
    expect(message).toContain('jobs[1].options');
    expect(message).toContain('`opts`');
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('enqueueMany: a payload over maxPayloadBytes or not encodable names its item, and nothing of the batch is written', async () => {
    const { producer: p, prefix } = producer({ maxPayloadBytes: 100 });
    const big = await failure(() => p.enqueueMany(fifoQueue, [{ payload: 'ok' }, { payload: 'ok' }, { payload: 'x'.repeat(200) }]), 'PAYLOAD_TOO_LARGE');
    expect(big).toMatch(/^jobs\[2\]: /);
    expect(big).toContain('maxPayloadBytes');
    const fn = await failure(() => p.enqueueMany(fifoQueue, [{ payload: { cb: () => 1 } }, { payload: 'ok' }]), 'NOT_ENCODABLE');
    expect(fn).toMatch(/^jobs\[0\]: /);
    expect(fn).toContain('payload.cb');
    expect(await keysUnder(prefix)).toEqual([]);
    // The good jobs alone go through.
    expect((await p.enqueueMany(fifoQueue, [{ payload: 'ok' }, { payload: 'ok' }])).map((j) => j.created)).toEqual([true, true]);
  });

  it('valid edge values are accepted', async () => {
    const { producer: p } = producer();
    const ok: JobOptions[] = [
      { id: 'x'.repeat(256) },
      { id: '12a' },
      { id: 'welcome:42' },
      { id: 'ünïcödé-🎉' },
      { priority: 0 },
      { delay: 0 },
      { attempts: 1 },
      { backoff: { type: 'fixed', delay: 0 } },
      { backoff: { type: 'exponential', delay: 100, max: 100, jitter: false } },
      { timeout: 1 },
      { timeout: 2 ** 31 - 1 },
    ];
    for (const opts of ok) {
      const job = await p.enqueue(fifoQueue, { opts: JSON.stringify(opts) }, opts);
      expect(job.created).toBe(true);
      if (opts.id !== undefined) expect(job.id).toBe(opts.id);
    }
  });
});

describe('the Producer constructor', () => {
  const bad: [string, unknown, string][] = [
    ['no options', undefined, '`options`'],
    ['options a string', 'redis://127.0.0.1:6379', '`options`'],
    ['connection a number', { connection: 6379 }, '`connection`'],
    ['connection null', { connection: null }, '`connection`'],
    ['connection an array', { connection: ['redis://x'] }, '`connection`'],
    ['connection a non-redis URL', { connection: 'http://127.0.0.1:6379' }, '`connection`'],
    ['connection host:port without scheme', { connection: '127.0.0.1:6379' }, '`connection`'],
    ['prefix empty', { connection: 'redis://127.0.0.1:1', prefix: '' }, '`prefix`'],
    ['prefix with a space', { connection: 'redis://127.0.0.1:1', prefix: 'my app' }, '`prefix`'],
    ['prefix with braces', { connection: 'redis://127.0.0.1:1', prefix: '{app}' }, '`prefix`'],
    ['prefix a number', { connection: 'redis://127.0.0.1:1', prefix: 5 }, '`prefix`'],
    ['maxPayloadBytes 0', { connection: 'redis://127.0.0.1:1', maxPayloadBytes: 0 }, '`maxPayloadBytes`'],
    ['maxPayloadBytes negative', { connection: 'redis://127.0.0.1:1', maxPayloadBytes: -1 }, '`maxPayloadBytes`'],
    ['maxPayloadBytes a float', { connection: 'redis://127.0.0.1:1', maxPayloadBytes: 1.5 }, '`maxPayloadBytes`'],
    ['maxPayloadBytes a string', { connection: 'redis://127.0.0.1:1', maxPayloadBytes: '1mb' }, '`maxPayloadBytes`'],
    ['maxPayloadBytes above 512 MiB (Redis string limit)', { connection: 'redis://127.0.0.1:1', maxPayloadBytes: 2 ** 40 }, '`maxPayloadBytes`'],
    ['maxPayloadBytes above the 16 MiB ceiling', { connection: 'redis://127.0.0.1:1', maxPayloadBytes: 16 * 1024 * 1024 + 1 }, '16777217'],
    ['chunkSize 0', { connection: 'redis://127.0.0.1:1', chunkSize: 0 }, '`chunkSize`'],
    ['connectTimeout 0', { connection: 'redis://127.0.0.1:1', connectTimeout: 0 }, '`connectTimeout`'],
    ['connectTimeout a string', { connection: 'redis://127.0.0.1:1', connectTimeout: '5s' }, '`connectTimeout`'],
    ['unknown key', { connection: 'redis://127.0.0.1:1', prefx: 'app' }, 'prefx'],
    ['unknown key (url)', { url: 'redis://127.0.0.1:1' }, 'url'],
    // A Map of options has no own properties: it must not mean "connect to the default Redis".
    ['options a Map', new Map([['connection', 'redis://127.0.0.1:1']]), '`options`'],
    ['options a Promise (a missing await)', Promise.resolve({}), '`options`'],
    ['options with a getter that throws', { get connection() { throw new Error('secret store down'); } }, '`options` cannot be read'],
  ];
  it.each(bad)('rejects %s', async (_label, options, option) => {
    const message = await failure(() => new Producer(options as ProducerOptions), 'INVALID_ARGUMENT');
    expect(message).toContain(option);
  });

  it('accepts ioredis options', async () => {
    const prefix = uniquePrefix('prod');
    const p = new Producer({ connection: { host: '127.0.0.1', port: server.port }, prefix });
    open.push(p);
    const job = await p.enqueue(fifoQueue, 'via options');
    expect((await p.getJob(fifoQueue, job.id))?.payload).toBe('via options');
  });
});

describe('every other Producer method refuses bad arguments, naming them', () => {
  const notAQueue = { name: 'opts-fifo', strategy: 'fifo', events: true };
  // [label, call, the option the message must name]
  const cases: [string, (p: Producer) => Promise<unknown>, string][] = [
    ['enqueue: queue a plain object', (p) => p.enqueue(notAQueue as never, 1), '`queue`'],
    ['enqueue: queue a string', (p) => p.enqueue('opts-fifo' as never, 1), '`queue`'],
    ['enqueueMany: queue null', (p) => p.enqueueMany(null as never, []), '`queue`'],
    ['getJob: queue a plain object', (p) => p.getJob(notAQueue as never, 'x'), '`queue`'],
    ['getJob: id a number', (p) => p.getJob(fifoQueue, 42 as never), '`id`'],
    ['getJob: id empty', (p) => p.getJob(fifoQueue, ''), '`id`'],
    ['getJob: id too long', (p) => p.getJob(fifoQueue, 'x'.repeat(257)), '`id`'],
    ['cancel: id undefined', (p) => p.cancel(fifoQueue, undefined as never), '`id`'],
    ['cancel: queue undefined', (p) => p.cancel(undefined as never, 'x'), '`queue`'],
    ['waitFor: id null', (p) => p.waitFor(fifoQueue, null as never), '`id`'],
    ['waitFor: options a number', (p) => p.waitFor(fifoQueue, 'x', 5_000 as never), '`options`'],
    ['waitFor: unknown option', (p) => p.waitFor(fifoQueue, 'x', { timout: 5 } as never), 'options.timout'],
    ['waitFor: timeout 0', (p) => p.waitFor(fifoQueue, 'x', { timeout: 0 }), '`timeout`'],
    ['waitFor: timeout past the timer limit', (p) => p.waitFor(fifoQueue, 'x', { timeout: 2 ** 31 }), '`timeout`'],
    ['waitFor: signal not an AbortSignal', (p) => p.waitFor(fifoQueue, 'x', { signal: { aborted: false } as never }), '`signal`'],
    ['counts: queue a number', (p) => p.counts(1 as never), '`queue`'],
    ['pause: queue a plain object', (p) => p.pause(notAQueue as never), '`queue`'],
    ['resume: queue null', (p) => p.resume(null as never), '`queue`'],
    ['listDead: options an array', (p) => p.listDead(fifoQueue, [] as never), '`options`'],
    ['listDead: unknown option', (p) => p.listDead(fifoQueue, { start: 1 } as never), 'options.start'],
    ['listDead: offset negative', (p) => p.listDead(fifoQueue, { offset: -1 }), '`offset`'],
    ['listDead: limit 0', (p) => p.listDead(fifoQueue, { limit: 0 }), '`limit`'],
    ['listDead: limit over 10,000', (p) => p.listDead(fifoQueue, { limit: 10_001 }), '`limit`'],
    ['requeueDead: ids a string', (p) => p.requeueDead(fifoQueue, 'a,b' as never), '`ids`'],
    ['requeueDead: an id a number', (p) => p.requeueDead(fifoQueue, ['a', 7] as never), '`ids[1]`'],
    ['purgeDead: an empty id', (p) => p.purgeDead(fifoQueue, [''] as never), '`ids[0]`'],
    ['purgeDead: ids an object', (p) => p.purgeDead(fifoQueue, { id: 'a' } as never), '`ids`'],
    ['purgeDead: queue a plain object', (p) => p.purgeDead(notAQueue as never), '`queue`'],
  ];
  it.each(cases)('%s', async (_label, call, option) => {
    const { producer: p, prefix } = producer();
    expect(await failure(() => call(p), 'INVALID_ARGUMENT')).toContain(option);
    expect(await keysUnder(prefix)).toEqual([]); // refused before touching Redis
  });

  it('waitFor on a queue defined with events off is refused, naming the queue', async () => {
    const { producer: p } = producer();
    const quiet = defineQueue('opts-quiet', { events: false });
    expect(await failure(() => p.waitFor(quiet, 'x'), 'INVALID_ARGUMENT')).toContain('events: false');
  });
});

describe('new QueueEvents(options)', () => {
  const base = { connection: 'redis://127.0.0.1:1', queue: fifoQueue };
  const bad: [string, unknown, string][] = [
    ['no options', undefined, '`options`'],
    ['an unknown key', { ...base, form: '0' }, 'options.form'],
    ['no queue', { connection: base.connection }, '`queue`'],
    ['a queue not from defineQueue', { ...base, queue: { name: 'q' } }, '`queue`'],
    ['a queue with events off', { ...base, queue: defineQueue('opts-quiet', { events: false }) }, 'events: false'],
    ['connection a number', { ...base, connection: 6379 }, '`connection`'],
    ['connection a non-redis URL', { ...base, connection: 'https://127.0.0.1' }, '`connection`'],
    ['prefix with a space', { ...base, prefix: 'my app' }, '`prefix`'],
    ['from a date string', { ...base, from: '2024-01-01' }, '`from`'],
    ['from a number', { ...base, from: 0 }, '`from`'],
    ["from '$' with an index", { ...base, from: '$#2' }, '`from`'],
    ['blockMs under 10', { ...base, blockMs: 5 }, '`blockMs`'],
    ['blockMs a string', { ...base, blockMs: '1000' }, '`blockMs`'],
  ];
  it.each(bad)('refuses %s', async (_label, options, option) => {
    expect(await failure(() => new QueueEvents(options as QueueEventsOptions), 'INVALID_ARGUMENT')).toContain(option);
  });

  it('accepts valid starting points without connecting', () => {
    for (const from of ['$', '0', '1700000000000-0', '1700000000000-3#4']) {
      expect(new QueueEvents({ ...base, from })).toBeInstanceOf(QueueEvents);
    }
  });
});

describe('enqueue against a real redis-server', () => {
  it('returns distinct ids and stores the job', async () => {
    const { producer: p, prefix } = producer();
    const before = Date.now();
    const a = await p.enqueue(fifoQueue, { to: 'a@b.c', n: 1 });
    const b = await p.enqueue(fifoQueue, { to: 'd@e.f', n: 2 });
    const after = Date.now();
    for (const job of [a, b]) {
      expect(typeof job.id).toBe('string');
      expect(job.id.length).toBeGreaterThan(0);
      expect(job.created).toBe(true);
      expect(job.queue).toBe(fifoQueue.name);
    }
    expect(a.id).not.toBe(b.id);
    const info = await p.getJob(fifoQueue, a.id);
    expect(info).not.toBeNull();
    expect(info?.id).toBe(a.id);
    expect(info?.state).toBe('waiting');
    expect(info?.payload).toEqual({ to: 'a@b.c', n: 1 });
    expect(info?.attempts).toBe(0);
    expect(info?.maxAttempts).toBe(DEFAULT_ATTEMPTS);
    expect(info?.timestamps.created).toBeGreaterThanOrEqual(before);
    expect(info?.timestamps.created).toBeLessThanOrEqual(after);
    expect(await redis.hlen(queueKeys(prefix, fifoQueue.name).jobs)).toBe(2);
  });

  it('stores the job options in the record', async () => {
    const { producer: p } = producer();
    const job = await p.enqueue(fifoQueue, 'x', { id: 'with-opts', attempts: 7, timeout: 5_000 });
    const info = await p.getJob(fifoQueue, job.id);
    expect(info?.maxAttempts).toBe(7);
    expect(info?.priority).toBe(0);
    expect(info?.error).toBeUndefined();
  });

  it('the same custom id twice: created=false, the same id, one job, the first payload kept', async () => {
    const { producer: p, prefix } = producer();
    const keys = queueKeys(prefix, fifoQueue.name);
    const first = await p.enqueue(fifoQueue, { version: 1 }, { id: 'welcome:42' });
    const second = await p.enqueue(fifoQueue, { version: 2 }, { id: 'welcome:42', attempts: 9 });
    expect(first).toMatchObject({ id: 'welcome:42', created: true });
    expect(second).toMatchObject({ id: 'welcome:42', created: false });
    expect(await redis.hlen(keys.jobs)).toBe(1);
    expect(await redis.llen(keys.waiting)).toBe(1); // not queued twice
    const info = await p.getJob(fifoQueue, 'welcome:42');
    expect(info?.payload).toEqual({ version: 1 });
    expect(info?.maxAttempts).toBe(DEFAULT_ATTEMPTS);
  });

  it('20 concurrent enqueues of the same id create exactly one job', async () => {
    const { producer: p, prefix } = producer();
    const keys = queueKeys(prefix, fifoQueue.name);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => p.enqueue(fifoQueue, { i }, { id: 'race' })));
    expect(results.map((r) => r.id)).toEqual(Array(20).fill('race'));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await redis.hlen(keys.jobs)).toBe(1);
    expect(await redis.llen(keys.waiting)).toBe(1);
  });

  it('concurrent enqueues from two producers with the same id create one job', async () => {
    const prefix = uniquePrefix('prod');
    const { producer: p1 } = producer({ prefix });
    const { producer: p2 } = producer({ prefix });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? p1 : p2).enqueue(fifoQueue, { i }, { id: 'race-2' })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await redis.hlen(queueKeys(prefix, fifoQueue.name).jobs)).toBe(1);
  });

  it('enqueueMany of 2,500 jobs in chunks of 1,000: 2,500 entries, in order, distinct ids', async () => {
    const { producer: p, prefix } = producer({ chunkSize: 1000 });
    const keys = queueKeys(prefix, fifoQueue.name);
    // Every 10th job has a custom id, so its entry's position is checkable directly.
    const jobs = Array.from({ length: 2500 }, (_, i) => ({
      payload: { i },
      ...(i % 10 === 0 ? { opts: { id: `custom-${i}` } } : {}),
    }));
    const result = await p.enqueueMany(fifoQueue, jobs);
    expect(result).toHaveLength(2500);
    expect(new Set(result.map((r) => r.id)).size).toBe(2500);
    expect(result.every((r) => r.created)).toBe(true);
    for (let i = 0; i < 2500; i += 10) expect(result[i]?.id).toBe(`custom-${i}`);
    // Each entry's id refers to the job built from the payload at the same position.
    const infos = await Promise.all(result.map((r) => p.getJob(fifoQueue, r.id)));
    infos.forEach((info, i) => expect(info?.payload).toEqual({ i }));
    expect(await redis.hlen(keys.jobs)).toBe(2500);
    expect(await redis.llen(keys.waiting)).toBe(2500);
  });

  it('enqueueMany: a repeated id within a chunk and across chunks is created once', async () => {
    const { producer: p, prefix } = producer({ chunkSize: 3 });
    const ids = ['a', 'b', 'a', 'c', 'd', 'b', 'e'];
    const result = await p.enqueueMany(
      fifoQueue,
      ids.map((id, i) => ({ payload: i, opts: { id } })),
    );
    expect(result.map((r) => r.id)).toEqual(ids);
    expect(result.map((r) => r.created)).toEqual([true, true, false, true, true, false, true]);
    expect(await redis.hlen(queueKeys(prefix, fifoQueue.name).jobs)).toBe(5);
    expect((await p.getJob(fifoQueue, 'b'))?.payload).toBe(1);
  });

  it('enqueueMany splits large payloads over several calls (no call carries more than ~8 MiB)', async () => {
    const { producer: p, prefix } = producer({ maxPayloadBytes: 2 * 1024 * 1024 });
    const big = (i: number) => ({ i, blob: Buffer.alloc(900 * 1024, i) });
    const before = Number((await redis.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    const result = await p.enqueueMany(fifoQueue, Array.from({ length: 30 }, (_, i) => ({ payload: big(i) })));
    const after = Number((await redis.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
    expect(result).toHaveLength(30);
    // 30 payloads of 900 KiB: at least 4 calls of at most ~9 jobs each, not one 27 MB call.
    expect(after - before).toBeGreaterThanOrEqual(4);
    const infos = await Promise.all(result.map((r) => p.getJob(fifoQueue, r.id)));
    infos.forEach((info, i) => expect((info?.payload as { i: number }).i).toBe(i));
    expect(await redis.llen(queueKeys(prefix, fifoQueue.name).waiting)).toBe(30);
  });

  it('enqueueMany of an empty list resolves with an empty list', async () => {
    const { producer: p } = producer();
    expect(await p.enqueueMany(fifoQueue, [])).toEqual([]);
  });

  it('a delayed job is delayed, with runAt about now + delay', async () => {
    const { producer: p, prefix } = producer();
    const keys = queueKeys(prefix, fifoQueue.name);
    const delay = 60_000;
    const before = Date.now();
    const job = await p.enqueue(fifoQueue, 'later', { delay });
    const after = Date.now();
    const info = await p.getJob(fifoQueue, job.id);
    expect(info?.state).toBe('delayed');
    const runAt = info?.timestamps.runAt ?? 0;
    // Generous margin: the due time comes from the Redis clock.
    expect(runAt).toBeGreaterThanOrEqual(before + delay - 5_000);
    expect(runAt).toBeLessThanOrEqual(after + delay + 5_000);
    expect(Number(await redis.zscore(keys.delayed, job.id))).toBe(runAt);
    expect(await redis.llen(keys.waiting)).toBe(0);
  });

  it('runAt in the future delays the job until then; runAt in the past means now', async () => {
    const { producer: p } = producer();
    const at = new Date(Date.now() + 120_000);
    const later = await p.enqueue(fifoQueue, 'at', { runAt: at });
    const info = await p.getJob(fifoQueue, later.id);
    expect(info?.state).toBe('delayed');
    expect(Math.abs((info?.timestamps.runAt ?? 0) - at.getTime())).toBeLessThan(5_000);
    const past = await p.enqueue(fifoQueue, 'past', { runAt: Date.now() - 60_000 });
    expect((await p.getJob(fifoQueue, past.id))?.state).toBe('waiting');
  });

  it('a payload over maxPayloadBytes is refused and nothing is written', async () => {
    const { producer: p, prefix } = producer({ maxPayloadBytes: 100 });
    const message = await failure(() => p.enqueue(fifoQueue, 'x'.repeat(200)), 'PAYLOAD_TOO_LARGE');
    expect(message).toContain('maxPayloadBytes');
    expect(await keysUnder(prefix)).toEqual([]);
    await failure(() => p.enqueueMany(fifoQueue, [{ payload: 'ok' }, { payload: 'x'.repeat(200) }]), 'PAYLOAD_TOO_LARGE');
    expect(await keysUnder(prefix)).toEqual([]);
    // A payload that fits exactly is accepted.
    const fits = 'y'.repeat(100 - (encodeValue('y'.repeat(90)).length - 90));
    expect(encodeValue(fits).length).toBe(100);
    expect((await p.enqueue(fifoQueue, fits)).created).toBe(true);
  });

  it('enqueue rejects with QUEUE_MISMATCH when the meta says another strategy', async () => {
    const { producer: p, prefix } = producer();
    const keys = queueKeys(prefix, fifoQueue.name);
    await redis.hset(keys.meta, 'version', String(PROTOCOL_VERSION), 'strategy', 'lifo');
    const message = await failure(() => p.enqueue(fifoQueue, 1), 'QUEUE_MISMATCH');
    expect(message).toContain('lifo');
    expect(message).toContain('fifo');
    expect(await redis.exists(keys.jobs)).toBe(0);
    // Still refused on the next call, and for getJob too.
    await failure(() => p.enqueue(fifoQueue, 2), 'QUEUE_MISMATCH');
    await failure(() => p.getJob(fifoQueue, 'anything'), 'QUEUE_MISMATCH');
    // The meta is what was there: the producer did not overwrite it.
    expect(await redis.hget(keys.meta, 'strategy')).toBe('lifo');
  });

  it('enqueue rejects with QUEUE_MISMATCH when the meta has another protocol version', async () => {
    const { producer: p, prefix } = producer();
    const keys = queueKeys(prefix, fifoQueue.name);
    await redis.hset(keys.meta, 'version', '999', 'strategy', 'fifo');
    const message = await failure(() => p.enqueue(fifoQueue, 1), 'QUEUE_MISMATCH');
    expect(message).toContain('999');
    expect(await redis.exists(keys.jobs)).toBe(0);
  });

  it('after a mismatch is resolved, the same producer can enqueue', async () => {
    const { producer: p, prefix } = producer();
    const keys = queueKeys(prefix, fifoQueue.name);
    await redis.hset(keys.meta, 'version', String(PROTOCOL_VERSION), 'strategy', 'lifo');
    await failure(() => p.enqueue(fifoQueue, 1), 'QUEUE_MISMATCH');
    await redis.hset(keys.meta, 'strategy', 'fifo');
    expect((await p.enqueue(fifoQueue, 1)).created).toBe(true);
  });

  it('records the queue meta on first use', async () => {
    const { producer: p, prefix } = producer();
    await p.enqueue(fifoQueue, 1);
    const meta = await redis.hgetall(queueKeys(prefix, fifoQueue.name).meta);
    expect(meta.strategy).toBe('fifo');
    expect(meta.version).toBeDefined();
  });

  it('getJob of an unknown id returns null', async () => {
    const { producer: p } = producer();
    expect(await p.getJob(fifoQueue, 'no-such-job')).toBeNull();
    await p.enqueue(fifoQueue, 1, { id: 'exists' });
    expect(await p.getJob(fifoQueue, 'no-such-job')).toBeNull();
    expect(await p.getJob(fifoQueue, '999999')).toBeNull();
  });

  it('keeps queues apart: same id in two queues, same queue under two prefixes', async () => {
    const prefix = uniquePrefix('prod');
    const { producer: p } = producer({ prefix });
    const { producer: other } = producer();
    const second = defineQueue('opts-second');
    expect((await p.enqueue(fifoQueue, 'a', { id: 'shared' })).created).toBe(true);
    expect((await p.enqueue(second, 'b', { id: 'shared' })).created).toBe(true);
    expect((await other.enqueue(fifoQueue, 'c', { id: 'shared' })).created).toBe(true);
    expect((await p.getJob(second, 'shared'))?.payload).toBe('b');
    expect((await other.getJob(fifoQueue, 'shared'))?.payload).toBe('c');
  });

  it('a producer given an ioredis instance does not close it; calls after close reject with CLOSED', async () => {
    const client = server.client();
    const p = new Producer({ connection: client, prefix: uniquePrefix('prod') });
    await p.enqueue(fifoQueue, 'x');
    await p.close();
    await p.close(); // idempotent
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    await failure(() => p.enqueue(fifoQueue, 'y'), 'CLOSED');
    await failure(() => p.getJob(fifoQueue, 'x'), 'CLOSED');
    client.disconnect();
  });
});
