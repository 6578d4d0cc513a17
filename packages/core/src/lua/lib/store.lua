-- Job state (one JSON per job in {ns}:jobs), the event stream and wake-up tokens.

local function load_job(keys, id)
  local raw = redis.call('HGET', keys[K_JOBS], id)
  if not raw then return nil end
  return cjson.decode(raw)
end

-- Returns the stored JSON, so a call that answers with the job does not encode it twice.
local function save_job(keys, st)
  local raw = cjson.encode(st)
  redis.call('HSET', keys[K_JOBS], st.id, raw)
  return raw
end

local function emit(keys, maxlen, kind, st, now, data)
  redis.call('XADD', keys[K_EVENTS], 'MAXLEN', '~', maxlen, '*',
    'type', kind,
    'job_id', st.id,
    'workflow_id', st.workflow_id or '',
    'customer_id', st.customer_id or '',
    'attempt', st.attempts or 0,
    'timestamp', now,
    'data', cjson.encode(data or {}))
end

-- One token per new claimable job, up to WAKE_CAP waiting tokens, so a list nobody waits on
-- does not grow without bound.
local function wake_list(key, n)
  local room = WAKE_CAP - redis.call('LLEN', key)
  if n > room then n = room end
  if n <= 0 then return end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  redis.call('LPUSH', key, unpack(tokens))
end

-- Requeues, released jobs and promoted retries wake any waiting worker ({ns}:wake); submits wake
-- the workers of the job's service ({ns}:wake:<service>, see jobgate_submit).
local function wake(keys, n)
  wake_list(keys[K_WAKE], n)
end

