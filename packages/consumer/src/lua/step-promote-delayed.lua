-- docket consumer, step phase `promote delayed jobs`: delayed jobs (new, or failed and waiting
-- out their backoff) become ready once due.
-- KEYS: the queue keys (see keys.lua). ARGV: none (a fragment; step.lua calls promote_due).
-- Returns: nothing; promote_due returns the delayed set's first entry and sets
-- effects.readied / dead / delayed.
-- Guarantees: due delayed jobs become ready through the strategy within one step of their due
-- time (no other job needs to arrive: idle consumers block no longer than until the next due
-- time); a record that cannot be read is buried; at most `limit` jobs per call.

-- Due delayed jobs (new or retrying) become ready. The earliest due time is read first (it is
-- also the reply's next due time), so a step with nothing due makes one call. Returns that
-- first entry (id, score), as ZRANGE WITHSCORES gives it.
local function promote_due(now, limit, effects)
  local first_due = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
  if not (first_due[2] and tonumber(first_due[2]) <= now) then return first_due end
  local due = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now, 'LIMIT', 0, limit)
  effects.delayed = true
  -- Removed first: at maxmemory Redis refuses a script's first write if it may add data, and
  -- promotion must go on then (it adds nothing).
  if #due > 0 then redis.call('ZREM', K_DELAYED, unpack(due)) end
  for i = 1, #due do
    local id = due[i]
    local raw = redis.call('HGET', K_JOBS, id)
    local header, body = read_record(raw)
    if header then
      -- A delayed job, or a failed one whose backoff is over; anything else (cancelled, or an
      -- id reused since) has no business in the waiting line.
      if header[H_STATE] == S_DELAYED then
        header[H_STATE] = S_WAITING
        write_record(id, header, body)
      end
      if header[H_STATE] == S_WAITING or header[H_STATE] == S_FAILED then
        strategy_push(id, header[H_PRIORITY])
        effects.readied = true
      end
    elseif raw then
      bury_corrupt(id, raw, now, body)
      effects.dead = true
    end
  end
  return first_due
end
