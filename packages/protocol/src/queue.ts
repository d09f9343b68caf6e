import { DocketError } from './errors.js';
import { checkQueueName } from './keys.js';
import { checkKnownKeys, checkOneOf, checkPlainObject } from './validate.js';

/** How a queue stores waiting jobs and which one it hands out next. */
export type StrategyName = 'fifo' | 'lifo' | 'random' | 'priority';

export const STRATEGY_NAMES: readonly StrategyName[] = ['fifo', 'lifo', 'random', 'priority'];

export interface QueueOptions {
  /**
   * The order in which waiting jobs start.
   * @default 'fifo'
   */
  strategy?: StrategyName;
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
  checkPlainObject('options', options);
  checkKnownKeys('options', options as Record<string, unknown>, ['strategy']);
  const strategy = options.strategy === undefined ? 'fifo' : checkOneOf('strategy', options.strategy, STRATEGY_NAMES);
  return Object.freeze({ name, strategy, [DEFINITION]: true }) as QueueDefinition<Payload, Result>;
}

/** Throws unless `value` came from {@link defineQueue}. */
export function checkQueue(value: unknown, option = 'queue'): QueueDefinition {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[DEFINITION] !== true) {
    throw new DocketError(
      'INVALID_ARGUMENT',
      `Expected \`${option}\` to be a queue from defineQueue(), got \`${value === null ? 'null' : typeof value}\``,
    );
  }
  return value as QueueDefinition;
}
