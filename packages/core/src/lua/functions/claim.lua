--[[
jobgate_claim: the worker takes the best job it can run (priority desc, then submit order), after
reaping up to reap_limit expired leases and due retries.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, worker JSON, lease_ms, reap_limit.
Returns: nil | {state JSON, payload JSON}. Errors: JG_INVALID (a lease_ms that is not a finite
number > 0, or a worker JSON that is not an object with a worker_id and at least one service:
nothing done, not even the reap).
Events: job.claimed (and the reap's job.stalled / job.failed).
]]
redis.register_function('jobgate_claim', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local reply, failure = claim(keys, now, maxlen, args[3], tonum(args[4]), tonum(args[5]) or 0)
  if failure then return failure end
  return reply
end)
