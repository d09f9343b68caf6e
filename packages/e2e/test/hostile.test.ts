// Hostile and broken input at run time (guarantee 6): damaged job records in Redis, handlers
// that throw things that are not Errors, return what cannot be stored or never settle, a
// queue written by a newer docket, hostile payload keys, garbage in the event feed. Each
// case gets a clear, typed outcome, and every other job alongside it still completes.
// RELIABILITY.md lists every case with the test that covers it.
import { Consumer, type ConsumerOptions, isDocketError } from '@docket/consumer';
import { type EnqueuedJob, Producer, type QueueDefinition, type QueueEvent, QueueEvents, defineQueue } from '@docket/producer';
import { PROTOCOL_VERSION } from '@docket/protocol';
import { type QueueKeys, decodeValue, encodeValue, queueKeys } from '@docket/protocol/internal';
import { sleep, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { gate } from './helpers.js';

const redis = useRedisServer({ appendonly: false });
let client: Redis;
beforeAll(() => {
  client = redis.client();
});

const never = () => new Promise<never>(() => {});

interface Run {
  prefix: string;
  queue: QueueDefinition;
  keys: QueueKeys;
  producer: Producer;
  consumer: Consumer;
  completed: Map<string, unknown>;
  failed: { id: string; error: unknown }[];
  dead: { id: string; error: unknown }[];
  cancelled: string[];
  errors: Error[];
  close(): Promise<void>;
}

/** A producer and a (not yet started) consumer on a fresh queue, recording every event. */
function setup(name: string, options: Partial<ConsumerOptions> = {}, queueOptions: Parameters<typeof defineQueue>[1] = {}): Run {
  const prefix = uniquePrefix();
  const queue = defineQueue(`${name}-${prefix}`, queueOptions);
  const producer = new Producer({ connection: redis.url, prefix });
  const consumer = new Consumer({
    connection: redis.url,
    prefix,
    queues: [queue],
    pollInterval: 100,
    handler: async (job) => job.payload,
    ...options,
  } as ConsumerOptions);
  const run: Run = {
    prefix,
    queue,
    keys: queueKeys(prefix, queue.name),
    producer,
    consumer,
    completed: new Map(),
    failed: [],
    dead: [],
    cancelled: [],
    errors: [],
    async close() {
      await consumer.close({ timeout: 100 });
      await producer.close();
    },
  };
  consumer.on('completed', (job, result) => run.completed.set(job.id, result));
  consumer.on('failed', (job, error) => run.failed.push({ id: job.id, error }));
  consumer.on('dead', (job, error) => run.dead.push({ id: job.id, error }));
  consumer.on('cancelled', (job) => run.cancelled.push(job.id));
  consumer.on('error', (error) => run.errors.push(error));
  return run;
}

/** `count` good jobs; each completes with its payload. */
async function goodJobs(run: Run, count: number, opts = {}): Promise<string[]> {
  const jobs = await run.producer.enqueueMany(run.queue, Array.from({ length: count }, (_, i) => ({ payload: { good: i }, opts })));
  return jobs.map((j) => j.id);
}

async function expectAllGoodCompleted(run: Run, ids: string[]): Promise<void> {
  await waitUntil(() => ids.every((id) => run.completed.has(id)), { what: `${ids.length} good jobs to complete`, timeout: 20_000 });
  for (const id of ids) expect((await run.producer.getJob(run.queue, id))?.state).toBe('completed');
}

/**
 * Ten good jobs, one job per kind 0..kinds-1 (payload `{ kind }`, two tries 10 ms apart), ten
 * more good jobs; resolves once every good job completed (the started consumer runs them all).
 */
async function kindsAmongGoodJobs(run: Run, kinds: number): Promise<{ good: string[]; jobs: EnqueuedJob[] }> {
  const good = await goodJobs(run, 10);
  const jobs = await run.producer.enqueueMany(
    run.queue,
    Array.from({ length: kinds }, (_, kind) => ({ payload: { kind }, opts: { attempts: 2, backoff: { type: 'fixed' as const, delay: 10 } } })),
  );
  good.push(...(await goodJobs(run, 10)));
  await expectAllGoodCompleted(run, good);
  return { good, jobs };
}

/** A run whose handler never settles, and a job (without a timeout) it has started. */
async function hangingJob(name: string): Promise<{ run: Run; id: string }> {
  let started = false;
  const run = setup(name, {
    handler: async () => {
      started = true;
      return never();
    },
  });
  await run.consumer.start();
  const { id } = await run.producer.enqueue(run.queue, { hang: true });
  await waitUntil(() => started, { what: 'the job to start' });
  return { run, id };
}

// ------------------------------------------------------------------ record surgery

/**
 * Splits a stored record into its format byte + fixed block, the fields of its msgpack part
 * (maxAttempts, createdAt, runAt, timeout, backoff (4), priority, error, dedupeFor) and its
 * payload bytes.
 */
function split(record: Buffer): { hot: Buffer; fields: unknown[]; payload: Buffer } {
  const length = record.readUInt16BE(25);
  return { hot: record.subarray(0, 25), fields: decodeValue(record.subarray(27, 27 + length)) as unknown[], payload: record.subarray(27 + length) };
}

/** A record from a format byte + fixed block, a msgpack part and payload bytes. */
function join(hot: Buffer, head: Buffer, payload: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(head.length);
  return Buffer.concat([hot, length, head, payload]);
}

function withField(record: Buffer, index: number, value: unknown): Buffer {
  const { hot, fields, payload } = split(record);
  fields[index] = value;
  return join(hot, encodeValue(fields), payload);
}

function withPayload(record: Buffer, payload: Buffer): Buffer {
  const { hot, fields } = split(record);
  return join(hot, encodeValue(fields), payload);
}

function withState(record: Buffer, code: number): Buffer {
  const out = Buffer.from(record);
  out[1] = code;
  return out;
}

// Who notices: 'lua' garbage is caught by the scripts (read_record, or the fixed block a lease
// reads) and buried in Redis; 'node' garbage passes the scripts (a lease reads only the fixed
// block, the rest is for the consumer) and the consumer reports it, which buries it.
type Damage = [label: string, damage: (valid: Buffer) => Buffer, noticedBy: 'lua' | 'node'];
const DAMAGE: Damage[] = [
  ['an empty value', () => Buffer.alloc(0), 'lua'],
  ['JSON text', () => Buffer.from('{"id": 1, "payload": "not a docket record"}'), 'lua'],
  ['format byte 3 (a future record format)', (v) => Buffer.concat([Buffer.from([3]), v.subarray(1)]), 'lua'],
  ['a header with state code 9', (v) => withState(v, 9), 'lua'],
  ['a header length past the end', (v) => Buffer.concat([v.subarray(0, 25), Buffer.from([0xff, 0xff]), v.subarray(27)]), 'node'],
  // The fixed block reads as a completed job (as a lazily cancelled id's record would), but the
  // rest cannot be read: garbage, not a job to skip (found by fuzz-garbage, seed 875419224).
  ['state code 3 (completed) and a header length past the end', (v) => withState(Buffer.concat([v.subarray(0, 25), Buffer.from([0xff, 0xff]), v.subarray(27)]), 3), 'lua'],
  ['a header that is a map, not an array', (v) => join(split(v).hot, encodeValue({ state: 0 }), split(v).payload), 'node'],
  ['a header whose max attempts is a string', (v) => withField(v, 0, 'one'), 'node'],
  ['a header whose creation time is nil', (v) => withField(v, 1, null), 'node'],
  ['a header with backoff code 5', (v) => withField(v, 4, 5), 'node'],
  ['a header followed by another value', (v) => { const { hot, fields, payload } = split(v); return join(hot, Buffer.concat([encodeValue(fields), encodeValue(0)]), payload); }, 'node'],
  ['a payload cut short', (v) => v.subarray(0, v.length - 3), 'node'],
  ['bytes after the payload', (v) => Buffer.concat([v, Buffer.from([0x01, 0x02])]), 'node'],
  ['a payload claiming a 4-billion-item array', (v) => withPayload(v, Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])), 'node'],
];

