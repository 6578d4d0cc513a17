-- Job state transitions and the indexes of pending jobs (pending, buckets, heads, workflows).

-- What this call has read or written of {ns}:buckets (per service) and {ns}:bucket-heads (per
-- bucket), so the claims of one jobgate_batch call (a worker's slots claiming together) read them
-- once, not once per claim. Reset at the start of every call (`common`): nothing else writes a key
-- while a function runs, and every write of these two keys below keeps the memo true.
--
-- A call of many operations (jobgate_batch) also holds its head writes: `memo.held` maps each
-- bucket whose head changed in the call to the head stored before the call's first change (false:
-- none), and memo.heads has its current head; flush_heads writes each such bucket once
-- ({ns}:heads, {ns}:bucket-heads) instead of once per claim (the claims of a worker's slots take
-- one bucket's head after another). Every read of those keys goes through memo.heads or runs after
-- flush_heads (see find_in_buckets), and every call that holds flushes before it returns.
-- `claims`: how many operations of the call claim (set by jobgate_batch); `many_buckets`: a
-- service of a worker claiming in it has too many buckets for the memo search (lib/matching.lua).
local memo = { buckets = {}, heads = {}, held = nil, claims = 0, many_buckets = false }

local function reset_memo()
  memo.buckets = {}
  memo.heads = {}
  memo.held = nil
  memo.claims = 0
  memo.many_buckets = false
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
    rcall('ZREM', keys[K_BY_STATUS], st.status .. SEP .. st.seq .. SEP .. st.id)
  end
  if status ~= 'active' then
    rcall('ZADD', keys[K_BY_STATUS], '0', status .. SEP .. st.seq .. SEP .. st.id)
  end
  st.status = status
end

local function head_of(st)
  return st.pk .. SEP .. st.id
end

local function write_head(keys, bucket, old, new)
  if old then rcall('ZREM', keys[K_HEADS], old .. SEP .. bucket) end
  if new then
    rcall('ZADD', keys[K_HEADS], '0', new .. SEP .. bucket)
    rcall('HSET', keys[K_BUCKET_HEADS], bucket, new)
  else
    rcall('HDEL', keys[K_BUCKET_HEADS], bucket)
  end
end

-- Moves a bucket's entry in {ns}:heads from head `old` to head `new` (either may be nil); `old`
-- is the bucket's current head (from memo.heads or Redis).
local function set_head(keys, bucket, old, new)
  local held = memo.held
  if held then
    if held[bucket] == nil then held[bucket] = old or false end
  else
    write_head(keys, bucket, old, new)
  end
  memo.heads[bucket] = new or false
end

-- From here on the call holds its head writes (until flush_heads with `done`).
local function hold_heads()
  memo.held = memo.held or {}
end

-- Writes the held heads: each bucket from its stored head to its current one, once.
local function flush_heads(keys, done)
  local held = memo.held
  if not held then return end
  for bucket, stored in pairs(held) do
    local current = memo.heads[bucket]
    if current ~= stored then write_head(keys, bucket, stored or nil, current or nil) end
  end
  if done then memo.held = nil else memo.held = {} end
end

-- The bucket's current head (nil: the bucket has no pending job), read once per call.
local function current_head(keys, bucket)
  local head = memo.heads[bucket]
  if head == nil then
    head = rcall('HGET', keys[K_BUCKET_HEADS], bucket) or false
    memo.heads[bucket] = head
  end
  return head or nil
end

-- The ZRANGE BYLEX bounds of a bucket's members in {ns}:pending, kept between calls (a few
-- strings per bucket; bounded by BOUNDS_MAX).
local bounds_lo, bounds_hi = {}, {}
local bounds_count = 0
local BOUNDS_MAX = 10000

local function bucket_bounds(bucket)
  local lo = bounds_lo[bucket]
  if lo then return lo, bounds_hi[bucket] end
  if bounds_count >= BOUNDS_MAX then
    bounds_lo, bounds_hi, bounds_count = {}, {}, 0
  end
  lo = '[' .. bucket .. SEP
  local hi = '(' .. bucket .. SEP_NEXT
  bounds_lo[bucket], bounds_hi[bucket] = lo, hi
  bounds_count = bounds_count + 1
  return lo, hi
end

-- A bucket has pending jobs exactly when it has a field in {ns}:bucket-heads, so the head alone
-- tells an empty bucket: no per-bucket counter to keep in step.
local function index_pending(keys, st)
  rcall('ZADD', keys[K_PENDING], '0', pending_member(st))
  local bucket = bucket_of(st)
  local head = head_of(st)
  local current = current_head(keys, bucket)
  if not current then
    rcall('ZADD', keys[K_BUCKETS], '0', bucket)
    memo.buckets[st.service_required] = nil
    set_head(keys, bucket, nil, head)
  elseif head < current then
    set_head(keys, bucket, current, head)
  end
  if st.workflow_id then
    rcall('ZADD', keys[K_WF_PENDING], '0', wf_member(st))
  end
end

-- `current`: the bucket's head when the caller just read it (a claim found the job through it);
-- `bucket`: then also the bucket it read it from (the job is that head).
local function unindex_pending(keys, st, current, bucket)
  local head
  if bucket then
    head = current
  else
    bucket = bucket_of(st)
    head = head_of(st)
  end
  -- The pending member (pending_member(st)), from the two strings this needs anyway.
  if rcall('ZREM', keys[K_PENDING], bucket .. SEP .. head) == 0 then return end
  current = current or current_head(keys, bucket)
  -- A job that is not its bucket's head leaves the head, and so the bucket, as it was.
  if current == head then
    local lo, hi = bucket_bounds(bucket)
    local next_member = rcall('ZRANGE', keys[K_PENDING], lo, hi, 'BYLEX', 'LIMIT', '0', '1')[1]
    if next_member then
      set_head(keys, bucket, current, ssub(next_member, #bucket + 2))
    else
      rcall('ZREM', keys[K_BUCKETS], bucket)
      memo.buckets[st.service_required] = nil
      set_head(keys, bucket, current, nil)
    end
  end
  if st.workflow_id then
    rcall('ZREM', keys[K_WF_PENDING], wf_member(st))
  end
end

local function finish(keys, st, status, now)
  set_status(keys, st, status)
  st.finished_at = now
  st.lease_expires_at = nil
  st.run_at = nil
end

local function requeue(keys, st)
  st.worker_id = nil
  st.lease_expires_at = nil
  st.run_at = nil
  set_status(keys, st, 'pending')
  index_pending(keys, st)
  wake(keys, 1)
end

