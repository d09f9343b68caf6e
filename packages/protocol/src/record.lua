-- docket protocol: helpers every queue script starts with (prepended by composeLua).
--
-- KEYS (protocol QUEUE_KEY_ORDER; every key carries the queue's {hash tag}):
--   1 meta  2 jobs  3 waiting  4 active  5 delayed  6 completed  7 dead  8 wake
--   9 cancelled  10 results  11 progress  12 events  13 dedupe  14 idle  15 idle-slots
-- and, not declared (computed from the wake key, under the same hash tag): each registered
-- consumer's inbox and pushed lists, `inbox:<consumer id>` and `pushed:<consumer id>`.
--
-- A job record (jobs hash value) is: 1 format byte (2); a fixed block of the fields that change
-- on every lease and ack (HOT_FORMAT: state, flags (1 = cancellation requested, 2 = has a
-- dedupeFor), attempt, token, startedAt, finishedAt; big-endian); a 2-byte length C and C bytes
-- of msgpack array with the other fields (COLD_FIELDS); then the payload bytes, which Lua never
-- decodes. Leasing and acking read and patch the fixed block with `struct` (rec_hot,
-- rec_patch) instead of decoding and re-encoding msgpack; everything else goes through
-- read_record/write_record and a full header table indexed by H_* below. Results and progress
-- values live in their own hashes: Lua stores user bytes, it never re-encodes them. Scripts
-- change a job's state only through these helpers, so the header and the structure holding
-- the job id always agree.
local K_META, K_JOBS, K_WAITING, K_ACTIVE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_DELAYED, K_COMPLETED, K_DEAD, K_WAKE = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local K_CANCELLED, K_RESULTS, K_PROGRESS, K_EVENTS, K_DEDUPE = KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local K_IDLE, K_IDLE_SLOTS = KEYS[14], KEYS[15]
local INBOX_PREFIX = string.sub(K_WAKE, 1, -5) .. 'inbox:' -- K_WAKE ends in 'wake'
local PUSHED_PREFIX = string.sub(K_WAKE, 1, -5) .. 'pushed:'

local S_WAITING, S_DELAYED, S_ACTIVE, S_COMPLETED, S_FAILED, S_DEAD, S_CANCELLED = 0, 1, 2, 3, 4, 5, 6

local H_STATE, H_ATTEMPT, H_MAX_ATTEMPTS, H_TOKEN = 1, 2, 3, 4
local H_CREATED, H_STARTED, H_FINISHED, H_RUN_AT = 5, 6, 7, 8
local H_BACKOFF_TYPE = 10
local H_PRIORITY, H_ERROR, H_CANCEL, H_DEDUPE_FOR = 14, 15, 16, 17
local HEADER_FIELDS = 17

local EVENTS_MAX_LEN = 10000

-- The active set's anchor (see step.lua's housekeeping): longer than any job id (ids have at
-- most 256 characters), deadline +inf; it keeps the set in Redis's skiplist encoding.
local ACTIVE_ANCHOR = '~docket: the active set anchor~' .. string.rep('~', 269) -- 300 characters

-- pcall's status and first result, and how many more results there were.
local function first_of(ok, first, ...)
  return ok, first, select('#', ...)
end

local RECORD_FORMAT = 2
local HOT_FORMAT = '>BBI4I6I6I6'
local HOT_END = 26 -- the byte after the fixed block (format byte + 24 bytes)
local F_CANCEL, F_DEDUPE = 1, 2
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
  local header = {state, attempt, 0, token, 0, started, finished, 0, 0, 0, 0, 0, 0, 0, false, flags % 2, 0}
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

