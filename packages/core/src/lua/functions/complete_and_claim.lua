--[[
jobgate_complete_and_claim: jobgate_complete, then jobgate_claim, in one atomic call.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, job_id, worker_id, result JSON, worker JSON, lease_ms, reap_limit.
Returns: nil | {state JSON, payload JSON} of the next job. Errors: as jobgate_complete (then
nothing is claimed); JG_INVALID for a lease_ms that is not a finite number > 0 or a malformed
worker JSON, as jobgate_claim (nothing done).
Events: job.completed, job.claimed.
]]
redis.register_function('jobgate_complete_and_claim', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  -- A bad lease or worker is refused before the completion: the claim would refuse it after.
  local lease_ms = tonum(args[7])
  local ctx, bad = claim_context(args[6], lease_ms)
  if not ctx then return bad end
  local st, failure = complete(keys, now, maxlen, args[3], args[4], args[5])
  if not st then return failure end
  local reply
  reply, failure = claim(keys, now, maxlen, args[6], lease_ms, tonum(args[8]) or 0)
  if failure then return failure end
  return reply
end)
