-- docket consumer: extend the leases of jobs a consumer is still running.
-- KEYS: the queue keys (see keys.lua).
-- ARGV[1] lease ms, then pairs: id, token.
-- Returns one value per pair: 1 renewed, 2 renewed but cancellation was requested (the
-- consumer must stop the try; this backs up the pub/sub message, which may be missed),
-- 0 lost (the job was recovered or leased to another consumer; the caller must stop
-- treating it as its own).
-- Guarantees: only the holder of the current token can extend a lease.
local lease_ms = tonumber(ARGV[1])
local now = now_ms()
local out = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], tonumber(ARGV[i + 1])
  local ok = 0
  if redis.call('ZSCORE', K_ACTIVE, id) then
    local state, flags, _, held_token = rec_hot(redis.call('HGET', K_JOBS, id))
    if state and held_token == token then
      -- ZREM then ZADD, not ZADD XX: at maxmemory Redis refuses a script's first write if
      -- it may add data (ZADD), and renewals must go on then or running jobs lose their leases.
      redis.call('ZREM', K_ACTIVE, id)
      redis.call('ZADD', K_ACTIVE, now + lease_ms, id)
      ok = flags % 2 == F_CANCEL and 2 or 1
    end
  end
  out[#out + 1] = ok
end
return out
