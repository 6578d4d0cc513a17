-- Shared constants, argument checks and error replies.

local SEP = '\0'
local SEP_NEXT = '\1'
-- PK = P (17 digits: 10^16 - priority) .. SEQ (16 digits): see the library header.
local PKLEN = 33
local WAKE_CAP = 64

-- Numbers given to redis.call are made text by Redis (%.17g) on every call, which costs about as
-- much as a short command's own work: what goes out on every job is given as text. `now_text`
-- and `maxlen_text` are ARGV[1] and ARGV[2] of the running call when they are plain integers
-- (set by `common`; else the numbers, made text as before).
local now_text, maxlen_text
local ATTEMPT_TEXT = {}
for i = 0, 100 do ATTEMPT_TEXT[i] = '' .. i end

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

local function valid_name(s)
  return type(s) == 'string' and #s > 0 and #s <= 256 and not string.find(s, '[%z\1-\31]')
end
