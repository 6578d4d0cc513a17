import type { Redis } from 'ioredis';
import { scriptKeys, type WebhookKeys } from './keys.js';

/*
 * Every script takes the same eight keys (see keys.ts), all under the namespace's hash tag, so a
 * call touches one cluster slot and declares everything it reads or writes:
 *   KEYS[1] {ns}:events  KEYS[2] endpoints  KEYS[3] deliveries  KEYS[4] due  KEYS[5] order
 *   KEYS[6] log  KEYS[7] finished  KEYS[8] version
 * ARGV[1] is always `now` (ms) from the caller's clock, so tests drive time.
 * Lua's cjson writes an empty array as `{}`; readers treat a non-array attempt_log as empty.
 */
const PRELUDE = `
local K_EVENTS, K_ENDPOINTS, K_DELIVERIES, K_DUE, K_ORDER, K_LOG, K_FINISHED, K_VERSION = 1, 2, 3, 4, 5, 6, 7, 8
local now = tonumber(ARGV[1])

local function log_member(d)
  return d.endpoint_id .. '|' .. string.format('%015d', d.created_at) .. '|' .. d.id
end

-- Stream ids ('<ms>-<seq>') in stream order.
local function id_lt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return a < b end
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end

local function stored(id)
  local raw = redis.call('HGET', KEYS[K_DELIVERIES], id)
  return raw and cjson.decode(raw)
end

-- The order list of (endpoint, job) holds its head (the one in K_DUE) first. A delivery of a
-- stream entry (event_id given) goes into stream order: two instances may record one job's
-- entries in either order (each read its own batch), so a later entry can be recorded first. It
-- may even take the head's place while the head has not been claimed yet (CLAIM never sends a
-- delivery while an older entry of its job is still unrecorded, so that is always the case when
-- it matters). Manual retries (no event_id) go to the end.
local function push_order(okey, id, event_id)
  local raw = redis.call('HGET', KEYS[K_ORDER], okey)
  if raw then
    local q = cjson.decode(raw)
    local pos = #q + 1
    if event_id then
      for i = #q, 1, -1 do
        local other = stored(q[i])
        local e = other and other.event_id
        local movable = i > 1 or (other and other.status == 'pending' and other.attempts == 0)
        if movable and type(e) == 'string' and id_lt(event_id, e) then pos = i else break end
      end
    end
    table.insert(q, pos, id)
    redis.call('HSET', KEYS[K_ORDER], okey, cjson.encode(q))
    if pos == 1 then
      redis.call('ZREM', KEYS[K_DUE], q[2])
      redis.call('ZADD', KEYS[K_DUE], now, id)
    end
  else
    redis.call('HSET', KEYS[K_ORDER], okey, cjson.encode({ id }))
    redis.call('ZADD', KEYS[K_DUE], now, id)
  end
end

local function pop_order(okey, id)
  local raw = redis.call('HGET', KEYS[K_ORDER], okey)
  if not raw then return end
  local q = cjson.decode(raw)
  local rest = {}
  for _, v in ipairs(q) do if v ~= id then rest[#rest + 1] = v end end
  if #rest == 0 then
    redis.call('HDEL', KEYS[K_ORDER], okey)
  else
    redis.call('HSET', KEYS[K_ORDER], okey, cjson.encode(rest))
    if q[1] == id then redis.call('ZADD', KEYS[K_DUE], now, rest[1]) end
  end
end

local function finish(d, status, err)
  d.status = status
  d.finished_at = now
  d.next_attempt_at = cjson.null
  d.claim = cjson.null
  if err then d.last_error = err end
  redis.call('HSET', KEYS[K_DELIVERIES], d.id, cjson.encode(d))
  redis.call('ZREM', KEYS[K_DUE], d.id)
  redis.call('ZADD', KEYS[K_FINISHED], now, d.id)
  pop_order(d.order_key, d.id)
end
`;

/*
 * Adds deliveries and acknowledges their stream entries. Each delivery comes as five arguments
 * from `first` on: id, order key, log member, stream entry id ('' for none), and its JSON as
 * stored (not decoded and encoded again here). Ids derive from (stream entry, endpoint):
 * re-reading an entry after a crash adds nothing twice.
 */
