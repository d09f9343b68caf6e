-- docket producer: enqueue one or more jobs of one queue, atomically. Composed (scripts.ts)
-- after protocol's fragments (keys, events, record, lease entries, enqueue arguments, leasing,
-- push delivery) and the queue's strategy.
-- KEYS: the queue keys (see keys.lua).
-- ARGV[1] = N, the number of jobs; ARGV[2] = the jobs (wire format: enqueue-args.lua);
-- ARGV[3] = this call's id, '<producer clock ms>:<nonce>' ('' for none); ARGV[4] = the K_CALLS
-- entries of earlier calls whose replies the producer received (space-separated), removed.
-- Returns { G, created, entry }: G is the number before the first generated id (the jobs
-- without an id get G + 1, G + 2, ... in order), created a string of one character per job:
-- '1' a new job, '0' a job with this id exists (or finished less than its `dedupeFor` ago)
-- (two values instead of two per job: the client knows every id it gave); entry the call's
-- K_CALLS entry, for the producer to confirm with its next call ('' without a call id).
-- Guarantees: a call is applied once, however often it arrives: a call sent again after its
-- reply was lost (ioredis resends calls in flight when a connection drops) returns the reply
-- of its first application and changes nothing (K_CALLS keeps calls for CALL_WINDOW_MS); a job
-- id exists at most once (ids given by callers are idempotency keys while
-- the job exists, and `dedupeFor` ms after it finished); ready jobs are pushed through the
-- queue's strategy in the order given and one idle consumer is woken (or, into an empty queue,
-- leased at once to an idle consumer with the slots: push-delivery.lua); a delayed job gets its
-- due time from the Redis clock.
-- Cost: generated ids are reserved with one call, and ready jobs are stored and pushed with a
-- few calls per thousand, so the work per job is a handful of table writes.
local n = tonumber(ARGV[1])
-- The Redis clock, read on first use: a chunk of plain jobs (no ids, no delays) never needs it.
local now = nil
local function clock()
  if not now then now = now_ms() end
  return now
end

-- ms a call's id is kept in K_CALLS (by the producer's clock) when no later call confirms it.
local CALL_WINDOW_MS = 300000

local call_ms, call_nonce = string.match(ARGV[3] or '', '^(%d+):(.+)$')
if call_nonce then
  -- Applied before: the same reply, nothing else.
  local head = call_nonce .. ':'
  for _, entry in ipairs(redis.call('ZRANGEBYSCORE', K_CALLS, call_ms, call_ms)) do
    if string.sub(entry, 1, #head) == head then
      local first, flags = string.match(entry, '^(%d+):(.*)$', #head + 1)
      return { tonumber(first), flags ~= '' and flags or string.rep('1', n), entry }
    end
  end
end

local specs, records_in, generated = read_enqueue_args(n, ARGV[2])
if not specs then return redis.error_reply('ERR docket enqueue: ' .. records_in) end
local next_id = 0
if generated > 0 then next_id = redis.call('HINCRBY', K_META, 'ids', generated) - generated end
local first_generated = next_id

local out = {}
local all_created = true
local records, ready, priorities = {}, {}, {}
local added = {} -- caller-given ids created by this call (a batch may repeat one)
-- Consecutive generated ids of ready jobs, whose 'enqueued' events are added as one run.
local run_first, run_count = 0, 0
local function flush_run()
  emit_run_range('enqueued', run_first, run_count, nil)
  run_count = 0
end
for i = 1, n do
  local spec = specs[i]
  local record = records_in[i]
  local id, delay, priority, created = nil, 0, 0, 1
  if spec then
    id, delay, priority = spec[1], spec[2], spec[3]
  end
  local generated_id = false
  if id == nil or id == '' then
    next_id = next_id + 1
    id = tostring(next_id)
    generated_id = true
  elseif added[id] or redis.call('HEXISTS', K_JOBS, id) == 1 then
    created = 0
  elseif remembered_id(id, clock()) then
    created = 0
  else
    added[id] = true
  end
  if created == 1 then
    if delay > 0 then
      flush_run() -- events stay in job order
      local header, body = read_record(record)
      if not header then return redis.error_reply('ERR docket enqueue: ' .. body) end
      local run_at = clock() + delay
      header[H_RUN_AT] = run_at
      write_record(id, header, body)
      schedule_delayed(id, run_at)
      emit('enqueued', id, 'd', run_at)
    else
      records[#records + 1] = record
      ready[#ready + 1] = id
      priorities[#priorities + 1] = priority
      if generated_id and run_count > 0 and run_first + run_count == next_id then
        run_count = run_count + 1
      else
        flush_run()
        if generated_id then
          run_first, run_count = next_id, 1
        else
          emit_run('enqueued', id, nil)
        end
      end
    end
  end
  if created == 1 then out[i] = '1' else out[i] = '0'; all_created = false end
end
flush_run()

-- Ready jobs go to an idle consumer at once where push delivery can take them, else into the
-- waiting structure, with a wake-up for an idle consumer.
if #ready > 0 and not push_to_idle(ready, records, clock) then
  local pairs = {}
  for k = 1, #ready do
    pairs[2 * k - 1], pairs[2 * k] = ready[k], records[k]
  end
  call_chunked('HSET', K_JOBS, pairs, 2)
  strategy_push_many(ready, priorities)
  wake()
end
flush_events()
local created = all_created and string.rep('1', n) or table.concat(out)
local entry = ''
if call_nonce then
  entry = call_nonce .. ':' .. first_generated .. ':' .. (all_created and '' or created)
  redis.call('ZADD', K_CALLS, call_ms, entry)
  redis.call('ZREMRANGEBYSCORE', K_CALLS, '-inf', tonumber(call_ms) - CALL_WINDOW_MS)
end
-- Confirmations last: the call's first write must be one Redis refuses at maxmemory (a
-- script that wrote anything may go on writing past it), so a full Redis refuses enqueues.
zrem_listed(K_CALLS, ARGV[4])
return { first_generated, created, entry }
