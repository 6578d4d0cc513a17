import { ExportResultCode, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { queueKeys } from '@jobgate/core';
import {
  EventDecoder,
  TERMINAL_EVENT_TYPES,
  type EventFilter,
  type QueueEvent,
} from '@jobgate/telemetry';
import type { Redis } from 'ioredis';
import { readNewEntries, type Entry } from './read.js';
import { decodeEvent, encodeEvent } from './record.js';
import { buildJob, compareEntryIds, type BuiltJob, type RecordedEvent } from './spans.js';

export interface CollectorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CollectorOptions {
  namespace: string;
  group: string;
  consumer: string;
  /** Stream entries per read. */
  batchSize: number;
  /** Spans per OTLP request. */
  exportBatchSize: number;
  /** OTLP requests of one batch in flight at once (a batch is acknowledged after all succeed). */
  exportConcurrency?: number;
  blockMs: number;
  /** Entries pending this long in another consumer are taken over (XAUTOCLAIM). */
  claimIdleMs: number;
  claimIntervalMs: number;
  /** Open jobs (spans not yet exported) kept at most; the oldest beyond are closed as incomplete. */
  maxOpenSpans: number;
  /** A job open this long is closed as incomplete. */
  maxSpanAgeMs: number;
  sweepIntervalMs: number;
  /**
   * A finished job whose record misses events (another instance may still be recording them) is
   * exported this long after its end at the earliest.
   */
  settleMs: number;
  /** How long a finished job is remembered, so late copies of its entries are not re-opened. */
  doneTtlSeconds: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Where a new consumer group starts: `0` (everything the stream still holds) or `$` (new only). */
  startFrom: '0' | '$';
  filter?: EventFilter;
}

export interface CollectorDeps {
  redis: Redis;
  exporter: SpanExporter;
  resource: Resource;
  logger: CollectorLogger;
  options: CollectorOptions;
  scope?: InstrumentationScope;
  clock?: () => number;
  /** Called for every finished job exported (the throughput metric). */
  onJobExported?: (job: BuiltJob) => void;
}

export interface CollectorStats {
  batches: number;
  entriesAcked: number;
  spansExported: { job: number; attempt: number };
  jobsClosedIncomplete: number;
  exportFailures: number;
  /** Consecutive failed attempts of the current batch (0 when exporting works). */
  failingSince: number | null;
  consecutiveFailures: number;
  lastCycleAt: number;
  redisErrors: number;
}

export interface Collector {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly stats: CollectorStats;
  readonly decoder: EventDecoder;
  /** Open jobs (not yet exported) recorded in Redis, over all instances. */
  openSpans(): Promise<number>;
  /** Pending (read, not acknowledged) entries of the group and entries not yet read. */
  backlog(): Promise<{ pending: number; lag: number | null }>;
  readonly running: boolean;
}

class ExportFailed extends Error {
  override name = 'ExportFailed';
}

/** A batch being committed, and what it was prepared from. */
interface InFlight {
  entries: Entry[];
  prepared: Prepared;
  /** Its spans are exported: the next batch's export may start. */
  exported: Promise<void>;
  /** Exported, then (after the batch before it) acknowledged: see `commit`. */
  done: Promise<void>;
}

/** A batch recorded and built, not yet exported or acknowledged. */
interface Prepared {
  ack: string[];
  spans: ReadableSpan[];
  /** Per job not finished, the attempts (claim entry ids) this batch exports. */
  exportedAttempts: Map<string, string[]>;
  /**
   * Finished jobs that miss events, exported after the settle time by the sweep: the batch's
   * events of each (not recorded yet: see RECORD_LUA), its first timestamp.
   */
  deferred: { job: string; fields: string[]; ts: number }[];
  /** Finished jobs this batch exports and then finalizes. */
  finalized: Set<string>;
  finished: BuiltJob[];
}

const DONE_CHECK_LIMIT = 10_000;

/**
 * One call per batch instead of five commands per job (the client's per-command cost was a third
 * of the collector's CPU): for each job not yet done, add its events to its record and to the
 * open set; for a job whose batch ends an attempt or the job, return its record as it was before
 * this call (the batch's own events are in hand already) and the attempts already exported. A job
 * the batch finishes (`2`) is exported and finalized right after, so its events are not written
 * (the commit writes them if it has to wait for missing events). KEYS: open, then per job done,
 * record, exported. ARGV: the length of the done keys' prefix (the job id is the rest of its done
 * key), then everything else packed in one string (writing thousands of arguments per batch was
 * the client's largest cost after the reads), each item ended by a newline: per job first
 * timestamp, 0 / 1 (ends an attempt) / 2 (finishes the job), field count, fields. No item holds a
 * newline: timestamps and counts are digits, fields are `e:<entry id>` and JSON, which escapes
 * it. Returns per job 0 (done), 1 (recorded) or { record before, exported }.
 */
const RECORD_LUA = `
local out = {}
local skip = tonumber(ARGV[1])
local s = ARGV[2]
local pos = 1
local find, sub = string.find, string.sub
local function item()
  local e = find(s, '\\n', pos, true)
  local v = sub(s, pos, e - 1)
  pos = e + 1
  return v
end
for i = 0, (#KEYS - 1) / 3 - 1 do
  local done, record, exported = KEYS[2 + i * 3], KEYS[3 + i * 3], KEYS[4 + i * 3]
  local job = sub(done, skip + 1)
  local ts, ends, n = item(), item(), tonumber(item())
  local fields = {}
  for j = 1, n do fields[j] = item() end
  if redis.call('EXISTS', done) == 1 then
    out[#out + 1] = 0
  else
    local before = nil
    if ends ~= '0' then before = redis.call('HGETALL', record) end
    -- In slices: unpack() is limited by Lua's stack (a job with thousands of progress events).
    for j = 1, n, 1000 do
      redis.call('HSET', record, unpack(fields, j, math.min(j + 999, n)))
    end
    if ends ~= '2' then redis.call('ZADD', KEYS[1], 'NX', ts, job) end
    if ends ~= '0' then
      out[#out + 1] = { before, redis.call('SMEMBERS', exported) }
    else
      out[#out + 1] = 1
    end
  end
end
return out
`;

/**
 * Finished jobs: out of the open and ready sets, record and exported set gone, done marker. The
 * marker last: a call that fails part-way leaves the job not done, so handling its batch again
 * finalizes it again.
 */
const FINALIZE_LUA = `
for i = 0, (#KEYS - 2) / 3 - 1 do
  local job = ARGV[2 + i]
  redis.call('ZREM', KEYS[1], job)
  redis.call('ZREM', KEYS[2], job)
  redis.call('DEL', KEYS[4 + i * 3], KEYS[5 + i * 3])
  redis.call('SET', KEYS[3 + i * 3], '1', 'EX', ARGV[1])
end
return 1
`;

type Scripted = Redis & {
  otelRecord(numKeys: number, ...args: string[]): Promise<unknown[]>;
};
type ScriptedPipeline = ReturnType<Redis['pipeline']> & {
  otelFinalize(numKeys: number, ...args: string[]): unknown;
};

export function createCollector(deps: CollectorDeps): Collector {
  const { redis, exporter, logger, options } = deps;
  const clock = deps.clock ?? Date.now;
  const stream = queueKeys(options.namespace).events;
  // Per group: two groups are two independent pipelines (e.g. two backends), each with its own
  // open records and done markers.
  const prefix = `{${options.namespace}}:otel:${options.group}`;
  const keys = {
    record: (job: string) => `${prefix}:job:${job}`,
    exported: (job: string) => `${prefix}:x:${job}`,
    done: (job: string) => `${prefix}:done:${job}`,
    open: `${prefix}:open`,
    ready: `${prefix}:ready`,
    worker: (id: string) => `{${options.namespace}}:worker:${id}`,
  };
  const scripted = redis as Scripted;
  if (!('otelRecord' in redis)) {
    redis.defineCommand('otelRecord', { lua: RECORD_LUA });
    redis.defineCommand('otelFinalize', { lua: FINALIZE_LUA });
  }
  const scope = deps.scope ?? { name: '@jobgate/telemetry-collector' };
  const spanOptions = { namespace: options.namespace, resource: deps.resource, scope };
  const decoder = new EventDecoder({
    filter: options.filter,
    onDrop: (drop) =>
      logger.warn(
        { entry: drop.entryId, reason: drop.reason, error: drop.error },
        'event stream entry dropped',
      ),
  });
  const stats: CollectorStats = {
    batches: 0,
    entriesAcked: 0,
    spansExported: { job: 0, attempt: 0 },
    jobsClosedIncomplete: 0,
    exportFailures: 0,
    failingSince: null,
    consecutiveFailures: 0,
    lastCycleAt: 0,
    redisErrors: 0,
  };
  const machines = new Map<string, string>();

  let reader: Redis | undefined;
  let stopped = false;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: () => void = () => undefined;
  let stopSignal = new Promise<void>((resolve) => {
    wake = resolve;
  });

  const sleep = async (ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
      stopSignal,
    ]);
    clearTimeout(timer);
  };

  async function exportSpans(spans: ReadableSpan[]): Promise<void> {
    const chunks: ReadableSpan[][] = [];
    for (let i = 0; i < spans.length; i += options.exportBatchSize)
      chunks.push(spans.slice(i, i + options.exportBatchSize));
    const exportChunk = async (chunk: ReadableSpan[]): Promise<void> => {
      const result = await new Promise<{ code: ExportResultCode; error?: Error }>((resolve) =>
        exporter.export(chunk, resolve),
      );
      if (result.code !== ExportResultCode.SUCCESS) {
        throw new ExportFailed(result.error?.message ?? 'OTLP export failed');
      }
    };
    // Up to `exportConcurrency` requests at once; any failure fails the batch (nothing is
    // acknowledged, the batch is exported again: the same span ids).
    const lanes = Math.max(1, options.exportConcurrency ?? 1);
    let next = 0;
    let failed = false;
    await Promise.all(
      Array.from({ length: Math.min(lanes, chunks.length) }, async () => {
        while (!failed && next < chunks.length) {
          try {
            await exportChunk(chunks[next++]!);
          } catch (error) {
            failed = true;
            throw error;
          }
        }
      }),
    );
  }

  /**
   * A job's record (HGETALL's flat field/value list) as events, with `extra` (the batch's own
   * events of the job) added unless the record has them already, in stream order.
   */
  function parseRecord(
    job: string,
    flat: readonly string[],
    extra: readonly RecordedEvent[] = [],
  ): RecordedEvent[] {
    const events: RecordedEvent[] = [];
    const seen = extra.length > 0 ? new Set<string>() : undefined;
    for (let k = 0; k + 1 < flat.length; k += 2) {
      const field = flat[k]!;
      if (!field.startsWith('e:')) continue;
      const event = decodeEvent(job, field.slice(2), flat[k + 1]!);
      if (!event) continue;
      events.push(event);
      seen?.add(event.event_id);
    }
    for (const event of extra) if (!seen!.has(event.event_id)) events.push(event);
    return events.sort((a, b) => compareEntryIds(a.event_id, b.event_id));
  }

  /** Spans to export for a job now, and whether the job is done with. */
  function plan(
    built: BuiltJob,
    exported: Set<string>,
    settled: boolean,
  ): { spans: ReadableSpan[]; attempts: string[]; finalize: boolean; defer: boolean } {
    if (built.finished) {
      if (built.partial && !settled)
        return { spans: [], attempts: [], finalize: false, defer: true };
      const attempts = built.attempts.filter((a) => !exported.has(a.claimEntryId));
      return {
        spans: [...attempts.map((a) => a.span), built.job],
        attempts: attempts.map((a) => a.claimEntryId),
        finalize: true,
        defer: false,
      };
    }
    const attempts = built.attempts.filter((a) => a.ended && !exported.has(a.claimEntryId));
    return {
      spans: attempts.map((a) => a.span),
      attempts: attempts.map((a) => a.claimEntryId),
      finalize: false,
      defer: false,
    };
  }

  function count(spans: ReadableSpan[]): void {
    for (const span of spans) {
      if (span.parentSpanContext) stats.spansExported.attempt++;
      else stats.spansExported.job++;
    }
  }

  /**
   * One batch, first half: record every valid event in its job's record and build the spans the
   * batch completes. Nothing is exported or acknowledged yet (`commit` does that), so a failure
   * anywhere leaves the entries pending and handling them again gives the same records and the
   * same span ids. `inFlight`, the batches still being committed, count as committed: their
   * finished jobs are skipped and their attempts are not exported again (if a commit fails, this
   * batch is prepared again after it succeeded).
   */
  async function prepare(entries: Entry[], inFlight: readonly Prepared[] = []): Promise<Prepared> {
    const ack: string[] = [];
    const byJob = new Map<string, { events: RecordedEvent[]; ends: boolean; finishes: boolean }>();
    for (const [id, fields] of entries) {
      ack.push(id);
      const event = decoder.decode(id, fields ?? []);
      if (!event) continue;
      // Finished by a batch in flight: what the record script would say once it is committed.
      if (inFlight.some((batch) => batch.finalized.has(event.job_id))) continue;
      let job = byJob.get(event.job_id);
      if (!job) {
        job = { events: [], ends: false, finishes: false };
        byJob.set(event.job_id, job);
      }
      job.events.push(event);
      if (isEnd(event)) job.ends = true;
      if (TERMINAL_EVENT_TYPES.has(event.type)) job.finishes = true;
    }

    const unknownWorkers = new Set<string>();
    for (const job of byJob.values())
      for (const e of job.events)
        if (e.type === 'job.claimed' && !machines.has(e.data.worker_id))
          unknownWorkers.add(e.data.worker_id);
    const workers = [...unknownWorkers];
    if (workers.length > 0) {
      const found = await redis.mget(...workers.map((worker) => keys.worker(worker)));
      workers.forEach((worker, i) => {
        const raw = found[i];
        if (typeof raw !== 'string') return;
        try {
          const machine = (JSON.parse(raw) as { machine_id?: unknown }).machine_id;
          if (typeof machine === 'string') {
            if (machines.size >= DONE_CHECK_LIMIT) machines.clear();
            machines.set(worker, machine);
          }
        } catch {
          // A worker record that is not JSON: no machine id for its spans.
        }
      });
    }

    const scriptKeys: string[] = [keys.open];
    const packed: string[] = [];
    const jobs: { job: string; events: RecordedEvent[] }[] = [];
    for (const [job, { events, ends, finishes }] of byJob) {
      scriptKeys.push(keys.done(job), keys.record(job), keys.exported(job));
      const recorded: RecordedEvent[] = [];
      for (const event of events) {
        const machine =
          event.type === 'job.claimed' ? machines.get(event.data.worker_id) : undefined;
        recorded.push(machine ? { ...event, machine_id: machine } : event);
      }
      const ts = String(events[0]!.timestamp);
      if (finishes) {
        packed.push(ts, '2', '0');
      } else {
        packed.push(ts, ends ? '1' : '0', String(events.length * 2));
        for (const event of recorded) packed.push(`e:${event.event_id}`, encodeEvent(event));
      }
      jobs.push({ job, events: recorded });
    }
    const replies =
      jobs.length > 0
        ? await scripted.otelRecord(
            scriptKeys.length,
            ...scriptKeys,
            String(Buffer.byteLength(keys.done(''))),
            packed.join('\n') + '\n',
          )
        : [];

    const prepared: Prepared = {
      ack,
      spans: [],
      exportedAttempts: new Map(),
      deferred: [],
      finalized: new Set(),
      finished: [],
    };
    jobs.forEach(({ job, events }, i) => {
      const reply = replies[i];
      if (!Array.isArray(reply)) return;
      const [before, exportedList] = reply as [string[], string[]];
      const exported = new Set(exportedList);
      for (const batch of inFlight)
        for (const attempt of batch.exportedAttempts.get(job) ?? []) exported.add(attempt);
      const built = buildJob(parseRecord(job, before, events), spanOptions);
      if (!built) return;
      const settled = clock() - built.endMs >= options.settleMs;
      const step = plan(built, exported, settled);
      for (const span of step.spans) prepared.spans.push(span);
      if (step.defer) {
        const fields: string[] = [];
        for (const event of events) fields.push(`e:${event.event_id}`, encodeEvent(event));
        prepared.deferred.push({ job, fields, ts: events[0]!.timestamp });
      }
      if (step.finalize) {
        prepared.finished.push(built);
        prepared.finalized.add(job);
      } else if (step.attempts.length > 0) {
        prepared.exportedAttempts.set(job, step.attempts);
      }
    });
    return prepared;
  }

  /**
   * One batch, second half: export its spans, then in one round trip remember the exported
   * attempts, finalize the finished jobs and acknowledge the entries. `before` is the commit of the
   * batch before it, still under way: the export does not wait for it (the caller starts this one
   * only once that batch's spans are exported), the acknowledgement does, so entries are
   * acknowledged in stream order and, when that batch fails, this one fails too without writing
   * anything (it is handled again from its entries). A failed export acknowledges nothing.
   */
  function commit(
    prepared: Prepared,
    before?: Promise<void>,
  ): { exported: Promise<void>; done: Promise<void> } {
    const { spans, ack } = prepared;
    const exported = exportSpans(spans);
    const done = (async () => {
      await exported;
      count(spans);
      await before;
      const after = redis.pipeline() as ScriptedPipeline;
      for (const { job, fields, ts } of prepared.deferred) {
        after.hset(keys.record(job), ...fields);
        after.zadd(keys.open, 'NX', String(ts), job);
        after.zadd(keys.ready, String(clock() + options.settleMs), job);
      }
      for (const [job, attempts] of prepared.exportedAttempts) {
        after.sadd(keys.exported(job), ...attempts);
        after.expire(keys.exported(job), options.doneTtlSeconds);
      }
      finalizeAll(after, [...prepared.finalized]);
      if (ack.length > 0) after.xack(stream, options.group, ...ack);
      const results = (await after.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
      stats.entriesAcked += ack.length;
      for (const job of prepared.finished) deps.onJobExported?.(job);
    })();
    exported.catch(() => undefined);
    done.catch(() => undefined);
    return { exported, done };
  }

  async function processEntries(entries: Entry[]): Promise<void> {
    await commit(await prepare(entries)).done;
  }

  function finalizeAll(pipeline: ScriptedPipeline, jobs: string[]): void {
    if (jobs.length === 0) return;
    const finalizeKeys = [keys.open, keys.ready];
    for (const job of jobs) finalizeKeys.push(keys.done(job), keys.record(job), keys.exported(job));
    pipeline.otelFinalize(
      finalizeKeys.length,
      ...finalizeKeys,
      String(options.doneTtlSeconds),
      ...jobs,
    );
  }

  function finalize(pipeline: ReturnType<Redis['pipeline']>, job: string): void {
    pipeline.set(keys.done(job), '1', 'EX', options.doneTtlSeconds);
    pipeline.del(keys.record(job), keys.exported(job));
    pipeline.zrem(keys.open, job);
    pipeline.zrem(keys.ready, job);
  }

  /**
   * Deferred jobs that are due, and jobs open past the limits (closed and marked incomplete).
   * Works on Redis state only, so any instance may do it.
   */
  async function sweep(): Promise<void> {
    const now = clock();
    const due = await redis.zrangebyscore(keys.ready, '-inf', String(now), 'LIMIT', 0, 500);
    const open = await redis.zcard(keys.open);
    const over = Math.min(Math.max(0, open - options.maxOpenSpans), 1_000);
    const oldest = over > 0 ? await redis.zrange(keys.open, '0', String(over - 1)) : [];
    const aged = await redis.zrangebyscore(
      keys.open,
      '-inf',
      String(now - options.maxSpanAgeMs),
      'LIMIT',
      0,
      500,
    );
    const close = new Set([...oldest, ...aged]);
    const jobs = [...new Set([...due, ...close])];
    if (jobs.length === 0) return;
    const read = redis.pipeline();
    for (const job of jobs) {
      read.exists(keys.done(job));
      // The flat reply (not ioredis' object form): parseRecord reads field/value pairs.
      read.call('HGETALL', keys.record(job));
      read.smembers(keys.exported(job));
    }
    const replies = (await read.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const spans: ReadableSpan[] = [];
    const after = redis.pipeline();
    const finished: BuiltJob[] = [];
    let closed = 0;
    jobs.forEach((job, i) => {
      const isDone = replies[i * 3]?.[1] === 1;
      const flat = replies[i * 3 + 1]?.[1] as string[];
      const exported = new Set(replies[i * 3 + 2]?.[1] as string[]);
      const built = isDone ? null : buildJob(parseRecord(job, flat), spanOptions, close.has(job));
      if (!built) {
        // Already exported by another instance, or a record left by a late copy: nothing to send.
        finalize(after, job);
        return;
      }
      const step = plan(built, exported, true);
      if (!built.finished) {
        spans.push(
          ...built.attempts.filter((a) => !exported.has(a.claimEntryId)).map((a) => a.span),
          built.job,
        );
        closed++;
      } else {
        spans.push(...step.spans);
        finished.push(built);
      }
      finalize(after, job);
    });
    await exportSpans(spans);
    count(spans);
    await after.exec();
    stats.jobsClosedIncomplete += closed;
    if (closed > 0)
      logger.warn({ closed, open, limit: options.maxOpenSpans }, 'open spans closed as incomplete');
    for (const job of finished) deps.onJobExported?.(job);
  }

  async function ensureGroup(): Promise<void> {
    try {
      await redis.xgroup('CREATE', stream, options.group, options.startFrom, 'MKSTREAM');
      logger.info(
        { stream, group: options.group, from: options.startFrom },
        'consumer group created',
      );
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  function succeeded(): void {
    stats.batches++;
    stats.lastCycleAt = clock();
    if (stats.consecutiveFailures > 0)
      logger.info({ failures: stats.consecutiveFailures }, 'export recovered');
    stats.consecutiveFailures = 0;
    stats.failingSince = null;
  }

  /** Counts and logs a failed batch, then waits out its backoff. */
  async function failed(error: unknown): Promise<void> {
    stats.consecutiveFailures++;
    stats.failingSince ??= clock();
    if (error instanceof ExportFailed) stats.exportFailures++;
    else stats.redisErrors++;
    const delay = Math.min(
      options.backoffMaxMs,
      options.backoffBaseMs * 2 ** Math.min(stats.consecutiveFailures - 1, 16),
    );
    logger.warn(
      { err: (error as Error).message, failures: stats.consecutiveFailures, retryInMs: delay },
      error instanceof ExportFailed
        ? 'OTLP export failed; backing off'
        : 'batch failed; backing off',
    );
    await sleep(delay);
  }

  /** Handles a batch until it succeeds, backing off while the backend (or Redis) fails. */
  async function handle(entries: Entry[]): Promise<void> {
    for (;;) {
      try {
        await processEntries(entries);
        succeeded();
        return;
      } catch (error) {
        if (stopped) return;
        await failed(error);
        if (stopped) return;
      }
    }
  }

  /**
   * Waits for a batch's commit; a failed one is handled again (with backoff) until it succeeds.
   * False when it failed: the batch prepared meanwhile assumed it would succeed as it was, so
   * that one must be prepared again.
   */
  async function settle(inFlight: InFlight): Promise<boolean> {
    try {
      await inFlight.done;
      succeeded();
      return true;
    } catch (error) {
      if (stopped) return false;
      await failed(error);
      if (!stopped) await handle(inFlight.entries);
      return false;
    }
  }

  async function readOwnPending(): Promise<void> {
    let cursor = '0';
    while (!stopped) {
      const reply = (await redis.xreadgroup(
        'GROUP',
        options.group,
        options.consumer,
        'COUNT',
        options.batchSize,
        'STREAMS',
        stream,
        cursor,
      )) as [string, Entry[]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) return;
      cursor = entries[entries.length - 1]![0];
      await handle(entries);
    }
  }

  async function autoclaim(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await redis.xautoclaim(
        stream,
        options.group,
        options.consumer,
        options.claimIdleMs,
        cursor,
        'COUNT',
        options.batchSize,
      )) as [string, Entry[], string[]?];
      cursor = next;
      const live = entries.filter((e): e is Entry => Array.isArray(e) && e[1] !== null);
      if (live.length > 0) {
        logger.info({ entries: live.length }, 'took over entries of an idle consumer');
        await handle(live);
      }
    } while (cursor !== '0-0' && !stopped);
  }

  /**
   * Reads the stream with batches in flight: while one batch is exported, the next is read,
   * recorded and built; its export starts once the one before it is exported (that one's
   * acknowledgement may still be on its way: the exports follow each other, the round trip to
   * Redis overlaps the next export), and it is acknowledged only after the one before it was, so
   * entries are acknowledged in order and only after their spans are exported. A batch whose
   * commit fails is handled again, and so is every batch prepared after it.
   */
  async function run(): Promise<void> {
    let lastClaim = 0;
    let lastSweep = 0;
    let redisFailures = 0;
    const readNew = (): Promise<Entry[]> => {
      const read = readNewEntries(
        reader!,
        stream,
        options.group,
        options.consumer,
        options.batchSize,
      );
      read.catch(() => undefined);
      return read;
    };
    /** The next batch's read, sent before this one is prepared. */
    let ahead: Promise<Entry[]> | undefined;
    /** Being committed, in stream order: at most one being acknowledged and one being exported. */
    let flight: InFlight[] = [];
    /** Batches prepared after one that failed: handled again once their own commit is over. */
    const redo = async (batches: InFlight[]): Promise<void> => {
      for (const batch of batches) {
        await batch.done.catch(() => undefined);
        if (!stopped) await handle(batch.entries);
      }
    };
    /**
     * Settles the batches in flight, oldest first, until `keep` are left; false when one failed
     * (then every batch in flight is settled or handled again).
     */
    const settleUntil = async (keep: number): Promise<boolean> => {
      while (flight.length > keep) {
        if (!(await settle(flight.shift()!))) {
          const rest = flight;
          flight = [];
          await redo(rest);
          return false;
        }
      }
      return true;
    };
    /** Settles every batch in flight, in order; false when one failed. */
    const drain = (): Promise<boolean> => settleUntil(0);
    /**
     * Before the next batch's export: every batch but the last settled, the last one's spans
     * exported. False when one failed (then every batch in flight is settled or handled again).
     */
    const makeRoom = async (): Promise<boolean> => {
      if (!(await settleUntil(1))) return false;
      const last = flight[0];
      if (!last) return true;
      try {
        await last.exported;
        return true;
      } catch {
        return drain();
      }
    };
    try {
      while (!stopped) {
        try {
          const now = clock();
          // Taking over and sweeping export spans of their own: never beside a batch in flight.
          // Taking over also never beside entries read ahead and not handled yet (it would take
          // this consumer's own entries if they waited that long, e.g. behind an outage): when
          // it is due, those are handled first and nothing more is read ahead.
          const claimDue = now - lastClaim >= options.claimIntervalMs;
          if (claimDue && !ahead) {
            await drain();
            lastClaim = now;
            await autoclaim();
          }
          if (now - lastSweep >= options.sweepIntervalMs) {
            await drain();
            lastSweep = now;
            await sweep().catch((error: unknown) => {
              stats.exportFailures++;
              logger.warn({ err: (error as Error).message }, 'sweep failed; retrying later');
            });
          }
          if (stopped) return;
          // What is there already, in one string (`src/read.ts`); only when there is nothing and
          // no batch is in flight, a blocking read waits for the next entries (an empty stream
          // must not hold up settling a batch in flight).
          const ready = ahead ?? readNew();
          ahead = undefined;
          let entries = (await Promise.race([ready, stopSignal.then(() => null)])) ?? [];
          if (stopped) return;
          if (entries.length === 0 && flight.length === 0) {
            const read = (reader!.xreadgroup as (...args: unknown[]) => Promise<unknown>)(
              'GROUP',
              options.group,
              options.consumer,
              'COUNT',
              options.batchSize,
              'BLOCK',
              Math.min(options.blockMs, options.sweepIntervalMs),
              'STREAMS',
              stream,
              '>',
            ) as Promise<[string, Entry[]][] | null>;
            read.catch(() => undefined);
            const reply = await Promise.race([read, stopSignal.then(() => null)]);
            if (stopped) return;
            entries = reply?.[0]?.[1] ?? [];
          }
          redisFailures = 0;
          stats.lastCycleAt = clock();
          if (entries.length === 0) {
            await drain();
            continue;
          }
          // The next batch's read is on its way while this one is prepared (its entries join the
          // pending list now: if the process dies, they are handled again like any pending entry).
          if (!claimDue) ahead = readNew();
          let prepared: Prepared | undefined;
          let prepareError: unknown;
          try {
            prepared = await prepare(
              entries,
              flight.map((batch) => batch.prepared),
            );
          } catch (error) {
            prepareError = error;
          }
          if (!(await (prepared ? makeRoom() : drain()))) prepared = undefined;
          if (stopped) return;
          if (!prepared) {
            if (prepareError !== undefined) await failed(prepareError);
            if (!stopped) await handle(entries);
            continue;
          }
          flight.push({ entries, prepared, ...commit(prepared, flight.at(-1)?.done) });
        } catch (error) {
          if (stopped) return;
          redisFailures++;
          stats.redisErrors++;
          const message = (error as Error).message;
          if (message.includes('NOGROUP')) {
            await ensureGroup().catch(() => undefined);
            continue;
          }
          logger.warn(
            { err: message, failures: redisFailures },
            'event stream read failed; retrying',
          );
          await sleep(
            Math.min(
              options.backoffMaxMs,
              options.backoffBaseMs * 2 ** Math.min(redisFailures, 10),
            ),
          );
        }
      }
    } finally {
      // Stopping: the batches in flight finish their export (bounded by the OTLP timeout) or stay
      // pending, as after a crash.
      for (const batch of flight) await batch.done.catch(() => undefined);
    }
  }

  return {
    stats,
    decoder,
    get running() {
      return running;
    },
    async start() {
      if (running) return;
      stopped = false;
      stopSignal = new Promise<void>((resolve) => {
        wake = resolve;
      });
      await ensureGroup();
      reader = redis.duplicate();
      reader.on('error', () => undefined);
      running = true;
      loop = (async () => {
        try {
          await readOwnPending();
          await run();
        } finally {
          running = false;
        }
      })();
      loop.catch((error: unknown) =>
        logger.error({ err: (error as Error).message }, 'collector stopped'),
      );
    },
    async stop() {
      stopped = true;
      wake();
      reader?.disconnect();
      await loop?.catch(() => undefined);
      await exporter.forceFlush?.().catch(() => undefined);
    },
    openSpans: () => redis.zcard(keys.open),
    async backlog() {
      const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
      for (const group of groups) {
        const fields = new Map<string, unknown>();
        for (let i = 0; i + 1 < group.length; i += 2) fields.set(String(group[i]), group[i + 1]);
        if (fields.get('name') !== options.group) continue;
        const lag = fields.get('lag');
        return {
          pending: Number(fields.get('pending') ?? 0),
          lag: lag === null || lag === undefined ? null : Number(lag),
        };
      }
      return { pending: 0, lag: null };
    },
  };
}

function isEnd(event: QueueEvent): boolean {
  return (
    event.type === 'job.completed' ||
    event.type === 'job.failed' ||
    event.type === 'job.cancelled' ||
    event.type === 'job.retry_scheduled' ||
    event.type === 'job.stalled' ||
    event.type === 'job.released'
  );
}
