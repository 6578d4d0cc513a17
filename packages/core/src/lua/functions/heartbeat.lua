--[[
jobgate_heartbeat: the holder extends its lease.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN (unused), job_id, worker_id, lease_ms.
Returns: the new lease expiry (ms). Errors: JG_NOT_FOUND, JG_NOT_HELD, JG_INVALID.
Events: none.
]]
redis.register_function('jobgate_heartbeat', function(keys, args)
  local now, _, err = common(keys, args)
  if err then return err end
  local expiry, failure = heartbeat_job(keys, now, args[3], args[4], tonum(args[5]))
  if not expiry then return failure end
  return expiry
end)
