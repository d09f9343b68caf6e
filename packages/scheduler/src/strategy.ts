import type { StrategyName } from '@docket/protocol';

/**
 * A scheduling strategy decides how a waiting job is stored when it is pushed and which job
 * is handed out next. It is a Lua fragment, composed into the scripts that enqueue, fetch and
 * retry jobs (after protocol's queue prelude: keys, events and record, so it may use K_WAITING, K_META and call_chunked), which is what
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
 * Each strategy also declares its capabilities (`StrategyCapabilities`): scripts test those,
 * as the Lua constants `defineStrategy` puts before the fragment, never a strategy's name.
 *
 * Adding a strategy means adding a file beside fifo.ts with its .lua, defining it with
 * `defineStrategy`, and adding it to the registry (registry.ts). The conformance suite
 * (test/conformance.ts) must pass for it.
 */
export interface Strategy {
  readonly name: StrategyName;
  /** The Lua fragment: the capability constants, then the strategy's functions. */
  readonly lua: string;
  readonly capabilities: StrategyCapabilities;
}

/** What the scripts may rely on about a strategy, beyond the functions every strategy has. */
export interface StrategyCapabilities {
  /**
   * Jobs that become ready together (one `strategy_push_many`) in an empty queue are popped in
   * the order given. Push delivery hands several jobs of one enqueue straight to a consumer
   * only when this holds, so that it never changes the order of starts. In Lua:
   * `STRATEGY_KEEPS_BATCH_ORDER`.
   */
  readonly keepsBatchOrder: boolean;
}

/** The Lua names of the capabilities, in the order they are declared. */
const CAPABILITY_CONSTANTS: Record<keyof StrategyCapabilities, string> = {
  keepsBatchOrder: 'STRATEGY_KEEPS_BATCH_ORDER',
};

/** A strategy from its name, capabilities and Lua functions (see {@link Strategy}). */
export function defineStrategy(name: StrategyName, capabilities: StrategyCapabilities, lua: string): Strategy {
  const constants = (Object.keys(CAPABILITY_CONSTANTS) as (keyof StrategyCapabilities)[])
    .map((key) => `local ${CAPABILITY_CONSTANTS[key]} = ${capabilities[key] ? 'true' : 'false'}`)
    .join('\n');
  return Object.freeze({ name, capabilities: Object.freeze({ ...capabilities }), lua: `-- strategy ${name}: capabilities\n${constants}\n${lua}` });
}
