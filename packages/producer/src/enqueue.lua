-- docket producer: enqueue one or more jobs of one queue, atomically.
-- KEYS: the queue keys (see record.lua).
-- ARGV[1] = N, the number of jobs; then 4 values per job:
--   id ('' to generate one), delay in ms (0 = ready now), priority, record bytes.
-- Returns a flat array: id, created (1 = new job, 0 = a job with this id exists, or finished
-- less than its `dedupeFor` ago).
-- Guarantees: a job id exists at most once (ids given by callers are idempotency keys while
-- the job exists, and `dedupeFor` ms after it finished); a ready job is pushed through the
-- queue's strategy and one idle consumer is woken; a delayed job gets its due time from the
-- Redis clock.
local n = tonumber(ARGV[1])
local out = {}
local now = now_ms()
local pushed = false
local dedupe_trimmed = false
for i = 0, n - 1 do
  local id = ARGV[2 + i * 4]
  local delay = tonumber(ARGV[3 + i * 4])
  local priority = tonumber(ARGV[4 + i * 4])
  local record = ARGV[5 + i * 4]
  local created = 1
  if id == '' then
    id = tostring(redis.call('HINCRBY', K_META, 'ids', 1))
  elseif redis.call('HEXISTS', K_JOBS, id) == 1 then
    created = 0
  else
    if not dedupe_trimmed then
      redis.call('ZREMRANGEBYSCORE', K_DEDUPE, '-inf', now)
      dedupe_trimmed = true
    end
    if redis.call('ZSCORE', K_DEDUPE, id) then created = 0 end
  end
  if created == 1 then
    if delay > 0 then
      local header, body = read_record(record)
      header[H_RUN_AT] = now + delay
      write_record(id, header, body)
      schedule_delayed(id, now + delay)
      emit('enqueued', id, 'd', now + delay)
    else
      redis.call('HSET', K_JOBS, id, record)
      strategy_push(id, priority)
      pushed = true
      emit('enqueued', id)
    end
  end
  out[#out + 1] = id
  out[#out + 1] = created
end
if pushed then wake() end
flush_events()
return out
