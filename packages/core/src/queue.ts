import { randomUUID } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { priorityKey, requirementSignature } from './encoding.js';
import {
  JobNotFoundError,
  JobNotHeldError,
  ValidationError,
  type NotHeldReason,
} from './errors.js';
import { installLibrary, isMissingFunctionError } from './installer.js';
import {
  queueKeys,
  RETIRED_KEY_NAMES,
  serviceWakeKey,
  SUBMIT_FIELDS,
  type QueueKeys,
  type SubmitField,
} from './keys.js';
import {
  JOB_STATUSES,
  type EventType,
  type FailureInput,
  type Job,
  type JobStatus,
  type ListFilter,
  type ListPage,
  type QueueCounts,
  type QueueEvent,
  type Requirements,
  type SubmitInput,
  type WorkerSpec,
} from './types.js';
import {
  validateFailure,
  validateId,
  validateLeaseMs,
  validateNumberOption,
  validateProgress,
  validateSubmit,
  validateWorker,
} from './validation.js';

export interface QueueOptions {
  /** A Redis URL (the queue owns and closes the connection) or a client (the caller owns it). */
  redis: string | Redis | Cluster;
  /** Key namespace; every key is `{namespace}:...`. Default `jq`. */
  namespace?: string;
  /** Milliseconds since the epoch. Every call passes it to Redis, so tests control time. */
  clock?: () => number;
  /** Uniform [0, 1) source for backoff jitter. Default Math.random. */
  random?: () => number;
  backoff?: Partial<BackoffPolicy>;
  /** Default for submit's max_attempts. Default 3. */
  defaultMaxAttempts?: number;
  /** Default lease for claim and heartbeat. Default 30 000 ms. */
  defaultLeaseMs?: number;
  /** Approximate length the event stream is trimmed to. Default 100 000. */
  eventsMaxLen?: number;
  /** Expired leases and due retries handled inside each claim call. Default 25. */
  reapPerClaim?: number;
  /**
   * Coalesce the claims, completions, failures and heartbeats issued in one event-loop tick into
   * one `jobgate_batch` call (answered per call, in order; one call's error fails that call only).
   * - `true` (default): the calls of every queue object on the same client (a Redis or Cluster
   *   object you passed), namespace, clock function and `eventsMaxLen` go out together, e.g.
   *   many loops that each made their own queue on one shared connection.
   * - `'queue'`: only this queue object's own calls (the behaviour before 0.2; a queue made
   *   from a URL owns its connection, so for it `true` and `'queue'` are the same).
   * - `false`: every call is its own FCALL.
   */
  coalesce?: boolean | 'queue';
}

export interface ClaimOptions {
  leaseMs?: number;
}

export interface Queue {
  readonly namespace: string;
  readonly keys: QueueKeys;
  submit(input: SubmitInput): Promise<{ id: string; created: boolean }>;
  /** Many jobs in few round trips; validated first, so one bad job rejects the whole call. */
  submitMany(inputs: SubmitInput[]): Promise<Array<{ id: string; created: boolean }>>;
  claim(worker: WorkerSpec, options?: ClaimOptions): Promise<Job | null>;
  /** complete() and claim() in one atomic call: the worker's hot path. */
  completeAndClaim(
    jobId: string,
    workerId: string,
    result: unknown,
    worker: WorkerSpec,
    options?: ClaimOptions,
  ): Promise<Job | null>;
  /** Extends the lease; returns the new expiry. */
  heartbeat(jobId: string, workerId: string, leaseMs?: number): Promise<number>;
  progress(
    jobId: string,
    workerId: string,
    progress: { percent?: number; message?: string },
  ): Promise<Job>;
  complete(jobId: string, workerId: string, result?: unknown): Promise<Job>;
  fail(jobId: string, workerId: string, failure: FailureInput): Promise<Job>;
  /**
   * Hands a job this worker holds back to pending (a worker shutting down): it keeps its place
   * among equals and the attempt is not counted, so the next claim has the same attempt number
   * and a job on its last attempt is not failed. Emits `job.released`. Refused with
   * JobNotHeldError (nothing changed) when the worker does not hold the job.
   */
  release(jobId: string, workerId: string): Promise<Job>;
  /** Cancels a pending (incl. waiting to retry) or active job; a finished job is returned unchanged. */
  cancel(jobId: string): Promise<{ cancelled: boolean; job: Job }>;
  get(jobId: string): Promise<Job | null>;
  list(filter?: ListFilter): Promise<ListPage>;
  counts(): Promise<QueueCounts>;
  /**
   * Deletes finished jobs of `status` that finished more than `olderThanMs` ago (job, payload,
   * result and index entries), looking at up to `limit` of the oldest-submitted ones per call.
   * Emits no event. Run it periodically; -> how many were removed.
   */
  clean(options: {
    status: 'completed' | 'failed' | 'cancelled';
    olderThanMs: number;
    limit?: number;
  }): Promise<number>;
  /** Requeues or fails jobs whose lease expired and releases due retries (claim does this too). */
  reapExpired(limit?: number): Promise<{ expired: number; promoted: number }>;
  /**
   * Blocks up to timeoutMs until a job of one of `services` is submitted, or any job is requeued
   * (true), or the time is up (false). A submit for another service does not wake this caller.
   * Uses its own blocking connection; retries waiting out a backoff do not signal, so poll claim()
   * at least every few seconds.
   */
  waitForWork(timeoutMs: number, services: readonly string[]): Promise<boolean>;
  /** Events in stream order after `after` (exclusive; default from the start). */
  readEvents(options?: { after?: string; count?: number }): Promise<QueueEvent[]>;
  close(): Promise<void>;
}

