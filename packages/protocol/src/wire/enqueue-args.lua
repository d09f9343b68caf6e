-- docket wire format `enqueue arguments`, the Lua twin of enqueue-args.ts: the jobs of one
-- enqueue call, packed into one argument. Per job: a 2-byte spec length, the spec, a 4-byte
-- record length and the record bytes (big-endian lengths).
--   spec: '' for a job with a generated id, ready now, priority 0 (the common case), else
--         '<delay ms>:<priority>:<id>' (id '' to generate one).
-- KEYS/ARGV: none (a fragment). Returns: nothing.
-- Guarantees: read_enqueue_args returns, for job i (from 1), records[i] as sent and specs[i]
-- = { id, delay, priority } (nil for an empty spec), and how many jobs need a generated id;
-- or nil and a message naming a malformed spec.
local function read_enqueue_args(count, blob)
  local specs, records = {}, {}
  local generated = 0
  local pos = 1
  for i = 1, count do
    -- A plain job (empty spec, the common case) reads both lengths in one unpack.
    local len, rec_len, after = struct.unpack('>I2I4', blob, pos)
    if len > 0 then
      local spec = string.sub(blob, pos + 2, pos + 1 + len)
      rec_len, after = struct.unpack('>I4', blob, pos + 2 + len)
      local delay, priority, id = string.match(spec, '^(%d+):(%-?%d+):(.*)$')
      if not delay then return nil, 'malformed job spec ' .. spec end
      specs[i] = { id, tonumber(delay), tonumber(priority) }
      if id == '' then generated = generated + 1 end
    else
      generated = generated + 1
    end
    records[i] = string.sub(blob, after, after + rec_len - 1)
    pos = after + rec_len
  end
  return specs, records, generated
end