async function damage(run: Run, id: string, fn: (valid: Buffer) => Buffer): Promise<void> {
  const valid = await client.hgetBuffer(run.keys.jobs, id);
  expect(valid, `the record of job ${id}`).not.toBeNull();
  await client.hset(run.keys.jobs, id, fn(valid as Buffer));
}

/** A dead job buried for garbage: its state, the reason, no payload. */
async function expectBuried(run: Run, id: string, noticedBy: 'lua' | 'node'): Promise<void> {
  const job = await run.producer.getJob(run.queue, id);
  expect(job?.state, `job ${id}`).toBe('dead');
  expect(job?.payload).toBeUndefined();
  if (noticedBy === 'lua') expect(job?.error).toMatch(/^corrupt record: ./);
  // A record Lua cannot read either is buried by the script, with the consumer's reason.
  else expect(job?.error).toMatch(new RegExp(`^(corrupt record: )?DocketError: Job "${id}" cannot run: its (record|payload) cannot be decoded: .`));
}

describe('garbage written into job records in Redis', () => {
  it('each damaged waiting job goes dead with the reason; 40 good jobs leased in the same batches all complete', async () => {
    const run = setup('garbage-waiting', { concurrency: 8 });
    // Interleaved, so that every fetch of 4 pops good and damaged jobs together.
    const good: string[] = [];
    const bad: { id: string; label: string; noticedBy: 'lua' | 'node' }[] = [];
    for (const [label, fn, noticedBy] of DAMAGE) {
      good.push(...(await goodJobs(run, 3)));
      const { id } = await run.producer.enqueue(run.queue, { victim: label, text: 'some payload text' });
      await damage(run, id, fn);
      bad.push({ id, label, noticedBy });
    }
    good.push(...(await goodJobs(run, 4)));
    await run.consumer.start();

    await expectAllGoodCompleted(run, good);
    await waitUntil(async () => (await run.producer.counts(run.queue)).dead === bad.length, { what: 'every damaged job to be dead' });
    for (const { id, noticedBy } of bad) await expectBuried(run, id, noticedBy);
    // The consumer saw the ones it buried itself, as failed + dead with CORRUPT_RECORD.
    const byNode = bad.filter((b) => b.noticedBy === 'node').map((b) => b.id);
    expect(run.dead.map((d) => d.id).sort()).toEqual([...byNode].sort());
    for (const d of run.dead) expect(isDocketError(d.error, 'CORRUPT_RECORD')).toBe(true);
    expect(run.errors).toEqual([]); // no failed fetch: nothing was lost with a batch
    expect(await run.producer.counts(run.queue)).toMatchObject({ waiting: 0, active: 0, delayed: 0, completed: good.length, dead: bad.length });
    // An operator sees them in listDead, and can purge them: even one whose record was damaged
    // again after it died, which getJob refuses, is listed with why it cannot be read.
    const again = bad[0]?.id as string;
    await damage(run, again, () => Buffer.from('damaged after death'));
    expect(isDocketError(await run.producer.getJob(run.queue, again).catch((e: unknown) => e), 'CORRUPT_RECORD')).toBe(true);
    const listed = await run.producer.listDead(run.queue, { limit: 100 });
    expect(listed.map((j) => j.id).sort()).toEqual(bad.map((b) => b.id).sort());
    const unreadable = listed.find((j) => j.id === again);
    expect(unreadable?.state).toBe('dead');
    expect(unreadable?.error).toMatch(/^job record cannot be decoded: unknown record format byte/);
    expect(await run.producer.purgeDead(run.queue, bad.map((b) => b.id))).toBe(bad.length);
    expect((await run.producer.counts(run.queue)).dead).toBe(0);
    await run.close();
  });

  it('a damaged delayed job goes dead when it comes due; the good delayed jobs run', async () => {
    const run = setup('garbage-delayed', { concurrency: 4 });
    await run.consumer.start();
    const good = await goodJobs(run, 6, { delay: 300 });
    const header = await run.producer.enqueue(run.queue, { victim: 'header' }, { delay: 300 });
    const payload = await run.producer.enqueue(run.queue, { victim: 'payload' }, { delay: 300 });
    await damage(run, header.id, (v) => withField(v, 0, 'three'));
    await damage(run, payload.id, (v) => v.subarray(0, v.length - 2));
    await expectAllGoodCompleted(run, good);
    await waitUntil(async () => (await run.producer.counts(run.queue)).dead === 2, { what: 'both damaged delayed jobs to be dead' });
    await expectBuried(run, header.id, 'lua');
    await expectBuried(run, payload.id, 'node');
    expect(run.errors).toEqual([]);
    await run.close();
  });

  it('a record damaged while its job runs: the lease is lost (LEASE_LOST), the job is recovered dead, the rest go on', async () => {
    const holding = gate();
    let victimSignal: AbortSignal | undefined;
    const run = setup('garbage-active', {
      concurrency: 2,
      leaseDuration: 600,
      handler: async (job, { signal }) => {
        if ((job.payload as { victim?: boolean }).victim) {
          victimSignal = signal;
          await holding.opened;
          return 'late';
        }
        return job.payload;
      },
    });
    await run.consumer.start();
    const victim = await run.producer.enqueue(run.queue, { victim: true });
    await waitUntil(() => victimSignal !== undefined, { what: 'the victim to start' });
    await damage(run, victim.id, () => Buffer.from('overwritten while running'));
    const good = await goodJobs(run, 10);

    await waitUntil(() => run.errors.some((e) => isDocketError(e, 'LEASE_LOST') && e.jobId === victim.id), { what: 'LEASE_LOST for the victim' });
    expect(victimSignal?.aborted).toBe(true); // its handler was told to stop
    // Until a consumer buries it, getJob says the record is corrupt.
    const before = await run.producer.getJob(run.queue, victim.id).catch((e: unknown) => e);
    expect(isDocketError(before, 'CORRUPT_RECORD')).toBe(true);
    await waitUntil(async () => (await run.producer.getJob(run.queue, victim.id).catch(() => null))?.state === 'dead', {
      what: 'the victim to be recovered dead',
    });
    await expectBuried(run, victim.id, 'lua');
    holding.open();
    await expectAllGoodCompleted(run, good);
    await sleep(200);
    expect(run.completed.has(victim.id)).toBe(false); // its late result was discarded
    await run.close();
  });

  it('a damaged stored result or progress value: getJob and waitFor reject with CORRUPT_RECORD naming the job; other jobs read fine', async () => {
    const run = setup('garbage-result', {
      handler: async (job, { progress }) => {
        progress({ step: 1 });
        return { done: job.payload };
      },
    });
    await run.consumer.start();
    const [a, b] = await goodJobs(run, 2);
    await expectAllGoodCompleted(run, [a as string, b as string]);
    await client.hset(run.keys.results, a as string, Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]));
    await client.hset(run.keys.progress, b as string, Buffer.from([0xa5, 0x61]));
    for (const [id, what] of [[a, 'result'], [b, 'progress value']] as const) {
      const err = await run.producer.getJob(run.queue, id as string).catch((e: unknown) => e);
      expect(isDocketError(err, 'CORRUPT_RECORD'), String(err)).toBe(true);
      expect((err as Error).message).toContain(`the ${what} of job "${id}" cannot be decoded`);
      expect((err as { jobId?: string }).jobId).toBe(id);
    }
    expect(isDocketError(await run.producer.waitFor(run.queue, a as string).catch((e: unknown) => e), 'CORRUPT_RECORD')).toBe(true);
    const [c] = await goodJobs(run, 1);
    expect(await run.producer.waitFor(run.queue, c as string, { timeout: 10_000 })).toEqual({ done: { good: 0 } });
    await run.close();
  });
});