-- Runs `command key ...args` in chunks of at most 1000 arguments, because Lua's unpack()
-- has a small limit. `args` must hold whole groups (pairs stay together when `group` is 2).
local function call_chunked(command, key, args, group)
  local step = 1000 - (1000 % group)
  for i = 1, #args, step do
    redis.call(command, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end

-- Server time in ms: every deadline and due time uses the Redis clock, not the clients'.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The queue's event feed, unless the queue was defined with events off. A script collects
-- its events in order and writes them as one stream entry (`flush_events`, before it
-- returns): one XADD per call instead of one per job. Each event in an entry starts with
-- field 'e' (its type), then 'j' (job id) and its own fields; readers split entries there.
local events_on = nil
local pending_events = {}
-- Whether the queue keeps an event feed (read once per call).
local function events_enabled()
  if events_on == nil then events_on = redis.call('HGET', K_META, 'events') ~= '0' end
  return events_on
end

local function emit(kind, id, ...)
  if not events_enabled() then return end
  local n = #pending_events
  pending_events[n + 1] = 'e'
  pending_events[n + 2] = kind
  pending_events[n + 3] = 'j'
  pending_events[n + 4] = id
  local extra = {...}
  for i = 1, #extra do pending_events[n + 4 + i] = extra[i] end
end

-- Like emit(kind, id, 'a', attempt) (attempt may be nil), for the events a busy queue writes
-- by the thousand (enqueued, active, completed): an event that follows one of the same kind
-- and attempt for the next generated id (ids are consecutive integers within a call) extends
-- it with a count 'n' instead of adding four or six fields. Readers expand such a run into
-- one event per job, so what they see is the same.
local run_kind, run_attempt, run_next, run_end, run_count_at = nil, nil, nil, 0, nil
-- Adds `more` jobs to the run that ends the pending events.
local function extend_run(more)
  if run_count_at then
    pending_events[run_count_at] = pending_events[run_count_at] + more
  else
    local n = #pending_events
    pending_events[n + 1] = 'n'
    pending_events[n + 2] = 1 + more
    run_count_at = n + 2
    run_end = n + 2
  end
  run_next = run_next + more
end

local function emit_run(kind, id, attempt)
  if events_on == nil then events_enabled() end
  if not events_on then return end
  local n = #pending_events
  local num = tonumber(id)
  if run_end == n and n > 0 and num == run_next and kind == run_kind and attempt == run_attempt then
    extend_run(1)
    return
  end
  pending_events[n + 1] = 'e'
  pending_events[n + 2] = kind
  pending_events[n + 3] = 'j'
  pending_events[n + 4] = id
  n = n + 4
  if attempt then
    pending_events[n + 1] = 'a'
    pending_events[n + 2] = attempt
    n = n + 2
  end
  -- Only ids written the way generated ids are (1, 2, ...) start a run: readers rebuild the
  -- ids of a run by counting up from its first one ('-0' or '-5' would come back changed).
  if num and num >= 1 and tostring(num) == id then
    run_kind, run_attempt, run_next, run_end, run_count_at = kind, attempt, num + 1, n, nil
  else
    run_end = -1
  end
end

-- emit_run for `count` consecutive generated ids from the number `first`, in one go (an
-- enqueue of a thousand jobs without ids adds one event with a count, not a thousand calls).
local function emit_run_range(kind, first, count, attempt)
  if count <= 0 or not events_enabled() then return end
  emit_run(kind, tostring(first), attempt)
  if count > 1 then extend_run(count - 1) end
end

local function flush_events()
  local n = #pending_events
  if n == 0 then return end
  -- Entries stay below Lua's unpack limit; an event is never split across entries. Field
  -- names sit at odd positions (values at even ones, which may well be the string 'e').
  local start = 1
  while start <= n do
    local stop = math.min(start + 899, n)
    while stop < n and pending_events[stop + 1] ~= 'e' do stop = stop + 2 end
    redis.call('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX_LEN, '*', unpack(pending_events, start, stop))
    start = stop + 1
  end
  pending_events = {}
  run_end = -1
end

-- A leased job as consumers receive it (a step's reply, or an inbox entry): token (6 bytes),
-- id length (2), record length (4), id, record.
local function lease_entry(token, id, rec)
  return struct.pack('>I6I2I4', token, #id, #rec) .. id .. rec
end

-- Push delivery's lists (see step.lua): a consumer's inbox, and the list of what was pushed to it
-- since its last step with its id. Each element holds the lease entries of one enqueue call.
local function inbox_key(consumer) return INBOX_PREFIX .. consumer end
local function pushed_key(consumer) return PUSHED_PREFIX .. consumer end

-- Calls fn(id, token, entry) for each job in `elements` (lease entries one after another in
-- each), in order.
local function for_lease_entries(elements, fn)
  for i = 1, elements and #elements or 0 do
    local element, pos = elements[i], 1
    while pos + 12 <= #element do
      local token, id_len, rec_len, at = struct.unpack('>I6I2I4', element, pos)
      local after = at + id_len + rec_len
      fn(string.sub(element, at, at + id_len - 1), token, string.sub(element, pos, after - 1))
      pos = after
    end
  end
end

-- Wakes one idle consumer. The wake list never holds more than one token, so it stays
-- bounded when no consumer is listening.
local function wake()
  -- One call in the common case (an idle consumer took the last token, the list is empty).
  -- LPOP, not LTRIM: no command beyond what older versions used (a locked-down ACL user must
  -- not find a script failing halfway, after its writes, on an upgrade).
  if redis.call('RPUSH', K_WAKE, '1') > 1 then redis.call('LPOP', K_WAKE) end
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
