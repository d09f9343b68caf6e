import { afterEach, describe, expect, it } from 'vitest';
import { type DocketErrorCode, DocketError, STRATEGY_NAMES, defineQueue, isDocketError } from '../src/index.js';
import { checkInteger, checkQueue, decodeValue, describeThrown, encodeChecked, encodeValue } from '../src/internal.js';

/** Runs `fn`, expects a DocketError with `code`, and returns its message. */
function failure(fn: () => unknown, code: DocketErrorCode): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected the call to throw').toBeDefined();
  expect(isDocketError(caught), String(caught)).toBe(true);
  expect((caught as DocketError).code).toBe(code);
  return (caught as DocketError).message;
}

describe('defineQueue', () => {
  it('accepts valid names and defaults to fifo', () => {
    for (const name of ['emails', 'a', 'A1', '0', 'reports.v2', 'team_a:emails-high', 'x'.repeat(100)]) {
      const q = defineQueue(name);
      expect(q.name).toBe(name);
      expect(q.strategy).toBe('fifo');
    }
  });

  it.each(STRATEGY_NAMES)('accepts strategy %s', (strategy) => {
    expect(defineQueue('q', { strategy }).strategy).toBe(strategy);
  });

  const badNames: [string, unknown][] = [
    ['empty', ''],
    ['too long', 'x'.repeat(101)],
    ['an opening brace', 'a{b'],
    ['a closing brace', 'a}b'],
    ['a hash tag', '{emails}'],
    ['a space', 'my queue'],
    ['a leading space', ' q'],
    ['a tab', 'q\t'],
    ['a leading dash', '-abc'],
    ['a leading dot', '.abc'],
    ['a slash', 'a/b'],
    ['a non-ASCII letter', 'émails'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { name: 'q' }],
  ];
  it.each(badNames)('rejects a name that is %s', (_label, name) => {
    const message = failure(() => defineQueue(name as string), 'INVALID_ARGUMENT');
    expect(message).toContain('`name`');
  });

  it('the message shows the rejected name', () => {
    expect(failure(() => defineQueue('my queue'), 'INVALID_ARGUMENT')).toContain('my queue');
  });

  it('rejects unknown option keys, naming them', () => {
    const message = failure(() => defineQueue('q', { strategi: 'fifo' } as never), 'INVALID_ARGUMENT');
    expect(message).toContain('strategi');
    expect(message).toContain('strategy'); // says what is allowed
  });

  it('an unknown key that is empty, odd or long is shown quoted', () => {
    expect(failure(() => defineQueue('q', { '': 1 } as never), 'INVALID_ARGUMENT')).toContain('Unknown option `options[""]`');
    expect(failure(() => defineQueue('q', { 'my key': 1 } as never), 'INVALID_ARGUMENT')).toContain('`options["my key"]`');
    expect(failure(() => defineQueue('q', { ['k'.repeat(500)]: 1 } as never), 'INVALID_ARGUMENT').length).toBeLessThan(300);
  });

  it('rejects options that are not an object', () => {
    for (const options of [null, 'fifo', 1, ['fifo']]) {
      expect(failure(() => defineQueue('q', options as never), 'INVALID_ARGUMENT')).toContain('`options`');
    }
  });

  it.each([['bogus'], ['FIFO'], [' fifo'], [''], [1], [null], [true]])('rejects strategy %j', (strategy) => {
    const message = failure(() => defineQueue('q', { strategy } as never), 'INVALID_ARGUMENT');
    expect(message).toContain('`strategy`');
    expect(message).toContain(String(strategy));
  });

  it('returns a frozen definition', () => {
    const q = defineQueue('frozen');
    expect(Object.isFrozen(q)).toBe(true);
    expect(() => {
      (q as { name: string }).name = 'other';
    }).toThrow();
    expect(q.name).toBe('frozen');
  });
});

