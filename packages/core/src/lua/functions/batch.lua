--[[
jobgate_batch: many operations of one namespace in one call, run in order, each answered on its
own: what the client coalesces from one event-loop tick (the slots of a worker completing,
claiming and heartbeating at once). One operation's error fails that operation only, exactly as
if it had been its own call; operations before it stay done.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, n, then n operations, each: name, argc, then argc arguments as the
      function of that name takes them after now and MAXLEN:
        claim              worker JSON, lease_ms, reap_limit
        complete           job_id, worker_id, result JSON
        complete_and_claim job_id, worker_id, result JSON, worker JSON, lease_ms, reap_limit
        fail               job_id, worker_id, failure JSON, retryable 1|0, retry_after_ms|'',
                           backoff_base_ms, backoff_max_ms, jitter
        heartbeat          job_id, worker_id, lease_ms
Returns: flat array ok1, reply1, ok2, reply2, ...: ok 1 and the reply the function would give
(nil as nil), or ok 0 and the error message (JG_NOT_HELD ..., JG_NOT_FOUND ..., JG_INVALID ...).
Events: those of each operation.
]]
local function error_text(e)
  if type(e) == 'table' then return e.err or json_encode(e) end
  return tostring(e)
end

-- Each takes the call's ARGV and `b`, the index before its first argument (a[b + 1] ...), so an
-- operation costs no table of its own; one with fewer arguments than it reads (BATCH_ARGC) gets
-- a table of its own arguments, so it reads nil past them, never the next operation's.
local BATCH_ARGC = { claim = 3, complete = 3, complete_and_claim = 6, fail = 8, heartbeat = 3 }
local BATCH_OPS = {
  claim = function(keys, now, maxlen, a, b)
    return claim(keys, now, maxlen, a[b + 1], tonum(a[b + 2]), tonum(a[b + 3]) or 0)
  end,
  complete = function(keys, now, maxlen, a, b)
    local st, failure, raw = complete(keys, now, maxlen, a[b + 1], a[b + 2], a[b + 3])
    if not st then return nil, failure end
    return raw
  end,
  complete_and_claim = function(keys, now, maxlen, a, b)
    local lease_ms = tonum(a[b + 5])
    local ctx, bad = claim_context(a[b + 4], lease_ms)
    if not ctx then return nil, bad end
    local st, failure = complete(keys, now, maxlen, a[b + 1], a[b + 2], a[b + 3])
    if not st then return nil, failure end
    return claim(keys, now, maxlen, a[b + 4], lease_ms, tonum(a[b + 6]) or 0)
  end,
  fail = function(keys, now, maxlen, a, b)
    return fail_job(keys, now, maxlen, a[b + 1], a[b + 2], a[b + 3], a[b + 4] == '1', tonum(a[b + 5]),
      tonum(a[b + 6]), tonum(a[b + 7]), tonum(a[b + 8]))
  end,
  heartbeat = function(keys, now, _, a, b)
    return heartbeat_job(keys, now, a[b + 1], a[b + 2], tonum(a[b + 3]))
  end,
}

redis.register_function('jobgate_batch', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local n = tonum(args[3])
  if not n or n < 1 then return invalid('n must be a positive number') end
  -- Check the whole shape first, so a malformed call runs no operation.
  local ops, argvs, bases = {}, {}, {}
  local i = 4
  for k = 1, n do
    local name, argc = args[i], tonum(args[i + 1])
    if not BATCH_OPS[name] then return invalid('operation ' .. k .. ': unknown name ' .. tostring(name)) end
    if not argc or argc < 0 or i + 1 + argc > #args then return invalid('operation ' .. k .. ': bad argument count') end
    ops[k] = BATCH_OPS[name]
    if name == 'claim' or name == 'complete_and_claim' then memo.claims = memo.claims + 1 end
    if argc >= BATCH_ARGC[name] then
      argvs[k], bases[k] = args, i + 1
    else
      argvs[k], bases[k] = { unpack(args, i + 2, i + 1 + argc) }, 0
    end
    i = i + 2 + argc
  end
  if i ~= #args + 1 then return invalid('arguments left after ' .. n .. ' operations') end
  local out = {}
  -- The slots of a worker claim one bucket's head after another: its head is written once.
  if n > 1 then hold_heads() end
  for k = 1, n do
    local ok, reply, failure = pcall(ops[k], keys, now, maxlen, argvs[k], bases[k])
    if not ok then
      out[2 * k - 1], out[2 * k] = 0, error_text(reply)
    elseif failure then
      out[2 * k - 1], out[2 * k] = 0, error_text(failure)
    else
      -- false becomes a nil reply; a Lua nil would end the array here.
      out[2 * k - 1] = 1
      if reply == nil then out[2 * k] = false else out[2 * k] = reply end
    end
  end
  flush_heads(keys, true)
  return out
end)
