-- strategy random: each pop takes a uniformly random job among those waiting right now.
-- Uses K_WAITING as a hash used as an array: field i (0-based) -> job id, with no gaps. A
-- push appends at index n; a pop picks index floor(random() * n) and moves the last entry
-- into the hole. O(1) per job. `random` comes from the calling script (seeded by the
-- consumer, so tests can make it deterministic).
local function strategy_push(id, priority)
  redis.call('HSET', K_WAITING, redis.call('HLEN', K_WAITING), id)
end

-- Many new jobs at once, appended after the last index.
local function strategy_push_many(ids, priorities)
  local size = redis.call('HLEN', K_WAITING)
  local pairs = {}
  for i = 1, #ids do
    pairs[#pairs + 1] = size + i - 1
    pairs[#pairs + 1] = ids[i]
  end
  call_chunked('HSET', K_WAITING, pairs, 2)
end

local function strategy_return(id, priority)
  strategy_push(id, priority)
end

local function strategy_pop(n, random)
  local ids = {}
  local size = redis.call('HLEN', K_WAITING)
  while #ids < n and size > 0 do
    local i = math.floor(random() * size)
    if i >= size then i = size - 1 end
    local last = size - 1
    ids[#ids + 1] = redis.call('HGET', K_WAITING, i)
    -- HDEL before HSET: at maxmemory Redis refuses a script's first write if it may add data,
    -- and a pop must still work then (it frees memory).
    local moved = i ~= last and redis.call('HGET', K_WAITING, last)
    redis.call('HDEL', K_WAITING, last)
    if moved then redis.call('HSET', K_WAITING, i, moved) end
    size = last
  end
  return ids
end

local function strategy_count()
  return redis.call('HLEN', K_WAITING)
end