describe('checkQueue', () => {
  it('shows a queue name passed instead of its definition, and says what to pass', () => {
    const message = failure(() => checkQueue('emails'), 'INVALID_ARGUMENT');
    expect(message).toContain('got `"emails"`');
    expect(message).toContain('defineQueue("emails")');
  });

  it('accepts a definition from defineQueue', () => {
    const q = defineQueue('ok', { strategy: 'fifo' });
    expect(checkQueue(q)).toBe(q);
  });

  it('rejects plain objects that look like a definition', () => {
    const lookalikes: unknown[] = [
      { name: 'q', strategy: 'fifo' },
      JSON.parse(JSON.stringify(defineQueue('q'))), // what crosses a process boundary
      Object.freeze({ name: 'q', strategy: 'fifo', [Symbol('docket.queue-definition')]: true }),
    ];
    for (const value of lookalikes) {
      expect(failure(() => checkQueue(value), 'INVALID_ARGUMENT')).toContain('`queue`');
    }
  });

  it('rejects non-objects, naming the option', () => {
    for (const value of [null, undefined, 'emails', 42]) {
      expect(failure(() => checkQueue(value), 'INVALID_ARGUMENT')).toContain('`queue`');
    }
    expect(failure(() => checkQueue('emails', 'queues[2]'), 'INVALID_ARGUMENT')).toContain('`queues[2]`');
  });
});

describe('encodeChecked', () => {
  const LIMIT = 1024 * 1024;

  it('accepts ordinary payloads and encodes them like encodeValue', () => {
    const value = { to: 'a@b.c', when: new Date(0), tags: ['x'], n: 1.5, big: 2n ** 62n, bin: Buffer.from([1]) };
    const bytes = encodeChecked(value, LIMIT);
    expect(decodeValue(bytes)).toEqual(value);
  });

  it('accepts the same object referenced twice (shared, not a cycle)', () => {
    const shared = { a: 1 };
    const value = { x: shared, y: [shared, shared] };
    expect(decodeValue(encodeChecked(value, LIMIT))).toEqual({ x: { a: 1 }, y: [{ a: 1 }, { a: 1 }] });
  });

  it('refuses a function, naming it', () => {
    const message = failure(() => encodeChecked(() => 1, LIMIT), 'NOT_ENCODABLE');
    expect(message).toMatch(/function/);
  });

  it('refuses a function nested in objects and arrays, with its path', () => {
    const message = failure(() => encodeChecked({ user: { hooks: [1, function onSave() {}] } }, LIMIT), 'NOT_ENCODABLE');
    expect(message).toContain('user.hooks[1]');
    expect(message).toMatch(/function/);
  });

  it('refuses a symbol, at the top and nested', () => {
    expect(failure(() => encodeChecked(Symbol('s'), LIMIT), 'NOT_ENCODABLE')).toMatch(/symbol/);
    const message = failure(() => encodeChecked({ kind: Symbol.for('k') }, LIMIT), 'NOT_ENCODABLE');
    expect(message).toContain('kind');
    expect(message).toMatch(/symbol/);
  });

  it('refuses functions and symbols inside a Map or a Set', () => {
    expect(failure(() => encodeChecked({ m: new Map([['cb', () => 0]]) }, LIMIT), 'NOT_ENCODABLE')).toMatch(/function/);
    expect(failure(() => encodeChecked({ s: new Set([Symbol('x')]) }, LIMIT), 'NOT_ENCODABLE')).toMatch(/symbol/);
  });

  it('refuses a cycle through an object', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const message = failure(() => encodeChecked({ root: a }, LIMIT), 'NOT_ENCODABLE');
    expect(message).toMatch(/cycle/);
    expect(message).toContain('root.self');
  });

  it('refuses a cycle through an array', () => {
    const list: unknown[] = [1, 2];
    list.push({ back: list });
    expect(failure(() => encodeChecked(list, LIMIT), 'NOT_ENCODABLE')).toMatch(/cycle/);
  });

  it('refuses nesting too deep to decode safely, without overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const message = failure(() => encodeChecked(deep, LIMIT), 'NOT_ENCODABLE');
    expect(message).toMatch(/nested|deep/);
    let deepArray: unknown = 0;
    for (let i = 0; i < 10_000; i++) deepArray = [deepArray];
    expect(failure(() => encodeChecked(deepArray, LIMIT), 'NOT_ENCODABLE')).toMatch(/nested|deep/);
  });

  it('accepts reasonable nesting', () => {
    let nested: unknown = 'leaf';
    for (let i = 0; i < 30; i++) nested = { d: [nested] };
    expect(decodeValue(encodeChecked(nested, LIMIT))).toEqual(nested);
  });

  it('is not confused by a getter that encodes while a value is being checked (re-entrant call)', () => {
    // The getter runs during the outer check, inside `root`: the inner check of `root` must not
    // take the outer walk's path for a cycle, and the outer check must go on unharmed.
    const root: Record<string, unknown> = { a: { b: 1 } };
    let inner: Buffer | undefined;
    let calls = 0;
    Object.defineProperty(root, 'z', {
      enumerable: true,
      get() {
        if (calls++ === 0) inner = encodeChecked(root, LIMIT);
        return 2;
      },
    });
    expect(decodeValue(encodeChecked(root, LIMIT))).toEqual({ a: { b: 1 }, z: 2 });
    expect(decodeValue(inner as Buffer)).toEqual({ a: { b: 1 }, z: 2 });
    // A real cycle is still found after a check that threw half-way.
    const throwing = { get bad(): never { throw new Error('no reading me'); } };
    expect(failure(() => encodeChecked({ x: { y: throwing } }, LIMIT), 'NOT_ENCODABLE')).toMatch(/no reading me/);
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(failure(() => encodeChecked(a, LIMIT), 'NOT_ENCODABLE')).toMatch(/cycle/);
  });

  it('carries bigints beyond 64 bits exactly', () => {
    expect(decodeValue(encodeChecked({ n: 2n ** 64n, m: -(2n ** 900n) }, LIMIT))).toEqual({ n: 2n ** 64n, m: -(2n ** 900n) });
  });

  it('refuses a payload over the limit with PAYLOAD_TOO_LARGE, naming the size and the limit', () => {
    const value = 'x'.repeat(10_000);
    const size = encodeValue(value).length;
    const message = failure(() => encodeChecked(value, size - 1), 'PAYLOAD_TOO_LARGE');
    expect(message).toContain('maxPayloadBytes');
    expect(message).toContain(String(size - 1));
    expect(message).toContain(String(size));
  });

  it('accepts a payload of exactly the limit', () => {
    const value = { blob: Buffer.alloc(5_000, 7) };
    const size = encodeValue(value).length;
    expect(encodeChecked(value, size).length).toBe(size);
  });

  it('names what is being encoded', () => {
    expect(failure(() => encodeChecked({ f: () => 1 }, LIMIT, 'result'), 'NOT_ENCODABLE')).toContain('result');
    expect(failure(() => encodeChecked('xxxxxxxx', 2, 'result'), 'PAYLOAD_TOO_LARGE')).toContain('result');
    // ... and the option that sets the limit, which for results is not maxPayloadBytes
    const message = failure(() => encodeChecked('xxxxxxxx', 2, 'result', '`maxResultBytes`'), 'PAYLOAD_TOO_LARGE');
    expect(message).toContain('`maxResultBytes` (2)');
    expect(message).not.toContain('maxPayloadBytes');
  });
});

