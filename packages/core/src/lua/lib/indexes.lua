-- Job state transitions and the indexes of pending jobs (pending, buckets, heads, workflows).

-- What this call has read or written of {ns}:buckets (per service) and {ns}:bucket-heads (per
-- bucket), so the claims of one jobgate_batch call (a worker's slots claiming together) read them
-- once, not once per claim. Reset at the start of every call (`common`): nothing else writes a key
-- while a function runs, and every write of these two keys below keeps the memo true.
local memo = { buckets = {}, heads = {} }

local function reset_memo()
  memo.buckets = {}
  memo.heads = {}
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
    redis.call('HSET', keys[K_BUCKET_HEADS], bucket, new)
  else
    redis.call('HDEL', keys[K_BUCKET_HEADS], bucket)
  end
  memo.heads[bucket] = new or false
end

-- A bucket has pending jobs exactly when it has a field in {ns}:bucket-heads, so the head alone
-- tells an empty bucket: no per-bucket counter to keep in step.
local function index_pending(keys, st)
  redis.call('ZADD', keys[K_PENDING], 0, pending_member(st))
  local bucket = bucket_of(st)
  local head = head_of(st)
  local current = redis.call('HGET', keys[K_BUCKET_HEADS], bucket)
  if not current then
    redis.call('ZADD', keys[K_BUCKETS], 0, bucket)
    memo.buckets[st.service_required] = nil
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
  current = current or redis.call('HGET', keys[K_BUCKET_HEADS], bucket) or nil
  -- A job that is not its bucket's head leaves the head, and so the bucket, as it was.
  if current == head_of(st) then
    local next_member = redis.call('ZRANGE', keys[K_PENDING], '[' .. bucket .. SEP, '(' .. bucket .. SEP_NEXT,
      'BYLEX', 'LIMIT', 0, 1)[1]
    if next_member then
      set_head(keys, bucket, current, string.sub(next_member, #bucket + 2))
    else
      redis.call('ZREM', keys[K_BUCKETS], bucket)
      memo.buckets[st.service_required] = nil
      set_head(keys, bucket, current, nil)
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

local function requeue(keys, st)
  st.worker_id = nil
  st.lease_expires_at = nil
  st.run_at = nil
  set_status(keys, st, 'pending')
  index_pending(keys, st)
  wake(keys, 1)
end

