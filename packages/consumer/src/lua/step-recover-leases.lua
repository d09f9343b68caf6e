-- docket consumer, step phase `recover expired leases` (housekeeping steps only).
-- KEYS: the queue keys (see keys.lua). ARGV: none (a fragment; step.lua calls recover_expired).
-- Returns: nothing; sets effects.readied / dead / cancelled.
-- Guarantees: a job whose lease expired (its consumer died or stalled) is handed out again with
-- the try counted, first in line where the strategy allows (a batch in hand-out order), or
-- buried on its last attempt, or ends cancelled if that was requested; a lease its consumer
-- never confirmed receiving goes back uncounted (at most MAX_UNRECEIVED times per job); at most
-- `limit` per call.

-- At most this many times a job goes back uncounted because its consumer never confirmed
-- receiving it; then its leases count again (a handler that kills its process before the next
-- step could otherwise run forever).
local MAX_UNRECEIVED = 3

-- Whether the lease with `token` came from a step call whose consumer never confirmed receiving
-- its reply (K_HANDED: ranges of tokens by call, scored by their last token).
local function never_received(token)
  local entry = redis.call('ZRANGEBYSCORE', K_HANDED, token, '+inf', 'LIMIT', 0, 1)[1]
  local first = entry and tonumber(string.match(entry, '^[^:]*:[^:]*:(%d+):'))
  return first ~= nil and first <= token
end

-- An expired lease's job. If its consumer never confirmed receiving it (it died with the step's
-- reply in flight, or the reply was lost with its connection), the try never started: the job
-- goes back uncounted (or ends cancelled if that was requested). Otherwise the try counts: the
-- job is handed out again (first in line where the strategy allows), or buried on its last
-- attempt, or cancelled if that was requested.
local function recover_job(job, now, effects)
  local id, raw, header, body = job.id, job.raw, job.header, job.body
  if not header then
    if raw then
      bury_corrupt(id, raw, now, body)
      effects.dead = true
    end
    return
  end
  if header[H_UNRECEIVED] < MAX_UNRECEIVED and never_received(header[H_TOKEN]) then
    header[H_UNRECEIVED] = header[H_UNRECEIVED] + 1
    give_back_unreceived(id, header, body, now, effects)
    return
  end
  local reason = 'lease expired: the consumer running try ' .. header[H_ATTEMPT] .. ' died or stalled'
  if header[H_CANCEL] == 1 then
    finish(id, header, body, now, S_CANCELLED, reason)
    effects.cancelled = true
  elseif header[H_ATTEMPT] >= header[H_MAX_ATTEMPTS] then
    bury(id, header, body, now, reason)
    effects.dead = true
  else
    header[H_STATE] = S_WAITING
    header[H_ERROR] = reason
    write_record(id, header, body)
    strategy_return(id, header[H_PRIORITY])
    emit('retrying', id, 'a', header[H_ATTEMPT], 'err', reason, 'd', 0)
    effects.readied = true
  end
end

-- Expired leases: their consumers died or stalled.
local function recover_expired(now, limit, effects)
  -- The anchor (keys.lua): one member longer than any job id, with an infinite deadline, so
  -- it never expires and is never counted (counts subtract it). It keeps the set in Redis's
  -- skiplist encoding: without it, a set of a few dozen leases is a listpack, where each ZADD,
  -- ZMSCORE and ZREM member is a linear scan (at concurrency 50, the lease ZADD alone was about
  -- a seventh of a job's Redis time).
  -- Read first: at maxmemory Redis refuses a script's first write if it may add data.
  if not redis.call('ZSCORE', K_ACTIVE, ACTIVE_ANCHOR) then redis.call('ZADD', K_ACTIVE, 'inf', ACTIVE_ANCHOR) end
  local expired = redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', now, 'LIMIT', 0, limit)
  if #expired == 0 then return end
  redis.call('ZREM', K_ACTIVE, unpack(expired))
  local recovered = {}
  for i = 1, #expired do
    local raw = redis.call('HGET', K_JOBS, expired[i])
    local header, body = read_record(raw)
    recovered[i] = { id = expired[i], raw = raw, header = header, body = body }
  end
  -- Returned newest lease first (by fencing token), so they come out in hand-out order.
  table.sort(recovered, function(a, b)
    return (a.header and a.header[H_TOKEN] or 0) > (b.header and b.header[H_TOKEN] or 0)
  end)
  for i = 1, #recovered do recover_job(recovered[i], now, effects) end
end
