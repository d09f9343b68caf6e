-- docket producer: how many jobs a queue holds in each state, and whether it is paused.
-- KEYS: the queue keys (see record.lua). No ARGV.
-- Returns { waiting, delayed, active, completed, dead, cancelled, paused (0/1) }.
-- Guarantees: O(log n) at most (counters, cardinalities and one ZCOUNT, no scan).
local ghosts = tonumber(redis.call('HGET', K_META, 'ghosts') or '0')
return {
  math.max(0, strategy_count() - ghosts),
  redis.call('ZCARD', K_DELAYED),
  -- Up to, not including, +inf: the active set's anchor (see step.lua) is not a job.
  redis.call('ZCOUNT', K_ACTIVE, '-inf', '(inf'),
  redis.call('ZCARD', K_COMPLETED),
  redis.call('ZCARD', K_DEAD),
  redis.call('ZCARD', K_CANCELLED),
  redis.call('HGET', K_META, 'paused') == '1' and 1 or 0,
}
