--[[
jobgate_fail: the holder reports a failure; a retryable one with attempts left waits out its delay
(retry_after_ms, else equal-jitter exponential backoff) in {ns}:delayed, anything else fails.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, job_id, worker_id, failure JSON, retryable 1|0, retry_after_ms|'',
      backoff_base_ms, backoff_max_ms, jitter sample in [0,1).
Returns: state JSON. Errors: JG_NOT_FOUND, JG_NOT_HELD, JG_INVALID.
Events: job.retry_scheduled or job.failed.
]]
redis.register_function('jobgate_fail', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local raw, failure = fail_job(keys, now, maxlen, args[3], args[4], args[5], args[6] == '1',
    tonum(args[7]), tonum(args[8]), tonum(args[9]), tonum(args[10]))
  if not raw then return failure end
  return raw
end)
