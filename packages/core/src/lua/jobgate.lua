#!lua name=jobgate
--[[
jobgate job queue: one Redis Functions library, loaded with FUNCTION LOAD REPLACE by
src/installer.ts. The installer reads LIBRARY_VERSION below and compares it with what
`jobgate_version` answers on the server: older -> replace, equal -> keep, newer -> refuse.
Bump LIBRARY_VERSION with every change to this file.

KEYS: every function receives the same 20 keys, in this order, all of one namespace and so all
with the hash tag {ns} (one cluster slot); jobgate_submit also receives its services' wake-up
lists after them. No function touches any other key, so every key is declared and the library is
Redis Cluster / Valkey cluster safe. Variable parts (requirement signature, workflow, customer,
job id) live inside members and fields, never in key names; that is what makes a fixed key list
possible (the per-service wake-up lists are known to the caller before the call).
  KEYS[1]  {ns}:jobs         hash   job id -> job state (JSON, without payload and result)
  KEYS[2]  {ns}:payloads     hash   job id -> payload JSON (opaque to Lua)
  KEYS[3]  {ns}:results      hash   job id -> result JSON (opaque to Lua)
  KEYS[4]  {ns}:pending      zset   score 0, lex member svc \0 sig \0 PK \0 id   (runnable-now jobs)
  KEYS[5]  {ns}:buckets      zset   score 0, lex member svc \0 sig   (buckets with pending jobs)
  KEYS[6]  {ns}:bucket-len   hash   \1 svc \0 sig -> the bucket's head H = PK \0 id, present
                                    exactly while the bucket has pending jobs (versions <= 9
                                    also kept svc \0 sig -> count here)
  KEYS[7]  {ns}:specs        hash   sig -> {"r": requirements, "c": customer_id} JSON
  KEYS[8]  {ns}:wf-pending   zset   score 0, lex member wf \0 PK \0 svc \0 sig \0 id
  KEYS[9]  {ns}:active       zset   score lease expiry (ms), member job id: exactly the active jobs
  KEYS[10] {ns}:delayed      zset   score time the retry is due (ms), member job id
  KEYS[11] {ns}:events       stream one entry per transition, trimmed with MAXLEN ~
  KEYS[12] {ns}:seq          string submit sequence (INCR): FIFO tie-break
  KEYS[13] {ns}:wake         list   wake-up tokens for any idle worker (BLPOP), capped at WAKE_CAP:
                                    requeues, released jobs, promoted retries
  KEYS[14] {ns}:depth        unused since version 11 (was: service -> pending count; the pending
                                    count of a service is ZLEXCOUNT {ns}:pending [svc\0 (svc\1)
  KEYS[15] {ns}:unrunnable   zset   score seq, member id: pending jobs with malformed requirements
  KEYS[16] {ns}:all          zset   score seq, member id: every job (listing)
  KEYS[17] {ns}:by-customer  zset   score 0, lex member customer \0 SEQ \0 id
  KEYS[18] {ns}:by-workflow  zset   score 0, lex member workflow \0 SEQ \0 id
  KEYS[19] {ns}:by-status    zset   score 0, lex member status \0 SEQ \0 id, for every status but
                                    active (since version 11: {ns}:active lists those)
  KEYS[20] {ns}:heads        zset   score 0, lex member PK \0 id \0 svc \0 sig: each bucket's head

PK (33 bytes) = P (17 digits: 10^16 - priority, so higher priority sorts first) .. SEQ (16
digits, zero padded). Lexicographic order of PK is exactly (priority desc, submit order asc) for
every safe integer priority: no float ever holds both parts. sig = requirement signature: jobs of
one service with identical requirements and customer share a bucket; a claim evaluates each
bucket's requirements once and looks only at bucket heads ({ns}:heads, in PK order), so its cost
grows with the number of buckets ahead of the first runnable one, never with the number of jobs
the worker cannot run. With many buckets it reads the heads of the worker's services only.

Common ARGV for every function: ARGV[1] now (ms, the client's clock), ARGV[2] events MAXLEN.

Functions and their further ARGV:
  jobgate_version()                              -> LIBRARY_VERSION (no keys, read-only)
  jobgate_submit(n, then n times 11 fields: id, service, sig, priority, P, requirements JSON,
                 customer_id|'', workflow_id|'', step|'', max_attempts, payload JSON)
                 KEYS: the 20, then {ns}:wake:<service> (list, capped at WAKE_CAP) for each
                 service of the batch: the wake-up tokens of that service's idle workers
                                                 -> flat array id1, created1 (1|0), id2, ...
  jobgate_claim(worker JSON, lease_ms, reap_limit) -> nil | {state JSON, payload JSON}
  jobgate_complete(job_id, worker_id, result JSON) -> state JSON
  jobgate_complete_and_claim(job_id, worker_id, result JSON, worker JSON, lease_ms, reap_limit)
                                                 -> nil | {state JSON, payload JSON}
  jobgate_fail(job_id, worker_id, failure JSON, retryable 1|0, retry_after_ms|'', backoff_base_ms,
               backoff_max_ms, jitter sample in [0,1)) -> state JSON
  jobgate_heartbeat(job_id, worker_id, lease_ms) -> new lease expiry
  jobgate_progress(job_id, worker_id, percent|'', message|'') -> state JSON
  jobgate_release(job_id, worker_id)             -> state JSON: the holder hands the job back
                                                    (shutdown); pending again in its original
                                                    place, and the attempt is not counted
  jobgate_cancel(job_id)                         -> {1|0 cancelled, state JSON}
  jobgate_get(job_id)                            -> nil | {state JSON, payload JSON, result JSON|nil}
  jobgate_reap(limit)                            -> {expired leases handled, retries promoted}
  jobgate_clean(status, finished_before_ms, scan_limit)
                                                 -> {removed, scanned}: deletes finished jobs of
                                                    that status (oldest submitted first); no event

Errors are replies starting with a code the client maps to typed errors:
  JG_NOT_FOUND <id>, JG_NOT_HELD <reason> <id> (reason: status:<s> | other_worker |
  lease_expired), JG_INVALID <message>.
]]

local LIBRARY_VERSION = 12

local K_JOBS, K_PAYLOADS, K_RESULTS, K_PENDING, K_BUCKETS, K_BUCKET_LEN, K_SPECS = 1, 2, 3, 4, 5, 6, 7
local K_WF_PENDING, K_ACTIVE, K_DELAYED, K_EVENTS, K_SEQ, K_WAKE, K_DEPTH = 8, 9, 10, 11, 12, 13, 14
local K_UNRUNNABLE, K_ALL, K_BY_CUSTOMER, K_BY_WORKFLOW, K_BY_STATUS, K_HEADS = 15, 16, 17, 18, 19, 20
local NKEYS = 20
local SEP = '\0'
local SEP_NEXT = '\1'
local PKLEN = 33
local WAKE_CAP = 64
local KNOWN = { hardware = true, models = true, customer_isolation = true, ['not'] = true }

local function invalid(message)
  return redis.error_reply('JG_INVALID ' .. message)
end

-- `extra`: jobgate_submit also takes the wake-up lists of its jobs' services after the 20.
local function check_keys(keys, extra)
  if #keys ~= NKEYS and not (extra and #keys > NKEYS) then
    return invalid('expected ' .. NKEYS .. ' keys, got ' .. #keys)
  end
  return nil
end

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

local function bucket_of(st)
  return st.service_required .. SEP .. st.sig
end

local function pending_member(st)
  return bucket_of(st) .. SEP .. st.pk .. SEP .. st.id
end

local function wf_member(st)
  return st.workflow_id .. SEP .. st.pk .. SEP .. st.service_required .. SEP .. st.sig .. SEP .. st.id
end

-- Active jobs are not in {ns}:by-status: {ns}:active already holds exactly them, so a claim and a
-- completion each write the status index once instead of twice.
local function set_status(keys, st, status)
  if st.status and st.status ~= 'active' then
    redis.call('ZREM', keys[K_BY_STATUS], st.status .. SEP .. st.seq .. SEP .. st.id)
  end
  if status ~= 'active' then
    redis.call('ZADD', keys[K_BY_STATUS], 0, status .. SEP .. st.seq .. SEP .. st.id)
  end
  st.status = status
end

local function head_of(st)
  return st.pk .. SEP .. st.id
end

-- Moves a bucket's entry in {ns}:heads from head `old` to head `new` (either may be nil).
local function set_head(keys, bucket, old, new)
  if old then redis.call('ZREM', keys[K_HEADS], old .. SEP .. bucket) end
  if new then
    redis.call('ZADD', keys[K_HEADS], 0, new .. SEP .. bucket)
    redis.call('HSET', keys[K_BUCKET_LEN], SEP_NEXT .. bucket, new)
  else
    redis.call('HDEL', keys[K_BUCKET_LEN], SEP_NEXT .. bucket)
  end
end

-- A bucket has pending jobs exactly when it has a head field (\1 svc \0 sig), so the head alone
-- tells an empty bucket: no per-bucket counter to keep in step.
local function index_pending(keys, st)
  redis.call('ZADD', keys[K_PENDING], 0, pending_member(st))
  local bucket = bucket_of(st)
  local head = head_of(st)
  local current = redis.call('HGET', keys[K_BUCKET_LEN], SEP_NEXT .. bucket)
  if not current then
    redis.call('ZADD', keys[K_BUCKETS], 0, bucket)
    set_head(keys, bucket, nil, head)
  elseif head < current then
    set_head(keys, bucket, current, head)
  end
  if st.workflow_id then
    redis.call('ZADD', keys[K_WF_PENDING], 0, wf_member(st))
  end
end

-- `current`: the bucket's head when the caller just read it (a claim found the job through it).
local function unindex_pending(keys, st, current)
  if redis.call('ZREM', keys[K_PENDING], pending_member(st)) == 0 then return end
  local bucket = bucket_of(st)
  current = current or redis.call('HGET', keys[K_BUCKET_LEN], SEP_NEXT .. bucket) or nil
  -- A job that is not its bucket's head leaves the head, and so the bucket, as it was.
  if current == head_of(st) then
    local next_member = redis.call('ZRANGE', keys[K_PENDING], '[' .. bucket .. SEP, '(' .. bucket .. SEP_NEXT,
      'BYLEX', 'LIMIT', 0, 1)[1]
    if next_member then
      set_head(keys, bucket, current, string.sub(next_member, #bucket + 2))
    else
      redis.call('ZREM', keys[K_BUCKETS], bucket)
      set_head(keys, bucket, current, nil)
      -- Per-bucket counter written by library versions up to 9; gone once the bucket empties.
      redis.call('HDEL', keys[K_BUCKET_LEN], bucket)
    end
  end
  if st.workflow_id then
    redis.call('ZREM', keys[K_WF_PENDING], wf_member(st))
  end
end

local function finish(keys, st, status, now)
  set_status(keys, st, status)
  st.finished_at = now
  st.lease_expires_at = nil
  st.run_at = nil
end

-- Requirement validation: a job whose requirements fail here is stored, visible with
-- unrunnable_reason, and never indexed, so it cannot crash a claim or block other jobs.
local function is_array(t)
  if type(t) ~= 'table' then return false end
  local n = 0
  for k, _ in pairs(t) do
    if type(k) ~= 'number' then return false end
    n = n + 1
  end
  return n == #t
end

local function valid_cap_value(v)
  local tv = type(v)
  if tv == 'string' or tv == 'number' or tv == 'boolean' then return true end
  if tv == 'table' and is_array(v) then
    for _, x in ipairs(v) do
      local tx = type(x)
      if tx ~= 'string' and tx ~= 'number' and tx ~= 'boolean' then return false end
    end
    return true
  end
  return false
end

local function spec_problem(r, customer_id)
  if type(r) ~= 'table' or (next(r) ~= nil and is_array(r)) then
    return 'requirements must be an object'
  end
  if r.hardware ~= nil then
    if type(r.hardware) ~= 'table' then return 'requirements.hardware must be an object' end
    for k, v in pairs(r.hardware) do
      if type(k) ~= 'string' or type(v) ~= 'number' then
        return 'requirements.hardware.' .. tostring(k) .. ' must be a number'
      end
    end
  end
  if r.models ~= nil then
    if not is_array(r.models) then return 'requirements.models must be an array of strings' end
    for _, m in ipairs(r.models) do
      if type(m) ~= 'string' then return 'requirements.models must be an array of strings' end
    end
  end
  local iso = r.customer_isolation
  if iso ~= nil and iso ~= 'strict' and iso ~= 'loose' and iso ~= 'none' then
    return 'requirements.customer_isolation must be strict, loose or none'
  end
  if iso == 'strict' and not customer_id then
    return 'requirements.customer_isolation strict needs a customer_id'
  end
  if r['not'] ~= nil then
    if type(r['not']) ~= 'table' then return 'requirements.not must be an object' end
    for k, v in pairs(r['not']) do
      if type(k) ~= 'string' or not valid_cap_value(v) then
        return 'requirements.not.' .. tostring(k) .. ' must be a string, number, boolean or array of those'
      end
    end
  end
  for k, v in pairs(r) do
    if not KNOWN[k] and (type(k) ~= 'string' or not valid_cap_value(v)) then
      return 'requirements.' .. tostring(k) .. ' must be a string, number, boolean or array of those'
    end
  end
  return nil
end

-- Custom capability rule: array -> worker has every item; number -> worker's is >=; else equal.
local function cap_match(want, have)
  local tw = type(want)
  if tw == 'table' then
    if type(have) ~= 'table' then return false end
    local set = {}
    for _, v in ipairs(have) do set[v] = true end
    for _, v in ipairs(want) do
      if not set[v] then return false end
    end
    return true
  elseif tw == 'number' then
    return type(have) == 'number' and have >= want
  end
  return have == want
end

local function to_set(list)
  local set = {}
  if type(list) == 'table' then
    for _, v in ipairs(list) do set[v] = true end
  end
  return set
end

local function prepare_worker(w)
  local access = type(w.customer_access) == 'table' and w.customer_access or {}
  local ctx = {
    id = w.worker_id,
    service_list = w.services,
    services = to_set(w.services),
    hw = type(w.hardware) == 'table' and w.hardware or {},
    caps = type(w.capabilities) == 'table' and w.capabilities or {},
    models = {},
    strict = access.isolation == 'strict',
    allowed = nil,
    denied = to_set(access.denied_customers),
    workflow_id = w.workflow_id,
    verdicts = {},
    verdict_count = 0,
  }
  if type(w.models) == 'table' then
    for svc, list in pairs(w.models) do ctx.models[svc] = to_set(list) end
  end
  if type(access.allowed_customers) == 'table' then ctx.allowed = to_set(access.allowed_customers) end
  return ctx
end

local function runnable(ctx, svc, spec)
  local r = spec.r
  local c = spec.c
  if r.hardware then
    for k, v in pairs(r.hardware) do
      local have = ctx.hw[k]
      if type(have) ~= 'number' or have < v then return false end
    end
  end
  if r.models then
    local set = ctx.models[svc]
    for _, m in ipairs(r.models) do
      if not set or not set[m] then return false end
    end
  end
  if r.customer_isolation == 'strict' and not ctx.strict then return false end
  if ctx.allowed and (c == nil or not ctx.allowed[c]) then return false end
  if c ~= nil and ctx.denied[c] then return false end
  for k, v in pairs(r) do
    if not KNOWN[k] and not cap_match(v, ctx.caps[k]) then return false end
  end
  if r['not'] then
    for k, v in pairs(r['not']) do
      local have = ctx.caps[k]
      if have ~= nil and cap_match(v, have) then return false end
    end
  end
  return true
end

-- Decoded bucket specs, kept between calls: a spec is immutable (its sig is a hash of its
-- content), so the cache can only save work, never answer differently. Bounded by SPEC_CACHE_MAX.
local spec_cache = {}
local spec_cache_size = 0
local SPEC_CACHE_MAX = 10000
local VERDICTS_MAX = 10000

local function load_spec(keys, sig)
  local cache_key = keys[K_SPECS] .. SEP .. sig
  local spec = spec_cache[cache_key]
  if spec ~= nil then return spec end
  local raw = redis.call('HGET', keys[K_SPECS], sig)
  if not raw then return false end
  local ok, decoded = pcall(cjson.decode, raw)
  -- A damaged spec is not remembered: someone may repair it.
  if not ok or type(decoded) ~= 'table' or type(decoded.r) ~= 'table' then return false end
  spec = decoded
  if spec_cache_size >= SPEC_CACHE_MAX then
    spec_cache = {}
    spec_cache_size = 0
  end
  spec_cache[cache_key] = spec
  spec_cache_size = spec_cache_size + 1
  return spec
end

-- One verdict per (worker, bucket); a spec that is missing, fails to decode or fails to evaluate
-- counts as "no" (only a verdict on a readable spec is remembered: a missing or damaged spec
-- may be written or repaired later).
local function bucket_ok(ctx, keys, svc, sig)
  local key = keys[K_SPECS] .. SEP .. svc .. SEP .. sig
  local verdict = ctx.verdicts[key]
  if verdict == nil then
    local spec = load_spec(keys, sig)
    if not spec then return false end
    local ok, result = pcall(runnable, ctx, svc, spec)
    if not ok then return false end
    verdict = result == true
    if ctx.verdict_count >= VERDICTS_MAX then
      ctx.verdicts = {}
      ctx.verdict_count = 0
    end
    ctx.verdicts[key] = verdict
    ctx.verdict_count = ctx.verdict_count + 1
  end
  return verdict
end

local HEADS_BATCH = 64

local FIRST_HEADS = 4

-- The first runnable head of a batch of {ns}:heads members: job id and head, or nil.
local function runnable_head(ctx, keys, batch)
  for _, member in ipairs(batch) do
    local a = string.find(member, SEP, PKLEN + 2, true)
    local b = string.find(member, SEP, a + 1, true)
    local svc = string.sub(member, a + 1, b - 1)
    if ctx.services[svc] and bucket_ok(ctx, keys, svc, string.sub(member, b + 1)) then
      return string.sub(member, PKLEN + 2, a - 1), string.sub(member, 1, a - 1)
    end
  end
  return nil
end

-- Walks the bucket heads after `start` in PK order, in full batches: the first runnable one is
-- the answer. Used when the whole namespace has few buckets compared with the worker's services.
local function find_in_heads(ctx, keys, start)
  while true do
    local batch = redis.call('ZRANGE', keys[K_HEADS], start, '+', 'BYLEX', 'LIMIT', 0, HEADS_BATCH)
    local id, head = runnable_head(ctx, keys, batch)
    if id then return id, head end
    if #batch < HEADS_BATCH then return nil end
    start = '(' .. batch[#batch]
  end
end

-- Reads only the buckets of the worker's services and their heads (one HMGET per service).
local function find_in_services(ctx, keys)
  local best
  for _, svc in ipairs(ctx.service_list) do
    local buckets = redis.call('ZRANGE', keys[K_BUCKETS], '[' .. svc .. SEP, '(' .. svc .. SEP_NEXT, 'BYLEX')
    local runnable_buckets = {}
    for _, bucket in ipairs(buckets) do
      if bucket_ok(ctx, keys, svc, string.sub(bucket, #svc + 2)) then
        runnable_buckets[#runnable_buckets + 1] = SEP_NEXT .. bucket
      end
    end
    -- In slices: unpack() has a stack limit of a few thousand values.
    for from = 1, #runnable_buckets, 1000 do
      local to = math.min(from + 999, #runnable_buckets)
      for _, head in ipairs(redis.call('HMGET', keys[K_BUCKET_LEN], unpack(runnable_buckets, from, to))) do
        if head and (best == nil or head < best) then best = head end
      end
    end
  end
  if not best then return nil end
  return string.sub(best, PKLEN + 2), best
end

local function find_in_buckets(ctx, keys)
  -- Usually the first head or one of the next few is runnable: one short read answers the claim.
  local first = redis.call('ZRANGE', keys[K_HEADS], '-', '+', 'BYLEX', 'LIMIT', 0, FIRST_HEADS)
  local id, head = runnable_head(ctx, keys, first)
  if id then return id, head end
  if #first < FIRST_HEADS then return nil end
  if redis.call('ZCARD', keys[K_HEADS]) <= FIRST_HEADS * #ctx.service_list + HEADS_BATCH then
    return find_in_heads(ctx, keys, '(' .. first[#first])
  end
  return find_in_services(ctx, keys)
end

-- A workflow-pinned worker walks its workflow's pending jobs in (priority, FIFO) order: the cost
-- is bounded by that workflow's size, not by the rest of the queue.
local function find_in_workflow(ctx, keys)
  local prefix = ctx.workflow_id .. SEP
  local start = '[' .. prefix
  local stop = '(' .. ctx.workflow_id .. SEP_NEXT
  while true do
    local batch = redis.call('ZRANGE', keys[K_WF_PENDING], start, stop, 'BYLEX', 'LIMIT', 0, 100)
    if #batch == 0 then return nil end
    for _, member in ipairs(batch) do
      local rest = string.sub(member, #prefix + PKLEN + 2)
      local a = string.find(rest, SEP, 1, true)
      local b = string.find(rest, SEP, a + 1, true)
      local svc = string.sub(rest, 1, a - 1)
      local sig = string.sub(rest, a + 1, b - 1)
      if ctx.services[svc] and bucket_ok(ctx, keys, svc, sig) then
        return string.sub(rest, b + 1)
      end
    end
    start = '(' .. batch[#batch]
  end
end

local function requeue(keys, st)
  st.worker_id = nil
  st.lease_expires_at = nil
  st.run_at = nil
  set_status(keys, st, 'pending')
  index_pending(keys, st)
  wake(keys, 1)
end

-- Reap hints, per namespace and only in this Lua state (a restart, FUNCTION LOAD or failover
-- starts without them, and the first claim then looks for real). A hint's `due` is never later
-- than the earliest lease expiry or retry time of its namespace, so a claim at an earlier `now`
-- has nothing to reap and skips the reads. Every ZADD to {ns}:active or {ns}:delayed goes through
-- add_due, which lowers the hint; removals leave it lower than needed, which is safe. Writes that
-- bypass these functions cannot lower it, so a hint is trusted for REAP_HINT_MS of the callers'
-- clock at most, and never when that clock reads earlier than the check.
local reap_hints = {}
local reap_hint_count = 0
local REAP_HINT_MS = 1000
local REAP_HINTS_MAX = 1000

local function add_due(keys, key_index, at, id)
  redis.call('ZADD', keys[key_index], at, id)
  local hint = reap_hints[keys[K_ACTIVE]]
  if hint and at < hint.due then hint.due = at end
end

local function reap_needed(keys, now)
  local hint = reap_hints[keys[K_ACTIVE]]
  return not (hint and now < hint.due and now >= hint.checked and now < hint.checked + REAP_HINT_MS)
end

-- The earliest score of a zset (math.huge when empty).
local function earliest(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then return tonumber(first[2]) end
  return math.huge
end

local function remember_hint(keys, now, due)
  local name = keys[K_ACTIVE]
  if not reap_hints[name] then
    if reap_hint_count >= REAP_HINTS_MAX then
      reap_hints = {}
      reap_hint_count = 0
    end
    reap_hint_count = reap_hint_count + 1
  end
  reap_hints[name] = { due = due, checked = now }
end

-- Up to `limit` members of a time-scored zset that are due at `now`, and the earliest score when
-- none is (then nil when some are: the caller reads it again after handling them).
local function take_due(key, now, limit)
  local next_due = earliest(key)
  if next_due > now then return {}, next_due end
  return redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit), nil
end

local function reap(keys, now, maxlen, limit)
  local expired, next_lease = take_due(keys[K_ACTIVE], now, limit)
  for _, id in ipairs(expired) do
    redis.call('ZREM', keys[K_ACTIVE], id)
    local st = load_job(keys, id)
    if st and st.status == 'active' then
      local worker_id = st.worker_id
      local lease = st.lease_expires_at
      if st.attempts >= st.max_attempts then
        st.last_failure = {
          failure_type = 'TIMEOUT', failure_reason = 'stalled', retryable = false,
          message = 'lease expired on attempt ' .. st.attempts .. ' of ' .. st.max_attempts,
        }
        finish(keys, st, 'failed', now)
        save_job(keys, st)
        emit(keys, maxlen, 'job.failed', st, now,
          { worker_id = worker_id, stalled = true, lease_expired_at = lease, failure = st.last_failure })
      else
        requeue(keys, st)
        save_job(keys, st)
        emit(keys, maxlen, 'job.stalled', st, now,
          { worker_id = worker_id, requeued = true, lease_expired_at = lease })
      end
    end
  end
  local due, next_retry = take_due(keys[K_DELAYED], now, limit)
  for _, id in ipairs(due) do
    redis.call('ZREM', keys[K_DELAYED], id)
    local st = load_job(keys, id)
    if st and st.status == 'pending' and st.run_at then
      -- Not a status change (the job stayed pending while it waited), so no event.
      st.run_at = nil
      index_pending(keys, st)
      save_job(keys, st)
      wake(keys, 1)
    end
  end
  next_lease = next_lease or earliest(keys[K_ACTIVE])
  next_retry = next_retry or earliest(keys[K_DELAYED])
  remember_hint(keys, now, math.min(next_lease, next_retry))
  return #expired, #due
end

-- Prepared workers by their JSON, kept between calls with their bucket verdicts: a worker spec
-- and a bucket spec are both immutable, so a verdict once computed stays right. A worker that
-- changes capabilities sends different JSON and gets a fresh entry. Bounded by WORKER_CACHE_MAX.
local worker_cache = {}
local worker_cache_size = 0
local WORKER_CACHE_MAX = 1000

local function worker_context(worker_json)
  local ctx = worker_cache[worker_json]
  if ctx then return ctx end
  ctx = prepare_worker(cjson.decode(worker_json))
  if worker_cache_size >= WORKER_CACHE_MAX then
    worker_cache = {}
    worker_cache_size = 0
  end
  worker_cache[worker_json] = ctx
  worker_cache_size = worker_cache_size + 1
  return ctx
end

local function claim(keys, now, maxlen, worker_json, lease_ms, reap_limit)
  if reap_limit > 0 and reap_needed(keys, now) then reap(keys, now, maxlen, reap_limit) end
  local ctx = worker_context(worker_json)
  local id, head
  if ctx.workflow_id then
    id = find_in_workflow(ctx, keys)
  else
    id, head = find_in_buckets(ctx, keys)
  end
  if not id then return nil end
  local st = load_job(keys, id)
  unindex_pending(keys, st, head)
  st.attempts = st.attempts + 1
  st.worker_id = ctx.id
  st.claimed_at = now
  st.lease_expires_at = now + lease_ms
  st.progress = nil
  set_status(keys, st, 'active')
  add_due(keys, K_ACTIVE, st.lease_expires_at, id)
  local raw = save_job(keys, st)
  emit(keys, maxlen, 'job.claimed', st, now, { worker_id = ctx.id, lease_expires_at = st.lease_expires_at })
  return { raw, redis.call('HGET', keys[K_PAYLOADS], id) }
end

-- Returns the job when worker_id holds its lease, else nil and the error reply to return.
local function held(keys, id, worker_id, now)
  local st = load_job(keys, id)
  if not st then return nil, redis.error_reply('JG_NOT_FOUND ' .. id) end
  if st.status ~= 'active' then return nil, redis.error_reply('JG_NOT_HELD status:' .. st.status .. ' ' .. id) end
  if st.worker_id ~= worker_id then return nil, redis.error_reply('JG_NOT_HELD other_worker ' .. id) end
  if st.lease_expires_at <= now then return nil, redis.error_reply('JG_NOT_HELD lease_expired ' .. id) end
  return st
end

local function complete(keys, now, maxlen, id, worker_id, result_json)
  local st, err = held(keys, id, worker_id, now)
  if not st then return nil, err end
  redis.call('ZREM', keys[K_ACTIVE], id)
  redis.call('HSET', keys[K_RESULTS], id, result_json)
  finish(keys, st, 'completed', now)
  st.progress = nil
  local raw = save_job(keys, st)
  emit(keys, maxlen, 'job.completed', st, now, { worker_id = worker_id, duration_ms = now - st.claimed_at })
  return st, nil, raw
end

-- Library versions up to 10 also kept active jobs in {ns}:by-status and a per-service counter in
-- {ns}:depth; both are derived now ({ns}:active, {ns}:pending). The first write call per
-- namespace in a Lua state drops them: idempotent, as nothing writes them any more.
local migrated = {}
local migrated_count = 0

local function migrate(keys)
  if migrated[keys[K_JOBS]] then return end
  redis.call('ZREMRANGEBYLEX', keys[K_BY_STATUS], '[active' .. SEP, '(active' .. SEP_NEXT)
  redis.call('DEL', keys[K_DEPTH])
  if migrated_count >= REAP_HINTS_MAX then
    migrated = {}
    migrated_count = 0
  end
  migrated[keys[K_JOBS]] = true
  migrated_count = migrated_count + 1
end

local function common(keys, args, extra_keys)
  local err = check_keys(keys, extra_keys)
  if err then return nil, nil, err end
  migrate(keys)
  local now = tonumber(args[1])
  local maxlen = tonumber(args[2])
  if not now or not maxlen then return nil, nil, invalid('ARGV[1] now and ARGV[2] maxlen must be numbers') end
  return now, maxlen, nil
end

local function valid_name(s)
  return type(s) == 'string' and #s > 0 and #s <= 256 and not string.find(s, '[%z\1-\31]')
end

redis.register_function {
  function_name = 'jobgate_version',
  flags = { 'no-writes' },
  callback = function() return LIBRARY_VERSION end,
}

redis.register_function('jobgate_submit', function(keys, args)
  local now, maxlen, err = common(keys, args, true)
  if err then return err end
  local n = tonumber(args[3])
  local F = 11
  if not n or n < 1 or #args ~= 3 + n * F then return invalid('expected ' .. F .. ' fields per job') end
  -- Validate every job before writing any, so a bad batch changes nothing.
  for i = 0, n - 1 do
    local b = 3 + i * F
    if not valid_name(args[b + 1]) then return invalid('job ' .. (i + 1) .. ': id must be 1-256 printable characters') end
    if not valid_name(args[b + 2]) then return invalid('job ' .. (i + 1) .. ': service_required must be 1-256 printable characters') end
    if not string.match(args[b + 3], '^[0-9a-f]+$') then return invalid('job ' .. (i + 1) .. ': sig must be hex') end
    if not string.match(args[b + 5], '^%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d$') then return invalid('job ' .. (i + 1) .. ': P must be 17 digits') end
    if args[b + 7] ~= '' and not valid_name(args[b + 7]) then return invalid('job ' .. (i + 1) .. ': customer_id must be printable') end
    if args[b + 8] ~= '' and not valid_name(args[b + 8]) then return invalid('job ' .. (i + 1) .. ': workflow_id must be printable') end
    local max = tonumber(args[b + 10])
    if not max or max < 1 then return invalid('job ' .. (i + 1) .. ': max_attempts must be >= 1') end
  end
  local out = {}
  local woken = {}
  local seen = {}
  -- One INCRBY reserves a sequence number per job of the batch; ids already present leave gaps,
  -- which keep the order exact (only the order of SEQ matters, never its density).
  local next_seq = redis.call('INCRBY', keys[K_SEQ], n) - n
  for i = 0, n - 1 do
    local b = 3 + i * F
    local id = args[b + 1]
    -- Writing the payload first doubles as the existence check: every job has one.
    if redis.call('HSETNX', keys[K_PAYLOADS], id, args[b + 11]) == 0 then
      out[#out + 1] = id
      out[#out + 1] = 0
    else
      next_seq = next_seq + 1
      local seq = string.format('%016d', next_seq)
      local customer = args[b + 7] ~= '' and args[b + 7] or nil
      local st = {
        id = id,
        service_required = args[b + 2],
        sig = args[b + 3],
        priority = args[b + 4],
        seq = seq,
        pk = args[b + 5] .. seq,
        requirements = args[b + 6],
        customer_id = customer,
        workflow_id = args[b + 8] ~= '' and args[b + 8] or nil,
        step = tonumber(args[b + 9]),
        max_attempts = tonumber(args[b + 10]),
        attempts = 0,
        created_at = now,
      }
      -- Jobs of one batch usually share requirements: check and store each distinct set once.
      local seen_key = st.sig .. SEP .. (customer or '') .. SEP .. st.requirements
      local problem = seen[seen_key]
      if problem == nil then
        local ok, r = pcall(cjson.decode, st.requirements)
        if not ok then problem = 'requirements are not valid JSON' else problem = spec_problem(r, customer) end
        if not problem then
          redis.call('HSETNX', keys[K_SPECS], st.sig, cjson.encode({ r = r, c = customer }))
          problem = false
        end
        seen[seen_key] = problem
      end
      set_status(keys, st, 'pending')
      if problem then
        st.unrunnable_reason = problem
        redis.call('ZADD', keys[K_UNRUNNABLE], tonumber(seq), id)
      else
        index_pending(keys, st)
        woken[st.service_required] = (woken[st.service_required] or 0) + 1
      end
      redis.call('ZADD', keys[K_ALL], tonumber(seq), id)
      if customer then redis.call('ZADD', keys[K_BY_CUSTOMER], 0, customer .. SEP .. seq .. SEP .. id) end
      if st.workflow_id then redis.call('ZADD', keys[K_BY_WORKFLOW], 0, st.workflow_id .. SEP .. seq .. SEP .. id) end
      save_job(keys, st)
      emit(keys, maxlen, 'job.received', st, now, {
        service_required = st.service_required, priority = st.priority, step = st.step,
        unrunnable_reason = st.unrunnable_reason,
      })
      out[#out + 1] = id
      out[#out + 1] = 1
    end
  end
  -- Each service's waiting workers get its tokens, through the lists the caller declared after
  -- the 20 keys; a service whose list was not declared (an older client) wakes everyone.
  local declared = {}
  for i = NKEYS + 1, #keys do declared[keys[i]] = true end
  for svc, n in pairs(woken) do
    local list = keys[K_WAKE] .. ':' .. svc
    if declared[list] then wake_list(list, n) else wake_list(keys[K_WAKE], n) end
  end
  return out
end)

redis.register_function('jobgate_claim', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  return claim(keys, now, maxlen, args[3], tonumber(args[4]), tonumber(args[5]) or 0)
end)

redis.register_function('jobgate_complete', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local st, failure, raw = complete(keys, now, maxlen, args[3], args[4], args[5])
  if not st then return failure end
  return raw
end)

redis.register_function('jobgate_complete_and_claim', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local st, failure = complete(keys, now, maxlen, args[3], args[4], args[5])
  if not st then return failure end
  return claim(keys, now, maxlen, args[6], tonumber(args[7]), tonumber(args[8]) or 0)
end)

redis.register_function('jobgate_fail', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local id, worker_id = args[3], args[4]
  local st, failure = held(keys, id, worker_id, now)
  if not st then return failure end
  local ok, info = pcall(cjson.decode, args[5])
  if not ok or type(info) ~= 'table' then return invalid('failure must be a JSON object') end
  local retryable = args[6] == '1'
  redis.call('ZREM', keys[K_ACTIVE], id)
  st.last_failure = info
  st.progress = nil
  if retryable and st.attempts < st.max_attempts then
    local delay = tonumber(args[7])
    if not delay then
      local base, cap, r = tonumber(args[8]), tonumber(args[9]), tonumber(args[10])
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
end)

redis.register_function('jobgate_heartbeat', function(keys, args)
  local now, _, err = common(keys, args)
  if err then return err end
  local st, failure = held(keys, args[3], args[4], now)
  if not st then return failure end
  local lease_ms = tonumber(args[5])
  if not lease_ms or lease_ms <= 0 then return invalid('lease_ms must be a positive number') end
  st.lease_expires_at = now + lease_ms
  add_due(keys, K_ACTIVE, st.lease_expires_at, st.id)
  save_job(keys, st)
  return st.lease_expires_at
end)

redis.register_function('jobgate_progress', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local st, failure = held(keys, args[3], args[4], now)
  if not st then return failure end
  st.progress = { percent = tonumber(args[5]), message = args[6] ~= '' and args[6] or nil }
  local raw = save_job(keys, st)
  emit(keys, maxlen, 'job.progress', st, now,
    { worker_id = st.worker_id, percent = st.progress.percent, message = st.progress.message })
  return raw
end)

-- A worker shutting down hands the job back: the attempt never ran to an outcome, so it is not
-- counted (the next claim gets the same attempt number) and a job on its last attempt is not
-- failed. The job keeps its PK, so it goes back to its place among equals, not to the back.
redis.register_function('jobgate_release', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local id, worker_id = args[3], args[4]
  local st, failure = held(keys, id, worker_id, now)
  if not st then return failure end
  redis.call('ZREM', keys[K_ACTIVE], id)
  st.progress = nil
  requeue(keys, st)
  -- The event carries the attempt that was handed back, like job.stalled does.
  emit(keys, maxlen, 'job.released', st, now, { reason = 'shutdown', worker_id = worker_id })
  st.attempts = st.attempts - 1
  return save_job(keys, st)
end)

redis.register_function('jobgate_cancel', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local id = args[3]
  local st = load_job(keys, id)
  if not st then return redis.error_reply('JG_NOT_FOUND ' .. id) end
  local previous = st.status
  if previous ~= 'pending' and previous ~= 'active' then
    return { 0, cjson.encode(st) }
  end
  if previous == 'active' then
    redis.call('ZREM', keys[K_ACTIVE], id)
  elseif st.run_at then
    redis.call('ZREM', keys[K_DELAYED], id)
  elseif st.unrunnable_reason then
    redis.call('ZREM', keys[K_UNRUNNABLE], id)
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

redis.register_function {
  function_name = 'jobgate_get',
  flags = { 'no-writes' },
  callback = function(keys, args)
    local err = check_keys(keys)
    if err then return err end
    local id = args[1]
    local raw = redis.call('HGET', keys[K_JOBS], id)
    if not raw then return nil end
    return { raw, redis.call('HGET', keys[K_PAYLOADS], id), redis.call('HGET', keys[K_RESULTS], id) }
  end,
}

redis.register_function('jobgate_reap', function(keys, args)
  local now, maxlen, err = common(keys, args)
  if err then return err end
  local expired, promoted = reap(keys, now, maxlen, tonumber(args[3]) or 100)
  return { expired, promoted }
end)

redis.register_function('jobgate_clean', function(keys, args)
  local _, _, err = common(keys, args)
  if err then return err end
  local status, before, limit = args[3], tonumber(args[4]), tonumber(args[5])
  if status ~= 'completed' and status ~= 'failed' and status ~= 'cancelled' then
    return invalid('status must be completed, failed or cancelled')
  end
  if not before or not limit or limit < 1 then return invalid('finished_before and limit must be numbers') end
  local members = redis.call('ZRANGE', keys[K_BY_STATUS], '[' .. status .. SEP, '(' .. status .. SEP_NEXT,
    'BYLEX', 'LIMIT', 0, limit)
  local removed = 0
  for _, member in ipairs(members) do
    local id = string.sub(member, #status + 19)
    local st = load_job(keys, id)
    if not st then
      redis.call('ZREM', keys[K_BY_STATUS], member)
    elseif st.finished_at and st.finished_at < before then
      redis.call('ZREM', keys[K_BY_STATUS], member)
      redis.call('HDEL', keys[K_JOBS], id)
      redis.call('HDEL', keys[K_PAYLOADS], id)
      redis.call('HDEL', keys[K_RESULTS], id)
      redis.call('ZREM', keys[K_ALL], id)
      if st.customer_id then redis.call('ZREM', keys[K_BY_CUSTOMER], st.customer_id .. SEP .. st.seq .. SEP .. id) end
      if st.workflow_id then redis.call('ZREM', keys[K_BY_WORKFLOW], st.workflow_id .. SEP .. st.seq .. SEP .. id) end
      removed = removed + 1
    end
  end
  return { removed, #members }
end)
