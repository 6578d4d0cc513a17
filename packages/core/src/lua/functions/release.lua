--[[
jobgate_release: a worker shutting down hands the job back. The attempt never ran to an outcome,
so it is not counted (the next claim gets the same attempt number) and a job on its last attempt
is not failed. The job keeps its PK, so it goes back to its place among equals, not to the back.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, job_id, worker_id.
Returns: state JSON, pending again. Errors: JG_NOT_FOUND, JG_NOT_HELD.
Events: job.released (carrying the attempt that was handed back, like job.stalled).
]]
redis.register_function('jobgate_release', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local id, worker_id = args[3], args[4]
  local st, failure = held(keys, id, worker_id, now, true)
  if not st then return failure end
  rcall('ZREM', keys[K_ACTIVE], id)
  st.progress = nil
  requeue(keys, st)
  -- The event carries the attempt that was handed back, like job.stalled does.
  emit(keys, maxlen, 'job.released', st, now, { reason = 'shutdown', worker_id = worker_id })
  st.attempts = st.attempts - 1
  return save_job(keys, st)
end)
