-- The strategies over a list (fifo, lifo). K_WAITING is a list; the strategy's own fragment
-- (fifo.lua, lifo.lua) names the commands before this one:
--   LIST_PUSH     where a job that becomes ready goes (LPUSH: the left end),
--   LIST_POP      where jobs come out,
--   LIST_RETURN   where a job that comes back unfinished goes: the end they come out of, so it
--                 is next out again.
-- KEYS: K_WAITING. ARGV: none (a fragment). All O(1) per job.
local function strategy_push(id, priority)
  redis.call(LIST_PUSH, K_WAITING, id)
end

-- Many new jobs at once, in order (one call per thousand).
local function strategy_push_many(ids, priorities)
  call_chunked(LIST_PUSH, K_WAITING, ids, 1)
end

local function strategy_return(id, priority)
  redis.call(LIST_RETURN, K_WAITING, id)
end

local function strategy_pop(n, random)
  return redis.call(LIST_POP, K_WAITING, n) or {}
end

local function strategy_count()
  return redis.call('LLEN', K_WAITING)
end
