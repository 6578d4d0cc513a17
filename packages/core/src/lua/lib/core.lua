-- Shared constants, argument checks and error replies.

local SEP = '\0'
local SEP_NEXT = '\1'
-- PK = P (17 digits: 10^16 - priority) .. SEQ (16 digits): see the library header.
local PKLEN = 33
local WAKE_CAP = 64

-- Numbers given to redis.call are made text by Redis (%.17g) on every call, which costs about as
-- much as a short command's own work: what goes out on every job is given as text. `now_text`
-- and `maxlen_text` are ARGV[1] and ARGV[2] of the running call when they are plain integers
-- (set by `common`; else the numbers, made text as before). `now_num` is ARGV[1] as a number.
local now_text, now_num, maxlen_text
local ATTEMPT_TEXT = {}
for i = 0, 100 do ATTEMPT_TEXT[i] = '' .. i end

-- The globals every job reads, bound once as upvalues: in a function library each global read is
-- a lookup in the globals table (redis.call two: `redis`, then `call`), and a job runs about 15
-- commands and a dozen string and JSON calls. They exist only at run time (FUNCTION LOAD sees a
-- restricted API), so `common` binds them on the first call in this Lua state.
local rcall, json_encode, json_decode, ssub, sfind, sbyte, sformat, tonum
local function bind_globals()
  rcall = redis.call
  json_encode, json_decode = cjson.encode, cjson.decode
  ssub, sfind, sbyte, sformat = string.sub, string.find, string.byte, string.format
  tonum = tonumber
end

local function invalid(message)
  return redis.error_reply('JG_INVALID ' .. message)
end

-- `extra`: jobgate_submit also takes the wake-up lists of its jobs' services after the NKEYS.
local function check_keys(keys, extra)
  if #keys ~= NKEYS and not (extra and #keys > NKEYS) then
    local hint = ''
    if #keys == 20 then hint = ' (a client older than library version 13: upgrade @jobgate/core)' end
    return invalid('expected ' .. NKEYS .. ' keys, got ' .. #keys .. hint)
  end
  return nil
end

-- A number cjson can write and a score Redis takes: not NaN (the only value unequal to itself),
-- not infinite. tonumber accepts 'inf', 'nan' and 'Infinity', and makes '1e999' infinite.
local INF = 1 / 0
local function finite(x)
  return type(x) == 'number' and x == x and x ~= INF and x ~= -INF
end

local function valid_name(s)
  return type(s) == 'string' and #s > 0 and #s <= 256 and not sfind(s, '[%z\1-\31]')
end
