-- Job state (one JSON per job in {ns}:jobs), the event stream and wake-up tokens.

-- How a state is stored (since version 19). Its fields are of two kinds: the cold ones, set by the
-- submit and never changed after (id, service, sig, priority, seq, pk, requirements, customer,
-- workflow, step, max_attempts, created_at, and any field this library does not know), and the
-- hot ones a transition sets (HOT_ORDER below, `attempts` first). The JSON is the cold fields as
-- cjson wrote them once, at the submit, without the closing brace, then HOT_MARK and the hot fields
-- written here in a fixed order:
--   {"id":"...","pk":"...",...,"created_at":1796331320889,\t"attempts":1,"status":"active",...}
-- (HOT_MARK is the comma and tab before "attempts"). So a transition neither re-encodes the cold
-- part (cjson writes every number with printf's `%.14g`, about 3,000 instructions for a 13-digit
-- time, and a state has five or six) nor builds more than one string: the hot numbers are the
-- call's own `now` text, a table entry or `'%d'`. Readers parse the JSON, so the order and the
-- tab change nothing for them. The tab is what says a stored JSON has this form: cjson and
-- JSON.stringify never write whitespace, and inside a JSON string a quote is always escaped, so
-- `,\t"attempts":` occurs in a stored JSON only where this code put it. A state without it
-- (written by version 18 or older, or behind the library) is decoded as before, and its cold part
-- encoded once by cjson at its next write: no migration pass, each job moves to the new form at
-- its next transition.
--
-- A decoded state carries its cold JSON under the key COLD (a table, so never a JSON field), and
-- every transition changes only hot fields: a change to any other field must drop st[COLD].
local HOT_MARK = ',\t"attempts":'
local COLD = {}
local HOT_ORDER = { 'status', 'worker_id', 'claimed_at', 'lease_expires_at', 'finished_at', 'run_at',
  'progress', 'last_failure', 'unrunnable_reason' }
local HOT = { attempts = true }
-- (FUNCTION LOAD runs this with a restricted API: no ipairs here.)
for i = 1, #HOT_ORDER do HOT[HOT_ORDER[i]] = true end
local STATUSES = { 'pending', 'active', 'completed', 'failed', 'cancelled' }
local STATUS_JSON = {}
for i = 1, #STATUSES do STATUS_JSON[STATUSES[i]] = '"' .. STATUSES[i] .. '"' end

-- The text of an integer of at most 15 digits ('%d': exact, and no printf float path), else nil.
-- The last one is kept: the claims of a call share their lease expiry.
local int_n, int_s
local function int_text(n)
  if n == int_n then return int_s end
  if n % 1 == 0 and n > -1e15 and n < 1e15 then
    int_n, int_s = n, sformat('%d', n)
    return int_s
  end
  return nil
end

-- JSON of a hot value: numbers as above (cjson for any other number), worker ids from a cache,
-- tables (progress, last_failure) and other strings through cjson, as before.
local str_json_cache, str_json_count = {}, 0
local STR_JSON_MAX = 1000

local function value_json(v)
  local t = type(v)
  if t == 'number' then
    if v == now_num and now_text then return now_text end
    return int_text(v) or json_encode(v)
  elseif t == 'string' then
    local j = str_json_cache[v]
    if j then return j end
    j = json_encode(v)
    if #v <= 256 then
      if str_json_count >= STR_JSON_MAX then str_json_cache, str_json_count = {}, 0 end
      str_json_cache[v] = j
      str_json_count = str_json_count + 1
    end
    return j
  end
  return json_encode(v)
end

-- The cold part of a state read in another form: cjson of its cold fields, without the closing
-- brace (nil when it has none).
local function cold_json(st)
  local cold = {}
  for key, v in pairs(st) do
    if type(key) == 'string' and not HOT[key] then cold[key] = v end
  end
  local j = json_encode(cold)
  if #j <= 2 then return nil end
  return ssub(j, 1, -2)
end

