-- docket protocol, fragment `push delivery` (after `leasing` and the queue's strategy): an
-- enqueue into an empty queue leases its jobs straight to a consumer that is blocked waiting,
-- saving the wake-up and the lease step (one round trip).
--
-- How: a consumer of one queue whose step finds the queue drained registers as idle (K_IDLE:
-- consumer id -> until when the registration holds; K_IDLE_SLOTS: id -> '<free slots>:<lease
-- ms>') and blocks on its inbox list as well as on the wake key. An enqueue leases its ready
-- jobs to the freshest registration with the slots (push_to_idle) and pushes their lease
-- entries to that consumer's inbox as one element, with a copy in its pushed list. The
-- consumer's next step with its id takes the registration back and drains the inbox
-- (take_back_registration), then registers again if the queue is still drained
-- (register_idle). Housekeeping hands back what registrations that ran out still hold
-- (release_stale_registrations).
-- KEYS: K_WAKE (to name the per-consumer lists), K_IDLE, K_IDLE_SLOTS, K_META, K_JOBS, K_ACTIVE.
-- ARGV: none (a fragment). Returns: nothing.
-- Guarantees: a consumer never holds more jobs than it has slots (registered slots are slots
-- it keeps free, and Redis adds no more of a registration than the consumer says it knows
-- of); a job pushed to a consumer that never received it goes back to waiting with its
-- attempt uncounted (or ends cancelled if that was requested), in push order; several jobs are
-- pushed at once only where the strategy keeps a batch's order, so push delivery never
-- changes the order of starts.

-- A consumer's inbox, and the list of what was pushed to it since its last step with its id.
-- Each element holds the lease entries of one enqueue call.
local function inbox_key(consumer) return QUEUE_BASE .. 'inbox:' .. consumer end
local function pushed_key(consumer) return QUEUE_BASE .. 'pushed:' .. consumer end

-- Jobs leased to a consumer that never got them (elements of its inbox or pushed list) go back
-- to waiting, their attempts uncounted; in reverse, so they come out again in push order. A
-- job whose cancellation was requested meanwhile ends cancelled instead. Jobs whose token is in
-- `skip` were received. Sets effects.readied / effects.cancelled.
local function release_unreceived(elements, skip, now, effects)
  local jobs = {}
  for_lease_entries(elements, function(id, token)
    if not (skip and skip[token]) then jobs[#jobs + 1] = { id, token } end
  end)
  for k = #jobs, 1, -1 do
    local id, token = jobs[k][1], jobs[k][2]
    local header, body = read_record(redis.call('HGET', K_JOBS, id))
    if header and header[H_STATE] == S_ACTIVE and header[H_TOKEN] == token then
      redis.call('ZREM', K_ACTIVE, id)
      give_back_unreceived(id, header, body, now, effects)
    end
  end
end

-- Enqueue side: leases the ready jobs of one enqueue call (`ids`, their records `recs`, not
-- stored yet; `clock()` gives the Redis time, read only when needed) to the freshest idle
-- consumer and pushes them to its inbox, if the queue is empty and unpaused, that consumer
-- has a slot for each and an empty inbox, and (for several jobs) the strategy keeps a batch's
-- order. All of them or none: returns true when pushed
-- (the records are then stored), false for the usual way. The freshest registration only,
-- and only while its inbox is empty: a consumer that stopped without unregistering (killed)
-- holds the jobs of at most one call until its registration runs out and a housekeeping step
-- hands them back uncounted.
local function push_to_idle(ids, recs, clock)
  local top = redis.call('ZRANGE', K_IDLE, -1, -1, 'WITHSCORES')
  local consumer = top[1]
  if not consumer then return false end
  local now = clock()
  if tonumber(top[2]) < now then return false end
  local slots, lease_ms = string.match(redis.call('HGET', K_IDLE_SLOTS, consumer) or '', '^(%d+):(%d+)$')
  if not slots or tonumber(slots) < #ids then return false end
  if #ids > 1 and not STRATEGY_KEEPS_BATCH_ORDER then return false end
  local inbox = inbox_key(consumer)
  if strategy_count() > 0 or redis.call('LLEN', inbox) > 0 then return false end
  if redis.call('HGET', K_META, 'paused') == '1' then return false end
  -- Only records that read as waiting: anything else takes the common path, where a step
  -- buries what it cannot lease.
  for k = 1, #recs do
    if rec_hot(recs[k]) ~= S_WAITING then return false end
  end
  local entries = {}
  local _, first, last = lease_jobs(ids, recs, now, tonumber(lease_ms), entries, function() end)
  -- Like a step's leases (see step.lua), recorded until the consumer confirms the pop reached
  -- it: a consumer killed with the pop's reply in flight never started these jobs, so their
  -- leases go back uncounted when they expire.
  redis.call('ZADD', K_HANDED, last, consumer .. ':push:' .. first .. ':' .. (now + tonumber(lease_ms)))
  redis.call('HSET', K_IDLE_SLOTS, consumer, (tonumber(slots) - #ids) .. ':' .. lease_ms)
  -- One element for the whole call: the consumer's pop takes them all at once. The pushed list
  -- keeps a copy until the consumer's next step, which hands back a pop lost on its way.
  local element = table.concat(entries)
  redis.call('RPUSH', inbox, element)
  redis.call('RPUSH', pushed_key(consumer), element)
  return true
end

-- Step side: takes back `consumer`'s registration and drains its inbox. `known_slots` is how
-- many slots the consumer believes registered (after a lost reply it may not know of a
-- registration, and must not be given jobs for slots it has used since); `received` the
-- tokens (6 bytes each) of the jobs it popped from its inbox since its last such step. What
-- was pushed since is either received, still in the inbox (handed over now: appended to
-- `entries`), or popped with a reply the consumer never got (its blocking connection died):
-- that goes back. With `marker`, an empty element follows in the inbox, to end a pop a
-- closing consumer is blocked in. Returns whether a registration existed, the slots it gives
-- back, how many jobs were handed over, and the K_HANDED entries of their pushes.
local function take_back_registration(consumer, known_slots, received, marker, now, entries, effects)
  local registration = redis.call('HGET', K_IDLE_SLOTS, consumer)
  local slots = 0
  if registration then
    local stored = tonumber(string.match(registration, '^(%d+):')) or 0
    slots = math.min(stored, known_slots)
  end
  local inbox = inbox_key(consumer)
  local waiting_in_inbox = redis.call('LPOP', inbox, 100000) or {}
  local known = {}
  for pos = 1, #received - 5, 6 do known[struct.unpack('>I6', received, pos)] = true end
  local handed, ne = 0, #entries
  for_lease_entries(waiting_in_inbox, function(id, token, entry)
    known[token] = true
    -- Still this lease (not recovered after an expired registration, nor cancelled and
    -- finished): handed over; else dropped.
    local state, _, _, held_token = rec_hot(redis.call('HGET', K_JOBS, id))
    if state == S_ACTIVE and held_token == token then
      handed = handed + 1
      entries[ne + handed] = entry
    end
  end)
  release_unreceived(redis.call('LPOP', pushed_key(consumer), 100000) or {}, known, now, effects)
  if marker then redis.call('RPUSH', inbox, '') end
  -- The K_HANDED entries of the pushes handed over now (found by their last token, the score):
  -- the consumer confirms them with this step's own entry when the reply reaches it.
  local confirm = {}
  for _, element in ipairs(waiting_in_inbox) do
    local last = 0
    for_lease_entries({ element }, function(_, token) if token > last then last = token end end)
    local member = last > 0 and redis.call('ZRANGEBYSCORE', K_HANDED, last, last)[1]
    if member then confirm[#confirm + 1] = member end
  end
  return registration ~= false and registration ~= nil, slots, handed, confirm
end

-- Step side: registers `consumer` as idle with `free` slots for `registration_ms` (it found the
-- queue drained), or, when it may not register (no slots free, paused, or it is leaving),
-- removes a registration taken back earlier in this step. Returns the slots registered.
local function register_idle(consumer, free, registration_ms, lease_ms, paused, had_registration, now)
  if registration_ms > 0 and free > 0 and not paused then
    redis.call('ZADD', K_IDLE, now + registration_ms, consumer)
    redis.call('HSET', K_IDLE_SLOTS, consumer, free .. ':' .. lease_ms)
    return free
  elseif had_registration then
    redis.call('ZREM', K_IDLE, consumer)
    redis.call('HDEL', K_IDLE_SLOTS, consumer)
  end
  return 0
end

-- Housekeeping: registrations that ran out; their consumers stopped without unregistering
-- (killed, or stalled past it). A job still in such an inbox was never popped, so it never
-- ran: it goes back to waiting with its attempt uncounted, like a release. What was popped
-- may have started, and counts (its lease runs out).
local function release_stale_registrations(now, limit, effects)
  local stale = redis.call('ZRANGEBYSCORE', K_IDLE, '-inf', now, 'LIMIT', 0, limit)
  for i = 1, #stale do
    release_unreceived(redis.call('LPOP', inbox_key(stale[i]), 100000) or {}, nil, now, effects)
    redis.call('LPOP', pushed_key(stale[i]), 100000)
  end
  if #stale > 0 then
    redis.call('ZREM', K_IDLE, unpack(stale))
    redis.call('HDEL', K_IDLE_SLOTS, unpack(stale))
  end
end
