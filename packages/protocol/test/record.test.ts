import { randomBytes } from 'node:crypto';
import { seededNumbers, thrown, uniquePrefix } from '@docket/testing';
import { useRedisServer } from '@docket/testing/vitest';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Backoff, type JobState, isDocketError } from '../src/index.js';
import {
  type JobHeader,
  RECORD_FORMAT,
  RECORD_LUA,
  STATE_CODES,
  composeLua,
  decodeRecord,
  decodeValue,
  encodeRecord,
  encodeValue,
  queueKeyList,
  queueKeys,
} from '../src/internal.js';

const ALL_STATES: JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'dead', 'cancelled'];

function header(overrides: Partial<JobHeader> = {}): JobHeader {
  return {
    state: 'waiting',
    attempt: 0,
    maxAttempts: 3,
    token: 0,
    createdAt: 1_700_000_000_123,
    startedAt: 0,
    finishedAt: 0,
    runAt: 0,
    timeout: 0,
    backoff: undefined,
    priority: 0,
    error: undefined,
    cancelRequested: false,
    dedupeFor: 0,
    ...overrides,
  };
}

/** A decoded backoff: `jitter` left out means no jitter. */
function normalizedBackoff(b: Backoff | undefined): Backoff | undefined {
  if (b === undefined) return undefined;
  return { ...b, jitter: b.jitter === true };
}

function expectSameHeader(got: JobHeader, sent: JobHeader): void {
  expect(got).toEqual({ ...sent, backoff: normalizedBackoff(sent.backoff) });
}

function expectCorrupt(bytes: Buffer, jobId?: string): void {
  const err = thrown(() => decodeRecord(bytes, jobId));
  expect(isDocketError(err, 'CORRUPT_RECORD'), String(err)).toBe(true);
  if (jobId !== undefined) expect((err as { jobId?: string }).jobId).toBe(jobId);
}

/** The fixed block (24 bytes after the format byte) of a valid record, for rawRecord. */
const VALID_HOT = Buffer.from(encodeRecord(header(), Buffer.alloc(0)).subarray(1, 25));

/** Builds format byte + fixed block + length + the given msgpack bytes + payload bytes. */
function rawRecord(
  cold: Buffer,
  payload: Buffer = Buffer.alloc(0),
  format = RECORD_FORMAT,
  declaredLength = cold.length,
  hot: Buffer = VALID_HOT,
): Buffer {
  const prefix = Buffer.alloc(27);
  prefix[0] = format;
  hot.copy(prefix, 1);
  prefix.writeUInt16BE(declaredLength, 25);
  return Buffer.concat([prefix, cold, payload]);
}

