-- strategy priority: highest priority first, first-in first-out among equal priorities.
-- Uses K_WAITING as a sorted set scored by -priority. Redis orders equal scores by member,
-- so each member is a sort key then the id: '1' and a 16-hex-digit sequence number from
-- meta `seq` for a job that becomes ready (fifo within its priority), or '0' and a
-- decreasing number for a job that comes back unfinished (ahead of every job of its
-- priority, the latest returned first, like the list strategies). All O(log n).
local function strategy_push(id, priority)
  local seq = redis.call('HINCRBY', K_META, 'seq', 1)
  redis.call('ZADD', K_WAITING, -priority, '1' .. string.format('%016x', seq) .. id)
end

-- Many new jobs at once: one sequence reservation, in order.
local function strategy_push_many(ids, priorities)
  local last = redis.call('HINCRBY', K_META, 'seq', #ids)
  local pairs = {}
  for i = 1, #ids do
    pairs[#pairs + 1] = -priorities[i]
    pairs[#pairs + 1] = '1' .. string.format('%016x', last - #ids + i) .. ids[i]
  end
  call_chunked('ZADD', K_WAITING, pairs, 2)
end

local function strategy_return(id, priority)
  local seq = redis.call('HINCRBY', K_META, 'seq', 1)
  redis.call('ZADD', K_WAITING, -priority, '0' .. string.format('%016x', 2 ^ 52 - seq) .. id)
end

local function strategy_pop(n, random)
  local popped = redis.call('ZPOPMIN', K_WAITING, n)
  local ids = {}
  for i = 1, #popped, 2 do ids[#ids + 1] = string.sub(popped[i], 18) end
  return ids
end

local function strategy_count()
  return redis.call('ZCARD', K_WAITING)
end