describe('handlers that misbehave', () => {
  it('throwing values that are not Errors: each try fails with a message describing the value, retried, then dead', async () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const sneaky = new Error('hidden');
    Object.defineProperty(sneaky, 'message', {
      get() {
        throw new Error('gotcha');
      },
    });
    const throws: [string, unknown, RegExp][] = [
      ['a number', 42, /^non-Error thrown: 42$/],
      ['a string', 'plain string', /^non-Error thrown: "plain string"$/],
      ['null', null, /^non-Error thrown: null$/],
      ['undefined', undefined, /^non-Error thrown: undefined$/],
      ['a plain object', { code: 'E_CUSTOM', retry: true }, /^non-Error thrown: \{"code":"E_CUSTOM","retry":true\}$/],
      ['an array', [1, 2], /^non-Error thrown: an array$/],
      ['a symbol', Symbol('sym'), /^non-Error thrown: Symbol\(sym\)$/],
      ['a revoked Proxy', revoked.proxy, /^a thrown value that cannot be read/],
      ['an Error whose message getter throws', sneaky, /^a thrown value that cannot be read/],
      ['a promise rejected with a function', () => 1, /^non-Error thrown: a function$/],
    ];
    const run = setup('throws', {
      concurrency: 4,
      handler: async (job) => {
        const kind = (job.payload as { kind?: number }).kind;
        if (kind !== undefined) throw throws[kind]?.[1];
        return job.payload;
      },
    });
    await run.consumer.start();
    const { jobs: bad } = await kindsAmongGoodJobs(run, throws.length);
    await waitUntil(() => run.dead.length === throws.length, { what: 'every throwing job to die' });
    for (const [kind, { id }] of bad.entries()) {
      const [label, value, message] = throws[kind] as [string, unknown, RegExp];
      const job = await run.producer.getJob(run.queue, id);
      expect(job?.state, label).toBe('dead');
      expect(job?.attempts, label).toBe(2);
      expect(job?.error, label).toMatch(message);
      // Listeners get an Error on both tries: what the handler threw if it was one, else an Error
      // describing it (as stored) whose cause is exactly the thrown value.
      const seen = run.failed.filter((f) => f.id === id).map((f) => f.error);
      expect(seen, label).toHaveLength(2);
      for (const error of seen) {
        expect(error, label).toBeInstanceOf(Error);
        if (error !== value) {
          expect((error as Error).cause === value, label).toBe(true);
          expect((error as Error).message, label).toMatch(message);
        }
      }
    }
    expect(run.errors).toEqual([]);
    await run.close();
  });

  it('returning what cannot be stored: the try fails (NOT_ENCODABLE or PAYLOAD_TOO_LARGE), retried, then dead; storable oddities complete', async () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const results: [string, () => unknown, RegExp | { completesWith: unknown }][] = [
      ['a function', () => () => 1, /Cannot encode the result: result is a function/],
      ['a symbol', () => Symbol('s'), /Cannot encode the result: result is a symbol/],
      ['a cycle', () => ({ root: cyclic }), /result\.root\.self refers back to itself/],
      ['a "__proto__" own key', () => JSON.parse('{"__proto__": {"admin": true}}'), /own key "__proto__"/],
      ['a getter that throws', () => ({ get x() { throw new TypeError('no'); } }), /reading it threw TypeError: no/],
      ['a Proxy whose keys cannot be listed', () => new Proxy({}, { ownKeys() { throw new Error('no keys'); } }), /Cannot encode the result: reading it threw Error: no keys/],
      // Returned from an async handler, a revoked Proxy fails already when the promise looks for
      // a then() on it: the try fails with that TypeError, the same way.
      ['a revoked Proxy', () => revoked.proxy, /^TypeError: .*revoked/],
      ['a result over maxResultBytes', () => 'x'.repeat(5_000), /over `maxResultBytes` \(1000\)/],
      ['a bigint beyond 64 bits', () => 2n ** 100n + 1n, { completesWith: 2n ** 100n + 1n }],
      ['undefined', () => undefined, { completesWith: undefined }],
      ['a Date and a Buffer', () => ({ at: new Date(5), raw: Buffer.from([1, 2]) }), { completesWith: { at: new Date(5), raw: Buffer.from([1, 2]) } }],
    ];
    const run = setup('results', {
      concurrency: 3,
      maxResultBytes: 1000,
      handler: async (job) => {
        const kind = (job.payload as { kind?: number }).kind;
        return kind === undefined ? job.payload : results[kind]?.[1]();
      },
    });
    await run.consumer.start();
    const { good, jobs } = await kindsAmongGoodJobs(run, results.length);
    const failing = results.filter(([, , expected]) => expected instanceof RegExp).length;
    await waitUntil(() => run.dead.length === failing && run.completed.size === good.length + results.length - failing, {
      what: 'every unstorable result to kill its job',
    });
    for (const [kind, { id }] of jobs.entries()) {
      const [label, , expected] = results[kind] as (typeof results)[number];
      const job = await run.producer.getJob(run.queue, id);
      if (expected instanceof RegExp) {
        expect(job?.state, label).toBe('dead');
        expect(job?.attempts, label).toBe(2);
        expect(job?.error, label).toMatch(expected);
        const errors = run.failed.filter((f) => f.id === id).map((f) => f.error);
        expect(errors, label).toHaveLength(2);
        const codes = label === 'a revoked Proxy' ? ['TypeError'] : ['NOT_ENCODABLE', 'PAYLOAD_TOO_LARGE'];
        for (const e of errors) expect(codes, label).toContain((e as { code?: string }).code ?? (e as Error).name);
      } else {
        expect(job?.state, label).toBe('completed');
        expect(job?.result, label).toEqual(expected.completesWith);
      }
    }
    expect(run.errors).toEqual([]);
    await run.close();
  });

  it('progress() with a value that cannot be stored throws NOT_ENCODABLE in the handler, which can go on', async () => {
    const caught: unknown[] = [];
    const run = setup('progress', {
      handler: async ({ payload }, { progress }) => {
        for (const value of [() => 1, 'x'.repeat(70_000)]) {
          try {
            progress(value);
          } catch (err) {
            caught.push(err);
          }
        }
        progress({ ok: true });
        return payload;
      },
    });
    await run.consumer.start();
    const [id] = await goodJobs(run, 1);
    await expectAllGoodCompleted(run, [id as string]);
    expect(caught.map((e) => (e as { code?: string }).code)).toEqual(['NOT_ENCODABLE', 'PAYLOAD_TOO_LARGE']);
    expect((caught[1] as Error).message).toContain('the limit for progress values');
    expect((await run.producer.getJob(run.queue, id as string))?.progress).toEqual({ ok: true });
    await run.close();
  });

  it('never settling, with a timeout: each try is reported TIMEOUT a grace after its signal, retried, then dead; other jobs run', async () => {
    const run = setup('hang-timeout', {
      concurrency: 3,
      handler: async (job) => ((job.payload as { hang?: boolean }).hang ? never() : job.payload),
    });
    await run.consumer.start();
    const hang = await run.producer.enqueue(run.queue, { hang: true }, { timeout: 200, attempts: 2, backoff: { type: 'fixed', delay: 10 } });
    const good = await goodJobs(run, 10);
    await expectAllGoodCompleted(run, good);
    await waitUntil(() => run.dead.some((d) => d.id === hang.id), { what: 'the hanging job to die', timeout: 20_000 });
    const job = await run.producer.getJob(run.queue, hang.id);
    expect(job?.state).toBe('dead');
    expect(job?.attempts).toBe(2);
    expect(job?.error).toMatch(/timed out after 200 ms; its handler did not stop within \d+ ms of its signal aborting/);
    const errors = run.failed.filter((f) => f.id === hang.id).map((f) => f.error);
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(isDocketError(e, 'TIMEOUT')).toBe(true);
    // Both hung handlers still hold their slots (they never settled): more jobs run in the third.
    expect(run.consumer.activeCount).toBe(2);
    const more = await goodJobs(run, 5);
    await expectAllGoodCompleted(run, more);
    // close() does not wait for them beyond its timeout.
    await run.consumer.close({ timeout: 100 });
    expect(await run.producer.counts(run.queue)).toMatchObject({ active: 0, waiting: 0, dead: 1 });
    await run.producer.close();
  });

  it('never settling, cancelled: the job ends cancelled a grace after its signal', async () => {
    const { run, id } = await hangingJob('hang-cancel');
    expect(await run.producer.cancel(run.queue, id)).toBe(true);
    await waitUntil(() => run.cancelled.includes(id), { what: 'the job to end cancelled' });
    expect((await run.producer.getJob(run.queue, id))?.state).toBe('cancelled');
    await run.close();
  });

  it('never settling, with a timeout, when close() comes before the grace ends: reported TIMEOUT (attempt counted), not released', async () => {
    let aborted = false;
    const run = setup('hang-close', {
      handler: async (_job, { signal }) => {
        signal.addEventListener('abort', () => (aborted = true));
        return never();
      },
    });
    await run.consumer.start();
    const { id } = await run.producer.enqueue(run.queue, { hang: true }, { timeout: 100, attempts: 1 });
    await waitUntil(() => aborted, { what: 'the try to time out' });
    await run.consumer.close({ timeout: 0 });
    const job = await run.producer.getJob(run.queue, id);
    expect(job?.state).toBe('dead');
    expect(job?.attempts).toBe(1);
    expect(job?.error).toContain('timed out after 100 ms');
    await run.producer.close();
  });

  it('never settling, without a timeout: close({ timeout }) still resolves, and the job goes back to waiting for another consumer', async () => {
    const { run, id } = await hangingJob('hang-close-no-timeout');
    await run.consumer.close({ timeout: 300 });
    const job = await run.producer.getJob(run.queue, id);
    expect(job?.state).toBe('waiting');
    expect(job?.attempts).toBe(0); // released unfinished: the try is not counted
    const second = new Consumer({ connection: redis.url, prefix: run.prefix, queues: [run.queue], handler: async () => 'second' });
    const done: string[] = [];
    second.on('completed', (j) => done.push(j.id));
    await second.start();
    await waitUntil(() => done.includes(id), { what: 'another consumer to complete the job' });
    await second.close();
    await run.producer.close();
  });
});