describe('encodeRecord / decodeRecord: the header', () => {
  it('the state codes list every job state exactly once', () => {
    expect([...STATE_CODES].sort()).toEqual([...ALL_STATES].sort());
  });

  it.each(ALL_STATES)('round-trips state %s', (state) => {
    const sent = header({ state });
    const { header: got } = decodeRecord(encodeRecord(sent, encodeValue(null)));
    expect(got.state).toBe(state);
    expectSameHeader(got, sent);
  });

  it('round-trips every numeric field with distinct values', () => {
    // Distinct values per field, so two fields swapped in the layout would be caught.
    const sent = header({
      state: 'active',
      attempt: 2,
      maxAttempts: 7,
      token: 4_242,
      createdAt: 1_700_000_000_001,
      startedAt: 1_700_000_000_002,
      finishedAt: 1_700_000_000_003,
      runAt: 1_700_000_000_004,
      timeout: 30_000,
      backoff: { type: 'fixed', delay: 1_234, max: 5_678, jitter: true },
      priority: -17,
      error: 'boom',
      cancelRequested: true,
      dedupeFor: 86_400_000,
    });
    expectSameHeader(decodeRecord(encodeRecord(sent, encodeValue({ a: 1 }))).header, sent);
  });

  const backoffs: [string, Backoff | undefined][] = [
    ['none', undefined],
    ['fixed', { type: 'fixed', delay: 500 }],
    ['fixed with jitter', { type: 'fixed', delay: 500, jitter: true }],
    ['fixed with jitter false', { type: 'fixed', delay: 500, jitter: false }],
    ['fixed with max', { type: 'fixed', delay: 500, max: 800 }],
    ['fixed with a zero delay', { type: 'fixed', delay: 0 }],
    ['exponential', { type: 'exponential', delay: 1_000 }],
    ['exponential with max', { type: 'exponential', delay: 1_000, max: 60_000 }],
    ['exponential with jitter', { type: 'exponential', delay: 1_000, jitter: true }],
    ['exponential with max and jitter', { type: 'exponential', delay: 1_000, max: 300_000, jitter: true }],
    ['exponential with a large max', { type: 'exponential', delay: 1, max: 2 ** 40 }],
  ];
  it.each(backoffs)('round-trips backoff: %s', (_label, backoff) => {
    const sent = header({ backoff });
    const got = decodeRecord(encodeRecord(sent, Buffer.alloc(0))).header;
    expect(got.backoff).toEqual(normalizedBackoff(backoff));
    if (backoff && backoff.max === undefined) expect(got.backoff).not.toHaveProperty('max');
    expectSameHeader(got, sent);
  });

  const errors: [string, string | undefined][] = [
    ['no error', undefined],
    ['empty string', ''],
    ['ascii', 'Error: connection refused'],
    ['unicode', 'Fehler: Größe überschritten — 日本語のエラー 🎉🚀 \u{1F600}'],
    ['control characters and NUL', 'line 1\nline 2\ttab\u0000nul'],
    ['a long message (str16)', 'é'.repeat(2_000)],
  ];
  it.each(errors)('round-trips error: %s', (_label, error) => {
    const sent = header({ state: 'failed', error });
    const got = decodeRecord(encodeRecord(sent, encodeValue('x'))).header;
    expect(got.error).toBe(error);
    expectSameHeader(got, sent);
  });

  it('round-trips large timestamps and extreme integers', () => {
    const sent = header({
      createdAt: 8.64e15, // the largest valid Date
      startedAt: 2 ** 48 - 1, // the fixed block's limit for times set by the Redis clock (year 10889)
      finishedAt: 2 ** 32, // just past 32 bits
      runAt: 2 ** 32 - 1,
      token: 2 ** 48 - 1, // and for lease tokens
      timeout: 2 ** 31,
      maxAttempts: 1_000_000,
      attempt: 999_999,
      priority: -1_000_000,
    });
    const got = decodeRecord(encodeRecord(sent, Buffer.alloc(0))).header;
    expectSameHeader(got, sent);
    for (const v of [got.createdAt, got.startedAt, got.finishedAt, got.runAt, got.token, got.timeout]) {
      expect(typeof v).toBe('number');
    }
  });

  it.each([
    [false, 0],
    [true, 0],
    [false, 1],
    [true, 30 * 24 * 3_600_000],
  ])('round-trips cancelRequested %s and dedupeFor %s', (cancelRequested, dedupeFor) => {
    const sent = header({ state: 'active', cancelRequested, dedupeFor });
    const got = decodeRecord(encodeRecord(sent, Buffer.alloc(0))).header;
    expect(got.cancelRequested).toBe(cancelRequested);
    expect(got.dedupeFor).toBe(dedupeFor);
    expectSameHeader(got, sent);
  });

  it('round-trips the highest priority', () => {
    const sent = header({ priority: 1_000_000 });
    expectSameHeader(decodeRecord(encodeRecord(sent, Buffer.alloc(0))).header, sent);
  });

  it('starts with the format byte, the fixed block and a big-endian length that matches the layout', () => {
    const payload = encodeValue({ hello: 'world' });
    const sent = header({ state: 'active', attempt: 3, token: 2 ** 40 + 5, startedAt: 1_763_942_400_123, cancelRequested: true, dedupeFor: 10 });
    const rec = encodeRecord(sent, payload);
    expect(rec[0]).toBe(RECORD_FORMAT);
    expect(rec[1]).toBe(STATE_CODES.indexOf('active'));
    expect(rec[2]).toBe(1 | 2); // cancellation requested, has a dedupeFor
    expect(rec.readUInt32BE(3)).toBe(3);
    expect(rec.readUIntBE(7, 6)).toBe(2 ** 40 + 5);
    expect(rec.readUIntBE(13, 6)).toBe(1_763_942_400_123);
    const coldLength = rec.readUInt16BE(25);
    expect(rec.length).toBe(27 + coldLength + payload.length);
    expect(Array.isArray(decodeValue(rec.subarray(27, 27 + coldLength)))).toBe(true);
    expect(rec.subarray(27 + coldLength).equals(payload)).toBe(true);
  });
});

