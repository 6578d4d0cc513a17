--[[
jobgate_claim: the worker takes the best job it can run (priority desc, then submit order), after
reaping up to reap_limit expired leases and due retries.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, worker JSON, lease_ms, reap_limit.
Returns: nil | {state JSON, payload JSON}.
Events: job.claimed (and the reap's job.stalled / job.failed).
]]
redis.register_function('jobgate_claim', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  return claim(keys, now, maxlen, args[3], tonum(args[4]), tonum(args[5]) or 0)
end)