-- The stored JSON of `st` (see above): one concatenation, so one string is made (table.concat
-- costs several times more here, and so does a string built piece by piece).
local function state_json(st)
  local attempts = st.attempts
  local cold = st[COLD]
  if not cold then
    cold = cold_json(st)
    st[COLD] = cold
  end
  if type(attempts) ~= 'number' or not cold then
    -- Not this form's shape (no attempts count): all of it through cjson, as before.
    st[COLD] = nil
    local raw = json_encode(st)
    st[COLD] = cold
    return raw
  end
  local status, worker, claimed, lease = st.status, st.worker_id, st.claimed_at, st.lease_expires_at
  local finished, run_at, progress, failure, reason = st.finished_at, st.run_at, st.progress,
    st.last_failure, st.unrunnable_reason
  return cold .. HOT_MARK .. (ATTEMPT_TEXT[attempts] or value_json(attempts))
    .. (status ~= nil and ',"status":' or '') .. (status ~= nil and (STATUS_JSON[status] or json_encode(status)) or '')
    .. (worker ~= nil and ',"worker_id":' or '') .. (worker ~= nil and value_json(worker) or '')
    .. (claimed ~= nil and ',"claimed_at":' or '') .. (claimed ~= nil and value_json(claimed) or '')
    .. (lease ~= nil and ',"lease_expires_at":' or '') .. (lease ~= nil and value_json(lease) or '')
    .. (finished ~= nil and ',"finished_at":' or '') .. (finished ~= nil and value_json(finished) or '')
    .. (run_at ~= nil and ',"run_at":' or '') .. (run_at ~= nil and value_json(run_at) or '')
    .. (progress ~= nil and ',"progress":' or '') .. (progress ~= nil and json_encode(progress) or '')
    .. (failure ~= nil and ',"last_failure":' or '') .. (failure ~= nil and json_encode(failure) or '')
    .. (reason ~= nil and ',"unrunnable_reason":' or '') .. (reason ~= nil and json_encode(reason) or '')
    .. '}'
end

-- The two transitions every job makes, written without state_json's checks of every hot field
-- (each Lua operation and call costs here; these cover what the claim and the completion set).
-- The claim keeps the text of its `now` under CLAIMED, for the completion.
local CLAIMED = {}

