// The producer's Lua scripts, composed from protocol's fragments, the queue's strategy and this
// package's own (lua/). A script's text depends only on the strategy, never on the queue: every
// queue of one strategy shares the same LuaScript objects, made once per process.
import type { StrategyName } from '@docket/protocol';
import { LUA, LuaScript, QUEUE_PRELUDE, composeLua } from '@docket/protocol/internal';
import { getStrategy } from '@docket/scheduler';
import cancelLua from './lua/cancel.lua';
import countsLua from './lua/counts.lua';
import deadLua from './lua/dead.lua';
import enqueueLua from './lua/enqueue.lua';
import pauseLua from './lua/pause.lua';

export interface ProducerScripts {
  /** Enqueue a chunk of jobs (lua/enqueue.lua), with push delivery. */
  enqueue: LuaScript;
  /** Cancel a job (lua/cancel.lua). */
  cancel: LuaScript;
  /** Count jobs per state (lua/counts.lua). */
  counts: LuaScript;
  /** Pause or resume (lua/pause.lua). */
  pause: LuaScript;
  /** Requeue or purge dead jobs (lua/dead.lua). */
  dead: LuaScript;
}

const byStrategy = new Map<StrategyName, ProducerScripts>();

/** The scripts for queues of `strategy`, made once per process. */
export function producerScripts(strategy: StrategyName): ProducerScripts {
  let scripts = byStrategy.get(strategy);
  if (!scripts) {
    const strategyLua = getStrategy(strategy).lua;
    const script = (name: string, body: string) => new LuaScript(name, composeLua(...QUEUE_PRELUDE, strategyLua, body));
    scripts = {
      enqueue: new LuaScript(
        'enqueue',
        composeLua(...QUEUE_PRELUDE, LUA.leaseEntries, LUA.enqueueArgs, strategyLua, LUA.leasing, LUA.pushDelivery, enqueueLua),
      ),
      cancel: script('cancel', cancelLua),
      counts: script('counts', countsLua),
      pause: script('pause', pauseLua),
      dead: script('dead', deadLua),
    };
    byStrategy.set(strategy, scripts);
  }
  return scripts;
}
