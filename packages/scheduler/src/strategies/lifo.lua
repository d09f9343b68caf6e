-- strategy lifo: newest first.
-- Uses K_WAITING as a list whose left end is the newest: jobs are pushed and popped there. A
-- job that comes back unfinished is pushed there too, so it is next out again.
local function strategy_push(id, priority)
  redis.call('LPUSH', K_WAITING, id)
end

-- Many new jobs at once, in order: the last one is the newest.
local function strategy_push_many(ids, priorities)
  call_chunked('LPUSH', K_WAITING, ids, 1)
end

local function strategy_return(id, priority)
  redis.call('LPUSH', K_WAITING, id)
end

local function strategy_pop(n, random)
  return redis.call('LPOP', K_WAITING, n) or {}
end

local function strategy_count()
  return redis.call('LLEN', K_WAITING)
end
