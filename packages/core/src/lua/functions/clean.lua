--[[
jobgate_clean: deletes finished jobs of one status that finished before a time (job, payload,
result and index entries), looking at up to scan_limit of the oldest-submitted ones.
KEYS: the NKEYS namespace keys.
ARGV: now (unused), events MAXLEN (unused), status, finished_before_ms, scan_limit.
Returns: {removed, scanned}.
Events: none.
]]
redis.register_function('jobgate_clean', function(keys, args)
  local _, _, err = common(keys, args)
  if err then return err end
  local status, before, limit = args[3], tonum(args[4]), tonum(args[5])
  if status ~= 'completed' and status ~= 'failed' and status ~= 'cancelled' then
    return invalid('status must be completed, failed or cancelled')
  end
  if not before or not limit or limit < 1 then return invalid('finished_before and limit must be numbers') end
  local members = rcall('ZRANGE', keys[K_BY_STATUS], '[' .. status .. SEP, '(' .. status .. SEP_NEXT,
    'BYLEX', 'LIMIT', 0, limit)
  local removed = 0
  for _, member in ipairs(members) do
    local id = ssub(member, #status + 19)
    local st = load_job(keys, id)
    if not st then
      rcall('ZREM', keys[K_BY_STATUS], member)
    elseif st.finished_at and st.finished_at < before then
      rcall('ZREM', keys[K_BY_STATUS], member)
      rcall('HDEL', keys[K_JOBS], id)
      rcall('HDEL', keys[K_PAYLOADS], id)
      rcall('HDEL', keys[K_RESULTS], id)
      rcall('ZREM', keys[K_ALL], id)
      if st.customer_id then rcall('ZREM', keys[K_BY_CUSTOMER], st.customer_id .. SEP .. st.seq .. SEP .. id) end
      if st.workflow_id then rcall('ZREM', keys[K_BY_WORKFLOW], st.workflow_id .. SEP .. st.seq .. SEP .. id) end
      removed = removed + 1
    end
  end
  return { removed, #members }
end)
