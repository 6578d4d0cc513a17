--[[
jobgate_submit: stores a batch of jobs; a job whose requirements are malformed is stored as
unrunnable (visible with its reason), never indexed. Validates every job, and decodes, checks and
encodes every distinct requirement set, before writing any: a bad batch is refused whole (a
non-finite max_attempts, step or requirement number included), nothing written.
KEYS: the NKEYS namespace keys, then {ns}:wake:<service> for each service of the batch (the
      wake-up lists of that service's idle workers; one token per new runnable job, capped).
ARGV: now, events MAXLEN, n, then n times the SUBMIT_FIELDS (F_* in the generated header, from
      SUBMIT_FIELDS in src/keys.ts).
Returns: flat array id1, created1 (1|0: 0 when the id already existed, nothing changed), id2, ...
Events: job.received per created job.
]]
-- The data of a job.received event: {service_required, priority, step, unrunnable_reason}, encoded
-- once per service and priority for the jobs without a step or a reason (most of a batch), the
-- same table built the same way, so the same JSON (bounded by RECEIVED_MAX).
local received_cache, received_count = {}, 0
local RECEIVED_MAX = 1000

local function received_data(st)
  local svc, priority, step, reason = st.service_required, st.priority, st.step, st.unrunnable_reason
  local by = step == nil and reason == nil and received_cache[svc]
  local json = by and by[priority]
  if json then return json end
  json = json_encode({
    service_required = svc, priority = priority, step = step, unrunnable_reason = reason,
  })
  if step == nil and reason == nil then
    if received_count >= RECEIVED_MAX then received_cache, received_count = {}, 0 end
    by = received_cache[svc]
    if not by then
      by = {}
      received_cache[svc] = by
    end
    by[priority] = json
    received_count = received_count + 1
  end
  return json
end

redis.register_function('jobgate_submit', function(keys, args)
  local now, maxlen, err = common(keys, args, true)
  if err then return err end
  local n = tonum(args[3])
  if not n or n < 1 or #args ~= 3 + n * NFIELDS then return invalid('expected ' .. NFIELDS .. ' fields per job') end
  -- Validate every job before writing any, so a bad batch changes nothing. The jobs of a batch
  -- repeat a few services, signatures, priorities, customers and workflows: each distinct value is
  -- checked once per call (`named`: valid_name held; `hex`, `pkeys`: the sig and P patterns).
  -- Each distinct requirement set (by sig, customer and JSON, `skeys[i]` for job i) is decoded
  -- and checked here too: `problems` holds its unrunnable reason (false: none) and `specs` the
  -- JSON of its {ns}:specs entry, so the write loop below runs nothing that can fail.
  local named, hex, pkeys = {}, {}, {}
  local problems, specs, skeys = {}, {}, {}
  for i = 0, n - 1 do
    local b = 3 + i * NFIELDS
    if not valid_name(args[b + F_ID]) then return invalid('job ' .. (i + 1) .. ': id must be 1-256 printable characters') end
    local svc, sig, p = args[b + F_SERVICE_REQUIRED], args[b + F_SIG], args[b + F_P]
    if not named[svc] then
      if not valid_name(svc) then return invalid('job ' .. (i + 1) .. ': service_required must be 1-256 printable characters') end
      named[svc] = true
    end
    if not hex[sig] then
      if not string.match(sig, '^[0-9a-f]+$') then return invalid('job ' .. (i + 1) .. ': sig must be hex') end
      hex[sig] = true
    end
    if not pkeys[p] then
      if not string.match(p, '^%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d$') then return invalid('job ' .. (i + 1) .. ': P must be 17 digits') end
      pkeys[p] = true
    end
    local customer, workflow = args[b + F_CUSTOMER_ID], args[b + F_WORKFLOW_ID]
    if customer ~= '' and not named[customer] then
      if not valid_name(customer) then return invalid('job ' .. (i + 1) .. ': customer_id must be printable') end
      named[customer] = true
    end
    if workflow ~= '' and not named[workflow] then
      if not valid_name(workflow) then return invalid('job ' .. (i + 1) .. ': workflow_id must be printable') end
      named[workflow] = true
    end
    local max = tonum(args[b + F_MAX_ATTEMPTS])
    if not finite(max) or max < 1 then return invalid('job ' .. (i + 1) .. ': max_attempts must be a finite number >= 1') end
    local step = args[b + F_STEP]
    if step ~= '' and not finite(tonum(step)) then return invalid('job ' .. (i + 1) .. ': step must be a finite number') end
    local requirements = args[b + F_REQUIREMENTS]
    local skey = sig .. SEP .. customer .. SEP .. requirements
    skeys[i] = skey
    if problems[skey] == nil then
      local ok, r = pcall(json_decode, requirements)
      local problem
      if not ok then
        problem = 'requirements are not valid JSON'
      else
        local at = nonfinite_path(r)
        if at then return invalid('job ' .. (i + 1) .. ': requirements' .. at .. ' must be a finite number') end
        local c = customer ~= '' and customer or nil
        problem = spec_problem(r, c)
        if not problem then
          local encoded, spec = pcall(json_encode, { r = r, c = c })
          if not encoded then return invalid('job ' .. (i + 1) .. ': requirements cannot be stored: ' .. tostring(spec)) end
          specs[skey] = spec
        end
      end
      problems[skey] = problem or false
    end
  end
  local out = {}
  local woken = {}
  -- One INCRBY reserves a sequence number per job of the batch; ids already present leave gaps,
  -- which keep the order exact (only the order of SEQ matters, never its density).
  local next_seq = rcall('INCRBY', keys[K_SEQ], n) - n
  for i = 0, n - 1 do
    local b = 3 + i * NFIELDS
    local id = args[b + F_ID]
    -- Writing the payload first doubles as the existence check: every job has one.
    if rcall('HSETNX', keys[K_PAYLOADS], id, args[b + F_PAYLOAD]) == 0 then
      out[#out + 1] = id
      out[#out + 1] = 0
    else
      next_seq = next_seq + 1
      local seq = sformat('%016d', next_seq)
      local customer = args[b + F_CUSTOMER_ID] ~= '' and args[b + F_CUSTOMER_ID] or nil
      local st = {
        id = id,
        service_required = args[b + F_SERVICE_REQUIRED],
        sig = args[b + F_SIG],
        priority = args[b + F_PRIORITY],
        seq = seq,
        pk = args[b + F_P] .. seq,
        requirements = args[b + F_REQUIREMENTS],
        customer_id = customer,
        workflow_id = args[b + F_WORKFLOW_ID] ~= '' and args[b + F_WORKFLOW_ID] or nil,
        step = tonum(args[b + F_STEP]),
        max_attempts = tonum(args[b + F_MAX_ATTEMPTS]),
        created_at = now,
      }
      -- Its cold fields are all it has yet: their JSON is written once, here (lib/store.lua).
      seal_cold(st)
      st.attempts = 0
      -- Jobs of one batch usually share requirements: each distinct set was checked once above,
      -- and is stored once, with the first job of it created.
      local skey = skeys[i]
      local problem = problems[skey]
      local spec = specs[skey]
      if spec then
        rcall('HSETNX', keys[K_SPECS], st.sig, spec)
        specs[skey] = nil
      end
      set_status(keys, st, 'pending')
      if problem then
        st.unrunnable_reason = problem
        rcall('ZADD', keys[K_UNRUNNABLE], seq, id)
      else
        index_pending(keys, st)
        woken[st.service_required] = (woken[st.service_required] or 0) + 1
      end
      rcall('ZADD', keys[K_ALL], seq, id)
      if customer then rcall('ZADD', keys[K_BY_CUSTOMER], '0', customer .. SEP .. seq .. SEP .. id) end
      if st.workflow_id then rcall('ZADD', keys[K_BY_WORKFLOW], '0', st.workflow_id .. SEP .. seq .. SEP .. id) end
      save_job(keys, st, submitted_state_json(st))
      emit_json(keys, maxlen, 'job.received', st, now, received_data(st))
      out[#out + 1] = id
      out[#out + 1] = 1
    end
  end
  -- Each service's waiting workers get its tokens, through the lists the caller declared after
  -- the namespace keys; a service whose list was not declared (an older client) wakes everyone.
  local declared = {}
  for i = NKEYS + 1, #keys do declared[keys[i]] = true end
  for svc, n in pairs(woken) do
    local list = keys[K_WAKE] .. ':' .. svc
    if declared[list] then wake_list(list, n) else wake_list(keys[K_WAKE], n) end
  end
  return out
end)
