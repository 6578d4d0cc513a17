-- Expired leases and due retries, and the per-namespace hints that let most claims skip them.

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

-- Scores go to ZADD as text (int_text, lib/store.lua): Redis would make the number text (%.17g,
-- the slow path of printf) on every ZADD; an integer below 10^15 is the same text by '%d'. The
-- claims of one call share their lease expiry, so most reuse it.
-- Returns the text, or nil when the number was given as a number.
local function add_due(keys, key_index, at, id)
  local due_text = int_text(at)
  rcall('ZADD', keys[key_index], due_text or at, id)
  local hint = reap_hints[keys[K_ACTIVE]]
  if hint and at < hint.due then hint.due = at end
  return due_text
end

local function reap_needed(keys, now)
  local hint = reap_hints[keys[K_ACTIVE]]
  return not (hint and now < hint.due and now >= hint.checked and now < hint.checked + REAP_HINT_MS)
end

-- The earliest score of a zset (math.huge when empty).
local function earliest(key)
  local first = rcall('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then return tonum(first[2]) end
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
  return rcall('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit), nil
end

local function reap(keys, now, maxlen, limit)
  local expired, next_lease = take_due(keys[K_ACTIVE], now, limit)
  for _, id in ipairs(expired) do
    rcall('ZREM', keys[K_ACTIVE], id)
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
    rcall('ZREM', keys[K_DELAYED], id)
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