interface State {
  id: string;
  service_required: string;
  priority: string;
  requirements: string;
  customer_id?: string;
  workflow_id?: string;
  step?: number;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  worker_id?: string;
  created_at: number;
  claimed_at?: number;
  lease_expires_at?: number;
  finished_at?: number;
  run_at?: number;
  last_failure?: Job['last_failure'];
  progress?: { percent?: number; message?: string };
  unrunnable_reason?: string;
}

function parseJson(raw: string | null | undefined): unknown {
  if (raw === null || raw === undefined) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function toJob(stateRaw: string, payloadRaw: string | null, resultRaw: string | null): Job {
  const st = JSON.parse(stateRaw) as State;
  const requirements = parseJson(st.requirements);
  return {
    id: st.id,
    service_required: st.service_required,
    priority: Number(st.priority),
    payload: parseJson(payloadRaw),
    requirements: (requirements !== null && typeof requirements === 'object'
      ? requirements
      : {}) as Requirements,
    customer_id: st.customer_id ?? null,
    workflow_id: st.workflow_id ?? null,
    step: st.step ?? null,
    status: st.status,
    attempts: st.attempts,
    max_attempts: st.max_attempts,
    worker_id: st.worker_id ?? null,
    created_at: st.created_at,
    claimed_at: st.claimed_at ?? null,
    lease_expires_at: st.lease_expires_at ?? null,
    finished_at: st.finished_at ?? null,
    run_at: st.run_at ?? null,
    result: parseJson(resultRaw),
    last_failure: st.last_failure ?? null,
    progress: st.progress
      ? { percent: st.progress.percent ?? null, message: st.progress.message ?? null }
      : null,
    unrunnable_reason: st.unrunnable_reason ?? null,
  };
}

function toJson(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value);
  } catch (error) {
    throw new ValidationError(
      `Invalid ${field}: must be JSON-serializable (${(error as Error).message})`,
      [{ path: field, message: 'must be JSON-serializable' }],
    );
  }
  return text ?? 'null';
}

const NOT_HELD = /^JG_NOT_HELD (\S+) (.*)$/;
const NOT_FOUND = /^JG_NOT_FOUND (.*)$/;
const INVALID = /^JG_INVALID (.*)$/;

function mapError(error: unknown, workerId = ''): unknown {
  if (!(error instanceof Error)) return error;
  let match = NOT_HELD.exec(error.message);
  if (match) return new JobNotHeldError(match[2]!, workerId, match[1] as NotHeldReason);
  match = NOT_FOUND.exec(error.message);
  if (match) return new JobNotFoundError(match[1]!);
  match = INVALID.exec(error.message);
  if (match) return new ValidationError(match[1]!);
  return error;
}

type SubmitFields = Record<SubmitField, string>;

const SUBMIT_CHUNK = 500;
/** Operations per jobgate_batch call: Redis runs nothing else while a function runs. */
const BATCH_MAX = 64;

type BatchName = 'claim' | 'complete' | 'complete_and_claim' | 'fail' | 'heartbeat';

interface BatchOp {
  name: BatchName;
  args: string[];
  workerId: string | undefined;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/** One FCALL of a library function with a queue's keys, clock and MAXLEN (RedisQueue.call). */
type LibraryCall = (fn: string, args: string[], workerId?: string) => Promise<unknown>;

/**
 * The hot-path calls issued in one tick, sent together once the tick's microtasks ran: one
 * jobgate_batch per BATCH_MAX calls, each call answered with its own reply or error.
 */
class Batcher {
  private ops: BatchOp[] = [];