describe('a queue recorded by another protocol version', () => {
  it.each([
    ['newer', String(PROTOCOL_VERSION + 1), /upgrade the @docket packages of this process/],
    ['older', String(PROTOCOL_VERSION - 1), /upgrade the processes that use it, or start a new queue/],
    ['unreadable', 'v2-beta', /upgrade the processes that use it/],
    ['empty', '', /has no protocol version recorded in its meta \(it is empty\), but this process speaks version \d/],
  ])('%s: start() rejects with QUEUE_MISMATCH, leases nothing, touches no job', async (_label, version, advice) => {
    const run = setup(`version-${version}`, { concurrency: 4 });
    const other = defineQueue(`${run.queue.name}-other`);
    await goodJobs(run, 5);
    await run.producer.enqueue(other, 'other');
    await client.hset(run.keys.meta, 'version', version);
    const before = await client.lrange(run.keys.waiting, 0, -1);

    const err = await run.consumer.start().catch((e: unknown) => e);
    expect(isDocketError(err, 'QUEUE_MISMATCH'), String(err)).toBe(true);
    if (version !== '') expect((err as Error).message).toContain(`protocol version ${version},`);
    expect((err as Error).message).toMatch(advice);
    expect(await client.lrange(run.keys.waiting, 0, -1)).toEqual(before);
    expect(await client.zcount(run.keys.active, '-inf', '(+inf')).toBe(0);
    // A consumer of both queues refuses to start at all; the producer refuses the queue too.
    const both = new Consumer({ connection: redis.url, prefix: run.prefix, queues: [other, run.queue], handler: async () => 1 });
    expect(isDocketError(await both.start().catch((e: unknown) => e), 'QUEUE_MISMATCH')).toBe(true);
    const fresh = new Producer({ connection: redis.url, prefix: run.prefix });
    expect(isDocketError(await fresh.enqueue(run.queue, 1).catch((e: unknown) => e), 'QUEUE_MISMATCH')).toBe(true);
    await fresh.close();
    expect((await run.producer.counts(other)).waiting).toBe(1);
    await both.close();
    await run.close();
  });
});

