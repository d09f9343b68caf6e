-- docket protocol, fragment `leasing`: hands waiting jobs to a consumer (after `keys`,
-- `events`, `record` and `lease entries`). One routine for both ways a job is leased: a
-- consumer's step (it pops ids from the strategy) and push delivery (an enqueue leases its
-- jobs to an idle consumer, push-delivery.lua).
-- KEYS: K_META (the token counter), K_JOBS, K_ACTIVE, K_DELAYED.
-- ARGV: none (a fragment). Returns: nothing.
-- Guarantees: every leased job gets a fencing token greater than any before it on this queue,
-- its attempt counted, state active and a lease deadline in K_ACTIVE; only a job that is
-- waiting (or failed and no longer in the delayed set, i.e. due for its retry) is leased, so an
-- id left behind by a lazy cancellation, or reused since, never runs twice. Two calls per batch
-- (HSET, ZADD) whatever its size, plus one token reservation.

-- Leases the jobs `ids` (whose records, as stored or about to be stored, are `recs`) until
-- now + lease_ms, appending each one's lease entry to `entries` in three parts (head, id,
-- record: no concatenated copy of the record here). A job that may not be leased is passed to
-- refused(id, raw) instead. Returns how many were leased, and the first and last token
-- reserved (a range no other call's tokens fall in). Only the fixed block is read and
-- patched: the consumer decodes the rest, and reports a record it cannot read.
local function lease_jobs(ids, recs, now, lease_ms, entries, refused)
  local count = #ids
  if count == 0 then return 0, 0, 0 end
  local last_token = redis.call('HINCRBY', K_META, 'tokens', count)
  local records, deadlines = {}, {}
  local deadline = now + lease_ms
  local leased, ne = 0, #entries
  for k = 1, count do
    local id, raw = ids[k], recs[k]
    local state, flags, attempt, _, _, finished = rec_hot(raw)
    -- A failed job still waiting out its backoff (in the delayed set) is not leased through a
    -- leftover entry: its retry waits for the promotion.
    if state and (state == S_WAITING or (state == S_FAILED and not redis.call('ZSCORE', K_DELAYED, id))) then
      local token = last_token - count + k
      local rec = rec_patch(raw, S_ACTIVE, flags, attempt + 1, token, now, finished)
      leased = leased + 1
      records[2 * leased - 1], records[2 * leased] = id, rec
      deadlines[2 * leased - 1], deadlines[2 * leased] = deadline, id
      emit_run('active', id, attempt + 1)
      entries[ne + 1], entries[ne + 2], entries[ne + 3] = lease_entry_head(token, id, rec), id, rec
      ne = ne + 3
    else
      refused(id, raw)
    end
  end
  if leased > 0 then
    -- The queue had no lease (the anchor at most): consumers of many queues, which step a
    -- queue only when told, learn that it now has leases that may need recovering.
    local first_leases = redis.call('ZCARD', K_ACTIVE) <= 1
    call_chunked('HSET', K_JOBS, records, 2)
    call_chunked('ZADD', K_ACTIVE, deadlines, 2)
    if first_leases then redis.call('PUBLISH', READY_CHANNEL, 'a') end
  end
  return leased, last_token - count + 1, last_token
end

-- A leased job that did not run to an end goes back to waiting, its try not counted (first in
-- line where the strategy allows): released by its consumer, or leased to one that never
-- received it. The caller wakes a consumer for it (the job is ready).
local function requeue_uncounted(id, header, body)
  header[H_STATE] = S_WAITING
  header[H_ATTEMPT] = header[H_ATTEMPT] - 1
  write_record(id, header, body)
  strategy_return(id, header[H_PRIORITY])
end

-- A leased job whose consumer never received it (its lease must already be out of K_ACTIVE)
-- goes back to waiting uncounted, or ends cancelled if that was requested meanwhile. Sets
-- effects.readied / effects.cancelled.
local function give_back_unreceived(id, header, body, now, effects)
  if header[H_CANCEL] == 1 then
    header[H_ATTEMPT] = header[H_ATTEMPT] - 1
    finish(id, header, body, now, S_CANCELLED, 'cancelled before its consumer received it')
    effects.cancelled = true
  else
    requeue_uncounted(id, header, body)
    effects.readied = true
  end
end
