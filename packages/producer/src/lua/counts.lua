-- docket producer: how many jobs a queue holds in each state, and whether it is paused.
-- KEYS: the queue keys (see keys.lua). No ARGV.
-- Returns { waiting, delayed, active, completed, dead, cancelled, paused (0/1) }.
-- Guarantees: O(1) (counters and cardinalities, no scan).
local ghosts = tonumber(redis.call('HGET', K_META, 'ghosts') or '0')
return {
  math.max(0, strategy_count() - ghosts),
  redis.call('ZCARD', K_DELAYED),
  -- The active set's anchor (keys.lua) is not a job.
  redis.call('ZCARD', K_ACTIVE) - (redis.call('ZSCORE', K_ACTIVE, ACTIVE_ANCHOR) and 1 or 0),
  redis.call('ZCARD', K_COMPLETED),
  redis.call('ZCARD', K_DEAD),
  redis.call('ZCARD', K_CANCELLED),
  redis.call('HGET', K_META, 'paused') == '1' and 1 or 0,
}
