-- Finding the best runnable job for a worker: bucket specs and verdicts, cached per Lua state.

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
  local raw = rcall('HGET', keys[K_SPECS], sig)
  if not raw then return false end
  local ok, decoded = pcall(json_decode, raw)
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
-- may be written or repaired later). `bucket` is svc \0 sig; verdicts are kept per namespace (by
-- its specs key) and bucket, so a claim that finds its bucket known builds no string.
local function bucket_ok(ctx, keys, svc, bucket)
  local verdicts = ctx.verdicts[keys[K_SPECS]]
  if verdicts == nil then
    verdicts = {}
    ctx.verdicts[keys[K_SPECS]] = verdicts
  end
  local verdict = verdicts[bucket]
  if verdict == nil then
    local spec = load_spec(keys, ssub(bucket, #svc + 2))
    if not spec then return false end
    local ok, result = pcall(runnable, ctx, svc, spec)
    if not ok then return false end
    verdict = result == true
    if ctx.verdict_count >= VERDICTS_MAX then
      ctx.verdicts = {}
      ctx.verdict_count = 0
      verdicts = {}
      ctx.verdicts[keys[K_SPECS]] = verdicts
    end
    verdicts[bucket] = verdict
    ctx.verdict_count = ctx.verdict_count + 1
  end
  return verdict
end

local HEADS_BATCH = 64

local FIRST_HEADS = 4
local HEADS_BATCH_TEXT, FIRST_HEADS_TEXT = '' .. HEADS_BATCH, '' .. FIRST_HEADS

-- The first runnable head of a batch of {ns}:heads members: job id, head, bucket and service,
-- or nil.
local function runnable_head(ctx, keys, batch)
  for _, member in ipairs(batch) do
    local a = sfind(member, SEP, PKLEN + 2, true)
    local b = sfind(member, SEP, a + 1, true)
    local svc = ssub(member, a + 1, b - 1)
    if ctx.services[svc] then
      local bucket = ssub(member, a + 1)
      if bucket_ok(ctx, keys, svc, bucket) then
        return ssub(member, PKLEN + 2, a - 1), ssub(member, 1, a - 1), bucket, svc
      end
    end
  end
  return nil
end

-- Walks the bucket heads after `start` in PK order, in full batches: the first runnable one is
-- the answer. Used when the whole namespace has few buckets compared with the worker's services.
local function find_in_heads(ctx, keys, start)
  while true do
    local batch = rcall('ZRANGE', keys[K_HEADS], start, '+', 'BYLEX', 'LIMIT', '0', HEADS_BATCH_TEXT)
    local id, head, bucket, svc = runnable_head(ctx, keys, batch)
    if id then return id, head, bucket, svc end
    if #batch < HEADS_BATCH then return nil end
    start = '(' .. batch[#batch]
  end
end

-- Reads only the buckets of the worker's services and their heads (one HMGET for all of them):
-- the smallest head PK of a runnable bucket, over all the worker's services, is the answer, so the
-- order is exact across services. `limit`: give up (answer false) when a service has more buckets
-- than that, so the cost stays bounded for the caller that has a cheaper way; nil reads them all.
local function find_in_services(ctx, keys, limit)
  -- Heads this call already read or wrote come from the memo; the others (`unknown`) from one
  -- HMGET, in slices (unpack() has a stack limit of a few thousand values).
  local best, best_bucket, best_svc, unknown, unknown_svc
  for _, svc in ipairs(ctx.service_list) do
    local buckets = memo.buckets[svc]
    if not buckets then
      if limit then
        buckets = rcall('ZRANGE', keys[K_BUCKETS], '[' .. svc .. SEP, '(' .. svc .. SEP_NEXT, 'BYLEX',
          'LIMIT', 0, limit + 1)
        if #buckets > limit then return false end
        -- Only short lists are kept for the rest of the call (see memo in lib/indexes.lua).
        memo.buckets[svc] = buckets
      else
        buckets = rcall('ZRANGE', keys[K_BUCKETS], '[' .. svc .. SEP, '(' .. svc .. SEP_NEXT, 'BYLEX')
      end
    end
    for _, bucket in ipairs(buckets) do
      if bucket_ok(ctx, keys, svc, bucket) then
        local head = memo.heads[bucket]
        if head == nil then
          unknown = unknown or {}
          unknown_svc = unknown_svc or {}
          unknown[#unknown + 1] = bucket
          unknown_svc[#unknown] = svc
        elseif head and (best == nil or head < best) then
          best, best_bucket, best_svc = head, bucket, svc
        end
      end
    end
  end
  for from = 1, unknown and #unknown or 0, 1000 do
    local to = math.min(from + 999, #unknown)
    local heads = rcall('HMGET', keys[K_BUCKET_HEADS], unpack(unknown, from, to))
    for k = from, to do
      local head = heads[k - from + 1]
      memo.heads[unknown[k]] = head or false
      if head and (best == nil or head < best) then best, best_bucket, best_svc = head, unknown[k], unknown_svc[k] end
    end
  end
  if not best then return nil end
  return ssub(best, PKLEN + 2), best, best_bucket, best_svc
end

-- A worker of at most this many services searches its own services' buckets first: two or three
-- short reads that touch nothing of other services, where the global head list would, in a
-- namespace of many services, mostly hold other services' heads (then the first read of
-- FIRST_HEADS misses and a ZCARD and a second, longer read follow). The answer is the same either
-- way: the lowest head PK among the runnable buckets of the worker's services.
local SERVICES_FIRST_MAX = 2

-- A call of many claims (jobgate_batch, memo.claims of them) that holds its head writes searches the
-- buckets of a worker of up to SERVICES_HELD_MAX services the same way (since version 20), when
-- each has at most HELD_BUCKETS_MAX buckets: its first claim reads the worker's bucket lists and
-- heads, the later ones find them in the memo, and the head writes stay held to the call's end.
-- Through the head list every claim would write the held heads first (flush_heads) and read
-- {ns}:heads again: three or four commands per claim more. Same answer either way (see above).
local SERVICES_HELD_MAX = 16
local HELD_BUCKETS_MAX = 8
local HELD_CLAIMS_MIN = 4

local function find_in_buckets(ctx, keys)
  local n = #ctx.service_list
  if n <= SERVICES_FIRST_MAX then
    local id, head, bucket, svc = find_in_services(ctx, keys, HEADS_BATCH)
    -- false: a service of the worker has more than HEADS_BATCH buckets; the head list is cheaper.
    if id ~= false then return id, head, bucket, svc end
  elseif memo.held and memo.claims >= HELD_CLAIMS_MIN and n <= SERVICES_HELD_MAX
    and not memo.many_buckets then
    local id, head, bucket, svc = find_in_services(ctx, keys, HELD_BUCKETS_MAX)
    if id ~= false then return id, head, bucket, svc end
    -- A service with more buckets: the head list for the rest of the call.
    memo.many_buckets = true
  end
  -- The reads of {ns}:heads below see this call's held head writes.
  flush_heads(keys)
  -- Usually the first head or one of the next few is runnable: one short read answers the claim.
  local first = rcall('ZRANGE', keys[K_HEADS], '-', '+', 'BYLEX', 'LIMIT', '0', FIRST_HEADS_TEXT)
  local id, head, bucket, svc = runnable_head(ctx, keys, first)
  if id then return id, head, bucket, svc end
  if #first < FIRST_HEADS then return nil end
  if rcall('ZCARD', keys[K_HEADS]) <= FIRST_HEADS * #ctx.service_list + HEADS_BATCH then
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
    local batch = rcall('ZRANGE', keys[K_WF_PENDING], start, stop, 'BYLEX', 'LIMIT', 0, 100)
    if #batch == 0 then return nil end
    for _, member in ipairs(batch) do
      local rest = ssub(member, #prefix + PKLEN + 2)
      local a = sfind(rest, SEP, 1, true)
      local b = sfind(rest, SEP, a + 1, true)
      local svc = ssub(rest, 1, a - 1)
      if ctx.services[svc] and bucket_ok(ctx, keys, svc, ssub(rest, 1, b - 1)) then
        return ssub(rest, b + 1)
      end
    end
    start = '(' .. batch[#batch]
  end
end

-- Prepared workers by their JSON, kept between calls with their bucket verdicts: a worker spec
-- and a bucket spec are both immutable, so a verdict once computed stays right. A worker that
-- changes capabilities sends different JSON and gets a fresh entry. Bounded by WORKER_CACHE_MAX.
local worker_cache = {}
local worker_cache_size = 0
local WORKER_CACHE_MAX = 1000

-- What is wrong with a decoded worker the claim cannot run with (nil when nothing): the fields it
-- writes into the job (worker_id) and searches by (services, workflow_id). The client validates
-- the rest; anything else a raw caller sends that this code does not read is ignored, as before.
local function worker_problem(w)
  if type(w) ~= 'table' then return 'worker must be a JSON object' end
  if not valid_name(w.worker_id) then return 'worker.worker_id must be 1-256 printable characters' end
  local services = w.services
  if type(services) ~= 'table' or services[1] == nil then return 'worker.services must list at least one service' end
  for i = 1, #services do
    if not valid_name(services[i]) then return 'worker.services[' .. i .. '] must be 1-256 printable characters' end
  end
  if w.workflow_id ~= nil and not valid_name(w.workflow_id) then
    return 'worker.workflow_id must be 1-256 printable characters'
  end
  return nil
end

-- The prepared worker of `worker_json`, or nil and the JG_INVALID reply of a malformed one (only
-- valid workers are cached, so a claim checks a worker once per distinct JSON).
local function worker_context(worker_json)
  local ctx = worker_cache[worker_json]
  if ctx then return ctx end
  local ok, w = pcall(json_decode, worker_json)
  if not ok then return nil, invalid('worker must be a JSON object (not valid JSON)') end
  local problem = worker_problem(w)
  if problem then return nil, invalid(problem) end
  ctx = prepare_worker(w)
  if worker_cache_size >= WORKER_CACHE_MAX then
    worker_cache = {}
    worker_cache_size = 0
  end
  worker_cache[worker_json] = ctx
  worker_cache_size = worker_cache_size + 1
  return ctx
end

