--[[
jobgate job queue: one Redis Functions library, assembled by scripts/embed-lua.mjs from this
header, the generated key and field constants, lib/*.lua (shared helpers, in a fixed order) and
functions/*.lua (one registered function each, with its own KEYS/ARGV/returns/events header).
Loaded with FUNCTION LOAD REPLACE by src/installer.ts, which reads LIBRARY_VERSION below and
compares it with what `jobgate_version` answers on the server: older -> replace, equal -> keep,
newer -> refuse. Bump LIBRARY_VERSION with every change to any of these files.

KEYS: every function but jobgate_version receives the same NKEYS keys, in the order of KEY_NAMES
in src/keys.ts (K_* below are generated from it), all of one namespace and so all with the hash
tag {ns} (one cluster slot); jobgate_submit also receives its services' wake-up lists after them.
No function touches any other key, so every key is declared and the library is Redis Cluster /
Valkey cluster safe. Variable parts (requirement signature, workflow, customer, job id) live
inside members and fields, never in key names; that is what makes a fixed key list possible (the
per-service wake-up lists are known to the caller before the call).
  {ns}:jobs          hash   job id -> job state (JSON, without payload and result)
  {ns}:payloads      hash   job id -> payload JSON (opaque to Lua)
  {ns}:results       hash   job id -> result JSON (opaque to Lua)
  {ns}:pending       zset   score 0, lex member svc \0 sig \0 PK \0 id   (runnable-now jobs)
  {ns}:buckets       zset   score 0, lex member svc \0 sig   (buckets with pending jobs)
  {ns}:bucket-heads  hash   svc \0 sig -> the bucket's head PK \0 id, present exactly while the
                            bucket has pending jobs (versions <= 12: {ns}:bucket-len, \1-prefixed)
  {ns}:specs         hash   sig -> {"r": requirements, "c": customer_id} JSON
  {ns}:wf-pending    zset   score 0, lex member wf \0 PK \0 svc \0 sig \0 id
  {ns}:active        zset   score lease expiry (ms), member job id: exactly the active jobs
  {ns}:delayed       zset   score time the retry is due (ms), member job id
  {ns}:events        stream one entry per transition, trimmed with MAXLEN ~
  {ns}:seq           string submit sequence (INCR): FIFO tie-break
  {ns}:wake          list   wake-up tokens for any idle worker (BLPOP), capped at WAKE_CAP:
                            requeues, released jobs, promoted retries
  {ns}:unrunnable    zset   score seq, member id: pending jobs with malformed requirements
  {ns}:all           zset   score seq, member id: every job (listing)
  {ns}:by-customer   zset   score 0, lex member customer \0 SEQ \0 id
  {ns}:by-workflow   zset   score 0, lex member workflow \0 SEQ \0 id
  {ns}:by-status     zset   score 0, lex member status \0 SEQ \0 id, for every status but active
                            ({ns}:active lists those)
  {ns}:heads         zset   score 0, lex member PK \0 id \0 svc \0 sig: each bucket's head
The per-service pending count is ZLEXCOUNT {ns}:pending [svc\0 (svc\1 (no counter to keep).

PK (33 bytes) = P (17 digits: 10^16 - priority, so higher priority sorts first) .. SEQ (16
digits, zero padded). Lexicographic order of PK is exactly (priority desc, submit order asc) for
every safe integer priority: no float ever holds both parts. sig = requirement signature: jobs of
one service with identical requirements and customer share a bucket; a claim evaluates each
bucket's requirements once and looks only at bucket heads ({ns}:heads, in PK order), so its cost
grows with the number of buckets ahead of the first runnable one, never with the number of jobs
the worker cannot run. A worker of one or two services (and any worker when there are many
buckets) reads the buckets and heads of its own services only ({ns}:buckets, {ns}:bucket-heads),
not the global head list (since version 15; no stored data changed). The claims of one
jobgate_batch call read a service's bucket list and heads once (version 16, a per-call memo), and
write each bucket's changed head once, at the end of the call (version 17; a read of {ns}:heads
in the call writes them first). Version 17 also keeps the decoded state of a job it claimed (per
Lua state, bounded) for the job's next transition when the stored JSON is still that string.
Version 18 binds the globals every job reads (redis.call, cjson, string functions) once as
upvalues, encodes a job.claimed / job.completed event's data once for equal values, gives lease
scores to ZADD as text, and builds fewer strings per claim (no stored data changed).
Version 19 stores a state as its cold fields' JSON, written once at the submit, then its hot
fields written without cjson (lib/store.lua): a transition re-encodes only what it changes. The
JSON readers parse is the same object; states of older versions move to the form at their next
write (no migration pass).
Version 20 claims a job the submit wrote without decoding its JSON: the few fields the claim and
the completion need are read from the text (lib/store.lua, load_pending); no stored data changed.
Version 21: in a jobgate_batch call of several claims, a worker of up to 16 services searches its
services' buckets through the call's memo (as a worker of one or two does), so the call's head
writes stay held to its end instead of being written before every claim (no stored data changed).
Version 22: a submit checks each distinct service, signature, priority key, customer and workflow
of a batch once, and encodes a job.received event's data once per service and priority.
Version 23: a submit decodes, checks and encodes each distinct requirement set before it writes
anything, and refuses a batch with a non-finite max_attempts, step or requirement number (NaN,
inf, 1e999: cjson cannot write them, which failed the call half way and lost a job); every
function refuses a non-finite now and a MAXLEN that is not an integer >= 0 before any write.
Version 24: a claim (jobgate_claim, jobgate_complete_and_claim, in jobgate_batch too) refuses a
lease_ms that is not a finite number > 0 before any write (it took the job out of the pending
index, then failed: pending but never claimable), a heartbeat refuses NaN and infinity, and a
retryable fail refuses a non-finite delay or backoff number before it takes the job off active.
Version 25: a claim refuses a worker JSON that is not an object with a printable worker_id and at
least one service with JG_INVALID before any write, its reap step included (it reaped, then failed
with a raw script error), and jobgate_progress refuses a percent that is not a number from 0 to
100 (NaN and infinity failed the call inside cjson; text was stored as no percent).

Errors are replies starting with a code the client maps to typed errors:
  JG_NOT_FOUND <id>, JG_NOT_HELD <reason> <id> (reason: status:<s> | other_worker |
  lease_expired), JG_INVALID <message>.
]]

local LIBRARY_VERSION = 25
