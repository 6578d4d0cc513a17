--[[
jobgate_cancel: cancels a pending (also waiting to retry, or unrunnable) or active job; a finished
job is answered unchanged.
KEYS: the NKEYS namespace keys.
ARGV: now, events MAXLEN, job_id.
Returns: {1|0 cancelled, state JSON}. Errors: JG_NOT_FOUND.
Events: job.cancelled when cancelled.
]]
redis.register_function('jobgate_cancel', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local id = args[3]
  local st, stored = load_job(keys, id)
  if not st then return redis.error_reply('JG_NOT_FOUND ' .. id) end
  local previous = st.status
  if previous ~= 'pending' and previous ~= 'active' then
    return { 0, stored }
  end
  if previous == 'active' then
    rcall('ZREM', keys[K_ACTIVE], id)
  elseif st.run_at then
    rcall('ZREM', keys[K_DELAYED], id)
  elseif st.unrunnable_reason then
    rcall('ZREM', keys[K_UNRUNNABLE], id)
  else
    unindex_pending(keys, st)
  end
  local worker_id = st.worker_id
  finish(keys, st, 'cancelled', now)
  st.progress = nil
  local raw = save_job(keys, st)
  emit(keys, maxlen, 'job.cancelled', st, now, { previous_status = previous, worker_id = worker_id })
  return { 1, raw }
end)