describe('hostile payload keys reach the handler as plain data', () => {
  it('"__proto__", "constructor" and "prototype" keys written straight into Redis pollute nothing', async () => {
    let seen: { proto: unknown; polluted: unknown; ownPolluted: unknown; keys: string[]; ctor: unknown } | undefined;
    const run = setup('proto', {
      handler: async (job) => {
        const payload = job.payload as Record<string, unknown>;
        seen = {
          proto: Object.getPrototypeOf(payload),
          polluted: ({} as Record<string, unknown>).polluted,
          ownPolluted: payload.polluted,
          keys: Object.keys(payload),
          ctor: payload.constructor,
        };
        return 'ok';
      },
    });
    const { id } = await run.producer.enqueue(run.queue, 'placeholder');
    // {"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "ok": 1},
    // byte by byte: no encoder of ours would write the first key (encodeChecked refuses it).
    const str = (s: string) => Buffer.concat([Buffer.from([0xa0 + s.length]), Buffer.from(s)]);
    const polluting = Buffer.concat([Buffer.from([0x81]), str('polluted'), Buffer.from([0xc3])]);
    const payload = Buffer.concat([
      Buffer.from([0x83]),
      str('__proto__'),
      polluting,
      str('constructor'),
      Buffer.from([0x81]),
      str('prototype'),
      polluting,
      str('ok'),
      Buffer.from([0x01]),
    ]);
    await damage(run, id, (v) => withPayload(v, payload));
    await run.consumer.start();
    await expectAllGoodCompleted(run, [id]);
    expect(seen?.proto).toBe(Object.prototype);
    expect(seen?.polluted).toBeUndefined();
    expect(seen?.ownPolluted).toBeUndefined();
    expect(seen?.keys).toContain('constructor');
    expect(seen?.keys).not.toContain('__proto__');
    expect(seen?.ctor).toEqual({ prototype: { polluted: true } }); // plain own data
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    await run.close();
  });
});

