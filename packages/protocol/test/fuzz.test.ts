// Fuzz tests: the decoders and the validators get random input for a bounded time each. Every
// input must be accepted (with a result that makes sense) or refused with a typed error whose
// message names the option; nothing may crash with another error, hang, or pollute
// Object.prototype. The seed is printed; replay a failure with DOCKET_FUZZ_SEED=<seed>
// (DOCKET_FUZZ_MS=<ms> changes the time spent on each part).
import { type Fuzz, anyOptions, anyValue, forDuration, fuzzer, plainValue } from '@docket/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { STRATEGY_NAMES, defineQueue, isDocketError } from '../src/index.js';
import {
  type JobHeader,
  RECORD_FORMAT,
  STATE_CODES,
  checkInteger,
  checkPrefix,
  checkQueueName,
  decodeRecord,
  decodeValue,
  describeThrown,
  encodeChecked,
  encodeRecord,
  encodeValue,
} from '../src/internal.js';

const BUDGET_MS = 2_000;
const prototypeKeys = () => Object.getOwnPropertyNames(Object.prototype).sort();
const cleanPrototype = prototypeKeys();

afterEach(() => {
  expect(prototypeKeys(), 'Object.prototype was changed').toEqual(cleanPrototype);
});

function header(f: Fuzz): JobHeader {
  return {
    state: f.pick(STATE_CODES),
    attempt: f.int(5),
    maxAttempts: 1 + f.int(5),
    token: f.int(1e6),
    createdAt: 1_700_000_000_000 + f.int(1e9),
    startedAt: 0,
    finishedAt: 0,
    runAt: 0,
    timeout: f.int(60_000),
    backoff: f.chance(0.5) ? undefined : { type: f.pick(['fixed', 'exponential'] as const), delay: f.int(1000), jitter: f.chance(0.5) },
    priority: f.int(2_000_001) - 1_000_000,
    error: f.chance(0.5) ? undefined : 'an error',
    cancelRequested: f.chance(0.1),
    dedupeFor: 0,
  };
}

/** A damaged copy of `bytes`: bits flipped, bytes replaced, cut short, spliced or grown. */
function mutate(f: Fuzz, bytes: Buffer): Buffer {
  let out = Buffer.from(bytes);
  for (let n = 1 + f.int(4); n > 0; n--) {
    const at = out.length === 0 ? 0 : f.int(out.length);
    switch (f.int(6)) {
      case 0:
        if (out.length > 0) out[at] = (out[at] as number) ^ (1 << f.int(8));
        break;
      case 1:
        if (out.length > 0) out[at] = f.int(256);
        break;
      case 2:
        out = out.subarray(0, at);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), f.bytes(8), out.subarray(at)]);
        break;
      case 4:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + f.int(8))]);
        break;
      default:
        // a msgpack type byte that promises a lot of data (arrays, maps, strings, ext)
        out = Buffer.concat([out.subarray(0, at), Buffer.from([f.pick([0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0xc6, 0xc9, 0x9f, 0x8f]), 0xff, 0xff, 0xff, 0xff]), out.subarray(at)]);
    }
  }
  return out;
}

function expectRefused(err: unknown, code: string, context: string): void {
  expect(isDocketError(err, code as never), `${context}: ${describeThrown(err)}`).toBe(true);
}

describe('fuzz: decoders', () => {
  it('decodeRecord returns a well-formed header or throws CORRUPT_RECORD, for random and damaged records', async () => {
    const f = fuzzer('decodeRecord');
    let accepted = 0;
    const runs = await forDuration(BUDGET_MS, (i) => {
      const valid = encodeRecord(header(f), encodeValue(plainValue(f)));
      const bytes = f.pick([
        () => f.bytes(64),
        () => Buffer.concat([Buffer.from([RECORD_FORMAT]), f.bytes(64)]),
        () => mutate(f, valid),
        () => mutate(f, valid),
        () => Buffer.concat([valid.subarray(0, 27), f.bytes(valid.readUInt16BE(25) + 4)]),
      ])();
      let decoded: ReturnType<typeof decodeRecord> | undefined;
      try {
        decoded = decodeRecord(bytes, `job-${i}`);
      } catch (err) {
        expectRefused(err, 'CORRUPT_RECORD', `seed ${f.seed}, run ${i}, bytes ${bytes.toString('hex')}`);
        expect((err as { jobId?: string }).jobId).toBe(`job-${i}`);
        return;
      }
      accepted++;
      const h = decoded.header;
      expect(STATE_CODES, `seed ${f.seed}, run ${i}`).toContain(h.state);
      for (const n of [h.attempt, h.maxAttempts, h.token, h.createdAt, h.timeout, h.priority, h.dedupeFor]) expect(typeof n).toBe('number');
      expect(h.error === undefined || typeof h.error === 'string').toBe(true);
    });
    console.log(`[fuzz] decodeRecord: ${runs} inputs, ${accepted} decoded`);
  });

  it('decodeValue returns a value or throws CORRUPT_RECORD, and no decoded object has another prototype', async () => {
    const f = fuzzer('decodeValue');
    const runs = await forDuration(BUDGET_MS, (i) => {
      const valid = encodeValue(plainValue(f));
      const bytes = f.pick([() => f.bytes(48), () => mutate(f, valid), () => mutate(f, encodeValue({ __proto_: 1, constructor: { prototype: 2 } }))])();
      let value: unknown;
      try {
        value = decodeValue(bytes);
      } catch (err) {
        expectRefused(err, 'CORRUPT_RECORD', `seed ${f.seed}, run ${i}, bytes ${bytes.toString('hex')}`);
        return;
      }
      // Walk what came out: plain objects keep Object.prototype (or none), nothing is a getter.
      const seen = new Set<unknown>();
      const walk = (v: unknown, depth: number): void => {
        if (typeof v !== 'object' || v === null || seen.has(v) || depth > 50) return;
        seen.add(v);
        const proto = Object.getPrototypeOf(v);
        if (proto === Object.prototype || proto === null) {
          for (const key of Object.keys(v)) {
            expect(key, `seed ${f.seed}, run ${i}`).not.toBe('__proto__');
            walk((v as Record<string, unknown>)[key], depth + 1);
          }
        } else if (Array.isArray(v)) {
          for (const item of v) walk(item, depth + 1);
        }
      };
      walk(value, 0);
    });
    console.log(`[fuzz] decodeValue: ${runs} inputs`);
  });
});

