// Every option of the Consumer, start(), close() and closeOnSignal(): an invalid value throws
// (or, for the methods that return a promise, rejects with) an INVALID_ARGUMENT DocketError
// whose message names the option, says what was expected and shows what was given. None of
// these needs Redis: the constructor validates without connecting, and start() validates its
// arguments before it connects.
import { type DocketErrorCode, defineQueue, isDocketError } from '@docket/protocol';
import { rejection } from '@docket/testing';
import { describe, expect, it, vi } from 'vitest';
import { Consumer, type ConsumerOptions, closeOnSignal } from '../src/index.js';

const emails = defineQueue('opts-emails');
const reports = defineQueue('opts-reports', { strategy: 'priority' });
const handler = async () => 'ok';
/** Never contacted: constructors must not connect. */
const base = { connection: 'redis://127.0.0.1:1', queues: [emails], handler };

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** Runs `fn` (sync or async) and returns the DocketError it threw or rejected with. */
async function failure(fn: () => unknown, code: DocketErrorCode = 'INVALID_ARGUMENT'): Promise<Error> {
  const caught = await rejection<unknown>(fn);
  expect(caught, 'expected a DocketError').toBeDefined();
  expect(isDocketError(caught), String(caught)).toBe(true);
  expect((caught as { code: string }).code, (caught as Error).message).toBe(code);
  return caught as Error;
}

