--[[
jobgate_reap: handles expired leases (requeue, or fail on the last attempt) and releases due
retries; claims do this too, a few at a time.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, limit (default 100).
Returns: {expired leases handled, retries promoted}.
Events: job.stalled or job.failed per expired lease; none for a promoted retry (still pending).
]]
redis.register_function('jobgate_reap', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local expired, promoted = reap(keys, now, maxlen, tonum(args[3]) or 100)
  return { expired, promoted }
end)