describe('encodeChecked: hostile keys and values that cannot be read', () => {
  const LIMIT = 1024 * 1024;

  it('refuses an own "__proto__" key (it would arrive renamed), at the top and nested, naming the path', () => {
    const top = JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}') as unknown;
    expect(failure(() => encodeChecked(top, LIMIT), 'NOT_ENCODABLE')).toContain('"__proto__"');
    const nested = { user: [JSON.parse('{"__proto__": {"admin": true}}')] };
    const message = failure(() => encodeChecked(nested, LIMIT), 'NOT_ENCODABLE');
    expect(message).toContain('payload.user[0]');
    expect(message).toContain('"__proto__"');
  });

  it('refuses a Map with the key "__proto__" (Maps arrive as plain objects)', () => {
    expect(failure(() => encodeChecked({ m: new Map([['__proto__', 1]]) }, LIMIT), 'NOT_ENCODABLE')).toContain('"__proto__"');
  });

  it('accepts "constructor" and "prototype" keys: they arrive as plain own data, nothing polluted', () => {
    const value = JSON.parse('{"constructor": {"prototype": {"polluted": 1}}, "prototype": {"polluted": 2}}') as unknown;
    const decoded = decodeValue(encodeChecked(value, LIMIT)) as Record<string, unknown>;
    expect(decoded).toEqual(value);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, 'constructor')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({}).constructor).toBe(Object);
  });

  it('a getter that throws: NOT_ENCODABLE naming what it threw, with the cause', () => {
    const boom = new RangeError('no access');
    const value = {
      get secret(): unknown {
        throw boom;
      },
    };
    let caught: unknown;
    try {
      encodeChecked(value, LIMIT);
    } catch (err) {
      caught = err;
    }
    expect(isDocketError(caught, 'NOT_ENCODABLE')).toBe(true);
    expect((caught as Error).message).toContain('RangeError: no access');
    expect((caught as Error).cause).toBe(boom);
  });

  it('a revoked Proxy, at the top or nested: NOT_ENCODABLE', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    failure(() => encodeChecked(proxy, LIMIT), 'NOT_ENCODABLE');
    failure(() => encodeChecked({ inner: [proxy] }, LIMIT), 'NOT_ENCODABLE');
  });
});