const ENQUEUE_FUNCTION = `
local function enqueue(group, acks, first, n)
  local added = 0
  for i = 0, n - 1 do
    local a = first + i * 5
    local id = ARGV[a]
    if redis.call('HSETNX', KEYS[K_DELIVERIES], id, ARGV[a + 4]) == 1 then
      redis.call('ZADD', KEYS[K_LOG], 0, ARGV[a + 2])
      local event_id = ARGV[a + 3]
      push_order(ARGV[a + 1], id, event_id ~= '' and event_id or nil)
      added = added + 1
    end
  end
  for _, id in ipairs(acks) do redis.call('XACK', KEYS[K_EVENTS], group, id) end
  return added
end
`;

/** ARGV[2] consumer group, ARGV[3] JSON stream ids to acknowledge, ARGV[4] n, then 5 per delivery. */
const ENQUEUE = `${PRELUDE}${ENQUEUE_FUNCTION}
return enqueue(ARGV[2], cjson.decode(ARGV[3]), 5, tonumber(ARGV[4]))
`;

/*
 * Recording results and claiming what is due, as Lua functions: one `webhookSettle` call records
 * every result a sender has collected since its last call and claims new work for the slots those
 * results freed (one round trip per batch instead of one per result plus one per claim).
 */
const SETTLE_FUNCTIONS = `
-- Endpoints read by this call, decoded once; changes are written once, before claiming.
local ep_cache = {}
local function endpoint_state(id)
  local c = ep_cache[id]
  if c == nil then
    local raw = redis.call('HGET', KEYS[K_ENDPOINTS], id)
    c = { raw = raw, ep = raw and cjson.decode(raw) or false, changed = false, disabled = false }
    ep_cache[id] = c
  end
  return c
end

-- One attempt's outcome {attempt, result, next_at?, disable_reason?}. A result from a sender
-- whose claim was taken over (lease expired) is ignored: 0.
local function record(id, claim, o, disable_after)
  local raw = redis.call('HGET', KEYS[K_DELIVERIES], id)
  if not raw then return 0 end
  local d = cjson.decode(raw)
  if d.claim ~= claim then return 0 end
  local log = d.attempt_log
  if type(log) ~= 'table' then log = {} end
  log[#log + 1] = o.attempt
  while #log > 20 do table.remove(log, 1) end
  d.attempt_log = log
  d.last_status_code = o.attempt.status_code
  d.last_error = o.attempt.error
  d.last_latency_ms = o.attempt.latency_ms
  d.last_attempt_at = now
  if o.result == 'retry' then
    d.status = 'pending'
    d.claim = cjson.null
    d.next_attempt_at = o.next_at
    redis.call('HSET', KEYS[K_DELIVERIES], d.id, cjson.encode(d))
    redis.call('ZADD', KEYS[K_DUE], o.next_at, d.id)
  else
    finish(d, o.result, nil)
  end
  local c = endpoint_state(d.endpoint_id)
  local ep = c.ep
  if ep then
    if o.result == 'succeeded' then
      if ep.failing_since ~= cjson.null and ep.failing_since ~= nil then
        ep.failing_since = cjson.null
        c.changed = true
      end
    else
      if ep.failing_since == cjson.null or ep.failing_since == nil then
        ep.failing_since = now
        c.changed = true
      end
      if ep.status == 'enabled' then
        local reason = o.disable_reason
        if (reason == nil or reason == cjson.null) and now - ep.failing_since >= disable_after then
          reason = 'every delivery failed since ' .. string.format('%d', ep.failing_since)
        end
        if reason ~= nil and reason ~= cjson.null then
          ep.status = 'disabled'
          ep.disabled_reason = reason
          ep.disabled_at = now
          c.changed, c.disabled = true, true
        end
      end
    end
  end
  return 1
end

local function flush_endpoints()
  local bump = false
  for id, c in pairs(ep_cache) do
    if c.changed and c.ep then
      c.ep.updated_at = now
      c.raw = cjson.encode(c.ep)
      redis.call('HSET', KEYS[K_ENDPOINTS], id, c.raw)
      c.changed = false
      if c.disabled then bump = true end
    end
  end
  if bump then redis.call('INCR', KEYS[K_VERSION]) end
end

-- Claims up to max due deliveries, looking at the first scan due entries. slots: {endpoint:
-- remaining} for endpoints the sender has requests open to; default_slots for any other.
-- A delivery of an endpoint without a free slot is skipped where it is (its place in line kept).
-- Only when the whole window was due and still not every slot could be filled are the skipped
-- deliveries of slow endpoints (a list: requests open for a while) put defer ms back, so a hung
-- endpoint's backlog never holds up other endpoints, while a fast one's stays in order.
-- Returns a flat list: delivery JSON, endpoint JSON, ...
local function claim(lease, max, scan, slots, default_slots, defer, token, slow_list, group)
  local out = {}
  if max <= 0 then return out end
  local ids = redis.call('ZRANGEBYSCORE', KEYS[K_DUE], '-inf', now, 'LIMIT', 0, scan)
  -- Per-job order across instances: a delivery is not sent while an older stream entry of its job
  -- has been read by some instance but not recorded yet (still pending in the group; recording and
  -- acknowledging are one call). The pending entries' jobs are looked up once per call, only when
  -- an entry older than a candidate is pending (a race between two instances' batches, or a
  -- crashed instance's entries waiting for takeover); past PENDING_SCAN of them, later candidates
  -- wait conservatively.
  local PENDING_SCAN, ORDER_WAIT_MS = 200, 50
  -- No group yet (no endpoint was ever registered): nothing is pending.
  local summary = redis.pcall('XPENDING', KEYS[K_EVENTS], group)
  local oldest_pending = type(summary) == 'table' and summary.err == nil and summary[1] > 0 and summary[2] or nil
  local pending_jobs, scanned_to
  local function older_entry_pending(d)
    if not oldest_pending or type(d.event_id) ~= 'string' then return false end
    if not id_lt(oldest_pending, d.event_id) then return false end
    if not pending_jobs then
      pending_jobs = {}
      local list = redis.call('XPENDING', KEYS[K_EVENTS], group, '-', '+', PENDING_SCAN)
      for _, p in ipairs(type(list) == 'table' and list or {}) do
        local entry = redis.call('XRANGE', KEYS[K_EVENTS], p[1], p[1])[1]
        if entry then
          local f = entry[2]
          for i = 1, #f, 2 do
            if f[i] == 'job_id' and not pending_jobs[f[i + 1]] then pending_jobs[f[i + 1]] = p[1] end
          end
        end
      end
      if #list >= PENDING_SCAN then scanned_to = list[#list][1] end
    end
    local older = pending_jobs[d.job_id]
    if older and id_lt(older, d.event_id) then return true end
    return scanned_to ~= nil and id_lt(scanned_to, d.event_id)
  end
  local slow = {}
  for _, e in ipairs(slow_list) do slow[e] = true end
  local skipped = {}
  for _, id in ipairs(ids) do
    if #out >= max * 2 then break end
    local raw = redis.call('HGET', KEYS[K_DELIVERIES], id)
    if not raw then
      redis.call('ZREM', KEYS[K_DUE], id)
    else
      -- The endpoint id without decoding the whole record (ids are ep_<hex>).
      local epid = string.match(raw, '"endpoint_id":"([%w_]+)"')
      local d
      if not epid then
        d = cjson.decode(raw)
        epid = d.endpoint_id
      end
      local left = slots[epid]
      if left == nil then left = default_slots end
      if left <= 0 then
        if slow[epid] then skipped[#skipped + 1] = id end
      else
        d = d or cjson.decode(raw)
        local c = endpoint_state(epid)
        if not c.ep then
          finish(d, 'failed', 'endpoint deleted')
        elseif c.ep.status ~= 'enabled' then
          finish(d, 'failed', 'endpoint disabled')
        elseif older_entry_pending(d) then
          redis.call('ZADD', KEYS[K_DUE], now + ORDER_WAIT_MS, id)
        else
          slots[epid] = left - 1
          d.status = 'delivering'
          d.attempts = d.attempts + 1
          d.round_attempts = d.round_attempts + 1
          d.claim = token
          d.next_attempt_at = cjson.null
          redis.call('ZADD', KEYS[K_DUE], now + lease, id)
          local enc = cjson.encode(d)
          redis.call('HSET', KEYS[K_DELIVERIES], id, enc)
          out[#out + 1] = enc
          out[#out + 1] = c.raw
        end
      end
    end
  end
  if #ids >= scan and #out < max * 2 then
    for _, id in ipairs(skipped) do redis.call('ZADD', KEYS[K_DUE], now + defer, id) end
  end
  return out
end
`;

