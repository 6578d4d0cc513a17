-- Job state (one JSON per job in {ns}:jobs), the event stream and wake-up tokens.

local function load_job(keys, id)
  local raw = rcall('HGET', keys[K_JOBS], id)
  if not raw then return nil end
  return json_decode(raw)
end

-- The states of active jobs as the claim, heartbeat or progress that wrote them left them, decoded,
-- kept between calls in this Lua state, so the job's next transition (mostly its completion) does
-- not decode the JSON again. A kept state is used only when the stored JSON is exactly the string
-- it was written as (Lua interns strings: the HGET's reply is the same string or it is not), so
-- a state written by anything else is decoded afresh. Taking an entry removes it: the caller
-- changes the table and keeps it again, or not. Bounded by KEPT_MAX (any entry may go: it is only
-- ever a saving).
local kept_raw, kept_st = {}, {}
local kept_count = 0
local KEPT_MAX = 4096

local function keep_state(st, raw)
  local id = st.id
  if kept_raw[id] == nil then
    if kept_count >= KEPT_MAX then
      kept_raw, kept_st, kept_count = {}, {}, 0
    end
    kept_count = kept_count + 1
  end
  kept_raw[id] = raw
  kept_st[id] = st
end

-- load_job for a transition of a held job: the kept state when the stored JSON is still the one
-- it was kept with.
local function load_kept(keys, id)
  local raw = rcall('HGET', keys[K_JOBS], id)
  if not raw then return nil end
  local kept = kept_raw[id]
  if kept ~= nil then
    local st = kept_st[id]
    kept_raw[id] = nil
    kept_st[id] = nil
    kept_count = kept_count - 1
    if kept == raw then return st end
  end
  return json_decode(raw)
end

-- Returns the stored JSON, so a call that answers with the job does not encode it twice.
local function save_job(keys, st)
  local raw = json_encode(st)
  rcall('HSET', keys[K_JOBS], st.id, raw)
  return raw
end

-- `data_json`: the event's data, already JSON.
local function emit_json(keys, maxlen, kind, st, now, data_json)
  local attempt = st.attempts or 0
  -- `maxlen` and `now` are the call's own (every caller passes what `common` returned).
  rcall('XADD', keys[K_EVENTS], 'MAXLEN', '~', maxlen_text or maxlen, '*',
    'type', kind,
    'job_id', st.id,
    'workflow_id', st.workflow_id or '',
    'customer_id', st.customer_id or '',
    'attempt', ATTEMPT_TEXT[attempt] or attempt,
    'timestamp', now_text or now,
    'data', data_json)
end

local function emit(keys, maxlen, kind, st, now, data)
  emit_json(keys, maxlen, kind, st, now, json_encode(data or {}))
end

-- One token per new claimable job, up to WAKE_CAP waiting tokens, so a list nobody waits on
-- does not grow without bound.
local function wake_list(key, n)
  local room = WAKE_CAP - rcall('LLEN', key)
  if n > room then n = room end
  if n <= 0 then return end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  rcall('LPUSH', key, unpack(tokens))
end

-- Requeues, released jobs and promoted retries wake any waiting worker ({ns}:wake); submits wake
-- the workers of the job's service ({ns}:wake:<service>, see jobgate_submit).
local function wake(keys, n)
  wake_list(keys[K_WAKE], n)
end