  constructor(private readonly call: LibraryCall) {}

  /**
   * Waits for the end of the current tick (process.nextTick runs after the microtasks queued so
   * far, so every caller that resumes in this tick joins) and goes out with the others as one
   * jobgate_batch; alone, it is its own FCALL.
   */
  op(name: BatchName, args: string[], workerId?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.ops.push({ name, args, workerId, resolve, reject });
      if (this.ops.length === 1) process.nextTick(() => this.flush());
    });
  }

  private flush(): void {
    const ops = this.ops;
    this.ops = [];
    if (ops.length === 1) {
      const op = ops[0]!;
      this.call(`jobgate_${op.name}`, op.args, op.workerId).then(op.resolve, op.reject);
      return;
    }
    for (let i = 0; i < ops.length; i += BATCH_MAX) void this.send(ops.slice(i, i + BATCH_MAX));
  }

  private async send(ops: BatchOp[]): Promise<void> {
    const args: string[] = [String(ops.length)];
    for (const op of ops) args.push(op.name, String(op.args.length), ...op.args);
    let reply: unknown[];
    try {
      reply = (await this.call('jobgate_batch', args)) as unknown[];
    } catch (error) {
      for (const op of ops) op.reject(mapError(error, op.workerId));
      return;
    }
    ops.forEach((op, k) => {
      if (Number(reply[2 * k]) === 1) op.resolve(reply[2 * k + 1]);
      else op.reject(mapError(new Error(String(reply[2 * k + 1])), op.workerId));
    });
  }
}

/**
 * One FCALL of a library function with a namespace's keys, clock and MAXLEN; a library lost to a
 * restart, failover or FUNCTION FLUSH is reinstalled once (concurrent callers that hit the same
 * loss share one reinstall). It holds the client, keys, clock and MAXLEN only, never a queue
 * object: a batcher shared by several queues calls through one of these, so a closed queue is not
 * kept alive by the batcher its namespace's other queues still use.
 */
function libraryCaller(
  redis: Redis | Cluster,
  keys: QueueKeys,
  clock: () => number,
  maxLen: string,
): (
  fn: string,
  args: Array<string | number>,
  workerId?: string,
  extraKeys?: readonly string[],
) => Promise<unknown> {
  let installing: Promise<unknown> | null = null;
  return async (fn, args, workerId, extraKeys = []) => {
    const run = (): Promise<unknown> =>
      redis.fcall(
        fn,
        keys.list.length + extraKeys.length,
        ...keys.list,
        ...extraKeys,
        String(clock()),
        maxLen,
        ...args,
      );
    try {
      return await run();
    } catch (error) {
      if (!isMissingFunctionError(error)) throw mapError(error, workerId);
      installing ??= installLibrary(redis).finally(() => {
        installing = null;
      });
      await installing;
      try {
        return await run();
      } catch (retryError) {
        throw mapError(retryError, workerId);
      }
    }
  };
}

interface SharedBatcher {
  batcher: Batcher;
  /** The open queue objects using it; at 0 it leaves the map. */
  users: number;
}

/**
 * The batchers shared by the queue objects of one client (by client, then clock function, then
 * namespace and MAXLEN: the call's KEYS, ARGV[1] and ARGV[2], the only arguments a batch shares).
 * Weak by client and clock, so a dropped client or clock takes its batchers with it; an entry is
 * dropped when the last queue object using it closes.
 */
const sharedBatchers = new WeakMap<object, WeakMap<object, Map<string, SharedBatcher>>>();
let liveSharedBatchers = 0;

/** How many shared batchers are in use (for tests: closing every queue of a key releases its entry). */
export function sharedBatcherCount(): number {
  return liveSharedBatchers;
}

/** The shared batcher of (client, clock, namespace, MAXLEN) and the function that releases it. */
function acquireSharedBatcher(
  client: Redis | Cluster,
  clock: () => number,
  namespace: string,
  maxLen: string,
): { batcher: Batcher; release: () => void } {
  let byClock = sharedBatchers.get(client);
  if (!byClock)
    sharedBatchers.set(client, (byClock = new WeakMap<object, Map<string, SharedBatcher>>()));
  let byKey = byClock.get(clock);
  if (!byKey) byClock.set(clock, (byKey = new Map<string, SharedBatcher>()));
  const key = `${namespace}\n${maxLen}`;
  let entry = byKey.get(key);
  if (!entry) {
    // Every queue of the key sends the same KEYS, clock and MAXLEN, and reinstalls the library
    // the same way, so one caller of its own serves them all.
    const call = libraryCaller(client, queueKeys(namespace), clock, maxLen);
    entry = { batcher: new Batcher((fn, args, workerId) => call(fn, args, workerId)), users: 0 };
    byKey.set(key, entry);
    liveSharedBatchers++;
  }
  entry.users++;
  const held = entry;
  const map = byKey;
  let released = false;
  return {
    batcher: entry.batcher,
    release: () => {
      if (released) return;
      released = true;
      held.users--;
      // Calls already queued still go out: the batcher's pending tick holds it.
      if (held.users === 0 && map.get(key) === held) {
        map.delete(key);
        liveSharedBatchers--;
      }
    },
  };
}
const SEP = '\0';
const SIGNATURE_CACHE_MAX = 1_000;

