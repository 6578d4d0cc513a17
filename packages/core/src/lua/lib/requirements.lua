-- Requirement validation (at submit) and matching rules (a worker against a bucket spec).

local KNOWN = { hardware = true, models = true, customer_isolation = true, ['not'] = true }

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

-- Where `v` holds a number cjson cannot write (NaN, infinity: a JSON text may say 1e999, NaN or
-- Infinity): its path below the requirements ('' for `v` itself, '.hardware.gpu_memory_gb'),
-- else nil. The path is built only on the way back from such a number.
local function nonfinite_path(v)
  local t = type(v)
  if t == 'number' then
    if not finite(v) then return '' end
  elseif t == 'table' then
    for k, x in pairs(v) do
      local at = nonfinite_path(x)
      if at then return '.' .. tostring(k) .. at end
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

