import { DocketError, type StrategyName } from '@docket/protocol';
import { fifo } from './strategies/fifo.js';
import { lifo } from './strategies/lifo.js';
import { priority } from './strategies/priority.js';
import { random } from './strategies/random.js';

/**
 * A scheduling strategy decides how a waiting job is stored when it is pushed and which job
 * is handed out next. It is a Lua fragment, composed into the scripts that enqueue, fetch and
 * retry jobs (after protocol's RECORD_LUA, so it may use K_WAITING and K_META), which is what
 * keeps every push and pop one atomic script call.
 *
 * The fragment must define these local functions, each O(log n) or better:
 *
 * - `strategy_push(id, priority)`: a new, promoted or retried job becomes ready.
 * - `strategy_push_many(ids, priorities)`: many new jobs become ready, in order; the same as
 *   calling `strategy_push` for each, in fewer calls.
 * - `strategy_return(id, priority)`: a job handed out earlier comes back without having run to
 *   an end (its consumer released it or died); it is the next one out again where the order
 *   allows, the latest returned first. Callers return a batch in reverse hand-out order, so
 *   the batch comes out again in the order it was handed out.
 * - `strategy_pop(n, random)`: removes and returns up to n ids, in start order (an empty table
 *   if none). `random()` returns a number in [0, 1) from a generator the consumer seeds.
 * - `strategy_count()`: the number of waiting jobs.
 *
 * Adding a strategy means adding a file beside fifo.ts with its .lua and adding it to the registry below.
 */
export interface Strategy {
  readonly name: StrategyName;
  readonly lua: string;
}

const registry: Record<StrategyName, Strategy> = { fifo, lifo, random, priority };

/** The strategy a queue definition names; throws if this build does not provide it. */
export function getStrategy(name: StrategyName): Strategy {
  const strategy = Object.hasOwn(registry, name) ? registry[name] : undefined;
  if (!strategy) {
    const known = Object.keys(registry).map((n) => `'${n}'`).join(', ');
    throw new DocketError('INVALID_ARGUMENT', `Expected \`strategy\` to be one of ${known}, got \`'${name}'\` (not available yet)`);
  }
  return strategy;
}