class RedisQueue implements Queue {
  readonly keys: QueueKeys;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly backoff: BackoffPolicy;
  private readonly maxLen: string;
  private readonly defaultLeaseMs: number;
  private readonly defaultMaxAttempts: number;
  private readonly reapPerClaim: string;
  private readonly workerJson = new WeakMap<WorkerSpec, string>();
  /** Requirement signatures by customer and requirements JSON: most jobs repeat a few sets. */
  private readonly signatures = new Map<string, string>();
  private readonly idleBlocking: Array<Redis | Cluster> = [];
  private readonly allBlocking = new Set<Redis | Cluster>();
  private closed = false;
  /** Where this queue's hot-path calls are coalesced (null: each is its own FCALL). */
  private readonly batcher: Batcher | null;
  /** Gives the shared batcher back (a no-op for a batcher of its own). */
  readonly releaseBatcher: () => void = () => {};
  /** See libraryCaller. */
  private readonly libraryCall: ReturnType<typeof libraryCaller>;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly ownsClient: boolean,
    readonly namespace: string,
    options: QueueOptions,
  ) {
    this.keys = queueKeys(namespace);
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.backoff = {
      baseMs: validateNumberOption(backoff.baseMs, 'backoff.baseMs', { min: 0, integer: false }),
      maxMs: validateNumberOption(backoff.maxMs, 'backoff.maxMs', { min: 0, integer: false }),
    };
    this.maxLen = String(
      validateNumberOption(options.eventsMaxLen ?? 100_000, 'eventsMaxLen', { min: 0 }),
    );
    this.defaultLeaseMs = validateLeaseMs(options.defaultLeaseMs ?? 30_000, 'defaultLeaseMs');
    // The same range as a job's own max_attempts (validation.ts).
    this.defaultMaxAttempts = validateNumberOption(
      options.defaultMaxAttempts ?? 3,
      'defaultMaxAttempts',
      { min: 1, max: 1_000 },
    );
    this.reapPerClaim = String(
      validateNumberOption(options.reapPerClaim ?? 25, 'reapPerClaim', { min: 0 }),
    );
    this.libraryCall = libraryCaller(redis, this.keys, this.clock, this.maxLen);
    const coalesce = options.coalesce ?? true;
    if (coalesce === false) {
      this.batcher = null;
    } else if (coalesce === 'queue' || ownsClient) {
      const call: LibraryCall = (fn, args, workerId) => this.libraryCall(fn, args, workerId);
      this.batcher = new Batcher(call);
    } else {
      const shared = acquireSharedBatcher(redis, this.clock, namespace, this.maxLen);
      this.batcher = shared.batcher;
      this.releaseBatcher = shared.release;
    }
  }

  async install(): Promise<void> {
    await installLibrary(this.redis);
    // Left behind by older library versions (their content now lives elsewhere, see
    // lua/lib/migration.lua); one hash tag, so one UNLINK also on a Cluster.
    await this.redis.unlink(...RETIRED_KEY_NAMES.map((name) => `{${this.namespace}}:${name}`));
  }

  /** One FCALL; a library lost to a restart, failover or FUNCTION FLUSH is reinstalled once. */
  private call(
    fn: string,
    args: Array<string | number>,
    workerId?: string,
    extraKeys: readonly string[] = [],
  ): Promise<unknown> {
    return this.libraryCall(fn, args, workerId, extraKeys);
  }

  /** A hot-path call: coalesced with the others of this tick (Batcher), or its own FCALL. */
  private op(name: BatchName, args: string[], workerId?: string): Promise<unknown> {
    if (!this.batcher) return this.call(`jobgate_${name}`, args, workerId);
    return this.batcher.op(name, args, workerId);
  }

  private workerArg(worker: WorkerSpec): string {
    let json = this.workerJson.get(worker);
    if (json === undefined) {
      json = JSON.stringify(validateWorker(worker));
      this.workerJson.set(worker, json);
    }
    return json;
  }

  /** One job's jobgate_submit fields, by name; `submitArgs` puts them in SUBMIT_FIELDS order. */
  private submitFields(input: SubmitInput, index?: number): SubmitFields {
    const job = validateSubmit(input, index);
    const requirements = job.requirements ?? {};
    const requirementsJson = JSON.stringify(requirements);
    return {
      id: job.id ?? randomUUID(),
      service_required: job.service_required,
      sig: this.signature(requirements, requirementsJson, job.customer_id),
      priority: String(job.priority),
      P: priorityKey(job.priority),
      requirements: requirementsJson,
      customer_id: job.customer_id ?? '',
      workflow_id: job.workflow_id ?? '',
      step: job.step === undefined ? '' : String(job.step),
      max_attempts: String(job.max_attempts ?? this.defaultMaxAttempts),
      payload: toJson(job.payload ?? {}, 'payload'),
    };
  }

  /** jobgate_submit's arguments and extra keys (each service's wake-up list) for a batch. */
  private submitCall(jobs: SubmitFields[]): { args: string[]; wakeKeys: string[] } {
    const args: string[] = [String(jobs.length)];
    for (const job of jobs) for (const field of SUBMIT_FIELDS) args.push(job[field]);
    const wakeKeys = [
      ...new Set(jobs.map((job) => serviceWakeKey(this.keys, job.service_required))),
    ];
    return { args, wakeKeys };
  }

  private signature(
    requirements: Requirements,
    requirementsJson: string,
    customerId: string | undefined,
  ): string {
    // Equal JSON text means equal requirements, so the cached signature is the one that would be
    // computed; the canonical (key-sorted) hash is only needed once per distinct text.
    const key = `${customerId === undefined ? '-' : `+${customerId}`}${SEP}${requirementsJson}`;
    let sig = this.signatures.get(key);
    if (sig === undefined) {
      sig = requirementSignature(requirements, customerId);
      if (this.signatures.size >= SIGNATURE_CACHE_MAX) this.signatures.clear();
      this.signatures.set(key, sig);
    }
    return sig;
  }

  private static pairs(reply: unknown): Array<{ id: string; created: boolean }> {
    const flat = reply as Array<string | number>;
    const out: Array<{ id: string; created: boolean }> = [];
    for (let i = 0; i < flat.length; i += 2)
      out.push({ id: String(flat[i]), created: Number(flat[i + 1]) === 1 });
    return out;
  }

  async submit(input: SubmitInput): Promise<{ id: string; created: boolean }> {
    const { args, wakeKeys } = this.submitCall([this.submitFields(input)]);
    const reply = await this.call('jobgate_submit', args, undefined, wakeKeys);
    return RedisQueue.pairs(reply)[0]!;
  }

  async submitMany(inputs: SubmitInput[]): Promise<Array<{ id: string; created: boolean }>> {
    if (!Array.isArray(inputs))
      throw new ValidationError('Invalid jobs: submitMany takes an array');
    const fields = inputs.map((input, index) => this.submitFields(input, index));
    const chunks: SubmitFields[][] = [];
    for (let i = 0; i < fields.length; i += SUBMIT_CHUNK)
      chunks.push(fields.slice(i, i + SUBMIT_CHUNK));
    // Issued together, so ioredis pipelines them on the connection.
    const replies = await Promise.all(
      chunks.map((chunk) => {
        const { args, wakeKeys } = this.submitCall(chunk);
        return this.call('jobgate_submit', args, undefined, wakeKeys);
      }),
    );
    return replies.flatMap((reply) => RedisQueue.pairs(reply));
  }

  private claimed(reply: unknown): Job | null {
    if (reply === null || reply === undefined) return null;
    const [state, payload] = reply as [string, string | null];
    return toJob(state, payload, null);
  }

  async claim(worker: WorkerSpec, options: ClaimOptions = {}): Promise<Job | null> {
    const leaseMs = validateLeaseMs(options.leaseMs ?? this.defaultLeaseMs);
    const reply = await this.op('claim', [
      this.workerArg(worker),
      String(leaseMs),
      this.reapPerClaim,
    ]);
    return this.claimed(reply);
  }

  async completeAndClaim(
    jobId: string,
    workerId: string,
    result: unknown,
    worker: WorkerSpec,
    options: ClaimOptions = {},
  ): Promise<Job | null> {
    const leaseMs = validateLeaseMs(options.leaseMs ?? this.defaultLeaseMs);
    const reply = await this.op(
      'complete_and_claim',
      [
        validateId(jobId, 'jobId'),
        validateId(workerId, 'workerId'),
        toJson(result, 'result'),
        this.workerArg(worker),
        String(leaseMs),
        this.reapPerClaim,
      ],
      workerId,
    );
    return this.claimed(reply);
  }

  async heartbeat(jobId: string, workerId: string, leaseMs?: number): Promise<number> {
    const ms = validateLeaseMs(leaseMs ?? this.defaultLeaseMs);
    const reply = await this.op(
      'heartbeat',
      [validateId(jobId, 'jobId'), validateId(workerId, 'workerId'), String(ms)],
      workerId,
    );
    return Number(reply);
  }

  async progress(
    jobId: string,
    workerId: string,
    progress: { percent?: number; message?: string },
  ): Promise<Job> {
    const valid = validateProgress(progress);
    const reply = await this.call(
      'jobgate_progress',
      [
        validateId(jobId, 'jobId'),
        validateId(workerId, 'workerId'),
        valid.percent === undefined ? '' : String(valid.percent),
        valid.message ?? '',
      ],
      workerId,
    );
    return toJob(reply as string, null, null);
  }

  async complete(jobId: string, workerId: string, result?: unknown): Promise<Job> {
    const resultJson = toJson(result, 'result');
    const reply = await this.op(
      'complete',
      [validateId(jobId, 'jobId'), validateId(workerId, 'workerId'), resultJson],
      workerId,
    );
    return toJob(reply as string, null, resultJson);
  }

  async fail(jobId: string, workerId: string, failure: FailureInput): Promise<Job> {
    const valid = validateFailure(failure);
    const stored = {
      failure_type: valid.failure_type,
      failure_reason: valid.failure_reason,
      message: valid.message,
      retryable: valid.retryable,
      ...(valid.retry_after_ms === undefined ? {} : { retry_after_ms: valid.retry_after_ms }),
    };
    const reply = await this.op(
      'fail',
      [
        validateId(jobId, 'jobId'),
        validateId(workerId, 'workerId'),
        JSON.stringify(stored),
        valid.retryable ? '1' : '0',
        valid.retry_after_ms === undefined ? '' : String(valid.retry_after_ms),
        String(this.backoff.baseMs),
        String(this.backoff.maxMs),
        String(this.random()),
      ],
      workerId,
    );
    return toJob(reply as string, null, null);
  }

  async release(jobId: string, workerId: string): Promise<Job> {
    const reply = await this.call(
      'jobgate_release',
      [validateId(jobId, 'jobId'), validateId(workerId, 'workerId')],
      workerId,
    );
    return toJob(reply as string, null, null);
  }

  async cancel(jobId: string): Promise<{ cancelled: boolean; job: Job }> {
    const [cancelled, state] = (await this.call('jobgate_cancel', [
      validateId(jobId, 'jobId'),
    ])) as [number, string];
    return { cancelled: Number(cancelled) === 1, job: toJob(state, null, null) };
  }

  async get(jobId: string): Promise<Job | null> {
    validateId(jobId, 'jobId');
    const [state, payload, result] = await Promise.all([
      this.redis.hget(this.keys.jobs, jobId),
      this.redis.hget(this.keys.payloads, jobId),
      this.redis.hget(this.keys.results, jobId),
    ]);
    return state === null ? null : toJob(state, payload, result);
  }

  async list(filter: ListFilter = {}): Promise<ListPage> {
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) {
      throw new ValidationError('Invalid limit: must be an integer from 1 to 1000', [
        { path: 'limit', message: 'must be an integer from 1 to 1000' },
      ]);
    }
    if (filter.status !== undefined && !JOB_STATUSES.includes(filter.status)) {
      throw new ValidationError(`Invalid status: must be one of ${JOB_STATUSES.join(', ')}`, [
        { path: 'status', message: `must be one of ${JOB_STATUSES.join(', ')}` },
      ]);
    }
    if (filter.cursor !== undefined && filter.cursor !== null && !/^\d{16}$/.test(filter.cursor)) {
      throw new ValidationError('Invalid cursor: pass the cursor of a previous page', [
        { path: 'cursor', message: 'must be the cursor of a previous page' },
      ]);
    }
    // Page through the most selective index; the remaining filters apply to the loaded jobs.
    // Active jobs are indexed by {ns}:active alone (lease order), not by {ns}:by-status.
    const index: { key: string; prefix: string } | 'active' | null =
      filter.workflow_id !== undefined
        ? { key: this.keys['by-workflow'], prefix: validateId(filter.workflow_id, 'workflow_id') }
        : filter.customer_id !== undefined
          ? { key: this.keys['by-customer'], prefix: validateId(filter.customer_id, 'customer_id') }
          : filter.status === 'active'
            ? 'active'
            : filter.status !== undefined
              ? { key: this.keys['by-status'], prefix: filter.status }
              : null;
    const jobs: Job[] = [];
    let cursor = filter.cursor ?? null;
    let exhausted = false;
    while (jobs.length < limit && !exhausted) {
      const batch = Math.max(limit - jobs.length, 50);
      let entries: Array<{ seq: string; id: string }>;
      if (index === 'active') {
        entries = await this.activeEntries(cursor, batch);
      } else if (index) {
        const max = cursor ? `(${index.prefix}${SEP}${cursor}` : `(${index.prefix}\x01`;
        const members = await this.redis.zrange(
          index.key,
          max,
          `[${index.prefix}${SEP}`,
          'BYLEX',
          'REV',
          'LIMIT',
          0,
          batch,
        );
        entries = members.map((m) => {
          const rest = m.slice(index.prefix.length + 1);
          return { seq: rest.slice(0, 16), id: rest.slice(17) };
        });
      } else {
        const max = cursor ? `(${Number(cursor)}` : '+inf';
        const flat = await this.redis.zrange(
          this.keys.all,
          max,
          '-inf',
          'BYSCORE',
          'REV',
          'LIMIT',
          0,
          batch,
          'WITHSCORES',
        );
        entries = [];
        for (let i = 0; i < flat.length; i += 2) {
          entries.push({ id: flat[i]!, seq: flat[i + 1]!.padStart(16, '0') });
        }
      }
      if (entries.length < batch) exhausted = true;
      if (entries.length === 0) break;
      const ids = entries.map((e) => e.id);
      const pipeline = this.redis.pipeline();
      pipeline.hmget(this.keys.jobs, ...ids);
      pipeline.hmget(this.keys.payloads, ...ids);
      pipeline.hmget(this.keys.results, ...ids);
      const replies = (await pipeline.exec()) as Array<[Error | null, Array<string | null>]>;
      const [states, payloads, results] = replies.map(([error, value]) => {
        if (error) throw error;
        return value;
      });
      for (let i = 0; i < entries.length && jobs.length < limit; i++) {
        cursor = entries[i]!.seq;
        const state = states?.[i];
        if (!state) continue;
        const job = toJob(state, payloads?.[i] ?? null, results?.[i] ?? null);
        if (filter.status !== undefined && job.status !== filter.status) continue;
        if (filter.customer_id !== undefined && job.customer_id !== filter.customer_id) continue;
        if (filter.workflow_id !== undefined && job.workflow_id !== filter.workflow_id) continue;
        jobs.push(job);
      }
      // A full page always carries a cursor; the next page may turn out empty.
      if (jobs.length >= limit) return { jobs, cursor };
    }
    return { jobs, cursor: null };
  }

  /**
   * Active jobs in submit order, newest first, after `cursor`: read from {ns}:active, which holds
   * exactly the active jobs (one per running worker, so all of them fit in one read).
   */
  private async activeEntries(
    cursor: string | null,
    batch: number,
  ): Promise<Array<{ seq: string; id: string }>> {
    const ids = await this.redis.zrange(this.keys.active, '0', '-1');
    if (ids.length === 0) return [];
    const states = await this.redis.hmget(this.keys.jobs, ...ids);
    const entries: Array<{ seq: string; id: string }> = [];
    ids.forEach((id, i) => {
      const state = states[i];
      if (!state) return;
      const { seq } = JSON.parse(state) as { seq: string };
      if (cursor === null || seq < cursor) entries.push({ seq, id });
    });
    entries.sort((a, b) => (a.seq < b.seq ? 1 : a.seq > b.seq ? -1 : 0));
    return entries.slice(0, batch);
  }

  async counts(): Promise<QueueCounts> {
    const pipeline = this.redis.pipeline();
    for (const status of JOB_STATUSES) {
      if (status === 'active') pipeline.zcard(this.keys.active);
      else pipeline.zlexcount(this.keys['by-status'], `[${status}${SEP}`, `(${status}\x01`);
    }
    pipeline.zcard(this.keys.delayed);
    pipeline.zcard(this.keys.unrunnable);
    // Non-empty buckets (service \0 signature): their services are the ones with pending jobs.
    pipeline.zrange(this.keys.buckets, '0', '-1');
    const replies = (await pipeline.exec())!.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    const n = (i: number): number => Number(replies[i]);
    const services = [
      ...new Set((replies[7] as string[]).map((bucket) => bucket.slice(0, bucket.indexOf(SEP)))),
    ];
    const depths = await Promise.all(
      services.map((svc) =>
        this.redis.zlexcount(this.keys.pending, `[${svc}${SEP}`, `(${svc}\x01`),
      ),
    );
    return {
      pending: n(0),
      active: n(1),
      completed: n(2),
      failed: n(3),
      cancelled: n(4),
      delayed: n(5),
      unrunnable: n(6),
      by_service: Object.fromEntries(
        services.map((svc, i) => [svc, depths[i]!] as const).filter(([, count]) => count > 0),
      ),
    };
  }

  async clean(options: {
    status: 'completed' | 'failed' | 'cancelled';
    olderThanMs: number;
    limit?: number;
  }): Promise<number> {
    const limit = options.limit ?? 1_000;
    if (!['completed', 'failed', 'cancelled'].includes(options.status)) {
      throw new ValidationError('Invalid status: clean takes completed, failed or cancelled', [
        { path: 'status', message: 'must be completed, failed or cancelled' },
      ]);
    }
    if (!(options.olderThanMs >= 0) || !Number.isInteger(limit) || limit < 1) {
      throw new ValidationError(
        'Invalid clean options: olderThanMs >= 0 and an integer limit >= 1',
        [{ path: 'olderThanMs', message: 'must be >= 0' }],
      );
    }
    const [removed] = (await this.call('jobgate_clean', [
      options.status,
      String(this.clock() - options.olderThanMs),
      limit,
    ])) as [number, number];
    return Number(removed);
  }

  async reapExpired(limit = 1_000): Promise<{ expired: number; promoted: number }> {
    const [expired, promoted] = (await this.call('jobgate_reap', [limit])) as [number, number];
    return { expired: Number(expired), promoted: Number(promoted) };
  }

  async waitForWork(timeoutMs: number, services: readonly string[]): Promise<boolean> {
    const names: readonly unknown[] = Array.isArray(services) ? services : [];
    if (!Array.isArray(services) || names.some((s) => typeof s !== 'string' || s === '')) {
      throw new ValidationError('Invalid services: waitForWork takes the services to wait for', [
        { path: 'services', message: 'must be an array of service names' },
      ]);
    }
    if (this.closed) return false;
    const connection = this.idleBlocking.pop() ?? this.newBlocking();
    try {
      const reply = await (connection as Redis).blpop(
        ...(names as readonly string[]).map((svc) => serviceWakeKey(this.keys, svc)),
        this.keys.wake,
        Math.max(timeoutMs, 1) / 1_000,
      );
      return reply !== null;
    } catch (error) {
      if (this.closed) return false;
      throw error;
    } finally {
      if (this.closed) connection.disconnect();
      else this.idleBlocking.push(connection);
    }
  }

  private newBlocking(): Redis | Cluster {
    const connection: Redis | Cluster =
      this.redis instanceof Redis ? this.redis.duplicate() : this.redis.duplicate();
    connection.on('error', () => {});
    this.allBlocking.add(connection);
    return connection;
  }

  async readEvents(options: { after?: string; count?: number } = {}): Promise<QueueEvent[]> {
    const start = options.after ? `(${options.after}` : '-';
    const entries = await this.redis.xrange(
      this.keys.events,
      start,
      '+',
      'COUNT',
      options.count ?? 1_000,
    );
    return entries.map(([id, fields]) => {
      const map: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
      return {
        event_id: id,
        type: map.type as EventType,
        job_id: map.job_id!,
        workflow_id: map.workflow_id || null,
        customer_id: map.customer_id || null,
        attempt: Number(map.attempt),
        timestamp: Number(map.timestamp),
        data: JSON.parse(map.data ?? '{}') as Record<string, unknown>,
      };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.releaseBatcher();
    for (const connection of this.allBlocking) connection.disconnect();
    if (this.ownsClient) await this.redis.quit().catch(() => undefined);
  }
}

/**
 * Connects, installs or upgrades the Lua library (LibraryVersionError if Redis runs a newer one)
 * and returns the queue.
 */
export async function createQueue(
  options: QueueOptions,
): Promise<Queue & { install(): Promise<void> }> {
  const namespace = options.namespace ?? 'jq';
  const owns = typeof options.redis === 'string';
  const client = typeof options.redis === 'string' ? new Redis(options.redis) : options.redis;
  let queue: RedisQueue | undefined;
  try {
    queue = new RedisQueue(client, owns, namespace, options);
    await queue.install();
    return queue;
  } catch (error) {
    queue?.releaseBatcher();
    if (owns) client.disconnect();
    throw error;
  }
}