describe('describeThrown never throws and says what was thrown', () => {
  it.each([
    [new TypeError('bad'), 'TypeError: bad'],
    [new DocketError('TIMEOUT', 'too slow'), 'DocketError: too slow'],
    [42, 'non-Error thrown: 42'],
    ['a string', 'non-Error thrown: "a string"'],
    [null, 'non-Error thrown: null'],
    [undefined, 'non-Error thrown: undefined'],
    [Symbol('s'), 'non-Error thrown: Symbol(s)'],
    [{ code: 'E42', retry: false }, 'non-Error thrown: {"code":"E42","retry":false}'],
    [[1, 2], 'non-Error thrown: an array'],
    [10n, 'non-Error thrown: 10n'],
  ])('%s', (value, expected) => {
    expect(describeThrown(value)).toBe(expected);
  });

  it('a cyclic object, a long object, a revoked Proxy, an Error whose message getter throws', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeThrown(cyclic)).toBe('non-Error thrown: an object');
    expect(describeThrown({ text: 'x'.repeat(1000) }).length).toBeLessThan(250);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(describeThrown(proxy)).toMatch(/^a thrown value that cannot be read/);
    const sneaky = new Error('hidden');
    Object.defineProperty(sneaky, 'message', {
      get() {
        throw new Error('gotcha');
      },
    });
    expect(describeThrown(sneaky)).toMatch(/^a thrown value that cannot be read/);
  });
});