/**
 * One call per round trip of a sender: new deliveries in, results recorded, due work claimed.
 * ARGV[2] JSON results [[delivery id, claim token, outcome], ...] (outcome: {attempt, result,
 * next_at?, disable_reason?}), ARGV[3] ms of continuous failure after which the endpoint is
 * disabled; the claim: ARGV[4] lease ms, ARGV[5] max claims (0: claim nothing), ARGV[6] how
 * many due entries to look at, ARGV[7] JSON {endpoint: remaining slots}, ARGV[8] slots of any
 * other endpoint, ARGV[9] defer ms, ARGV[10] claim token, ARGV[11] JSON list of slow endpoints;
 * the enqueue (as webhookEnqueue): ARGV[12] consumer group, ARGV[13] JSON stream ids to
 * acknowledge, ARGV[14] n, then 5 per delivery.
 * Returns { {1|0 per result}, {delivery JSON, endpoint JSON, ...}, deliveries added }.
 */
const SETTLE = `${PRELUDE}${ENQUEUE_FUNCTION}${SETTLE_FUNCTIONS}
local added = enqueue(ARGV[12], cjson.decode(ARGV[13]), 15, tonumber(ARGV[14]))
local results = cjson.decode(ARGV[2])
local disable_after = tonumber(ARGV[3])
local recorded = {}
for i, r in ipairs(results) do recorded[i] = record(r[1], r[2], r[3], disable_after) end
flush_endpoints()
local out = claim(tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), cjson.decode(ARGV[7]),
  tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10], cjson.decode(ARGV[11]), ARGV[12])
return { recorded, out, added }
`;

