// Fuzz test: random garbage written into job records in Redis (random bytes, damaged records,
// headers with random fields, undecodable payloads), among good jobs, waiting and delayed.
// A consumer then runs the queue: every damaged job must end dead, every good job must
// complete, nothing may stay waiting or active, and the consumer must report no trouble.
// The seed is printed; replay a failure with DOCKET_FUZZ_SEED=<seed>.
import { Consumer } from '@docket/consumer';
import { Producer, defineQueue } from '@docket/producer';
import type { JobState } from '@docket/protocol';
import { type JobHeader, decodeRecord, decodeValue, encodeRecord, encodeValue, queueKeys } from '@docket/protocol/internal';
import { type Fuzz, anyValue, forDuration, fuzzer, plainValue, uniquePrefix, waitUntil } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import { expect, it } from 'vitest';

const MAX_GARBAGE = 300;

const redis = useRedisServer({ appendonly: false });

function template(state: JobState): Buffer {
  const header: JobHeader = {
    state,
    attempt: 0,
    maxAttempts: 3,
    token: 0,
    createdAt: Date.now(),
    startedAt: 0,
    finishedAt: 0,
    runAt: 0,
    timeout: 0,
    backoff: { type: 'fixed', delay: 10 },
    priority: 0,
    error: undefined,
    cancelRequested: false,
    dedupeFor: 0,
  };
  return encodeRecord(header, encodeValue({ garbage: true, text: 'a payload of some length' }));
}

/** One candidate: random bytes, or a template damaged in one of several ways. */
function candidate(f: Fuzz, valid: Buffer): Buffer {
  // Format byte and fixed block (25 bytes), the msgpack part's length (2), that part, the payload.
  const headLength = valid.readUInt16BE(25);
  const head = valid.subarray(27, 27 + headLength);
  const payload = valid.subarray(27 + headLength);
  const withHead = (h: Buffer, p: Buffer = payload) => {
    const prefix = Buffer.from(valid.subarray(0, 27));
    prefix.writeUInt16BE(Math.min(h.length, 0xffff), 25);
    return Buffer.concat([prefix, h, p]);
  };
  switch (f.int(6)) {
    case 0:
      return f.bytes(80);
    case 1: {
      const out = Buffer.from(valid);
      for (let n = 1 + f.int(3); n > 0; n--) out[f.int(out.length)] = f.int(256);
      return out;
    }
    case 2:
      return valid.subarray(0, f.int(valid.length));
    case 3: {
      const fields = decodeValue(head) as unknown[];
      fields[f.int(fields.length)] = anyValue(f, 1);
      let encoded: Buffer;
      try {
        encoded = encodeValue(fields);
      } catch {
        encoded = f.bytes(20);
      }
      return withHead(encoded);
    }
    case 4:
      return withHead(head, f.bytes(24));
    default: {
      const good = encodeValue(plainValue(f));
      return withHead(head, good.subarray(0, Math.max(0, good.length - 1 - f.int(4))));
    }
  }
}

/**
 * Garbage the system must bury: the header cannot be decoded, or it can (as a job in one of
 * `states`, not cancelled) and the payload cannot. Anything else is not garbage (it runs, or
 * looks like another legitimate state) and is not used.
 */
function isBuriable(bytes: Buffer, states: JobState[]): boolean {
  let header: JobHeader;
  let payload: Buffer;
  try {
    ({ header, payload } = decodeRecord(bytes));
  } catch {
    return true;
  }
  if (!states.includes(header.state) || header.cancelRequested) return false;
  try {
    decodeValue(payload);
    return false;
  } catch {
    return true;
  }
}

it('random garbage in waiting and delayed job records: every damaged job ends dead, every good job completes', async () => {
  const f = fuzzer('garbage records');
  const client = redis.client();
  const prefix = uniquePrefix();
  const queue = defineQueue(`fuzz-garbage-${prefix}`);
  const keys = queueKeys(prefix, queue.name);
  const producer = new Producer({ connection: redis.url, prefix });
  try {
    const waitingTemplate = template('waiting');
    const delayedTemplate = template('delayed');
    const garbage: { bytes: Buffer; delayed: boolean }[] = [];
    let tried = 0;
    await forDuration(1_500, () => {
      if (garbage.length >= MAX_GARBAGE) return false;
      tried++;
      const delayed = f.chance(0.25);
      const bytes = candidate(f, delayed ? delayedTemplate : waitingTemplate);
      if (isBuriable(bytes, delayed ? ['delayed', 'waiting'] : ['waiting'])) garbage.push({ bytes, delayed });
    });
    console.log(`[fuzz] garbage records: ${garbage.length} damaged records kept of ${tried} tried`);

    // Placeholders for the garbage, among good jobs, then overwritten in place.
    const good: string[] = [];
    const damaged: string[] = [];
    for (let i = 0; i < garbage.length; i += 20) {
      const slice = garbage.slice(i, i + 20);
      good.push(...(await producer.enqueueMany(queue, slice.map((_, k) => ({ payload: { good: i + k } })))).map((j) => j.id));
      for (const g of slice) {
        const { id } = await producer.enqueue(queue, { placeholder: true }, g.delayed ? { delay: 300 } : {});
        await client.hset(keys.jobs, id, g.bytes);
        damaged.push(id);
      }
    }

    const errors: Error[] = [];
    const completed = new Set<string>();
    const consumer = new Consumer({ connection: redis.url, prefix, queues: [queue], concurrency: 8, pollInterval: 100, handler: async (job) => job.payload });
    consumer.on('error', (err) => errors.push(err));
    consumer.on('completed', (job) => completed.add(job.id));
    await consumer.start();
    await waitUntil(async () => good.every((id) => completed.has(id)) && (await client.zcard(keys.dead)) === damaged.length, {
      what: `${good.length} good jobs to complete and ${damaged.length} damaged ones to die (seed ${f.seed})`,
      timeout: 30_000,
    });
    await consumer.close();

    const deadScores = await client.zmscore(keys.dead, ...damaged);
    expect(damaged.filter((_, i) => deadScores[i] === null), `seed ${f.seed}: damaged jobs not dead`).toEqual([]);
    for (const id of damaged.filter((_, i) => i % 10 === 0)) {
      const [info] = (await producer.listDead(queue, { limit: 10_000 })).filter((j) => j.id === id);
      expect(info?.state).toBe('dead');
      expect(info?.error, `seed ${f.seed}, job ${id}`).toMatch(/^(corrupt record: |DocketError: Job "\d+" cannot run: its (record|payload) cannot be decoded|job record cannot be decoded)/);
    }
    expect(await producer.counts(queue)).toMatchObject({ waiting: 0, active: 0, delayed: 0, completed: good.length, dead: damaged.length });
    expect(errors, `seed ${f.seed}`).toEqual([]);
  } finally {
    await producer.close();
  }
});
