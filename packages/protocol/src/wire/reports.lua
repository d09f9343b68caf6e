-- docket wire format `reports`, the Lua twin of reports.ts: a consumer's reports on finished
-- tries, as one packed argument of the step script (the client encodes one buffer, Lua parses
-- it with struct, in C). Per report: kind (1 byte), token (6 bytes), retry delay ms (6 bytes),
-- then three strings, each a 4-byte length and its bytes: id, error message, result bytes
-- (both empty when there is none). Big-endian.
--   kind: 'c' completed, 'f' failed (retried while attempts remain, unless cancelled),
--         'x' failed for good, 'k' stopped because it was cancelled,
--         'r' released unfinished (back to waiting, the try not counted).
-- KEYS/ARGV: none (a fragment). Returns: nothing.
-- Guarantees: read_reports returns exactly the fields reports.ts packed, in order, indexed
-- from 0.
local function read_reports(count, blob)
  local kinds, ids, tokens, messages, delays, results = {}, {}, {}, {}, {}, {}
  local pos = 1
  for i = 0, count - 1 do
    local kind, token, delay, id_len
    kind, token, delay, id_len, pos = struct.unpack('>c1I6I6I4', blob, pos)
    kinds[i], tokens[i], delays[i] = kind, token, delay
    ids[i] = string.sub(blob, pos, pos + id_len - 1)
    pos = pos + id_len
    local len
    len, pos = struct.unpack('>I4', blob, pos)
    messages[i] = len > 0 and string.sub(blob, pos, pos + len - 1) or ''
    pos = pos + len
    len, pos = struct.unpack('>I4', blob, pos)
    results[i] = len > 0 and string.sub(blob, pos, pos + len - 1) or ''
    pos = pos + len
  end
  return kinds, ids, tokens, messages, delays, results
end