describe('new Consumer(options)', () => {
  // [label, options, text the message must contain (the option's name), the value as shown]
  const bad: [string, unknown, string, string?][] = [
    ['no options', undefined, '`options`', '`undefined`'],
    ['options a string', 'redis://127.0.0.1:6379', '`options`'],
    ['options an array', [base], '`options`', 'an array'],
    ['an unknown option', { ...base, concurency: 5 }, 'options.concurency', '`concurrency`'],
    ['an unknown option (url)', { ...base, url: 'redis://x' }, 'options.url'],
    ['connection a number', { ...base, connection: 6379 }, '`connection`', '`6379`'],
    ['connection null', { ...base, connection: null }, '`connection`', '`null`'],
    ['connection an array', { ...base, connection: ['redis://x'] }, '`connection`'],
    ['connection a non-redis URL', { ...base, connection: 'http://127.0.0.1:6379' }, '`connection`', 'http://127.0.0.1:6379'],
    ['connection without a scheme', { ...base, connection: '127.0.0.1:6379' }, '`connection`', '127.0.0.1:6379'],
    ['queues missing', { connection: base.connection, handler }, '`queues`', '`undefined`'],
    ['queues empty', { ...base, queues: [] }, '`queues`', 'an empty array'],
    ['queues not an array', { ...base, queues: emails }, '`queues`'],
    ['a queue not from defineQueue', { ...base, queues: [emails, { name: 'q', strategy: 'fifo' }] }, '`queues[1]`'],
    ['a queue given as its name', { ...base, queues: ['opts-emails'] }, '`queues[0]`'],
    ['the same queue twice', { ...base, queues: [emails, reports, emails] }, '`queues`', '"opts-emails"'],
    ['handler missing', { connection: base.connection, queues: [emails] }, '`handler`', '`undefined`'],
    ['handler not a function', { ...base, handler: 'sendEmail' }, '`handler`', '"sendEmail"'],
    ['handler and sandbox both', { ...base, sandbox: { module: '/abs/handler.js' } }, '`sandbox`'],
    ['sandbox not an object', { ...base, handler: undefined, sandbox: '/abs/handler.js' }, '`sandbox`'],
    ['sandbox.module relative', { ...base, handler: undefined, sandbox: { module: './handler.js' } }, '`sandbox.module`', './handler.js'],
    ['sandbox.module an http URL', { ...base, handler: undefined, sandbox: { module: new URL('http://x/h.js') } }, '`sandbox.module`', 'http://x/h.js'],
    ['sandbox.module a number', { ...base, handler: undefined, sandbox: { module: 1 } }, '`sandbox.module`'],
    ['sandbox unknown key', { ...base, handler: undefined, sandbox: { module: '/abs/h.js', grace: 5 } }, 'sandbox.grace'],
    ['sandbox.abortGrace negative', { ...base, handler: undefined, sandbox: { module: '/abs/h.js', abortGrace: -1 } }, '`sandbox.abortGrace`', '`-1`'],
    ['sandbox.abortGrace past the timer limit', { ...base, handler: undefined, sandbox: { module: '/abs/h.js', abortGrace: 2 ** 31 } }, '`sandbox.abortGrace`', '2147483648'],
    ['concurrency 0', { ...base, concurrency: 0 }, '`concurrency`', '`0`'],
    ['concurrency 1.5', { ...base, concurrency: 1.5 }, '`concurrency`', '`1.5`'],
    ['concurrency a string', { ...base, concurrency: '5' }, '`concurrency`', '`"5"`'],
    ['concurrency above 10,000', { ...base, concurrency: 10_001 }, '`concurrency`', '10001'],
    ['concurrency NaN', { ...base, concurrency: Number.NaN }, '`concurrency`', '`NaN`'],
    ['prefix empty', { ...base, prefix: '' }, '`prefix`'],
    ['prefix with braces', { ...base, prefix: '{app}' }, '`prefix`', '{app}'],
    ['prefix a number', { ...base, prefix: 7 }, '`prefix`', '`7`'],
    ['leaseDuration under 100 ms', { ...base, leaseDuration: 99 }, '`leaseDuration`', '`99`'],
    ['leaseDuration past the timer limit', { ...base, leaseDuration: 1e13 }, '`leaseDuration`', '10000000000000'],
    ['leaseDuration Infinity', { ...base, leaseDuration: Number.POSITIVE_INFINITY }, '`leaseDuration`', '`Infinity`'],
    ['pollInterval under 10 ms', { ...base, pollInterval: 9 }, '`pollInterval`', '`9`'],
    ['pollInterval over 10 minutes', { ...base, pollInterval: 600_001 }, '`pollInterval`'],
    ['timeout 0', { ...base, timeout: 0 }, '`timeout`', '`0`'],
    ['timeout past the timer limit', { ...base, timeout: 3_000_000_000 }, '`timeout`', '3000000000'],
    ['timeout a bigint', { ...base, timeout: 100n }, '`timeout`', '`100n`'],
    ['maxResultBytes 0', { ...base, maxResultBytes: 0 }, '`maxResultBytes`', '`0`'],
    ['maxResultBytes over 512 MiB', { ...base, maxResultBytes: 2 ** 30 }, '`maxResultBytes`'],
    ['maxResultBytes over the 16 MiB ceiling', { ...base, maxResultBytes: 16 * 1024 * 1024 + 1 }, '`maxResultBytes`', 'stall'],
    ['keepCompleted not an object', { ...base, keepCompleted: 100 }, '`keepCompleted`', '`100`'],
    ['keepCompleted.count negative', { ...base, keepCompleted: { count: -1 } }, '`keepCompleted.count`', '`-1`'],
    ['keepCompleted.age 0', { ...base, keepCompleted: { age: 0 } }, '`keepCompleted.age`', '`0`'],
    ['keepCompleted unknown key', { ...base, keepCompleted: { max: 5 } }, 'keepCompleted.max'],
    ['keepDead.count a float', { ...base, keepDead: { count: 2.5 } }, '`keepDead.count`', '`2.5`'],
    ['keepDead an array', { ...base, keepDead: [10] }, '`keepDead`'],
    ['logger without error()', { ...base, logger: { warn() {} } }, '`logger`'],
    ['logger null', { ...base, logger: null }, '`logger`', '`null`'],
    ['random not a function', { ...base, random: 0.5 }, '`random`', '`0.5`'],
    ['selection unknown', { ...base, selection: 'fair' }, '`selection`', '"fair"'],
    ['selection null', { ...base, selection: null }, '`selection`', '`null`'],
    ['weights without weighted selection', { ...base, queues: [emails, reports], weights: [1, 2] }, '`weights`'],
    ['weighted without weights', { ...base, queues: [emails, reports], selection: 'weighted' }, '`weights`'],
    ['weights of the wrong length', { ...base, queues: [emails, reports], selection: 'weighted', weights: [1] }, '`weights`'],
    ['a weight of 0', { ...base, queues: [emails, reports], selection: 'weighted', weights: [1, 0] }, '`weights[1]`', '`0`'],
    ['a weight that is a string', { ...base, queues: [emails, reports], selection: 'weighted', weights: ['3', 1] }, '`weights[0]`', '`"3"`'],
    ['options a Map', new Map(Object.entries(base)), '`options`', 'a Map'],
    ['an unknown key that is empty', { ...base, '': 1 }, '`options[""]`'],
    ['options with a getter that throws', { ...base, get concurrency() { throw new Error('env not read'); } }, '`options` cannot be read: Error: env not read'],
    ['queues a revoked Proxy', { ...base, queues: revokedProxy() }, '`options` cannot be read'],
  ];

  it.each(bad)('refuses %s', async (_label, options, option, shown) => {
    const err = await failure(() => new Consumer(options as ConsumerOptions));
    expect(err.message).toContain(option);
    if (shown !== undefined) expect(err.message).toContain(shown);
  });

  it('accepts every option at its limits', () => {
    const ok: ConsumerOptions[] = [
      { ...base, connection: 'rediss://user:pw@127.0.0.1:1/2' },
      { ...base, connection: { host: '127.0.0.1', port: 1 } },
      { ...base, connection: undefined },
      { ...base, concurrency: 10_000, leaseDuration: 2 ** 31 - 1, pollInterval: 10, timeout: 2 ** 31 - 1, maxResultBytes: 1 },
      { ...base, keepCompleted: { count: 0, age: 1 }, keepDead: {} },
      { ...base, queues: [emails, reports], selection: 'weighted', weights: [1_000_000, 1] },
      { ...base, selection: 'round-robin', random: () => 0.5, logger: { warn() {}, error() {} } },
      { connection: base.connection, queues: [emails], sandbox: { module: new URL('file:///abs/handler.js'), abortGrace: 0 } },
      { connection: base.connection, queues: [emails], sandbox: { module: '/abs/handler.js' } },
    ];
    for (const options of ok) expect(new Consumer(options)).toBeInstanceOf(Consumer);
  });
});

