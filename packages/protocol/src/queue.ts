import { DocketError } from './errors.js';
import { checkQueueName } from './keys.js';
import { checkBoolean, checkKnownKeys, checkOneOf, checkPlainObject, describe, validating } from './validate.js';

/** How a queue stores waiting jobs and which one it hands out next. */
export type StrategyName = 'fifo' | 'lifo' | 'random' | 'priority';

export const STRATEGY_NAMES: readonly StrategyName[] = ['fifo', 'lifo', 'random', 'priority'];

export interface QueueOptions {
  /**
   * The order in which waiting jobs start.
   * @default 'fifo'
   */
  strategy?: StrategyName;
  /**
   * Keep an event feed for the queue (a capped Redis stream read by `QueueEvents` and
   * `waitFor`). Turning it off saves a few Redis writes per job.
   * @default true
   */
  events?: boolean;
}

declare const payloadType: unique symbol;
declare const resultType: unique symbol;

/**
 * A queue's name and settings, shared by the code that enqueues and the code that runs its
 * jobs. The type parameters carry the payload and result types to `enqueue` and `handler`.
 */
export interface QueueDefinition<Payload = unknown, Result = unknown> {
  readonly name: string;
  readonly strategy: StrategyName;
  readonly events: boolean;
  /** Type-only: never present at run time. */
  readonly [payloadType]?: Payload;
  readonly [resultType]?: Result;
}

const DEFINITION = Symbol.for('docket.queue-definition');

/**
 * Defines a queue. Put definitions in a module that both the web app and the workers import.
 *
 * @example
 * export const emails = defineQueue<{ to: string }, { messageId: string }>('emails');
 * export const reports = defineQueue<ReportPayload>('reports', { strategy: 'priority' });
 */
export function defineQueue<Payload = unknown, Result = unknown>(
  name: string,
  options: QueueOptions = {},
): QueueDefinition<Payload, Result> {
  checkQueueName(name);
  const { strategy, events } = validating('options', () => {
    const o = checkPlainObject('options', options);
    checkKnownKeys('options', o, ['strategy', 'events']);
    return {
      strategy: o.strategy === undefined ? 'fifo' : checkOneOf('strategy', o.strategy, STRATEGY_NAMES),
      events: o.events === undefined ? true : checkBoolean('events', o.events),
    };
  });
  return Object.freeze({ name, strategy, events, [DEFINITION]: true }) as QueueDefinition<Payload, Result>;
}

/** Throws unless `value` came from {@link defineQueue}. */
export function checkQueue(value: unknown, option = 'queue'): QueueDefinition {
  if (typeof value !== 'object' || value === null || !validating(option, () => (value as Record<symbol, unknown>)[DEFINITION] === true)) {
    const hint = typeof value === 'string' ? ` (pass the object defineQueue(${describe(value)}) returned, not its name)` : '';
    throw new DocketError('INVALID_ARGUMENT', `Expected \`${option}\` to be a queue from defineQueue(), got \`${describe(value)}\`${hint}`);
  }
  return value as QueueDefinition;
}
