--[[
jobgate_progress: the holder records progress on the job.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, job_id, worker_id, percent|'', message|''.
Returns: state JSON. Errors: JG_NOT_FOUND, JG_NOT_HELD; JG_INVALID for a percent that is not a
number from 0 to 100 (nothing done).
Events: job.progress.
]]
redis.register_function('jobgate_progress', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  -- cjson cannot write NaN or infinity: the state and the event would fail half way.
  if args[5] ~= '' then
    local percent = tonum(args[5])
    if not finite(percent) or percent < 0 or percent > 100 then
      return invalid('percent must be a number from 0 to 100')
    end
  end
  local st, failure = held(keys, args[3], args[4], now, true)
  if not st then return failure end
  st.progress = { percent = tonum(args[5]), message = args[6] ~= '' and args[6] or nil }
  local raw = save_job(keys, st)
  keep_state(st, raw)
  emit(keys, maxlen, 'job.progress', st, now,
    { worker_id = st.worker_id, percent = st.progress.percent, message = st.progress.message })
  return raw
end)