/** ARGV[2] delivery id, ARGV[3] customer. A finished delivery goes back in line (same id). */
const RETRY = `${PRELUDE}
local raw = redis.call('HGET', KEYS[K_DELIVERIES], ARGV[2])
if not raw then return 'not_found' end
local d = cjson.decode(raw)
if d.customer_id ~= ARGV[3] then return 'not_found' end
if d.status == 'pending' or d.status == 'delivering' then return 'in_progress' end
d.status = 'pending'
d.round_attempts = 0
d.finished_at = cjson.null
d.next_attempt_at = now
d.claim = cjson.null
redis.call('HSET', KEYS[K_DELIVERIES], d.id, cjson.encode(d))
redis.call('ZREM', KEYS[K_FINISHED], d.id)
push_order(d.order_key, d.id)
return 'ok'
`;

/** ARGV[2] endpoint id, ARGV[3] customer, ARGV[4] JSON fields to set. Returns the endpoint JSON or nil. */
const PATCH_ENDPOINT = `${PRELUDE}
local raw = redis.call('HGET', KEYS[K_ENDPOINTS], ARGV[2])
if not raw then return nil end
local ep = cjson.decode(raw)
if ep.customer_id ~= ARGV[3] then return nil end
for k, v in pairs(cjson.decode(ARGV[4])) do ep[k] = v end
ep.updated_at = now
local enc = cjson.encode(ep)
redis.call('HSET', KEYS[K_ENDPOINTS], ARGV[2], enc)
redis.call('INCR', KEYS[K_VERSION])
return enc
`;

/** ARGV[2] finished before this time is dropped, ARGV[3] at most this many. */
const CLEANUP = `${PRELUDE}
local ids = redis.call('ZRANGEBYSCORE', KEYS[K_FINISHED], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[K_DELIVERIES], id)
  if raw then
    redis.call('ZREM', KEYS[K_LOG], log_member(cjson.decode(raw)))
    redis.call('HDEL', KEYS[K_DELIVERIES], id)
  end
  redis.call('ZREM', KEYS[K_FINISHED], id)
end
return #ids
`;

const SCRIPTS = {
  webhookEnqueue: ENQUEUE,
  webhookSettle: SETTLE,
  webhookRetry: RETRY,
  webhookPatchEndpoint: PATCH_ENDPOINT,
  webhookCleanup: CLEANUP,
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number;

/** Runs the webhook scripts (EVALSHA, loaded on first use) with the fixed key list. */
export class WebhookScripts {
  private readonly keyList: string[];

  constructor(
    private readonly redis: Redis,
    keys: WebhookKeys,
  ) {
    this.keyList = scriptKeys(keys);
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: this.keyList.length, lua });
    }
  }

  run<T = unknown>(name: ScriptName, now: number, ...args: Arg[]): Promise<T> {
    const command = (this.redis as unknown as Record<ScriptName, (...a: Arg[]) => Promise<T>>)[
      name
    ];
    return command.call(this.redis, ...this.keyList, now, ...args);
  }
}