describe('encodeRecord / decodeRecord: the payload bytes', () => {
  const payloads: [string, unknown][] = [
    ['null', null],
    ['empty string', ''],
    ['unicode string', 'héllo wörld — 日本 🎉 \u0000 end'],
    ['Date', new Date(1_700_000_000_123)],
    ['Date before the epoch', new Date(-86_400_000)],
    ['Map', new Map<unknown, unknown>([['a', 1], [2, 'b'], ['nested', new Map([['x', [1, 2]]])]])],
    ['nested objects and arrays', { a: { b: { c: [1, { d: 'e' }, [null, true, false]] } }, empty: {}, list: [] }],
    ['Buffer', Buffer.from([0, 1, 2, 254, 255])],
    ['Uint8Array', new Uint8Array([9, 8, 7, 0])],
    ['bigint', 1234567890123456789n],
    ['negative bigint', -(2n ** 62n)],
    ['floats and specials', [0.1, -1.5e300, Number.NaN, Number.POSITIVE_INFINITY]],
    ['large object', Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, 'v'.repeat(i)]))],
  ];

  it.each(payloads)('keeps the bytes of a %s payload untouched', (_label, value) => {
    const bytes = encodeValue(value);
    const copy = Buffer.from(bytes); // in case anything wrote into the original
    const sent = header({ state: 'delayed', error: 'ünïcödé', backoff: { type: 'exponential', delay: 10, max: 20, jitter: true } });
    const { header: got, payload } = decodeRecord(encodeRecord(sent, bytes));
    expect(Buffer.compare(payload, copy)).toBe(0);
    expectSameHeader(got, sent);
  });

  it('an empty payload stays empty', () => {
    expect(decodeRecord(encodeRecord(header(), Buffer.alloc(0))).payload.length).toBe(0);
  });

  it('arbitrary binary payload bytes (not msgpack at all) pass through', () => {
    const bytes = randomBytes(4096);
    expect(decodeRecord(encodeRecord(header(), bytes)).payload.equals(bytes)).toBe(true);
  });

  it('payload bytes that begin like a record do not confuse the decoder', () => {
    const inner = encodeRecord(header({ state: 'dead', error: 'inner' }), encodeValue('inner payload'));
    const outer = encodeRecord(header({ state: 'waiting' }), inner);
    const decoded = decodeRecord(outer);
    expect(decoded.header.state).toBe('waiting');
    expect(decoded.payload.equals(inner)).toBe(true);
  });

  // Values that decode to what was sent.
  const faithful: [string, unknown][] = [
    ['null', null],
    ['empty string', ''],
    ['unicode string', 'héllo wörld — 日本 🎉 \u0000 end'],
    ['Date', new Date(1_700_000_000_123)],
    ['nested objects and arrays', { a: { b: { c: [1, { d: 'e' }, [null, true, false]] } }, empty: {}, list: [] }],
    ['Buffer', Buffer.from([0, 1, 2, 254, 255])],
    ['large bigint', 1234567890123456789n],
  ];
  it.each(faithful)('a %s payload decodes to the value sent', (_label, value) => {
    const { payload } = decodeRecord(encodeRecord(header(), encodeValue(value)));
    expect(decodeValue(payload)).toEqual(value);
  });

  it('a Uint8Array payload decodes to the same bytes', () => {
    const value = new Uint8Array([9, 8, 7, 0]);
    const decoded = decodeValue(decodeRecord(encodeRecord(header(), encodeValue(value))).payload);
    expect(decoded).toBeInstanceOf(Uint8Array);
    expect([...(decoded as Uint8Array)]).toEqual([...value]);
  });

  // payload.ts documents what crosses: data. Maps arrive as plain objects, Sets as arrays;
  // Dates, Buffers, typed arrays and bigints survive.
  it('a Map payload arrives as a plain object with its entries', () => {
    const decoded = decodeValue(encodeValue(new Map<string, unknown>([['a', 1], ['b', { c: [2] }]])));
    expect(decoded).toEqual({ a: 1, b: { c: [2] } });
  });
  it('a Set payload arrives as an array of its items', () => {
    expect(decodeValue(encodeValue(new Set(['x', 2])))).toEqual(['x', 2]);
  });

  it('a bigint of any size arrives as a bigint, and a large number as a number', () => {
    const value = { small: 5n, negative: -3n, huge: 2n ** 100n, big: 2 ** 40, negativeBig: -(2 ** 40) };
    expect(decodeValue(encodeValue(value))).toEqual(value);
  });
});

