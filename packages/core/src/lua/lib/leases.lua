-- The holder's side of a job: claim, and the calls that need the lease (complete, fail, heartbeat).

-- The data of job.claimed and job.completed events by the values they hold, encoded once: the
-- slots of a worker claim in one call (one worker, one lease expiry) and complete together (one
-- duration), so most events of a call reuse the JSON the first one encoded. Same values, same
-- JSON: cjson.encode of a table built the same way.
local claimed_by, claimed_lease, claimed_json
local completed_by, completed_ms, completed_json

-- A string worker id and a number are written as the state's hot fields are (lib/store.lua), without
-- cjson's printf; anything else through cjson, as before.
-- `lease_text`: the lease's text when the caller has it.
local function claimed_data(worker_id, lease, lease_text)
  if worker_id ~= claimed_by or lease ~= claimed_lease or not claimed_json then
    claimed_by, claimed_lease = worker_id, lease
    if type(worker_id) == 'string' and type(lease) == 'number' then
      claimed_json = '{"worker_id":' .. value_json(worker_id) .. ',"lease_expires_at":'
        .. (lease_text or value_json(lease)) .. '}'
    else
      claimed_json = json_encode({ worker_id = worker_id, lease_expires_at = lease })
    end
  end
  return claimed_json
end

local function completed_data(worker_id, duration)
  if worker_id ~= completed_by or duration ~= completed_ms or not completed_json then
    completed_by, completed_ms = worker_id, duration
    if type(worker_id) == 'string' and type(duration) == 'number' then
      completed_json = '{"worker_id":' .. value_json(worker_id) .. ',"duration_ms":' .. value_json(duration) .. '}'
    else
      completed_json = json_encode({ worker_id = worker_id, duration_ms = duration })
    end
  end
  return completed_json
end

-- The error reply for a lease that is not a finite number > 0 (nil, text, NaN, infinity: the
-- claim would fail on `now + lease_ms`, or cjson on the expiry, after its first writes), else nil.
local function lease_problem(lease_ms)
  if not finite(lease_ms) or lease_ms <= 0 then return invalid('lease_ms must be a finite number > 0') end
  return nil
end

-- The prepared worker of a claim, or nil and the error reply of a bad lease or a malformed worker:
-- what jobgate_complete_and_claim checks before its completion, and a claim before any write.
local function claim_context(worker_json, lease_ms)
  local bad = lease_problem(lease_ms)
  if bad then return nil, bad end
  return worker_context(worker_json)
end

-- Returns the reply ({state JSON, payload JSON} or nil), or nil and the error reply of a bad lease
-- or worker (checked before anything is written, the reap step included).
local function claim(keys, now, maxlen, worker_json, lease_ms, reap_limit)
  local ctx, bad = claim_context(worker_json, lease_ms)
  if not ctx then return nil, bad end
  if reap_limit > 0 and reap_needed(keys, now) then reap(keys, now, maxlen, reap_limit) end
  local id, head, bucket, svc
  if ctx.workflow_id then
    id = find_in_workflow(ctx, keys)
  else
    id, head, bucket, svc = find_in_buckets(ctx, keys)
  end
  if not id then return nil end
  local st = load_pending(keys, id, head, bucket, svc)
  unindex_pending(keys, st, head, bucket)
  st.attempts = st.attempts + 1
  st.worker_id = ctx.id
  st.claimed_at = now
  st.lease_expires_at = now + lease_ms
  st.progress = nil
  set_status(keys, st, 'active')
  local lease_text = add_due(keys, K_ACTIVE, st.lease_expires_at, id)
  local raw = save_job(keys, st, claimed_state_json(st, lease_text))
  keep_state(st, raw)
  emit_json(keys, maxlen, 'job.claimed', st, now, claimed_data(ctx.id, st.lease_expires_at, lease_text))
  return { raw, rcall('HGET', keys[K_PAYLOADS], id) }
end

-- Returns the job when worker_id holds its lease, else nil and the error reply to return.
-- `full`: see load_kept (the completion and the heartbeat read only the routing and hot fields).
local function held(keys, id, worker_id, now, full)
  local st = load_kept(keys, id, full)
  if not st then return nil, redis.error_reply('JG_NOT_FOUND ' .. id) end
  if st.status ~= 'active' then return nil, redis.error_reply('JG_NOT_HELD status:' .. st.status .. ' ' .. id) end
  if st.worker_id ~= worker_id then return nil, redis.error_reply('JG_NOT_HELD other_worker ' .. id) end
  if st.lease_expires_at <= now then return nil, redis.error_reply('JG_NOT_HELD lease_expired ' .. id) end
  return st
end

local function complete(keys, now, maxlen, id, worker_id, result_json)
  local st, err = held(keys, id, worker_id, now)
  if not st then return nil, err end
  rcall('ZREM', keys[K_ACTIVE], id)
  rcall('HSET', keys[K_RESULTS], id, result_json)
  finish(keys, st, 'completed', now)
  st.progress = nil
  local raw = save_job(keys, st, completed_state_json(st))
  emit_json(keys, maxlen, 'job.completed', st, now, completed_data(worker_id, now - st.claimed_at))
  return st, nil, raw
end


-- `retry_after`: the delay the failure asked for, or nil for the backoff policy (base, cap, r).
local function fail_job(keys, now, maxlen, id, worker_id, failure_json, retryable, retry_after, base, cap, r)
  local st, failure = held(keys, id, worker_id, now, true)
  if not st then return nil, failure end
  local ok, info = pcall(json_decode, failure_json)
  if not ok or type(info) ~= 'table' then return nil, invalid('failure must be a JSON object') end
  -- The delay's numbers, before the first write: NaN or infinity would fail the call after the
  -- ZREM below (the job left active but in no index).
  if retryable then
    if retry_after ~= nil then
      if not finite(retry_after) or retry_after < 0 then return nil, invalid('retry_after_ms must be a finite number >= 0') end
    elseif not finite(base) or base < 0 or not finite(cap) or cap < 0 or not finite(r) or r < 0 then
      return nil, invalid('backoff base, max and jitter must be finite numbers >= 0')
    end
  end
  rcall('ZREM', keys[K_ACTIVE], id)
  st.last_failure = info
  st.progress = nil
  if retryable and st.attempts < st.max_attempts then
    local delay = retry_after
    if not delay then
      local exp = base * math.pow(2, st.attempts - 1)
      if exp > cap then exp = cap end
      -- "Equal jitter": half fixed, half random, so a retry never fires at once.
      delay = math.floor(exp / 2 + r * exp / 2)
    end
    st.worker_id = nil
    st.lease_expires_at = nil
    st.run_at = now + delay
    set_status(keys, st, 'pending')
    add_due(keys, K_DELAYED, st.run_at, id)
    local raw = save_job(keys, st)
    emit(keys, maxlen, 'job.retry_scheduled', st, now,
      { worker_id = worker_id, failure = info, delay_ms = delay, retry_at = st.run_at })
    return raw
  end
  finish(keys, st, 'failed', now)
  local raw = save_job(keys, st)
  emit(keys, maxlen, 'job.failed', st, now,
    { worker_id = worker_id, failure = info, retries_exhausted = retryable })
  return raw
end

local function heartbeat_job(keys, now, id, worker_id, lease_ms)
  local st, failure = held(keys, id, worker_id, now)
  if not st then return nil, failure end
  local bad = lease_problem(lease_ms)
  if bad then return nil, bad end
  st.lease_expires_at = now + lease_ms
  add_due(keys, K_ACTIVE, st.lease_expires_at, st.id)
  keep_state(st, save_job(keys, st))
  return st.lease_expires_at
end
