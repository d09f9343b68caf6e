-- docket producer: requeue or purge dead jobs.
-- KEYS: the queue keys (see keys.lua).
-- ARGV[1] action: 'requeue' or 'purge'; ARGV[2] '' for the oldest ARGV[3] dead jobs, or '1'
-- for the ids that follow in ARGV[3..].
-- Returns how many jobs were requeued or purged (ids that are not dead are skipped).
-- Guarantees: a requeued job starts over (attempts 0, no error) through the queue's strategy;
-- bounded work per call (the caller loops for "all").
local ids
if ARGV[2] == '' then
  ids = redis.call('ZRANGE', K_DEAD, 0, tonumber(ARGV[3]) - 1)
else
  ids = {}
  for i = 3, #ARGV do
    if redis.call('ZSCORE', K_DEAD, ARGV[i]) then ids[#ids + 1] = ARGV[i] end
  end
end
if #ids == 0 then return 0 end
if ARGV[1] == 'purge' then
  delete_jobs(ids)
else
  for i = 1, #ids do
    local id = ids[i]
    local header, body = read_record(redis.call('HGET', K_JOBS, id))
    if header then
      header[H_STATE] = S_WAITING
      header[H_ATTEMPT] = 0
      header[H_ERROR] = false
      header[H_CANCEL] = 0
      header[H_FINISHED] = 0
      write_record(id, header, body)
      strategy_push(id, header[H_PRIORITY])
      emit('enqueued', id, 'r', 1)
    else
      redis.call('HDEL', K_JOBS, id) -- unreadable: requeueing cannot help, purge it
    end
  end
  wake()
end
redis.call('ZREM', K_DEAD, unpack(ids))
flush_events()
return #ids
