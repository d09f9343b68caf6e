-- docket protocol, fragment `events`: the queue's event feed (after `keys`).
-- KEYS: K_META (the events flag), K_EVENTS (the stream).
-- ARGV: none.
-- Returns: nothing (a fragment). A script calls emit/emit_run as jobs change state and
-- flush_events once before it returns.
-- Guarantees: a script's events reach the stream in the order they were emitted, as one entry
-- (or a few, past Lua's unpack limit), never split inside an event; the stream is capped at
-- about EVENTS_MAX_LEN entries; a queue defined with events off gets no writes at all.
local EVENTS_MAX_LEN = 10000

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