describe('decodeRecord rejects garbage with CORRUPT_RECORD', () => {
  // The msgpack part of a valid record, as plain values, to derive broken variants from: its
  // fields are maxAttempts, createdAt, runAt, timeout, backoff (4), priority, error, dedupeFor.
  const valid = encodeRecord(header(), Buffer.alloc(0));
  const validFields = decodeValue(valid.subarray(27, 27 + valid.readUInt16BE(25))) as unknown[];
  const validHead = encodeValue(validFields);
  /** The valid msgpack part with field `index` (0-based, in the order above) replaced. */
  const withField = (index: number, value: unknown) => encodeValue(validFields.map((v, i) => (i === index ? value : v)));
  /** The valid fixed block with its state byte replaced. */
  const withState = (code: number) => Buffer.concat([Buffer.from([code]), VALID_HOT.subarray(1)]);
  const MAX_ATTEMPTS = 0;
  const BACKOFF_TYPE = 4;

  it('sanity: the rebuilt valid header decodes', () => {
    expect(decodeRecord(rawRecord(validHead, encodeValue('p'))).header).toEqual(header());
    expect(decodeRecord(rawRecord(validHead, Buffer.alloc(0), RECORD_FORMAT, validHead.length, withState(3))).header.state).toBe('completed');
  });

  it('an empty buffer', () => expectCorrupt(Buffer.alloc(0)));
  it('a buffer shorter than the prefix', () => {
    expectCorrupt(Buffer.from([RECORD_FORMAT]));
    expectCorrupt(Buffer.from([RECORD_FORMAT, 0]));
    expectCorrupt(valid.subarray(0, 26));
  });
  it('a wrong format byte', () => {
    for (const format of [0, 1, 3, 0x7f, 0xff]) expectCorrupt(rawRecord(validHead, Buffer.alloc(0), format));
  });
  it('a header length beyond the end of the record (truncated header)', () => {
    expectCorrupt(rawRecord(validHead.subarray(0, validHead.length - 3), Buffer.alloc(0), RECORD_FORMAT, validHead.length));
    expectCorrupt(rawRecord(Buffer.alloc(0), Buffer.alloc(0), RECORD_FORMAT, 0xffff));
  });
  it('a zero header length', () => expectCorrupt(rawRecord(Buffer.alloc(0), encodeValue('payload'))));
  it('header bytes cut short inside the msgpack array', () => {
    const cut = validHead.subarray(0, 6);
    expectCorrupt(rawRecord(cut, Buffer.alloc(0), RECORD_FORMAT, cut.length));
  });
  it('a header that is not an array', () => {
    for (const value of [{ state: 0 }, 'header', 42, null, true]) expectCorrupt(rawRecord(encodeValue(value)));
  });
  it('a header array with too few fields', () => {
    expectCorrupt(rawRecord(encodeValue(validFields.slice(0, -1))));
    expectCorrupt(rawRecord(encodeValue(validFields.slice(0, 3))));
    expectCorrupt(rawRecord(encodeValue([])));
  });
  it('a header with an unknown state code', () => {
    for (const code of [7, 99, 0xff]) {
      expectCorrupt(rawRecord(validHead, Buffer.alloc(0), RECORD_FORMAT, validHead.length, withState(code)));
    }
  });
  it('a header with an unknown backoff code', () => {
    expectCorrupt(rawRecord(withField(BACKOFF_TYPE, 3)));
    expectCorrupt(rawRecord(withField(BACKOFF_TYPE, -1)));
  });
  it('a header with a string where a number belongs', () => {
    expectCorrupt(rawRecord(withField(MAX_ATTEMPTS, 'x')));
    expectCorrupt(rawRecord(withField(MAX_ATTEMPTS, '0')));
    expectCorrupt(rawRecord(withField(MAX_ATTEMPTS, null)));
  });
  it('names the job in the error', () => expectCorrupt(Buffer.from('not a record'), 'job-7'));

  it('random bytes, with or without a plausible prefix', () => {
    const random = seededNumbers(0xd0c4e7); // deterministic, so a failure can be reproduced
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(random() * 80);
      const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(random() * 256)));
      expectCorrupt(bytes);
      // Same bytes behind a valid format byte and a header length that fits.
      if (len > 0) expectCorrupt(rawRecord(bytes, Buffer.alloc(0), RECORD_FORMAT, Math.floor(random() * (len + 1)) || len));
    }
  });
});