describe('start() and close() arguments', () => {
  it.each([
    ['options null', null, '`options`'],
    ['options a number', 5_000, '`options`'],
    ['an unknown key', { timeout: 5_000 }, 'options.timeout'],
    ['connectTimeout 0', { connectTimeout: 0 }, '`connectTimeout`'],
    ['connectTimeout a string', { connectTimeout: '10s' }, '`connectTimeout`'],
    ['connectTimeout past the timer limit', { connectTimeout: 2 ** 31 }, '`connectTimeout`'],
  ])('start() rejects %s, before connecting, and can still be started later', async (_label, options, option) => {
    const consumer = new Consumer(base);
    const call = consumer.start(options as never);
    expect(call).toBeInstanceOf(Promise); // rejects, never throws synchronously
    expect((await failure(() => call)).message).toContain(option);
    // Nothing was started: a valid close() finishes at once.
    await consumer.close({ timeout: 0 });
  });

  it.each([
    ['options null', null, '`options`'],
    ['options a number', 1_000, '`options`'],
    ['an unknown key', { grace: 1_000 }, 'options.grace'],
    ['timeout negative', { timeout: -1 }, '`timeout`'],
    ['timeout a float', { timeout: 0.5 }, '`timeout`'],
    ['timeout past the timer limit (it would fire at once)', { timeout: 2 ** 31 }, '`timeout`'],
  ])('close() rejects %s', async (_label, options, option) => {
    const consumer = new Consumer(base);
    const call = consumer.close(options as never);
    expect(call).toBeInstanceOf(Promise);
    expect((await failure(() => call)).message).toContain(option);
    await consumer.close();
  });
});

describe('closeOnSignal(target, options)', () => {
  const target = { close: async () => {} };
  it.each([
    ['no target', undefined, {}, '`target`'],
    ['a target without close()', { stop() {} }, {}, '`target`'],
    ['options a number', target, 10_000, '`options`'],
    ['an unknown key', target, { signal: 'SIGTERM' }, 'options.signal'],
    ['signals a string (each letter would be a "signal")', target, { signals: 'SIGTERM' }, '`signals`'],
    ['signals empty', target, { signals: [] }, '`signals`'],
    ['a misspelt signal', target, { signals: ['SIGTERM', 'SIGTREM'] }, '`signals[1]`'],
    ['SIGKILL, which cannot be caught', target, { signals: ['SIGKILL'] }, '`signals[0]`'],
    ['timeout negative', target, { timeout: -5 }, '`timeout`'],
    ['timeout past the timer limit', target, { timeout: 2 ** 32 }, '`timeout`'],
    ['exit a string', target, { exit: 'no' }, '`exit`'],
  ])('refuses %s, adding no signal handler', async (_label, t, options, option) => {
    const before = process.listenerCount('SIGTERM');
    const err = await failure(() => closeOnSignal(t as never, options as never));
    expect(err.message).toContain(option);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('accepts valid options and removes its handlers again', () => {
    const close = vi.fn(async () => {});
    const before = process.listenerCount('SIGUSR2');
    const remove = closeOnSignal({ close }, { signals: ['SIGUSR2'], timeout: 0, exit: false });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(close).toHaveBeenCalledWith({ timeout: 0 });
    remove();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });
});
