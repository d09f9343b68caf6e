-- docket consumer: one step of a consumer on one queue, atomically:
--   1. apply the consumer's reports on finished tries (fenced by lease token),
--   2. promote delayed jobs that are due, 3. recover expired leases (in housekeeping steps),
--   4. lease up to N waiting jobs, in the strategy's order (none while the queue is paused).
-- KEYS: the queue keys (see record.lua).
-- ARGV[1] lease ms, ARGV[2] N (jobs to lease, 0 for none),
-- ARGV[3..6] keep-completed count, keep-completed age ms, keep-dead count, keep-dead age ms,
-- ARGV[7] random seed (an integer from 1 to 2147483646, for strategies that pick at random),
-- ARGV[8] R, the number of reports; ARGV[9] the reports, packed one after another, each:
--   kind (1 byte): 'c' completed, 'f' failed (retried while attempts remain, unless cancelled),
--         'x' failed for good, 'k' stopped because it was cancelled,
--         'r' released unfinished (back to waiting, the try not counted);
--   token (6 bytes, big-endian), retry delay ms (6 bytes), then three strings, each a 4-byte
--   length and its bytes: id, error message (empty if none), result bytes (empty if none).
--   (One argument for all reports: the client encodes one buffer, Lua parses it in C.)
-- ARGV[10] '1' for a housekeeping step: also recover expired leases and trim cancelled jobs.
-- ARGV[11] the consumer's id, '' for a step that leaves its registration alone (see below);
-- ARGV[12] registration ms (0: unregister only); ARGV[13] '1' to push an empty marker to the
-- consumer's inbox after draining it (a closing consumer that is blocked on it); ARGV[14] the
-- tokens of the jobs it popped from its inbox since (6 bytes each); ARGV[15] the slots it
-- believes registered.
-- Push delivery: a step with a consumer id first takes back the consumer's registration as
-- idle (its remaining slots are added to N) and drains its inbox (jobs an enqueue leased to it
-- that it has not popped yet, returned first in `leased`); if it then leases fewer than N
-- jobs (the queue is drained), it registers again with the slots left, so that an enqueue
-- into the empty queue leases the next job to it directly (enqueue.lua). A consumer never
-- holds more jobs than it has slots: registered slots are slots it keeps free.
-- Returns { outcomes, leased, server time ms, next delayed due ms or -1, registered slots,
-- N plus the drained jobs (the reply's jobs fall short of it when the queue ran dry) }:
--   outcomes: one per report: -1 refused (the lease is not current: another consumer owns the
--   job or it was recovered), else the job's new state code;
--   leased: the leased jobs packed one after another, each: token (6 bytes), id length
--   (2 bytes), record length (4 bytes), id, record ('' when none).
-- Guarantees: a report counts only with the current token of a job that is still active, so
-- a late ack after a lost lease never completes a job twice; every job leaves `active` only
-- through a report, a recovery or a release; the waiting structure is touched only through
-- the strategy; work per call is bounded.
local lease_ms = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local keep_completed, completed_age = tonumber(ARGV[3]), tonumber(ARGV[4])
local keep_dead, dead_age = tonumber(ARGV[5]), tonumber(ARGV[6])
local seed = tonumber(ARGV[7])
local n_reports = tonumber(ARGV[8])
-- Housekeeping (recovering expired leases, trimming cancelled jobs) runs when the consumer asks
-- for it, a few times per lease duration, not on every step.
local housekeeping = ARGV[10] == '1'
-- Set when this step adds to or promotes from the delayed set (the reply's next due time changes).
local delayed_changed = false
local finished_cancelled = false
local r_kind, r_id, r_token, r_message, r_delay, r_result = {}, {}, {}, {}, {}, {}
do
  local blob, pos = ARGV[9] or '', 1
  for i = 0, n_reports - 1 do
    local kind, token, delay, id_len
    kind, token, delay, id_len, pos = struct.unpack('>c1I6I6I4', blob, pos)
    r_kind[i], r_token[i], r_delay[i] = kind, token, delay
    r_id[i] = string.sub(blob, pos, pos + id_len - 1)
    pos = pos + id_len
    local len
    len, pos = struct.unpack('>I4', blob, pos)
    r_message[i] = len > 0 and string.sub(blob, pos, pos + len - 1) or ''
    pos = pos + len
    len, pos = struct.unpack('>I4', blob, pos)
    r_result[i] = len > 0 and string.sub(blob, pos, pos + len - 1) or ''
    pos = pos + len
  end
end
local now = now_ms()

-- Park-Miller generator: exact in doubles, seeded by the consumer (injectable in tests).
local function random()
  seed = (seed * 16807) % 2147483647
  return (seed - 1) / 2147483646
end
local BATCH = 1000
-- Both meta flags in one read: paused (no leasing) and events (record.lua's emit).
local meta = redis.call('HMGET', K_META, 'paused', 'events')
events_on = meta[2] ~= '0'

local outcomes = {}
local finished_completed, finished_dead, readied = false, false, false
-- The consumer's registration and inbox (push delivery, see above).
local consumer = ARGV[11] or ''
local registration = false
local registered = 0
local leased, nl = {}, 0 -- jobs leased to the consumer (nl so far), packed as lease_entry does

-- A leased job that did not run to an end goes back to waiting, its try not counted (first in
-- line where the strategy allows).
local function requeue_uncounted(id, header, body)
  header[H_STATE] = S_WAITING
  header[H_ATTEMPT] = header[H_ATTEMPT] - 1
  write_record(id, header, body)
  strategy_return(id, header[H_PRIORITY])
  readied = true
end

-- Jobs leased to a consumer that never got them (elements of its inbox or pushed list) go back
-- to waiting, their attempts uncounted; in reverse, so they come out again in push order. A
-- job whose cancellation was requested meanwhile ends cancelled instead.
local function release_unreceived(elements, skip)
  local jobs = {}
  for_lease_entries(elements, function(id, token)
    if not (skip and skip[token]) then jobs[#jobs + 1] = { id, token } end
  end)
  for k = #jobs, 1, -1 do
    local id, token = jobs[k][1], jobs[k][2]
    local header, body = read_record(redis.call('HGET', K_JOBS, id))
    if header and header[H_STATE] == S_ACTIVE and header[H_TOKEN] == token then
      redis.call('ZREM', K_ACTIVE, id)
      if header[H_CANCEL] == 1 then
        header[H_ATTEMPT] = header[H_ATTEMPT] - 1
        finish(id, header, body, now, S_CANCELLED, 'cancelled before its consumer received it')
        finished_cancelled = true
      else
        requeue_uncounted(id, header, body)
      end
    end
  end
end

if consumer ~= '' then
  registration = redis.call('HGET', K_IDLE_SLOTS, consumer)
  if registration then
    -- Slots the consumer knows it registered (ARGV[15]): after a lost reply it may not know of
    -- a registration, and must not be given jobs for slots it has used since.
    local stored = tonumber(string.match(registration, '^(%d+):')) or 0
    want = want + math.min(stored, tonumber(ARGV[15]) or 0)
  end
  local inbox = inbox_key(consumer)
  local waiting_in_inbox = redis.call('LPOP', inbox, 100000) or {}
  -- What was pushed since the last such step is either received (the consumer names the tokens
  -- it popped, ARGV[14], 6 bytes each), still in the inbox, or popped with a reply the
  -- consumer never got (its blocking connection died): that goes back.
  local known = {}
  local tokens = ARGV[14] or ''
  for pos = 1, #tokens - 5, 6 do known[struct.unpack('>I6', tokens, pos)] = true end
  for_lease_entries(waiting_in_inbox, function(id, token, entry)
    known[token] = true
    -- Still this lease (not recovered after an expired registration, nor cancelled and
    -- finished): handed over; else dropped.
    local state, _, _, held_token = rec_hot(redis.call('HGET', K_JOBS, id))
    if state == S_ACTIVE and held_token == token then
      nl = nl + 1
      leased[nl] = entry
    end
  end)
  release_unreceived(redis.call('LPOP', pushed_key(consumer), 100000) or {}, known)
  if ARGV[13] == '1' then redis.call('RPUSH', inbox, '') end
end
local drained = nl
for i = 1, n_reports do outcomes[i] = -1 end

-- Completions, the common case, are applied in bulk: a handful of calls for the whole batch.
-- With keep-completed 0 the record goes at once instead of being written and then trimmed.
local c_reports = {}
for i = 0, n_reports - 1 do
  if r_kind[i] == 'c' then c_reports[#c_reports + 1] = i end
end
if #c_reports > 0 then
  local ids = {}
  for k = 1, #c_reports do ids[k] = r_id[c_reports[k]] end
  local scores = redis.call('ZMSCORE', K_ACTIVE, unpack(ids))
  local recs = redis.call('HMGET', K_JOBS, unpack(ids))
  local done, records, finished, results = {}, {}, {}, {}
  for k = 1, #c_reports do
    local i = c_reports[k]
    local id, token, result = ids[k], r_token[i], r_result[i]
    if scores[k] then
      -- Only the fixed block is read (and patched): no msgpack on the common path.
      local rec = recs[k]
      local state, flags, attempt, held_token, started = rec_hot(rec)
      if state and held_token == token then
        done[#done + 1] = id
        if flags % 4 >= F_DEDUPE then
          local header = read_record(rec)
          if header then remember_id(id, header, now) end
        end
        if keep_completed > 0 then
          records[#records + 1] = id
          records[#records + 1] = rec_patch(rec, S_COMPLETED, flags, attempt, held_token, started, now)
          finished[#finished + 1] = now
          finished[#finished + 1] = id
          if result ~= '' then
            results[#results + 1] = id
            results[#results + 1] = result
          end
        end
        emit_run('completed', id, attempt)
        outcomes[i + 1] = S_COMPLETED
      end
    end
  end
  if #done > 0 then
    call_chunked('ZREM', K_ACTIVE, done, 1)
    if keep_completed > 0 then
      call_chunked('HSET', K_JOBS, records, 2)
      call_chunked('ZADD', K_COMPLETED, finished, 2)
      if #results > 0 then call_chunked('HSET', K_RESULTS, results, 2) end
      finished_completed = true
    else
      call_chunked('HDEL', K_JOBS, done, 1)
      call_chunked('HDEL', K_PROGRESS, done, 1)
    end
  end
end

-- Every other outcome, one by one (failures, cancellations and releases are the rare path).
for i = 0, n_reports - 1 do
  local kind, id, token = r_kind[i], r_id[i], r_token[i]
  local message, delay = r_message[i], r_delay[i]
  if kind ~= 'c' and redis.call('ZSCORE', K_ACTIVE, id) then
    local raw = redis.call('HGET', K_JOBS, id)
    local header, body = read_record(raw)
    if not header and select(4, rec_hot(raw)) == token then
      -- Leased on its fixed block alone, the rest of the record turned out unreadable (the
      -- consumer could not decode it): it can never run.
      redis.call('ZREM', K_ACTIVE, id)
      bury_corrupt(id, raw, now, message ~= '' and message or body)
      finished_dead = true
      outcomes[i + 1] = S_DEAD
    elseif header and header[H_TOKEN] == token then
      redis.call('ZREM', K_ACTIVE, id)
      -- Only a job whose cancellation was requested ends cancelled: a consumer's stale memory of
      -- a request for a reused id must not cancel a new job (it is released instead).
      if header[H_CANCEL] == 1 then
        finish(id, header, body, now, S_CANCELLED, message ~= '' and message or nil)
        finished_cancelled = true
      elseif kind == 'r' or kind == 'k' then
        requeue_uncounted(id, header, body)
      elseif kind == 'x' or header[H_ATTEMPT] >= header[H_MAX_ATTEMPTS] then
        bury(id, header, body, now, message)
        finished_dead = true
      else
        header[H_STATE] = S_FAILED
        header[H_ERROR] = message
        emit('retrying', id, 'a', header[H_ATTEMPT], 'err', message, 'd', delay)
        if delay > 0 then
          header[H_RUN_AT] = now + delay
          write_record(id, header, body)
          schedule_delayed(id, now + delay)
          delayed_changed = true
        else
          write_record(id, header, body)
          strategy_push(id, header[H_PRIORITY])
          readied = true
        end
      end
      outcomes[i + 1] = header[H_STATE]
    end
  end
end

-- Due delayed jobs (new or retrying) become ready through the strategy. The earliest due time
-- is read first (it is also the reply's next due time), so a step with nothing due makes one call.
local first_due = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
local due = {}
if first_due[2] and tonumber(first_due[2]) <= now then
  due = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now, 'LIMIT', 0, BATCH)
  delayed_changed = true
end
for i = 1, #due do
  local id = due[i]
  local raw = redis.call('HGET', K_JOBS, id)
  local header, body = read_record(raw)
  if header then
    -- A delayed job, or a failed one whose backoff is over; anything else (cancelled, or an
    -- id reused since) has no business in the waiting line.
    if header[H_STATE] == S_DELAYED then
      header[H_STATE] = S_WAITING
      write_record(id, header, body)
    end
    if header[H_STATE] == S_WAITING or header[H_STATE] == S_FAILED then
      strategy_push(id, header[H_PRIORITY])
      readied = true
    end
  elseif raw then
    bury_corrupt(id, raw, now, body)
    finished_dead = true
  end
end
if #due > 0 then redis.call('ZREM', K_DELAYED, unpack(due)) end

-- Expired leases: the consumer died or stalled. The try counts; the job is handed out again
-- (first in line where the strategy allows) or, on its last attempt, buried.
local expired = {}
if housekeeping then
  -- The anchor (record.lua): one member longer than any job id, with an infinite deadline, so
  -- it never expires and is never counted (counts subtract it). It keeps the set in Redis's
  -- skiplist encoding: without it, a set of a few dozen leases is a listpack, where each ZADD,
  -- ZMSCORE and ZREM member is a linear scan (at concurrency 50, the lease ZADD alone was about
  -- a seventh of a job's Redis time).
  redis.call('ZADD', K_ACTIVE, 'NX', 'inf', ACTIVE_ANCHOR)
  expired = redis.call('ZRANGEBYSCORE', K_ACTIVE, '-inf', now, 'LIMIT', 0, BATCH)
end
local recovered = {}
for i = 1, #expired do
  local raw = redis.call('HGET', K_JOBS, expired[i])
  local header, body = read_record(raw)
  recovered[i] = { id = expired[i], raw = raw, header = header, body = body }
end
-- Returned newest lease first (by fencing token), so they come out in hand-out order.
table.sort(recovered, function(a, b)
  return (a.header and a.header[H_TOKEN] or 0) > (b.header and b.header[H_TOKEN] or 0)
end)
for i = 1, #recovered do
  local id, raw, header, body = recovered[i].id, recovered[i].raw, recovered[i].header, recovered[i].body
  if header then
    local reason = 'lease expired: the consumer running try ' .. header[H_ATTEMPT] .. ' died or stalled'
    if header[H_CANCEL] == 1 then
      finish(id, header, body, now, S_CANCELLED, reason)
      finished_cancelled = true
    elseif header[H_ATTEMPT] >= header[H_MAX_ATTEMPTS] then
      bury(id, header, body, now, reason)
      finished_dead = true
    else
      header[H_STATE] = S_WAITING
      header[H_ERROR] = reason
      write_record(id, header, body)
      strategy_return(id, header[H_PRIORITY])
      emit('retrying', id, 'a', header[H_ATTEMPT], 'err', reason, 'd', 0)
      readied = true
    end
  elseif raw then
    bury_corrupt(id, raw, now, body)
    finished_dead = true
  end
end
if #expired > 0 then redis.call('ZREM', K_ACTIVE, unpack(expired)) end

-- Registrations that ran out: their consumers stopped without unregistering (killed, or
-- stalled past it). A job still in such an inbox was never popped, so it never ran: it goes
-- back to waiting with its attempt uncounted, like a release.
if housekeeping then
  local stale = redis.call('ZRANGEBYSCORE', K_IDLE, '-inf', now, 'LIMIT', 0, BATCH)
  for i = 1, #stale do
    -- Only what is still in the inbox is known never to have been received; what was popped
    -- may have started, and counts (its lease runs out).
    release_unreceived(redis.call('LPOP', inbox_key(stale[i]), 100000) or {})
    redis.call('LPOP', pushed_key(stale[i]), 100000)
  end
  if #stale > 0 then
    redis.call('ZREM', K_IDLE, unpack(stale))
    redis.call('HDEL', K_IDLE_SLOTS, unpack(stale))
  end
end

local popped = 0
local nr = 0 -- jobs leased by this step (beside the drained ones)
if want > 0 and meta[1] ~= '1' then
  local ids = strategy_pop(want, random)
  popped = #ids
  if popped > 0 then
    -- One read, one token reservation and two writes for the whole batch.
    local recs = redis.call('HMGET', K_JOBS, unpack(ids))
    local last_token = redis.call('HINCRBY', K_META, 'tokens', popped)
    local records, deadlines = {}, {}
    local deadline = now + lease_ms
    for k = 1, popped do
      local id, raw = ids[k], recs[k]
      -- Only the fixed block is read and patched; the consumer decodes the rest, and reports a
      -- record it cannot read, which is then buried (see the reports above).
      local state, flags, attempt, _, _, finished = rec_hot(raw)
      -- Only a job that is waiting (or waiting to retry) is leased: an id left behind by a lazy
      -- cancellation may have been reused by a new job since, which must not run twice.
      -- A failed job still waiting out its backoff (in the delayed set) is not leased through a
      -- leftover entry: its retry waits for the promotion.
      if state and (state == S_WAITING or (state == S_FAILED and not redis.call('ZSCORE', K_DELAYED, id))) then
        local token = last_token - popped + k
        local rec = rec_patch(raw, S_ACTIVE, flags, attempt + 1, token, now, finished)
        nr = nr + 1
        records[2 * nr - 1], records[2 * nr] = id, rec
        deadlines[2 * nr - 1], deadlines[2 * nr] = deadline, id
        emit_run('active', id, attempt + 1)
        -- As lease_entry packs it, in three parts (no concatenated copy of the record here).
        leased[nl + 1], leased[nl + 2], leased[nl + 3] = struct.pack('>I6I2I4', token, #id, #rec), id, rec
        nl = nl + 3
      else
        -- Left behind by a lazy cancellation (see cancel.lua): a readable record in another
        -- state, or none; skipped, and no longer counted. A record that only looks like one in
        -- its fixed block (garbage whose state byte happens to be valid) is buried instead, or
        -- the job would be in no structure at all.
        local header, reason
        if raw then header, reason = read_record(raw) end
        if not raw or header then
          if tonumber(redis.call('HGET', K_META, 'ghosts') or '0') > 0 then redis.call('HINCRBY', K_META, 'ghosts', -1) end
        else
          bury_corrupt(id, raw, now, reason)
          finished_dead = true
        end
      end
    end
    if #records > 0 then
      call_chunked('HSET', K_JOBS, records, 2)
      call_chunked('ZADD', K_ACTIVE, deadlines, 2)
    end
  end
end
-- Push delivery: register (again) with the slots this step could not fill, or unregister.
if consumer ~= '' then
  local free = want - nr
  local registration_ms = tonumber(ARGV[12]) or 0
  if registration_ms > 0 and free > 0 and meta[1] ~= '1' then
    redis.call('ZADD', K_IDLE, now + registration_ms, consumer)
    redis.call('HSET', K_IDLE_SLOTS, consumer, free .. ':' .. lease_ms)
    registered = free
  elseif registration then
    redis.call('ZREM', K_IDLE, consumer)
    redis.call('HDEL', K_IDLE_SLOTS, consumer)
  end
end
-- More work than this consumer took: pass the wake-up on to the next idle consumer. A pop that
-- returned fewer jobs than asked for emptied the waiting line (no count needed then).
if (readied or (popped > 0 and popped >= want)) and strategy_count() > 0 then wake() end

if finished_completed then trim_finished(K_COMPLETED, now, keep_completed, completed_age, BATCH) end
if finished_dead then trim_finished(K_DEAD, now, keep_dead, dead_age, BATCH) end
-- Producers cancel waiting and delayed jobs without knowing the retention settings, so the
-- cancelled set is trimmed here, in housekeeping steps whether or not this step cancelled
-- anything (one ZCARD when it is empty, the common case), and when this step cancelled a job.
if (housekeeping or finished_cancelled) and redis.call('ZCARD', K_CANCELLED) > 0 then trim_finished(K_CANCELLED, now, keep_completed, completed_age, BATCH) end

flush_events()
local next_due = delayed_changed and redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES') or first_due
return { outcomes, table.concat(leased), now, tonumber(next_due[2]) or -1, registered, want + drained }
