-- strategy fifo: oldest first.
-- Uses K_WAITING as a list: new jobs are pushed on the left and popped from the right;
-- a job that comes back unfinished is pushed on the right, so it is next out again.
local function strategy_push(id, priority)
  redis.call('LPUSH', K_WAITING, id)
end

-- Many new jobs at once, in order (one call per thousand).
local function strategy_push_many(ids, priorities)
  call_chunked('LPUSH', K_WAITING, ids, 1)
end

local function strategy_return(id, priority)
  redis.call('RPUSH', K_WAITING, id)
end

local function strategy_pop(n, random)
  return redis.call('RPOP', K_WAITING, n) or {}
end

local function strategy_count()
  return redis.call('LLEN', K_WAITING)
end