describe('fuzz: encodeChecked', () => {
  it('encodes any value or refuses it with NOT_ENCODABLE / PAYLOAD_TOO_LARGE; what it encodes decodes again', async () => {
    const f = fuzzer('encodeChecked');
    let accepted = 0;
    const runs = await forDuration(BUDGET_MS, (i) => {
      const value = anyValue(f);
      const limit = f.chance(0.3) ? 1 + f.int(64) : 1024 * 1024;
      let bytes: Buffer;
      try {
        bytes = encodeChecked(value, limit, 'payload');
      } catch (err) {
        expect(isDocketError(err, 'NOT_ENCODABLE') || isDocketError(err, 'PAYLOAD_TOO_LARGE'), `seed ${f.seed}, run ${i}: ${describeThrown(err)}`).toBe(true);
        expect((err as Error).message).toMatch(/^(Cannot encode the payload: .|The encoded payload is \d+ bytes, over `maxPayloadBytes`)/);
        return;
      }
      accepted++;
      expect(bytes.length).toBeLessThanOrEqual(limit);
      expect(() => decodeValue(bytes), `seed ${f.seed}, run ${i}`).not.toThrow();
    });
    console.log(`[fuzz] encodeChecked: ${runs} values, ${accepted} encoded`);
  });

  it('JSON-like values come back exactly', async () => {
    const f = fuzzer('round trip');
    await forDuration(BUDGET_MS / 2, (i) => {
      const value = plainValue(f, 4);
      expect(decodeValue(encodeChecked(value, 1024 * 1024)), `seed ${f.seed}, run ${i}`).toEqual(value);
    });
  });
});

describe('fuzz: validators', () => {
  /** A refusal must be INVALID_ARGUMENT and name an option (in backticks) or an unknown key. */
  function expectNamed(err: unknown, names: readonly string[], context: string): void {
    expect(isDocketError(err, 'INVALID_ARGUMENT'), `${context}: ${describeThrown(err)}`).toBe(true);
    const message = (err as Error).message;
    const named = names.some((n) => message.includes(`\`${n}\``)) || /^Unknown option `options(\.[\w$]+|\[".*"\])`; expected one of /.test(message);
    expect(named, `${context}: "${message}" names none of ${names.join(', ')}`).toBe(true);
    expect(message.length, context).toBeLessThan(600);
  }

  it('defineQueue: any name and options are accepted as a sane definition or refused naming the option', async () => {
    const f = fuzzer('defineQueue');
    const runs = await forDuration(BUDGET_MS, (i) => {
      const name = f.chance(0.5) ? anyValue(f, 0) : f.pick(['emails', 'a.b:c-d_e', 'x'.repeat(100), 'x'.repeat(101), '{tag}', 'sp ace', '-lead']);
      const options = f.chance(0.2) ? anyValue(f, 1) : anyOptions(f, { strategy: STRATEGY_NAMES, events: [true, false] });
      let q: ReturnType<typeof defineQueue>;
      try {
        q = defineQueue(name as string, options as never);
      } catch (err) {
        expectNamed(err, ['name', 'options', 'strategy', 'events'], `seed ${f.seed}, run ${i}`);
        return;
      }
      expect(q.name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/);
      expect(STRATEGY_NAMES).toContain(q.strategy);
      expect(typeof q.events).toBe('boolean');
      expect(Object.isFrozen(q)).toBe(true);
    });
    console.log(`[fuzz] defineQueue: ${runs} calls`);
  });

  it('checkQueueName, checkPrefix and checkInteger: accept exactly the valid values, else name the option', async () => {
    const f = fuzzer('checks');
    await forDuration(BUDGET_MS / 2, (i) => {
      const value = anyValue(f, 0);
      const context = `seed ${f.seed}, run ${i}, value ${describeThrown(value)}`;
      for (const [check, option] of [
        [() => checkQueueName(value), 'name'],
        [() => checkPrefix(value), 'prefix'],
        [() => checkInteger('attempts', value, 1, 1_000_000), 'attempts'],
      ] as const) {
        try {
          expect(check(), context).toBe(value);
        } catch (err) {
          expectNamed(err, [option], context);
        }
      }
    });
  });
});
