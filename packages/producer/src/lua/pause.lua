-- docket producer: pause or resume a queue.
-- KEYS: the queue keys (see keys.lua). ARGV[1] '1' to pause, '0' to resume.
-- Returns 1. Paused, consumers stop leasing its jobs (they still finish running ones, promote
-- delayed jobs and recover leases); enqueueing still works. Resuming wakes a consumer, which
-- passes the wake-up on while jobs remain.
if ARGV[1] == '1' then
  redis.call('HSET', K_META, 'paused', '1')
else
  redis.call('HDEL', K_META, 'paused')
  wake()
end
return 1
