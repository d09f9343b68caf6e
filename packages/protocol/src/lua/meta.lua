-- docket protocol: record a queue's meta on first use and return what is recorded.
-- KEYS[1] meta hash
-- ARGV[1] protocol version of the caller, ARGV[2] the caller's strategy, ARGV[3] events on ('1'/'0')
-- Returns { version, strategy, events } as recorded.
-- Guarantees: the first writer wins atomically; later callers read the recorded values and
-- compare them with their own (a mismatch is reported in Node, never silently accepted). A
-- queue whose meta is complete is only read: at `maxmemory` (noeviction), Redis refuses a
-- script's first write, and a read-only check lets consumers start and operators act.
local recorded = redis.call('HMGET', KEYS[1], 'version', 'strategy', 'events')
if recorded[1] and recorded[2] and recorded[3] then return recorded end
redis.call('HSETNX', KEYS[1], 'version', ARGV[1])
redis.call('HSETNX', KEYS[1], 'strategy', ARGV[2])
redis.call('HSETNX', KEYS[1], 'events', ARGV[3])
return redis.call('HMGET', KEYS[1], 'version', 'strategy', 'events')