describe('garbage in the event feed', () => {
  it('entries QueueEvents cannot use are skipped (an undecodable progress value becomes undefined); later events still arrive', async () => {
    const run = setup('feed');
    const events = new QueueEvents({ connection: redis.url, prefix: run.prefix, queue: run.queue });
    const seen: QueueEvent[] = [];
    const errors: Error[] = [];
    events.on('event', (e) => seen.push(e));
    events.on('error', (e) => errors.push(e));
    await events.start();
    await client.xadd(run.keys.events, '*', 'e', 'completed'); // no job id
    await client.xadd(run.keys.events, '*', 'x', 'y', 'z', 'w'); // no event at all
    await client.xadd(run.keys.events, '*', 'e', 'exploded', 'j', '1'); // unknown type
    await client.xadd(run.keys.events, '*', 'e', 'progress', 'j', 'g1', 'a', 'NaN', 'p', Buffer.from([0xdd, 0xff]));
    await run.consumer.start();
    const [id] = await goodJobs(run, 1);
    await waitUntil(() => seen.some((e) => e.type === 'completed' && e.jobId === id), { what: 'the real job to complete' });
    expect(seen.filter((e) => e.jobId === 'g1').map((e) => [e.type, e.progress])).toEqual([['progress', undefined]]);
    expect(seen.map((e) => e.type)).not.toContain('exploded');
    expect(seen.filter((e) => e.jobId === id).map((e) => e.type)).toEqual(['enqueued', 'active', 'completed']);
    expect(errors).toEqual([]);
    await events.close();
    await run.close();
  });
});

describe('options that misbehave at run time', () => {
  it('a `random` that throws and a logger whose methods throw: warned once on the console, jobs still run', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const run = setup(
        'random',
        {
          concurrency: 2,
          random: () => {
            throw new Error('no entropy');
          },
          logger: {
            warn() {
              throw new TypeError('unbound method');
            },
            error() {
              throw new TypeError('unbound method');
            },
          },
        },
        { strategy: 'random' },
      );
      await run.consumer.start();
      const good = await goodJobs(run, 20);
      await expectAllGoodCompleted(run, good);
      const warnings = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('`random`'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('threw Error: no entropy');
      expect(run.errors).toEqual([]);
      await run.close();
    } finally {
      warn.mockRestore();
    }
  });
});
