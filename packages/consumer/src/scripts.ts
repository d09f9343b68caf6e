// The consumer's Lua scripts, composed from protocol's fragments, the queue's strategy and
// this package's own (lua/). A script's text depends only on the strategy, never on the queue:
// every queue of one strategy shares the same LuaScript objects (and Redis caches each once).
import type { StrategyName } from '@docket/protocol';
import { LUA, LuaScript, QUEUE_PRELUDE, composeLua } from '@docket/protocol/internal';
import { getStrategy } from '@docket/scheduler';
import progressLua from './lua/progress.lua';
import renewLua from './lua/renew.lua';
import stepPromoteDelayedLua from './lua/step-promote-delayed.lua';
import stepRecoverLeasesLua from './lua/step-recover-leases.lua';
import stepReportsLua from './lua/step-reports.lua';
import stepLua from './lua/step.lua';

export interface ConsumerScripts {
  /** One step: reports, promotion, recovery, leasing, push delivery (lua/step.lua). */
  step: LuaScript;
  /** Lease renewal (lua/renew.lua). */
  renew: LuaScript;
  /** A try's progress (lua/progress.lua). */
  progress: LuaScript;
}

// Renewal and progress do not depend on the strategy.
const renew = new LuaScript('renew', composeLua(...QUEUE_PRELUDE, renewLua));
const progress = new LuaScript('progress', composeLua(...QUEUE_PRELUDE, progressLua));
const byStrategy = new Map<StrategyName, ConsumerScripts>();

/** The scripts for queues of `strategy`, made once per process. */
export function consumerScripts(strategy: StrategyName): ConsumerScripts {
  let scripts = byStrategy.get(strategy);
  if (!scripts) {
    const step = composeLua(
      ...QUEUE_PRELUDE,
      LUA.leaseEntries,
      LUA.reports,
      getStrategy(strategy).lua,
      LUA.leasing,
      LUA.pushDelivery,
      stepReportsLua,
      stepPromoteDelayedLua,
      stepRecoverLeasesLua,
      stepLua,
    );
    scripts = { step: new LuaScript('step', step), renew, progress };
    byStrategy.set(strategy, scripts);
  }
  return scripts;
}
