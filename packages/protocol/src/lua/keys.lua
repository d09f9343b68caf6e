-- docket protocol, fragment `keys`: the names every queue script starts with (see script.ts,
-- queueScript). It defines no behaviour, only the vocabulary the other fragments share.
-- KEYS (protocol QUEUE_KEY_ORDER; every key carries the queue's {hash tag}):
--   1 meta  2 jobs  3 waiting  4 active  5 delayed  6 completed  7 dead  8 wake
--   9 cancelled  10 results  11 progress  12 events  13 dedupe  14 idle  15 idle-slots  16 handed
--   17 calls
-- and, not declared (computed from the wake key, under the same hash tag, push-delivery.lua):
-- each registered consumer's inbox and pushed lists, `inbox:<consumer id>` and `pushed:<consumer id>`.
-- ARGV: none (the script that includes it owns ARGV).
-- Returns: nothing (a fragment).
-- Guarantees: the state codes equal protocol's STATE_CODES, the header positions record.ts's
-- header array (from 1).
local K_META, K_JOBS, K_WAITING, K_ACTIVE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_DELAYED, K_COMPLETED, K_DEAD, K_WAKE = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local K_CANCELLED, K_RESULTS, K_PROGRESS, K_EVENTS, K_DEDUPE = KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local K_IDLE, K_IDLE_SLOTS, K_HANDED, K_CALLS = KEYS[14], KEYS[15], KEYS[16], KEYS[17]
-- Names under the queue's hash tag that are not in KEYS: per-consumer lists (push-delivery.lua)
-- and the pub/sub channel that tells consumers of many queues this one may have work.
local QUEUE_BASE = string.sub(K_WAKE, 1, -5) -- K_WAKE ends in 'wake'
local READY_CHANNEL = QUEUE_BASE .. 'ready'

local S_WAITING, S_DELAYED, S_ACTIVE, S_COMPLETED, S_FAILED, S_DEAD, S_CANCELLED = 0, 1, 2, 3, 4, 5, 6

local H_STATE, H_ATTEMPT, H_MAX_ATTEMPTS, H_TOKEN = 1, 2, 3, 4
local H_CREATED, H_STARTED, H_FINISHED, H_RUN_AT = 5, 6, 7, 8
local H_BACKOFF_TYPE = 10
local H_PRIORITY, H_ERROR, H_CANCEL, H_DEDUPE_FOR = 14, 15, 16, 17
local HEADER_FIELDS = 17
-- Not in the msgpack part: from the fixed block's flags (record.lua).
local H_UNRECEIVED = 18

-- The active set's anchor (see step.lua's housekeeping): longer than any job id (ids have at
-- most 256 characters), deadline +inf; it keeps the set in Redis's skiplist encoding.
local ACTIVE_ANCHOR = '~docket: the active set anchor~' .. string.rep('~', 269) -- 300 characters

-- Runs `command key ...args` in chunks of at most 1000 arguments, because Lua's unpack()
-- has a small limit. `args` must hold whole groups (pairs stay together when `group` is 2).
local function call_chunked(command, key, args, group)
  local step = 1000 - (1000 % group)
  for i = 1, #args, step do
    redis.call(command, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end

-- Removes from the sorted set `key` the members listed in `spaced` (separated by spaces).
local function zrem_listed(key, spaced)
  if not spaced or spaced == '' then return end
  local members = {}
  for member in string.gmatch(spaced, '%S+') do members[#members + 1] = member end
  call_chunked('ZREM', key, members, 1)
end

-- Server time in ms: every deadline and due time uses the Redis clock, not the clients'.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
