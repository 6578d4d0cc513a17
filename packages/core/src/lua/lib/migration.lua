-- Lazy migration of a namespace written by an older library version. The first write call per
-- namespace in a Lua state runs it; every step is idempotent, as nothing writes the old layout.
--  * Versions up to 10 also kept active jobs in {ns}:by-status ({ns}:active lists them now).
--  * Versions up to 12 kept the bucket heads under {ns}:bucket-len (no longer declared): the map
--    is rebuilt here from {ns}:heads, which holds the same facts. The old key, and {ns}:depth of
--    versions up to 10, are left behind unused; createQueue deletes them.
local migrated = {}
local migrated_count = 0
local MIGRATED_MAX = 1000

local function rebuild_bucket_heads(keys)
  if rcall('EXISTS', keys[K_BUCKET_HEADS]) == 1 then return end
  local start = '-'
  while true do
    local batch = rcall('ZRANGE', keys[K_HEADS], start, '+', 'BYLEX', 'LIMIT', 0, 1000)
    if #batch == 0 then return end
    local fields = {}
    for _, member in ipairs(batch) do
      local a = sfind(member, SEP, PKLEN + 2, true)
      fields[#fields + 1] = ssub(member, a + 1)
      fields[#fields + 1] = ssub(member, 1, a - 1)
    end
    rcall('HSET', keys[K_BUCKET_HEADS], unpack(fields))
    start = '(' .. batch[#batch]
  end
end

local function migrate(keys)
  if migrated[keys[K_JOBS]] then return end
  rcall('ZREMRANGEBYLEX', keys[K_BY_STATUS], '[active' .. SEP, '(active' .. SEP_NEXT)
  rebuild_bucket_heads(keys)
  if migrated_count >= MIGRATED_MAX then
    migrated = {}
    migrated_count = 0
  end
  migrated[keys[K_JOBS]] = true
  migrated_count = migrated_count + 1
end

-- ARGV text as Redis would make it of its number (%.17g of an integer of at most 15 digits), else
-- nil.
local function plain_integer(s)
  if #s <= 15 and sfind(s, '^[1-9]%d*$') then return s end
  return nil
end
-- ARGV[2] (events MAXLEN) of the last call and its text: a client sends the same on every call.
local maxlen_arg, maxlen_arg_text

-- The checks every function but jobgate_version starts with: the key list, the lazy migration and
-- ARGV[1] now, ARGV[2] events MAXLEN.
local function common(keys, args, extra_keys)
  if not rcall then bind_globals() end
  local err = check_keys(keys, extra_keys)
  if err then return nil, nil, err end
  local now = tonum(args[1])
  local maxlen = tonum(args[2])
  -- Checked before anything is written: a non-finite time or a MAXLEN XADD refuses would fail
  -- the call half way, after some of its writes.
  if not finite(now) or not finite(maxlen) or maxlen < 0 or maxlen % 1 ~= 0 then
    return nil, nil, invalid('ARGV[1] now must be a finite number and ARGV[2] maxlen an integer >= 0')
  end
  migrate(keys)
  reset_memo()
  now_text = plain_integer(args[1])
  now_num = now
  if args[2] ~= maxlen_arg then maxlen_arg, maxlen_arg_text = args[2], plain_integer(args[2]) end
  maxlen_text = maxlen_arg_text
  return now, maxlen, nil
end