-- The JSON of a state the claim just changed (attempts, worker, claimed_at = the call's now,
-- lease = `lease_text`'s number), or nil when the state has hot fields this does not write.
local function claimed_state_json(st, lease_text)
  local cold, attempts, worker = st[COLD], ATTEMPT_TEXT[st.attempts], st.worker_id
  if not (cold and attempts and now_text and lease_text and type(worker) == 'string')
    or st.last_failure ~= nil or st.run_at ~= nil or st.finished_at ~= nil
    or st.unrunnable_reason ~= nil then
    return nil
  end
  st[CLAIMED] = now_text
  return cold .. HOT_MARK .. attempts .. ',"status":"active","worker_id":' .. (str_json_cache[worker] or value_json(worker))
    .. ',"claimed_at":' .. now_text .. ',"lease_expires_at":' .. lease_text .. '}'
end

-- The JSON of a state the claim above wrote and the completion then finished (status completed,
-- finished_at = the call's now, no lease), or nil.
local function completed_state_json(st)
  local cold, claimed, attempts, worker = st[COLD], st[CLAIMED], ATTEMPT_TEXT[st.attempts], st.worker_id
  if not (cold and claimed and attempts and now_text and type(worker) == 'string')
    or st.last_failure ~= nil or st.unrunnable_reason ~= nil then
    return nil
  end
  return cold .. HOT_MARK .. attempts .. ',"status":"completed","worker_id":' .. (str_json_cache[worker] or value_json(worker))
    .. ',"claimed_at":' .. claimed .. ',"finished_at":' .. now_text .. '}'
end

-- The state of a stored JSON, with its cold part when it has this form.
local function decode_state(raw)
  local st = json_decode(raw)
  local at = sfind(raw, HOT_MARK, 1, true)
  if at then st[COLD] = ssub(raw, 1, at - 1) end
  return st
end

-- The state and the stored JSON, or nil.
local function load_job(keys, id)
  local raw = rcall('HGET', keys[K_JOBS], id)
  if not raw then return nil end
  return decode_state(raw), raw
end

-- A new job's state, from its cold fields only: their JSON is written here, once.
local function seal_cold(st)
  st[COLD] = ssub(json_encode(st), 1, -2)
  return st
end

-- The hot part of a new runnable job (attempts 0, pending, nothing else).
local PENDING_TAIL = HOT_MARK .. '0,"status":"pending"}'

-- The JSON of a new job's state (seal_cold, then attempts 0 and pending), or nil.
local function submitted_state_json(st)
  if st.attempts ~= 0 or st.status ~= 'pending' or st.unrunnable_reason ~= nil then return nil end
  return st[COLD] .. PENDING_TAIL
end

-- A state the claim read without decoding its JSON (load_pending): the routing fields, the hot
-- ones and the cold JSON, but not the other cold fields (max_attempts, priority, ...). Only the
-- completion and the heartbeat take such a state as it is (they read nothing else); every other
-- transition of a held job decodes the stored JSON (load_kept's `full`).
local PARTIAL = {}
local PENDING_TAIL_LEN = #PENDING_TAIL

-- The text of a string cold field, by its key text `"name":` (nil: no such field; false: not
-- plain, e.g. escaped or not a string, so the caller decodes). In a stored JSON of this form a key
-- text occurs only as a key: inside a JSON string every quote is escaped, and the submit's cold
-- fields are all scalars, so there is no nested object to hold one.
local function cold_string(cold, key_text)
  local _, e = sfind(cold, key_text, 1, true)
  if not e then return nil end
  if sbyte(cold, e + 1) ~= 34 then return false end
  local q = sfind(cold, '"', e + 2, true)
  if not q then return false end
  local v = ssub(cold, e + 2, q - 1)
  if sfind(v, '\\', 1, true) then return false end
  return v
end

-- The state of the pending job `id` for its claim. `head` (PK \0 id), `bucket` (svc \0 sig) and
-- `svc` are what the claim found it by (nil when it found it another way). When the stored JSON is
-- one the submit wrote (this form, its hot part exactly PENDING_TAIL), the claim needs only the
-- routing fields, so they are read from the text instead of decoding it (cjson's decode was about
-- 6 % of a raw-loop job's instructions): seq, customer_id and workflow_id by their keys, the rest
-- from the index entry the claim found (written from the same fields). Any other shape is decoded
-- as before.
local function load_pending(keys, id, head, bucket, svc)
  local raw = rcall('HGET', keys[K_JOBS], id)
  if not raw then return nil end
  local at = #raw - PENDING_TAIL_LEN + 1
  if head and at > 1 and sfind(raw, PENDING_TAIL, at, true) == at then
    local cold = ssub(raw, 1, at - 1)
    local seq = cold_string(cold, '"seq":')
    local customer = cold_string(cold, '"customer_id":')
    local workflow = cold_string(cold, '"workflow_id":')
    if seq and seq == ssub(head, PKLEN - 15, PKLEN) and customer ~= false and workflow ~= false then
      return {
        id = id, service_required = svc, sig = ssub(bucket, #svc + 2), pk = ssub(head, 1, PKLEN),
        seq = seq, customer_id = customer, workflow_id = workflow, attempts = 0, status = 'pending',
        [COLD] = cold, [PARTIAL] = true,
      }
    end
  end
  return decode_state(raw)
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
-- `full`: the caller reads cold fields other than the routing ones (a PARTIAL state is decoded).
local function load_kept(keys, id, full)
  local raw = rcall('HGET', keys[K_JOBS], id)
  if not raw then return nil end
  local kept = kept_raw[id]
  if kept ~= nil then
    local st = kept_st[id]
    kept_raw[id] = nil
    kept_st[id] = nil
    kept_count = kept_count - 1
    if kept == raw and not (full and st[PARTIAL]) then return st end
  end
  return decode_state(raw)
end

-- Returns the stored JSON, so a call that answers with the job does not encode it twice.
-- `raw`: the JSON when the caller wrote it (claimed_state_json, completed_state_json).
local function save_job(keys, st, raw)
  if not raw then
    raw = state_json(st)
    st[CLAIMED] = nil
  end
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

