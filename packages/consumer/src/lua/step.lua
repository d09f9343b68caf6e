-- docket consumer: one step of a consumer on one queue, atomically. Composed (scripts.ts) after
-- protocol's fragments (keys, events, record, lease entries, reports, leasing, push delivery),
-- the queue's strategy, and this package's phases (step-reports.lua, step-promote-delayed.lua,
-- step-recover-leases.lua):
--   1. push delivery: take back the consumer's registration and drain its inbox,
--   2. apply the consumer's reports on finished tries (fenced by lease token),
--   3. promote delayed jobs that are due,
--   4. housekeeping steps only: recover expired leases, hand back what stale registrations hold,
--   5. lease up to N waiting jobs in the strategy's order (none while the queue is paused),
--   6. register as idle again if the queue ran dry; pass a wake-up on; trim finished sets.
-- KEYS: the queue keys (see keys.lua).
-- ARGV[1] lease ms, ARGV[2] N (jobs to lease, 0 for none),
-- ARGV[3..6] keep-completed count, keep-completed age ms, keep-dead count, keep-dead age ms,
-- ARGV[7] random seed (an integer from 1 to 2147483646, for strategies that pick at random),
-- ARGV[8] R, the number of reports; ARGV[9] the reports (wire format: reports.lua),
-- ARGV[10] '1' for a housekeeping step: also recover expired leases and trim cancelled jobs.
-- ARGV[11] the consumer's id ('' for none: nothing recorded, no push delivery); ARGV[12] this
-- call's sequence number; ARGV[13] the K_HANDED entries of earlier calls whose replies arrived
-- (space-separated): confirmed, they are removed. This call's leases are recorded as one entry,
-- returned in the reply for the consumer to confirm with a later step.
-- ARGV[14] '1' for a step of a consumer with push delivery (push-delivery.lua): it takes back
-- the consumer's registration and drains its inbox first; ARGV[15] registration ms (0:
-- unregister only); ARGV[16] '1' to push an empty marker to the consumer's inbox after
-- draining it (a closing consumer that is blocked on it); ARGV[17] the tokens of the jobs it
-- popped from its inbox since (6 bytes each); ARGV[18] the slots it believes registered.
-- Returns { outcomes, leased, server time ms, next delayed due ms or -1, registered slots,
-- N plus the drained jobs (the reply's jobs fall short of it when the queue ran dry), next
-- housekeeping due ms or -1 (the earliest lease deadline, or another consumer's registration
-- running out), the K_HANDED entries of what it hands over, space-separated ('' for none) }:
--   outcomes: one per report: -1 refused (the lease is not current), else the job's new state;
--   leased: the jobs handed over (drained from the inbox first, then leased now), in the wire
--   format of lease-entries.lua.
-- Guarantees: a report counts only with the current token of a job that is still active, so
-- a late ack after a lost lease never completes a job twice; every job leaves `active` only
-- through a report, a recovery or a release; the waiting structure is touched only through
-- the strategy; a consumer never holds more jobs than it has slots; work per call is bounded.
local lease_ms = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local keep_completed, completed_age = tonumber(ARGV[3]), tonumber(ARGV[4])
local keep_dead, dead_age = tonumber(ARGV[5]), tonumber(ARGV[6])
local seed = tonumber(ARGV[7])
-- Housekeeping runs when the consumer asks for it, a few times per lease duration, not on
-- every step.
local housekeeping = ARGV[10] == '1'
local BATCH = 1000
-- ms past its leases' deadline a K_HANDED entry is kept (a recovery by then has used it).
local HANDED_GRACE_MS = 60000
-- Expired dedupe entries one housekeeping step trims at most (one ZREMRANGEBYRANK).
local DEDUPE_BATCH = 5000
local more_housekeeping = false
local now = now_ms()
local reports = { count = tonumber(ARGV[8]) }
reports.kinds, reports.ids, reports.tokens, reports.messages, reports.delays, reports.results =
  read_reports(reports.count, ARGV[9] or '')

-- Park-Miller generator: exact in doubles, seeded by the consumer (injectable in tests).
local function random()
  seed = (seed * 16807) % 2147483647
  return (seed - 1) / 2147483646
end

-- Both meta flags in one read: paused (no leasing) and events (events.lua's emit).
local meta = redis.call('HMGET', K_META, 'paused', 'events')
local paused = meta[1] == '1'
events_on = meta[2] ~= '0'

-- What the phases did: jobs made ready, jobs finished per set, the delayed set changed.
local effects = { readied = false, completed = false, dead = false, cancelled = false, delayed = false }
local leased = {} -- lease entries for the consumer, as lease_jobs appends them

-- 1. The consumer's registration and inbox.
local consumer = ARGV[11] or ''
local push = consumer ~= '' and ARGV[14] == '1'
local had_registration, drained, push_handed = false, 0, {}
if push then
  local slots
  had_registration, slots, drained, push_handed = take_back_registration(consumer, tonumber(ARGV[18]) or 0, ARGV[17] or '', ARGV[16] == '1', now, leased, effects)
  want = want + slots
end

-- Calls whose replies the consumer received: their leases reached it.
zrem_listed(K_HANDED, ARGV[13])

-- 2.-4.
local outcomes = {}
apply_reports(reports, now, keep_completed, outcomes, effects)
local first_due = promote_due(now, BATCH, effects)
if housekeeping then
  recover_expired(now, BATCH, effects)
  release_stale_registrations(now, BATCH, effects)
  -- K_HANDED entries of consumers that never confirmed them (they died), well past their
  -- leases' deadline: recovery has used them.
  local stale = {}
  for _, entry in ipairs(redis.call('ZRANGE', K_HANDED, 0, 99)) do
    local deadline = tonumber(string.match(entry, ':(%d+)$'))
    if deadline and deadline < now - HANDED_GRACE_MS then stale[#stale + 1] = entry end
  end
  if #stale > 0 then redis.call('ZREM', K_HANDED, unpack(stale)) end
  -- Ids whose `dedupeFor` ran out (only here: an enqueue compares the time instead). With more
  -- left, the next housekeeping step is due at once.
  more_housekeeping = trim_remembered_ids(now, DEDUPE_BATCH)
end

-- 5. Leasing. An id the strategy gives that may not be leased was left behind by a lazy
-- cancellation (see cancel.lua): a readable record in another state, or none, is skipped and
-- no longer counted as waiting. A record that only looks like one in its fixed block (garbage
-- whose state byte happens to be valid) is buried instead, or the job would be in no
-- structure at all. Popping goes on past skipped ids (up to BATCH of them per step), so a
-- live job behind many cancelled ones starts now, not one step per cancelled id later.
local nr = 0
local line_drained = false
local first_token, last_token
if want > 0 and not paused then
  local skipped = 0
  local function refused(id, raw)
    skipped = skipped + 1
    local header, reason
    if raw then header, reason = read_record(raw) end
    if not raw or header then
      if tonumber(redis.call('HGET', K_META, 'ghosts') or '0') > 0 then redis.call('HINCRBY', K_META, 'ghosts', -1) end
    else
      bury_corrupt(id, raw, now, reason)
      effects.dead = true
    end
  end
  repeat
    local ask = want - nr
    local ids = strategy_pop(ask, random)
    -- A pop that returns fewer ids than asked for emptied the waiting line.
    line_drained = #ids < ask
    if #ids > 0 then
      local count, first, last = lease_jobs(ids, redis.call('HMGET', K_JOBS, unpack(ids)), now, lease_ms, leased, refused)
      nr = nr + count
      if count > 0 then
        first_token = first_token or first
        last_token = last
      end
    end
  until nr >= want or line_drained or skipped >= BATCH
end
-- The leases of this call, until the consumer confirms it received them.
local handed_entry = ''
if consumer ~= '' and first_token then
  handed_entry = consumer .. ':' .. ARGV[12] .. ':' .. first_token .. ':' .. (now + lease_ms)
  redis.call('ZADD', K_HANDED, last_token, handed_entry)
end

-- 6. Register (again) with the slots this step could not fill, or unregister.
local registered = 0
if push then
  registered = register_idle(consumer, want - nr, tonumber(ARGV[15]) or 0, lease_ms, paused, had_registration, now)
end
-- More work than this consumer took: pass the wake-up on to the next idle consumer (no count
-- needed when the pop emptied the waiting line and nothing was made ready since).
if (effects.readied or (want > 0 and not paused and not line_drained)) and strategy_count() > 0 then wake() end

if effects.completed then trim_finished(K_COMPLETED, now, keep_completed, completed_age, BATCH) end
if effects.dead then trim_finished(K_DEAD, now, keep_dead, dead_age, BATCH) end
-- Producers cancel waiting and delayed jobs without knowing the retention settings, so the
-- cancelled set is trimmed here, in housekeeping steps whether or not this step cancelled
-- anything (one ZCARD when it is empty, the common case), and when this step cancelled a job.
if (housekeeping or effects.cancelled) and redis.call('ZCARD', K_CANCELLED) > 0 then
  trim_finished(K_CANCELLED, now, keep_completed, completed_age, BATCH)
end

flush_events()
local next_due = effects.delayed and redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES') or first_due
-- When a housekeeping step may find work: now if it left work, else the earliest lease deadline
-- (the anchor's is +inf), or another consumer's registration running out. Only a step after
-- which the consumer may wait needs it (one that leased all it asked for is followed by
-- another step): not on the per-job path under load.
local next_housekeeping = -1
if want == 0 or nr < want then
  local earliest_lease = redis.call('ZRANGE', K_ACTIVE, 0, 0, 'WITHSCORES')[2]
  if earliest_lease and earliest_lease ~= 'inf' then next_housekeeping = tonumber(earliest_lease) end
  local idle = redis.call('ZRANGE', K_IDLE, 0, 1, 'WITHSCORES')
  for i = 1, #idle, 2 do
    if idle[i] ~= consumer then
      local t = tonumber(idle[i + 1])
      if next_housekeeping < 0 or t < next_housekeeping then next_housekeeping = t end
      break
    end
  end
end
if more_housekeeping then next_housekeeping = now end
-- Every K_HANDED entry of what this reply hands over, for the consumer to confirm.
if handed_entry ~= '' then push_handed[#push_handed + 1] = handed_entry end
return { outcomes, table.concat(leased), now, tonumber(next_due[2]) or -1, registered, want + drained, next_housekeeping, table.concat(push_handed, ' ') }
