-- docket consumer, step phase `reports`: applies a consumer's reports on finished tries
-- (read by wire/reports.lua), fenced by lease token.
-- KEYS: the queue keys (see keys.lua). ARGV: none (a fragment; step.lua passes the reports).
-- Returns: nothing; apply_reports fills `outcomes` (from 1, in report order): -1 refused (the
-- lease is not current: another consumer owns the job, or it was recovered), else the job's
-- new state code, and sets effects.completed / dead / cancelled / readied / delayed.
-- Guarantees: a report counts only with the current token of a job that is still active, so a
-- late ack after a lost lease never completes a job twice; a job leaves `active` here only
-- through its current lease's report.

-- Completions, the common case, are applied in bulk: a handful of calls for the whole batch.
-- With keep_completed 0 the record goes at once instead of being written and then trimmed.
local function apply_completions(r, now, keep_completed, outcomes, effects)
  local c_reports = {}
  for i = 0, r.count - 1 do
    if r.kinds[i] == 'c' then c_reports[#c_reports + 1] = i end
  end
  if #c_reports == 0 then return end
  local ids = {}
  for k = 1, #c_reports do ids[k] = r.ids[c_reports[k]] end
  local scores = redis.call('ZMSCORE', K_ACTIVE, unpack(ids))
  local recs = redis.call('HMGET', K_JOBS, unpack(ids))
  local done, records, finished, results = {}, {}, {}, {}
  for k = 1, #c_reports do
    local i = c_reports[k]
    local id, token, result = ids[k], r.tokens[i], r.results[i]
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
  if #done == 0 then return end
  call_chunked('ZREM', K_ACTIVE, done, 1)
  if keep_completed > 0 then
    call_chunked('HSET', K_JOBS, records, 2)
    call_chunked('ZADD', K_COMPLETED, finished, 2)
    if #results > 0 then call_chunked('HSET', K_RESULTS, results, 2) end
    effects.completed = true
  else
    call_chunked('HDEL', K_JOBS, done, 1)
    call_chunked('HDEL', K_PROGRESS, done, 1)
  end
end

-- A failed try: retried (after its backoff) while attempts remain, else buried.
local function fail_try(id, header, body, now, message, delay, effects)
  header[H_STATE] = S_FAILED
  header[H_ERROR] = message
  emit('retrying', id, 'a', header[H_ATTEMPT], 'err', message, 'd', delay)
  if delay > 0 then
    header[H_RUN_AT] = now + delay
    write_record(id, header, body)
    schedule_delayed(id, now + delay)
    effects.delayed = true
  else
    write_record(id, header, body)
    strategy_push(id, header[H_PRIORITY])
    effects.readied = true
  end
end

-- Every other outcome, one by one (failures, cancellations and releases are the rare path).
local function apply_other_reports(r, now, outcomes, effects)
  for i = 0, r.count - 1 do
    local kind, id, token = r.kinds[i], r.ids[i], r.tokens[i]
    local message = r.messages[i]
    if kind ~= 'c' and redis.call('ZSCORE', K_ACTIVE, id) then
      local raw = redis.call('HGET', K_JOBS, id)
      local header, body = read_record(raw)
      if not header and select(4, rec_hot(raw)) == token then
        -- Leased on its fixed block alone, the rest of the record turned out unreadable (the
        -- consumer could not decode it): it can never run.
        redis.call('ZREM', K_ACTIVE, id)
        bury_corrupt(id, raw, now, message ~= '' and message or body)
        effects.dead = true
        outcomes[i + 1] = S_DEAD
      elseif header and header[H_TOKEN] == token then
        redis.call('ZREM', K_ACTIVE, id)
        -- Only a job whose cancellation was requested ends cancelled: a consumer's stale memory
        -- of a request for a reused id must not cancel a new job (it is released instead).
        if header[H_CANCEL] == 1 then
          finish(id, header, body, now, S_CANCELLED, message ~= '' and message or nil)
          effects.cancelled = true
        elseif kind == 'r' or kind == 'k' then
          requeue_uncounted(id, header, body)
          effects.readied = true
        elseif kind == 'x' or header[H_ATTEMPT] >= header[H_MAX_ATTEMPTS] then
          bury(id, header, body, now, message)
          effects.dead = true
        else
          fail_try(id, header, body, now, message, r.delays[i], effects)
        end
        outcomes[i + 1] = header[H_STATE]
      end
    end
  end
end

local function apply_reports(r, now, keep_completed, outcomes, effects)
  for i = 1, r.count do outcomes[i] = -1 end
  apply_completions(r, now, keep_completed, outcomes, effects)
  apply_other_reports(r, now, outcomes, effects)
end
