-- docket wire format `lease entries`, the Lua twin of lease-entries.ts (after `keys`).
-- A leased job as a consumer receives it, in a step's reply or in an inbox element (push
-- delivery): token (6 bytes), id length (2), record length (4), big-endian; then the id and
-- the record. Entries are packed one after another, nothing between them.
-- KEYS/ARGV: none (a fragment). Returns: nothing.
-- Guarantees: for_lease_entries reads back exactly what lease_entry (or lease_entry_head with
-- the id and record after it) wrote, in order.
local LEASE_ENTRY_HEAD = '>I6I2I4'

-- The first part of an entry (the id and the record follow it): callers that collect entries
-- in a table append these three parts instead of concatenating a copy of the record.
local function lease_entry_head(token, id, rec)
  return struct.pack(LEASE_ENTRY_HEAD, token, #id, #rec)
end

local function lease_entry(token, id, rec)
  return lease_entry_head(token, id, rec) .. id .. rec
end

-- Calls fn(id, token, entry) for each entry in `elements` (strings of entries), in order.
local function for_lease_entries(elements, fn)
  for i = 1, elements and #elements or 0 do
    local element, pos = elements[i], 1
    while pos + 12 <= #element do
      local token, id_len, rec_len, at = struct.unpack(LEASE_ENTRY_HEAD, element, pos)
      local after = at + id_len + rec_len
      fn(string.sub(element, at, at + id_len - 1), token, string.sub(element, pos, after - 1))
      pos = after
    end
  end
end
