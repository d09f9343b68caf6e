// Fuzz test of the Consumer's option validation: random options objects, for a bounded time.
// The constructor never connects, so no Redis is needed (nothing is started). Each set of
// options must be accepted or refused with an INVALID_ARGUMENT DocketError that names the
// option. The seed is printed; replay with DOCKET_FUZZ_SEED=<seed>.
import { defineQueue, isDocketError } from '@docket/protocol';
import { describeThrown } from '@docket/protocol/internal';
import { anyOptions, anyValue, forDuration, fuzzer } from '@docket/testing';
import { describe, expect, it } from 'vitest';
import { Consumer } from '../src/index.js';

const NAMES = [
  'options', 'connection', 'queues', 'handler', 'sandbox', 'sandbox.module', 'sandbox.abortGrace', 'concurrency', 'prefix',
  'leaseDuration', 'pollInterval', 'timeout', 'maxResultBytes', 'keepCompleted', 'keepCompleted.count', 'keepCompleted.age',
  'keepDead', 'keepDead.count', 'keepDead.age', 'logger', 'random', 'selection', 'weights',
];

describe('fuzz: new Consumer(options)', () => {
  it('accepts or refuses naming the option, for any options', async () => {
    const f = fuzzer('Consumer');
    const a = defineQueue('fuzz-a');
    const b = defineQueue('fuzz-b', { strategy: 'random' });
    let accepted = 0;
    const runs = await forDuration(2_000, (i) => {
      // Mostly with the two options every consumer needs, so that many sets are valid.
      const required = f.chance(0.7) ? { queues: [a], handler: async () => 1 } : {};
      const options = f.chance(0.05)
        ? anyValue(f, 1)
        : { ...required, ...anyOptions(f, {
            connection: ['redis://127.0.0.1:1', { host: '127.0.0.1', port: 1 }],
            queues: [[a], [a, b], [b, a, b], [], ['fuzz-a']],
            handler: [async () => 1, () => undefined],
            sandbox: [{ module: '/abs/handler.js' }, { module: new URL('file:///abs/h.js'), abortGrace: 0 }, { module: 'rel.js' }],
            concurrency: [1, 50, 10_000, 10_001],
            prefix: ['app', 'a:b', '{x}'],
            leaseDuration: [100, 30_000, 2 ** 31 - 1, 2 ** 31],
            pollInterval: [10, 5_000, 600_000],
            timeout: [1, 2 ** 31 - 1],
            maxResultBytes: [1, 1024],
            keepCompleted: [{}, { count: 0 }, { age: 1 }, { count: 10, age: 60_000 }],
            keepDead: [{ count: 5 }],
            logger: [console, { warn() {}, error() {} }],
            random: [Math.random, () => 0.5],
            selection: ['strict', 'round-robin', 'weighted'],
            weights: [[1], [1, 2], [3, 2, 1]],
          }, 0.05) };
      let consumer: Consumer;
      try {
        consumer = new Consumer(options as never);
      } catch (err) {
        const context = `seed ${f.seed}, run ${i}: ${describeThrown(err)}`;
        expect(isDocketError(err, 'INVALID_ARGUMENT'), context).toBe(true);
        const message = (err as Error).message;
        const named =
          NAMES.some((n) => message.includes(`\`${n}\``)) ||
          /`(queues|weights)\[\d+\]`/.test(message) ||
          /^Unknown option `[\w.]+(\.[\w$]+|\[".*"\])`; expected one of /.test(message);
        expect(named, `${context} names no option`).toBe(true);
        return;
      }
      accepted++;
      expect(consumer.activeCount).toBe(0);
      const o = options as Record<string, unknown>;
      // What every accepted set of options satisfies.
      expect(Array.isArray(o.queues) && o.queues.length > 0).toBe(true);
      expect((typeof o.handler === 'function') !== (o.sandbox !== undefined)).toBe(true);
    });
    console.log(`[fuzz] Consumer: ${runs} option sets, ${accepted} accepted`);
  });
});