describe('decodeValue rejects bytes that are not one msgpack value with CORRUPT_RECORD', () => {
  it.each([
    ['no bytes', Buffer.alloc(0)],
    ['a value cut short', encodeValue({ a: 'hello' }).subarray(0, 5)],
    ['trailing bytes after a value', Buffer.concat([encodeValue(1), Buffer.from([0x01])])],
    ['a map key without its value', Buffer.from([0x81, 0xa1, 0x61])],
    ['an array claiming 4 billion items', Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['a pointer to a structure that was never defined', Buffer.from([0xd6, 0x70, 0, 0, 0, 9])],
    ['nesting deep enough to overflow the stack', Buffer.alloc(200_000, 0x91)],
  ])('%s', (_label, bytes) => {
    const err = thrown(() => decodeValue(bytes));
    expect(isDocketError(err, 'CORRUPT_RECORD'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/^msgpack value cannot be decoded: ./);
  });
});

describe('record.lua reads and writes what Node encodes (real redis-server)', () => {
  const server = useRedisServer({ appendonly: false });
  let redis: Redis;

  beforeAll(() => {
    redis = server.client();
  });

  // Reads a record with read_record, counts one more attempt, sets the error and writes it back.
  const body = `
local id = ARGV[1]
local header, body = read_record(redis.call('HGET', K_JOBS, id))
if not header then return redis.error_reply('read_record: ' .. tostring(body)) end
header[H_ATTEMPT] = header[H_ATTEMPT] + 1
header[H_ERROR] = ARGV[2]
write_record(id, header, body)
return header[H_ATTEMPT]
`;
  const script = composeLua(RECORD_LUA, body);

  async function roundTrip(sent: JobHeader, payload: Buffer, error: string) {
    const keys = queueKeys(uniquePrefix('rec'), 'lua-q');
    await redis.hset(keys.jobs, 'job-1', encodeRecord(sent, payload));
    const keyList = queueKeyList(keys);
    const reply = await redis.eval(script, keyList.length, ...keyList, 'job-1', error);
    const stored = await redis.hgetBuffer(keys.jobs, 'job-1');
    expect(stored).not.toBeNull();
    return { reply, decoded: decodeRecord(stored as Buffer, 'job-1') };
  }

  it('increments the attempt and sets the error; every other field and the payload survive', async () => {
    const value = {
      when: new Date(1_700_000_000_123),
      tags: new Map([['k', 'v']]),
      bin: Buffer.from([0, 0xc1, 0xff, 0x00]),
      big: 2n ** 62n,
      text: 'unicode ✓ 日本 🎉',
      empty: '',
      nothing: null,
      nested: [[[{ deep: true }]]],
    };
    const payload = encodeValue(value);
    const sent = header({
      state: 'active',
      attempt: 1,
      maxAttempts: 5,
      token: 77,
      createdAt: 1_700_000_000_001,
      startedAt: 1_700_000_000_002,
      finishedAt: 0,
      runAt: 1_700_000_000_004,
      timeout: 15_000,
      backoff: { type: 'exponential', delay: 1_000, max: 60_000, jitter: true },
      priority: -42,
      error: undefined,
      cancelRequested: true,
      dedupeFor: 3_600_000,
    });
    const error = 'TypeError: ünïcödé 💥 failure';
    const { reply, decoded } = await roundTrip(sent, payload, error);
    expect(reply).toBe(2);
    expectSameHeader(decoded.header, { ...sent, attempt: sent.attempt + 1, error });
    expect(Buffer.compare(decoded.payload, payload)).toBe(0);
  });

  it('keeps large timestamps exact and a replaced error string', async () => {
    const sent = header({
      state: 'failed',
      attempt: 0,
      createdAt: 8.64e15,
      startedAt: 2 ** 48 - 1,
      finishedAt: 2 ** 32,
      runAt: 2 ** 40 + 1,
      token: 2 ** 31,
      priority: 1_000_000,
      backoff: { type: 'fixed', delay: 250 },
      error: 'the previous error',
    });
    const payload = randomBytes(1024); // opaque to Lua: never decoded there
    const error = 'x'.repeat(300) + ' — ' + '日'.repeat(100);
    const { decoded } = await roundTrip(sent, payload, error);
    expectSameHeader(decoded.header, { ...sent, attempt: 1, error });
    expect(decoded.payload.equals(payload)).toBe(true);
  });

  it.each(['waiting', 'dead', 'cancelled'] as const)('leaves state %s alone', async (state) => {
    const sent = header({ state, error: '' });
    const { decoded } = await roundTrip(sent, encodeValue(null), 'e');
    expect(decoded.header.state).toBe(state);
  });

  it('an empty payload stays empty', async () => {
    const { decoded } = await roundTrip(header(), Buffer.alloc(0), 'e');
    expect(decoded.payload.length).toBe(0);
  });

  // Garbage shaped like a header (an array of 17+ values) must be refused up front: a string
  // where a number belongs used to reach the arithmetic of the scripts (failing a fetch after
  // its pop, which lost the popped jobs), and an unknown state left a job in no structure.
  it.each([
    ['the max attempts is a string', 0, 'x'],
    ['the created time is a string of digits', 1, '7'],
    ['the max attempts is nil', 0, null],
    ['the priority is an array', 8, [1]],
    ['the dedupe window is a boolean', 10, true],
    ['the error is a number', 9, 42],
    ['the backoff code is 5', 4, 5],
  ] as const)('read_record refuses a header where %s', async (_label, index, value) => {
    const valid = encodeRecord(header(), Buffer.alloc(0));
    const fields = decodeValue(valid.subarray(27, 27 + valid.readUInt16BE(25))) as unknown[];
    fields[index] = value;
    const keys = queueKeys(uniquePrefix('rec'), 'lua-q');
    await redis.hset(keys.jobs, 'job-1', rawRecord(encodeValue(fields), encodeValue('payload')));
    const keyList = queueKeyList(keys);
    await expect(redis.eval(script, keyList.length, ...keyList, 'job-1', 'e')).rejects.toThrow(/read_record: (job header|unknown job state|unknown backoff)/);
    // Node refuses it too (or, for the error field, reads no error).
    if (index !== 9) expectCorrupt(rawRecord(encodeValue(fields)));
  });

  it.each([7, 99, 255])('read_record refuses a fixed block with state code %i, as Node does', async (code) => {
    const valid = encodeRecord(header(), Buffer.alloc(0));
    const cold = valid.subarray(27);
    const hot = Buffer.concat([Buffer.from([code]), VALID_HOT.subarray(1)]);
    const record = rawRecord(cold, encodeValue('payload'), RECORD_FORMAT, cold.length, hot);
    expectCorrupt(record);
    const keys = queueKeys(uniquePrefix('rec'), 'lua-q');
    await redis.hset(keys.jobs, 'job-1', record);
    const keyList = queueKeyList(keys);
    await expect(redis.eval(script, keyList.length, ...keyList, 'job-1', 'e')).rejects.toThrow(/read_record: unknown job state/);
  });

  it('read_record refuses a header followed by more msgpack values inside its length, as Node does', async () => {
    const head = encodeRecord(header(), Buffer.alloc(0)).subarray(27);
    const padded = Buffer.concat([head, encodeValue(1)]);
    const record = rawRecord(padded, encodeValue('payload'));
    expectCorrupt(record);
    const keys = queueKeys(uniquePrefix('rec'), 'lua-q');
    await redis.hset(keys.jobs, 'job-1', record);
    const keyList = queueKeyList(keys);
    await expect(redis.eval(script, keyList.length, ...keyList, 'job-1', 'e')).rejects.toThrow(/read_record: job header cannot be decoded/);
  });

  it('read_record refuses a record Node would refuse', async () => {
    const keys = queueKeys(uniquePrefix('rec'), 'lua-q');
    await redis.hset(keys.jobs, 'job-1', Buffer.from([2, 0, 1, 0x90]));
    const keyList = queueKeyList(keys);
    await expect(redis.eval(script, keyList.length, ...keyList, 'job-1', 'e')).rejects.toThrow(/read_record/);
  });
});