describe('decoding a payload does not pollute prototypes', () => {
  afterEach(() => {
    // So that one polluting bug does not cascade into unrelated tests.
    delete (Object.prototype as Record<string, unknown>).polluted;
  });

  it('a "__proto__" key from JSON does not change Object.prototype', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": 1}') as Record<string, unknown>;
    const decoded = decodeValue(encodeValue(hostile)) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded.polluted).toBeUndefined();
    expect(decoded.a).toBe(1);
  });

  it('a hand-written msgpack map with a "__proto__" key, nested too', () => {
    // {"__proto__": {"polluted": true}} built byte by byte
    const key = Buffer.from('__proto__');
    const inner = Buffer.concat([Buffer.from([0x81, 0xa8]), Buffer.from('polluted'), Buffer.from([0xc3])]);
    const top = Buffer.concat([Buffer.from([0x81, 0xa0 + key.length]), key, inner]);
    const nested = Buffer.concat([Buffer.from([0x81, 0xa1]), Buffer.from('x'), Buffer.from([0x91]), top]);
    for (const bytes of [top, nested]) {
      const decoded = decodeValue(bytes);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      expect(decoded).toBeTypeOf('object');
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
      expect((decoded as Record<string, unknown>).polluted).toBeUndefined();
    }
  });

  it('"constructor.prototype" keys stay plain data', () => {
    const hostile = JSON.parse('{"constructor": {"prototype": {"polluted": 1}}}') as unknown;
    decodeValue(encodeValue(hostile));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('isDocketError', () => {
  it('recognizes a DocketError and filters by code', () => {
    const err = new DocketError('INVALID_ARGUMENT', 'bad');
    expect(isDocketError(err)).toBe(true);
    expect(isDocketError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(isDocketError(err, 'CLOSED')).toBe(false);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('DocketError');
  });

  it('recognizes an error from another copy of the package (same name and code, not instanceof)', () => {
    class OtherCopyDocketError extends Error {
      override readonly name = 'DocketError';
      constructor(
        readonly code: string,
        message: string,
      ) {
        super(message);
      }
    }
    const foreign = new OtherCopyDocketError('QUEUE_MISMATCH', 'from elsewhere');
    expect(foreign instanceof DocketError).toBe(false);
    expect(isDocketError(foreign)).toBe(true);
    expect(isDocketError(foreign, 'QUEUE_MISMATCH')).toBe(true);
    expect(isDocketError(foreign, 'INVALID_ARGUMENT')).toBe(false);
    // e.g. an error that crossed a structured clone: a plain Error with the fields set
    const cloned = Object.assign(new Error('cloned'), { name: 'DocketError', code: 'TIMEOUT' });
    expect(isDocketError(cloned, 'TIMEOUT')).toBe(true);
  });

  it('rejects lookalikes', () => {
    const lookalikes: unknown[] = [
      new Error('plain'),
      Object.assign(new Error('x'), { code: 'INVALID_ARGUMENT' }), // right code, wrong name
      Object.assign(new Error('x'), { name: 'DocketError' }), // right name, no code
      Object.assign(new Error('x'), { name: 'DocketError', code: 42 }), // code not a string
      Object.assign(new Error('x'), { name: 'docketerror', code: 'CLOSED' }),
      { name: 'DocketErrorX', code: 'CLOSED' },
      'DocketError',
      null,
      undefined,
      42,
    ];
    for (const value of lookalikes) expect(isDocketError(value), String(value)).toBe(false);
  });

  it('keeps the cause, job and queue', () => {
    const cause = new Error('root');
    const err = new DocketError('REDIS_ERROR', 'wrapped', { cause, jobId: 'j1', queue: 'q1' });
    expect(err.cause).toBe(cause);
    expect(err.jobId).toBe('j1');
    expect(err.queue).toBe('q1');
  });
});

describe('error messages name the option and the value', () => {
  it('attempts: 0', () => {
    const message = failure(() => checkInteger('attempts', 0, 1), 'INVALID_ARGUMENT');
    expect(message).toContain('`attempts`');
    expect(message).toContain('`0`');
  });

  it.each([
    [1.5, '`1.5`'],
    [Number.NaN, '`NaN`'],
    [-3, '`-3`'],
    ['5', '`"5"`'], // a string is shown quoted, so it is clearly not the number 5
    [null, '`null`'],
    [undefined, '`undefined`'],
    [10n, '`10n`'],
  ])('timeout: %s', (value, shown) => {
    const message = failure(() => checkInteger('timeout', value, 1), 'INVALID_ARGUMENT');
    expect(message).toContain('`timeout`');
    expect(message).toContain(shown);
  });

  it('a very long string value is shortened in the message', () => {
    const message = failure(() => defineQueue('q', { strategy: 'z'.repeat(10_000) } as never), 'INVALID_ARGUMENT');
    expect(message).toContain('`strategy`');
    expect(message.length).toBeLessThan(500);
  });

  it('strategy: "bogus" names the allowed values', () => {
    const message = failure(() => defineQueue('q', { strategy: 'bogus' } as never), 'INVALID_ARGUMENT');
    expect(message).toContain('"bogus"');
    for (const s of STRATEGY_NAMES) expect(message).toContain(s);
  });
});

describe('options objects', () => {
  it('a Map, Set, Promise or Date given as options is refused (its entries are not options), naming what it is', () => {
    for (const [value, shown] of [
      [new Map([['strategy', 'lifo']]), 'a Map'],
      [new Set(), 'a Set'],
      [Promise.resolve({}), 'a Promise'],
      [new Date(0), '1970-01-01T00:00:00.000Z'],
      [new Uint8Array(2), 'a Uint8Array'],
      [new Error('x'), 'an Error'],
    ] as const) {
      const message = failure(() => defineQueue('q', value as never), 'INVALID_ARGUMENT');
      expect(message).toContain('`options`');
      expect(message).toContain(shown);
    }
  });

  it('a class instance and a null-prototype object are accepted like plain objects', () => {
    class Options {
      strategy = 'lifo' as const;
    }
    expect(defineQueue('q', new Options()).strategy).toBe('lifo');
    expect(defineQueue('q', Object.assign(Object.create(null), { strategy: 'random' })).strategy).toBe('random');
  });

  it('a revoked Proxy or a throwing getter as options: INVALID_ARGUMENT naming `options`', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(failure(() => defineQueue('q', proxy), 'INVALID_ARGUMENT')).toContain('`options`');
    const getter = {
      get strategy(): string {
        throw new Error('boom');
      },
    };
    const message = failure(() => defineQueue('q', getter as never), 'INVALID_ARGUMENT');
    expect(message).toContain('`options` cannot be read: Error: boom');
  });
});
