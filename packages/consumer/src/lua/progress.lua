-- docket consumer: store a running try's progress and announce it.
-- KEYS: the queue keys (see keys.lua).
-- ARGV[1] id, ARGV[2] token, ARGV[3] progress value (msgpack bytes).
-- Returns 1 if stored, 0 if the lease is not current (the value is dropped).
-- Guarantees: only the current try of an active job can set its progress.
local id, token = ARGV[1], tonumber(ARGV[2])
if not redis.call('ZSCORE', K_ACTIVE, id) then return 0 end
local header = read_record(redis.call('HGET', K_JOBS, id))
if not header or header[H_TOKEN] ~= token then return 0 end
redis.call('HSET', K_PROGRESS, id, ARGV[3])
emit('progress', id, 'a', header[H_ATTEMPT], 'p', ARGV[3])
flush_events()
return 1
