-- docket producer: cancel a job.
-- KEYS: the queue keys (see keys.lua).
-- ARGV[1] id, ARGV[2] the queue's cancel channel (messages are '<lease token>:<id>').
-- Returns 1 cancelled now (it was waiting, delayed or waiting to retry), 2 cancellation
-- requested (it is active: its consumer is told over the channel, and again by its next lease
-- renewal; the try ends `cancelled`, never retried), 0 nothing to cancel (unknown or finished).
-- Guarantees: O(log n). A waiting job is cancelled lazily: its id stays in the waiting
-- structure (removing it from a list would be O(n)) and consumers skip it when it comes out;
-- meta `ghosts` counts such ids so that counts stay exact.
local id = ARGV[1]
local header, body = read_record(redis.call('HGET', K_JOBS, id))
if not header then return 0 end
local state = header[H_STATE]
if state == S_ACTIVE then
  if header[H_CANCEL] ~= 1 then
    header[H_CANCEL] = 1
    write_record(id, header, body)
  end
  -- '<token>:<id>': consumers match the lease exactly, so a remembered request can never
  -- stop a later lease of the same id (a reused id, or the same job leased again).
  redis.call('PUBLISH', ARGV[2], header[H_TOKEN] .. ':' .. id)
  flush_events()
  return 2
end
if state ~= S_WAITING and state ~= S_DELAYED and state ~= S_FAILED then return 0 end
local now = now_ms()
if redis.call('ZREM', K_DELAYED, id) == 0 then
  redis.call('HINCRBY', K_META, 'ghosts', 1)
end
finish(id, header, body, now, S_CANCELLED, nil)
flush_events()
return 1
