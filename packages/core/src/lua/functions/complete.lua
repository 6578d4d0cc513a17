--[[
jobgate_complete: the holder finishes the job with its result.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, job_id, worker_id, result JSON.
Returns: state JSON. Errors: JG_NOT_FOUND, JG_NOT_HELD.
Events: job.completed.
]]
redis.register_function('jobgate_complete', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local st, failure, raw = complete(keys, now, maxlen, args[3], args[4], args[5])
  if not st then return failure end
  return raw
end)
