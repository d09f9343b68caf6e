-- docket protocol, fragment `record`: job records and their lifecycle (after `keys` and `events`).
-- KEYS: the queue keys (see keys.lua).
-- ARGV: none.
-- Returns: nothing (a fragment).
--
-- A job record (jobs hash value) is: 1 format byte (2); a fixed block of the fields that change
-- on every lease and ack (HOT_FORMAT: state, flags (1 = cancellation requested, 2 = has a
-- dedupeFor, 4 and 8 = a 2-bit count of leases that went back uncounted because their
-- consumer never confirmed receiving them, H_UNRECEIVED), attempt, token, startedAt,
-- finishedAt; big-endian); a 2-byte length C and C bytes
-- of msgpack array with the other fields (COLD_FIELDS); then the payload bytes, which Lua never
-- decodes. Leasing and acking read and patch the fixed block with `struct` (rec_hot,
-- rec_patch) instead of decoding and re-encoding msgpack; everything else goes through
-- read_record/write_record and a full header table indexed by H_* (keys.lua). Results and
-- progress values live in their own hashes: Lua stores user bytes, it never re-encodes them.
-- Guarantees: scripts change a job's state only through these helpers, so the header and the
-- structure holding the job id always agree; every record a script accepts can be shown by
-- getJob (read_record refuses what Node's decodeRecord refuses).

-- pcall's status and first result, and how many more results there were.
local function first_of(ok, first, ...)
  return ok, first, select('#', ...)
end

local RECORD_FORMAT = 2
local HOT_FORMAT = '>BBI4I6I6I6'
local HOT_END = 26 -- the byte after the fixed block (format byte + 24 bytes)
local F_CANCEL, F_DEDUPE, F_UNRECEIVED = 1, 2, 4
-- The msgpack part: header positions of its fields, in order.
local COLD_FIELDS = {3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 17}

-- The fixed block of a record: state, flags, attempt, token, startedAt, finishedAt; or nil when
-- the record is not one (a record that passes here may still fail read_record).
local function rec_hot(rec)
  if type(rec) ~= 'string' or #rec < HOT_END + 2 or string.byte(rec, 1) ~= RECORD_FORMAT then return nil end
  local state, flags, attempt, token, started, finished = struct.unpack(HOT_FORMAT, rec, 2)
  if state > S_CANCELLED then return nil end
  return state, flags, attempt, token, started, finished
end

-- The record with a new fixed block (the rest, payload included, is copied as it is).
local PATCH_FORMAT = '>B' .. string.sub(HOT_FORMAT, 2) -- the format byte, then the fixed block
local function rec_patch(rec, state, flags, attempt, token, started, finished)
  return struct.pack(PATCH_FORMAT, RECORD_FORMAT, state, flags, attempt, token, started, finished) .. string.sub(rec, HOT_END)
end

-- Returns header, body; or nil, reason when the record cannot be read. Refuses whatever Node's
-- decodeRecord refuses, so that every record a script accepts can be shown by getJob.
local function read_record(rec)
  if type(rec) ~= 'string' or #rec < HOT_END + 1 then return nil, 'record is missing or too short' end
  local fmt = string.byte(rec, 1)
  if fmt ~= RECORD_FORMAT then return nil, 'unknown record format byte ' .. tostring(fmt) end
  local state, flags, attempt, token, started, finished, clen = struct.unpack(HOT_FORMAT .. 'I2', rec, 2)
  if #rec < HOT_END + 1 + clen then return nil, 'record is shorter than its header length' end
  local ok2, cold, extra = first_of(pcall(cmsgpack.unpack, string.sub(rec, HOT_END + 2, HOT_END + 1 + clen)))
  if not ok2 or extra > 0 or type(cold) ~= 'table' or #cold < #COLD_FIELDS then return nil, 'job header cannot be decoded' end
  local header = {state, attempt, 0, token, 0, started, finished, 0, 0, 0, 0, 0, 0, 0, false, flags % 2, 0, math.floor(flags / F_UNRECEIVED) % 4}
  for i = 1, #COLD_FIELDS do header[COLD_FIELDS[i]] = cold[i] end
  -- Garbage that happens to be a long enough array must not get further: a string where a
  -- number belongs would make arithmetic fail mid-script (after the pop), losing the jobs of
  -- the whole call, and an unknown state would leave the job in no structure at all.
  for i = 1, HEADER_FIELDS do
    if type(header[i]) ~= 'number' and i ~= H_ERROR then return nil, 'job header field ' .. i .. ' is not a number' end
  end
  local err = header[H_ERROR]
  -- The fixed block holds unsigned integers: only too large a state code is possible.
  if state > S_CANCELLED then return nil, 'unknown job state code ' .. state end
  local backoff = header[H_BACKOFF_TYPE]
  if backoff < 0 or backoff > 2 or backoff % 1 ~= 0 then return nil, 'unknown backoff code ' .. backoff end
  if err ~= false and type(err) ~= 'string' then return nil, 'job header error field is not a string' end
  return header, string.sub(rec, HOT_END + 2 + clen)
end

-- The record's bytes for a header and body.
local function pack_record(header, body)
  local cold = {}
  for i = 1, #COLD_FIELDS do cold[i] = header[COLD_FIELDS[i]] end
  local packed = cmsgpack.pack(cold)
  local flags = (header[H_CANCEL] == 1 and F_CANCEL or 0) + ((header[H_DEDUPE_FOR] or 0) > 0 and F_DEDUPE or 0)
    + math.min(header[H_UNRECEIVED] or 0, 3) * F_UNRECEIVED
  return string.char(RECORD_FORMAT)
    .. struct.pack(HOT_FORMAT .. 'I2', header[H_STATE], flags, header[H_ATTEMPT], header[H_TOKEN], header[H_STARTED], header[H_FINISHED], #packed)
    .. packed .. body
end

-- Stores the record and returns its bytes.
local function write_record(id, header, body)
  local rec = pack_record(header, body)
  redis.call('HSET', K_JOBS, id, rec)
  return rec
end


-- Wakes one idle consumer of this queue alone (the wake list, which never holds more than one
-- token, so it stays bounded when no consumer is listening) and tells consumers of many queues
-- that this one may have work (the ready channel).
local function wake()
  -- One call in the common case (an idle consumer took the last token, the list is empty).
  -- LPOP, not LTRIM: no command beyond what older versions used (a locked-down ACL user must
  -- not find a script failing halfway, after its writes, on an upgrade).
  if redis.call('RPUSH', K_WAKE, '1') > 1 then redis.call('LPOP', K_WAKE) end
  -- Consumers of many queues do not block on each queue's list: they listen here.
  redis.call('PUBLISH', READY_CHANNEL, 'r')
end

-- Puts a job in the delayed set; wakes a consumer if it is now the earliest, so that idle
-- consumers recompute how long they may block.
local function schedule_delayed(id, run_at)
  redis.call('ZADD', K_DELAYED, run_at, id)
  local first = redis.call('ZRANGE', K_DELAYED, 0, 0)
  if first[1] == id then wake() end
end

-- Deletes every trace of jobs (record, result, progress).
local function delete_jobs(ids)
  if #ids == 0 then return end
  redis.call('HDEL', K_JOBS, unpack(ids))
  redis.call('HDEL', K_RESULTS, unpack(ids))
  redis.call('HDEL', K_PROGRESS, unpack(ids))
end

-- Removes finished jobs beyond `keep_count` or older than `max_age` ms from a finished set.
-- Bounded work per call: at most `limit` jobs are deleted, the rest on later calls.
local function trim_finished(key, now, keep_count, max_age, limit)
  local removed = 0
  if max_age > 0 then
    local old = redis.call('ZRANGEBYSCORE', key, '-inf', now - max_age, 'LIMIT', 0, limit)
    if #old > 0 then
      delete_jobs(old)
      redis.call('ZREM', key, unpack(old))
    end
    removed = #old
  end
  local excess = redis.call('ZCARD', key) - keep_count
  if excess > 0 and removed < limit then
    local n = math.min(excess, limit - removed)
    local ids = redis.call('ZRANGE', key, 0, n - 1)
    delete_jobs(ids)
    redis.call('ZREMRANGEBYRANK', key, 0, n - 1)
  end
end

-- A job reached an end state: remember its id for `dedupeFor` ms after now, if asked to.
local function remember_id(id, header, now)
  local dedupe_for = header[H_DEDUPE_FOR]
  if dedupe_for and dedupe_for > 0 then redis.call('ZADD', K_DEDUPE, now + dedupe_for, id) end
end

-- Whether `id` finished less than its `dedupeFor` ago (an entry past its time may not be
-- trimmed yet).
local function remembered_id(id, now)
  local until_ms = redis.call('ZSCORE', K_DEDUPE, id)
  return until_ms and tonumber(until_ms) > now or false
end

-- Forgets at most `limit` ids whose `dedupeFor` ran out (consumers' housekeeping). Returns
-- whether more are left.
local function trim_remembered_ids(now, limit)
  local expired = redis.call('ZCOUNT', K_DEDUPE, '-inf', now)
  if expired == 0 then return false end
  redis.call('ZREMRANGEBYRANK', K_DEDUPE, 0, math.min(expired, limit) - 1)
  return expired > limit
end

-- Ends a job in `state` (completed, dead or cancelled), in the matching finished set.
local function finish(id, header, body, now, state, reason)
  header[H_STATE] = state
  header[H_FINISHED] = now
  if reason then header[H_ERROR] = reason end
  write_record(id, header, body)
  remember_id(id, header, now)
  if state == S_COMPLETED then
    redis.call('ZADD', K_COMPLETED, now, id)
    emit_run('completed', id, header[H_ATTEMPT])
  elseif state == S_DEAD then
    redis.call('ZADD', K_DEAD, now, id)
    emit('dead', id, 'a', header[H_ATTEMPT], 'err', header[H_ERROR] or '')
  else
    redis.call('ZADD', K_CANCELLED, now, id)
    emit('cancelled', id, 'a', header[H_ATTEMPT])
  end
end

-- Marks a job dead with `reason`, keeping its record (and payload bytes) for inspection.
local function bury(id, header, body, now, reason)
  finish(id, header, body, now, S_DEAD, reason)
end

-- A record that cannot be read: wrap its raw bytes as the body of a fresh dead record so
-- the reason is visible and nothing else is disturbed.
local function bury_corrupt(id, raw, now, reason)
  local header = {S_DEAD, 0, 0, 0, 0, 0, now, 0, 0, 0, 0, 0, 0, 0, 'corrupt record: ' .. reason, 0, 0}
  finish(id, header, raw or '', now, S_DEAD, nil)
end
