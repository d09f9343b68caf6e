-- docket producer: enqueue one or more jobs of one queue, atomically.
-- KEYS: the queue keys (see record.lua).
-- ARGV[1] = N, the number of jobs; ARGV[2] = the jobs, packed one after another, each a 2-byte
-- spec length, the spec, a 4-byte record length and the record bytes (big-endian lengths):
--   spec: '' for a job with a generated id, ready now, priority 0 (the common case), else
--         '<delay ms>:<priority>:<id>' (id '' to generate one).
-- Returns { G, created }: G is the number before the first generated id (the jobs without an
-- id get G + 1, G + 2, ... in order), created a string of one character per job: '1' a new
-- job, '0' a job with this id exists (or finished less than its `dedupeFor` ago). Two values
-- instead of two per job: the client knows every id it gave.
-- Guarantees: a job id exists at most once (ids given by callers are idempotency keys while
-- the job exists, and `dedupeFor` ms after it finished); ready jobs are pushed through the
-- queue's strategy in the order given and one idle consumer is woken (or, into an empty queue,
-- leased at once to an idle consumer with the slots, see push_to_idle); a delayed job gets its
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

-- Parse the specs once; count the ids to generate so they are reserved in one call.
local specs, records_in = {}, {}
local generated = 0
local blob, pos = ARGV[2], 1
for i = 1, n do
  -- A plain job (empty spec, the common case) reads both lengths in one unpack.
  local len, rec_len, after = struct.unpack('>I2I4', blob, pos)
  local spec = ''
  if len > 0 then
    spec = string.sub(blob, pos + 2, pos + 1 + len)
    rec_len, after = struct.unpack('>I4', blob, pos + 2 + len)
  end
  records_in[i] = string.sub(blob, after, after + rec_len - 1)
  pos = after + rec_len
  if len == 0 then
    generated = generated + 1
  else
    local delay, priority, id = string.match(spec, '^(%d+):(%-?%d+):(.*)$')
    if not delay then return redis.error_reply('ERR docket enqueue: malformed job spec ' .. spec) end
    specs[i] = { id, tonumber(delay), tonumber(priority) }
    if id == '' then generated = generated + 1 end
  end
end
local next_id = 0
if generated > 0 then next_id = redis.call('HINCRBY', K_META, 'ids', generated) - generated end
local first_generated = next_id

local out = {}
local all_created = true
local records, ready, priorities = {}, {}, {}
local added = {} -- caller-given ids created by this call (a batch may repeat one)
local dedupe_trimmed = false
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
  else
    if not dedupe_trimmed then
      redis.call('ZREMRANGEBYSCORE', K_DEDUPE, '-inf', clock())
      dedupe_trimmed = true
    end
    if redis.call('ZSCORE', K_DEDUPE, id) then created = 0 else added[id] = true end
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
      records[#records + 1] = id
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

-- Push delivery (see step.lua): the ready jobs of this call, when they go into an empty,
-- unpaused queue and a consumer registered as idle has a slot for each, are leased to that
-- consumer here and pushed to its inbox, where it is blocked waiting: each starts one round
-- trip sooner than through a wake-up and a lease step. (All of them or none, and several only
-- into a fifo queue, so the strategy's order holds.) The freshest registration is tried, and only
-- while its inbox is empty: a consumer that stopped without unregistering (killed) holds the
-- jobs of at most one call until its registration runs out and a housekeeping step hands
-- them back uncounted.
local function push_to_idle()
  local top = redis.call('ZRANGE', K_IDLE, -1, -1, 'WITHSCORES')
  local consumer = top[1]
  if not consumer or tonumber(top[2]) < clock() then return false end
  local slots, lease_ms = string.match(redis.call('HGET', K_IDLE_SLOTS, consumer) or '', '^(%d+):(%d+)$')
  if not slots or tonumber(slots) < #ready then return false end
  local inbox = inbox_key(consumer)
  if strategy_count() > 0 or redis.call('LLEN', inbox) > 0 then return false end
  local meta = redis.call('HMGET', K_META, 'paused', 'strategy')
  -- Several jobs start in the order given: right for fifo only (another strategy's order among
  -- them, e.g. random's, is its pop's to decide).
  if meta[1] == '1' or (#ready > 1 and meta[2] ~= 'fifo') then return false end
  -- Only records that read as waiting: anything else takes the common path, where a step
  -- buries what it cannot lease.
  local hot = {}
  for k = 1, #ready do
    local state, flags, attempt, _, _, finished = rec_hot(records[2 * k])
    if state ~= S_WAITING then return false end
    hot[k] = { flags, attempt, finished }
  end
  local last_token = redis.call('HINCRBY', K_META, 'tokens', #ready)
  local deadline = now + tonumber(lease_ms)
  local deadlines, entries = {}, {}
  for k = 1, #ready do
    local id = ready[k]
    local flags, attempt, finished = hot[k][1], hot[k][2], hot[k][3]
    local token = last_token - #ready + k
    local rec = rec_patch(records[2 * k], S_ACTIVE, flags, attempt + 1, token, now, finished)
    records[2 * k] = rec
    deadlines[2 * k - 1], deadlines[2 * k] = deadline, id
    entries[k] = lease_entry(token, id, rec)
    emit_run('active', id, attempt + 1)
  end
  call_chunked('HSET', K_JOBS, records, 2)
  call_chunked('ZADD', K_ACTIVE, deadlines, 2)
  redis.call('HSET', K_IDLE_SLOTS, consumer, (tonumber(slots) - #ready) .. ':' .. lease_ms)
  -- One element for the whole call: the consumer's pop takes them all at once. The pushed list
  -- keeps a copy until the consumer's next step, which hands back a pop lost on its way.
  local element = table.concat(entries)
  redis.call('RPUSH', inbox, element)
  redis.call('RPUSH', pushed_key(consumer), element)
  return true
end

if #ready > 0 and not push_to_idle() then
  call_chunked('HSET', K_JOBS, records, 2)
  strategy_push_many(ready, priorities)
  wake()
end
flush_events()
return { first_generated, all_created and string.rep('1', n) or table.concat(out) }
