import type { Cluster, Redis } from 'ioredis';
import { queueKeys, type QueueKeys } from './keys.js';
import { mismatch, type MatchTarget, type Mismatch } from './matching.js';
import type { Queue } from './queue.js';
import type { Job, JobStatus, QueueEvent, WorkerSpec } from './types.js';
import { readWorkers, type LostWorker, type WorkerRecord } from './worker-registry.js';

const SEP = '\0';

/**
 * Why a job is not moving. Pending jobs get one of the waiting codes; an active job whose lease
 * expired gets `lease_expired` (the reaper requeues it within seconds, or fails it when out of
 * attempts).
 */
export type WaitingCode =
  | 'unrunnable'
  | 'retry_wait'
  | 'no_worker_for_service'
  | 'workers_draining'
  | 'requirement_unmet'
  | 'isolation'
  | 'workflow_pinned'
  | 'queued_behind'
  | 'workers_busy'
  | 'ready';

export interface WaitingReason {
  code: WaitingCode;
  /** One sentence an operator can act on. */
  message: string;
  /** requirement_unmet: the requirement no live worker satisfies, e.g. `hardware.gpu_memory_gb`. */
  requirement?: string;
  /** queued_behind: pending jobs of the service a claim takes first. */
  ahead?: number;
  /** queued_behind: how many of those have a higher priority. */
  higher_priority?: number;
  /** retry_wait: when the retry becomes claimable. */
  retry_at?: number;
}

export interface StuckReason {
  code: 'lease_expired';
  message: string;
  lease_expired_ms: number;
  /** Whether the holder is still registered (a frozen worker) or gone (killed, lost). */
  worker_alive: boolean;
}

/** Workers that can claim: registered, and not drained, draining or stopping. */
function claiming(workers: readonly WorkerRecord[]): WorkerRecord[] {
  return workers.filter(
    (w) => w.status !== 'draining' && w.status !== 'drained' && w.status !== 'stopped',
  );
}

function spec(worker: WorkerRecord): WorkerSpec {
  const caps = worker.capabilities as Partial<WorkerSpec>;
  return { ...caps, worker_id: worker.worker_id, services: caps.services ?? worker.services };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function fmt(value: unknown): string {
  return value === null || value === undefined ? 'nothing' : JSON.stringify(value);
}

/**
 * Who among `workers` could claim `job`, and why the others cannot. Pure: tests and the monitor
 * call it with any worker list; `position` (jobs ahead of it) is only needed when some live
 * worker could run it.
 */
export function explainPending(
  job: MatchTarget & Pick<Job, 'unrunnable_reason' | 'run_at'>,
  workers: readonly WorkerRecord[],
  now: number,
  position?: { ahead: number; higher_priority: number },
): WaitingReason {
  if (job.unrunnable_reason) {
    return {
      code: 'unrunnable',
      message: `never runs: ${job.unrunnable_reason} (fix the requirements and resubmit)`,
    };
  }
  if (job.run_at !== null && job.run_at !== undefined) {
    const inMs = job.run_at - now;
    return {
      code: 'retry_wait',
      retry_at: job.run_at,
      message:
        inMs > 0
          ? `waiting for its retry time: due in ${Math.ceil(inMs / 1000)} s (${new Date(job.run_at).toISOString()})`
          : `retry due ${Math.ceil(-inMs / 1000)} s ago; the reaper promotes it on its next pass`,
    };
  }
  const svc = job.service_required;
  const serving = workers.filter((w) => w.services.includes(svc));
  if (serving.length === 0) {
    return { code: 'no_worker_for_service', message: `no live worker serves the service "${svc}"` };
  }
  const active = claiming(serving);
  if (active.length === 0) {
    return {
      code: 'workers_draining',
      message:
        serving.length === 1
          ? `the one live worker serving "${svc}" is drained, draining or stopping`
          : `all ${serving.length} live workers serving "${svc}" are drained, draining or stopping`,
    };
  }
  const verdicts = active.map((w) => ({ worker: w, why: mismatch(spec(w), job) }));
  const eligible = verdicts.filter((v) => v.why === null).map((v) => v.worker);
  if (eligible.length === 0) {
    const reasons = verdicts.map((v) => v.why!);
    const requirements = reasons.filter(
      (r): r is Extract<Mismatch, { kind: 'requirement' }> => r.kind === 'requirement',
    );
    if (requirements.length > 0) {
      // The requirement that blocks the most workers is the one to relax (or to buy hardware for).
      const tally = new Map<string, number>();
      for (const r of requirements) tally.set(r.requirement, (tally.get(r.requirement) ?? 0) + 1);
      const [name] = [...tally.entries()].sort((a, b) => b[1] - a[1])[0]!;
      const sample = requirements.find((r) => r.requirement === name)!;
      const best = requirements
        .filter((r) => r.requirement === name && typeof r.has === 'number')
        .map((r) => r.has as number);
      const has =
        best.length > 0
          ? `the best live worker has ${Math.max(...best)}`
          : `a live worker has ${fmt(sample.has)}`;
      return {
        code: 'requirement_unmet',
        requirement: name,
        message: `no live worker satisfies requirement ${name} (wants ${fmt(sample.wanted)}; ${has})`,
      };
    }
    if (reasons.every((r) => r.kind === 'isolation')) {
      return {
        code: 'isolation',
        message: `customer isolation excludes all ${plural(active.length, 'live worker')} serving "${svc}"`,
      };
    }
    return {
      code: 'workflow_pinned',
      message: `every live worker serving "${svc}" is pinned to another workflow or excluded by customer isolation`,
    };
  }
  if (position && position.ahead > 0) {
    return {
      code: 'queued_behind',
      ahead: position.ahead,
      higher_priority: position.higher_priority,
      message: `behind ${plural(position.ahead, 'job')} of "${svc}" (${position.higher_priority} of higher priority); ${plural(eligible.length, 'live worker')} can run it`,
    };
  }
  const free = eligible.filter((w) => w.current_jobs.length < w.concurrency);
  if (free.length === 0) {
    return {
      code: 'workers_busy',
      message: `next in line; all ${plural(eligible.length, 'eligible worker')} are busy`,
    };
  }
  return {
    code: 'ready',
    message: `next in line; ${plural(free.length, 'idle eligible worker')} should claim it on the next poll`,
  };
}

export function explainActive(
  job: Job,
  liveIds: ReadonlySet<string>,
  now: number,
): StuckReason | null {
  if (job.status !== 'active' || job.lease_expires_at === null || job.lease_expires_at > now)
    return null;
  const alive = job.worker_id !== null && liveIds.has(job.worker_id);
  const ago = Math.round((now - job.lease_expires_at) / 1000);
  return {
    code: 'lease_expired',
    lease_expired_ms: now - job.lease_expires_at,
    worker_alive: alive,
    message: `lease expired ${ago} s ago; worker ${job.worker_id ?? '?'} ${alive ? 'is registered but stopped heartbeating' : 'is gone'}; the reaper requeues it (or fails it on its last attempt)`,
  };
}

export interface JobFilter {
  status?: JobStatus;
  service?: string;
  customer_id?: string;
  workflow_id?: string;
  /** Active with an expired lease, or pending longer than `stuckAfterMs`. */
  stuck?: boolean;
  stuckAfterMs?: number;
  /** Pending jobs no live worker can run (malformed requirements included). */
  unrunnable?: boolean;
  cursor?: string | null;
  limit?: number;
}

export interface JobPage {
  jobs: Job[];
  cursor: string | null;
  /** Set when the filter needed a bounded walk that stopped before filling the page. */
  scanned?: number;
}

export interface ServiceOverview {
  service: string;
  /** Claimable now. */
  pending: number;
  active: number;
  /** Age of the oldest pending job (incl. delayed and unrunnable) among the oldest scanned. */
  oldest_pending_ms: number | null;
  /** Live workers serving it (any status). */
  workers: number;
}

export interface QueueHealth {
  degraded: boolean;
  reasons: string[];
  expired_leases: number;
  /** Services with claimable pending jobs and no live worker serving them. */
  unserved_services: string[];
}

export interface Inspector {
  readonly keys: QueueKeys;
  workers(): Promise<{ live: WorkerRecord[]; lost: LostWorker[] }>;
  /** `waiting_reason` for a pending job, `stuck` for an active job holding an expired lease. */
  explain(job: Job): Promise<{ waiting_reason: WaitingReason | null; stuck: StuckReason | null }>;
  explainMany(
    jobs: readonly Job[],
  ): Promise<Array<{ waiting_reason: WaitingReason | null; stuck: StuckReason | null }>>;
  expiredLeaseCount(): Promise<number>;
  /** Active jobs whose lease expired, oldest expiry first. */
  expiredLeaseJobs(limit?: number): Promise<Job[]>;
  oldestPendingByService(scan?: number): Promise<Record<string, number>>;
  services(): Promise<ServiceOverview[]>;
  health(): Promise<QueueHealth>;
  listJobs(filter?: JobFilter): Promise<JobPage>;
  /** The job's events from the stream, oldest first; bounded by `maxScan` stream entries. */
  jobEvents(job: Job, maxScan?: number): Promise<{ events: QueueEvent[]; truncated: boolean }>;
}

export interface InspectorOptions {
  redis: Redis | Cluster;
  /** The public client of the same namespace; `readEvents` is needed only for `jobEvents`. */
  queue: Pick<Queue, 'get' | 'list' | 'counts'> & Partial<Pick<Queue, 'readEvents'>>;
  /** Default `queue.namespace`. */
  namespace?: string;
  clock?: () => number;
}

interface RawState {
  sig?: string;
  pk?: string;
  seq?: string;
  service_required: string;
  created_at: number;
}

function decodeCursor(cursor: string | null | undefined): string | null {
  if (!cursor) return null;
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

function encodeCursor(value: string | null): string | null {
  return value === null ? null : Buffer.from(value, 'utf8').toString('base64url');
}

/**
 * Read-only questions about a queue, answered from its indexes (never a walk over every job):
 * why is this job waiting, what is stuck, which services lack workers. Only reads: safe to call
 * from any number of monitors.
 */
export function createInspector(options: InspectorOptions): Inspector {
  const { redis, queue } = options;
  const clock = options.clock ?? Date.now;
  const namespace =
    options.namespace ?? (queue as Partial<Pick<Queue, 'namespace'>>).namespace ?? 'jq';
  const keys = queueKeys(namespace);
  let workersCache: {
    at: number;
    value: Promise<{ live: WorkerRecord[]; lost: LostWorker[] }>;
  } | null = null;

  const workers = (): Promise<{ live: WorkerRecord[]; lost: LostWorker[] }> => {
    // One read serves every explanation of one request (a page of 50 jobs).
    if (!workersCache || clock() - workersCache.at > 500)
      workersCache = { at: clock(), value: readWorkers(redis, namespace) };
    return workersCache.value;
  };

  async function position(
    jobId: string,
  ): Promise<{ ahead: number; higher_priority: number } | undefined> {
    const raw = await redis.hget(keys.jobs, jobId);
    if (!raw) return undefined;
    const st = JSON.parse(raw) as RawState;
    if (!st.sig || !st.pk) return undefined;
    const svc = st.service_required;
    const buckets = await redis.zrange(
      keys.buckets,
      `[${svc}${SEP}`,
      `(${svc}\x01`,
      'BYLEX',
      'LIMIT',
      0,
      2_000,
    );
    if (buckets.length === 0) return { ahead: 0, higher_priority: 0 };
    const p = st.pk.slice(0, 17);
    const pipeline = redis.pipeline();
    for (const bucket of buckets) {
      pipeline.zlexcount(keys.pending, `[${bucket}${SEP}`, `(${bucket}${SEP}${st.pk}`);
      pipeline.zlexcount(keys.pending, `[${bucket}${SEP}`, `(${bucket}${SEP}${p}`);
    }
    const replies = (await pipeline.exec())!.map(([error, value]) => {
      if (error) throw error;
      return Number(value);
    });
    let ahead = 0;
    let higher = 0;
    for (let i = 0; i < replies.length; i += 2) {
      ahead += replies[i]!;
      higher += replies[i + 1]!;
    }
    return { ahead, higher_priority: higher };
  }

  async function explainOne(
    job: Job,
    registry: { live: WorkerRecord[] },
    now: number,
  ): Promise<{ waiting_reason: WaitingReason | null; stuck: StuckReason | null }> {
    if (job.status === 'active') {
      const live = new Set(registry.live.map((w) => w.worker_id));
      return { waiting_reason: null, stuck: explainActive(job, live, now) };
    }
    if (job.status !== 'pending') return { waiting_reason: null, stuck: null };
    let reason = explainPending(job, registry.live, now);
    if (reason.code === 'ready' || reason.code === 'workers_busy') {
      reason = explainPending(job, registry.live, now, await position(job.id));
    }
    return { waiting_reason: reason, stuck: null };
  }

  async function loadJobs(ids: readonly string[]): Promise<Job[]> {
    const jobs = await Promise.all(ids.map((id) => queue.get(id)));
    return jobs.filter((j): j is Job => j !== null);
  }

  async function expiredLeaseJobs(limit = 100): Promise<Job[]> {
    const ids = await redis.zrangebyscore(keys.active, '-inf', clock(), 'LIMIT', 0, limit);
    return loadJobs(ids);
  }

  async function oldestPendingByService(scan = 2_000): Promise<Record<string, number>> {
    // {ns}:by-status lists pending jobs in submit order, so the first job seen of a service is
    // its oldest; the walk stops after `scan` jobs (a service whose jobs are all newer than that
    // gets no entry, and its age is below the last one seen).
    const now = clock();
    const out: Record<string, number> = {};
    let start = `[pending${SEP}`;
    let seen = 0;
    while (seen < scan) {
      const batch = await redis.zrange(
        keys['by-status'],
        start,
        `(pending\x01`,
        'BYLEX',
        'LIMIT',
        0,
        500,
      );
      if (batch.length === 0) break;
      seen += batch.length;
      const ids = batch.map((m) => m.slice('pending'.length + 18));
      const states = await redis.hmget(keys.jobs, ...ids);
      for (const raw of states) {
        if (!raw) continue;
        const st = JSON.parse(raw) as RawState;
        if (out[st.service_required] === undefined)
          out[st.service_required] = Math.max(0, now - st.created_at);
      }
      if (batch.length < 500) break;
      start = `(${batch[batch.length - 1]}`;
    }
    return out;
  }

  async function pendingServices(): Promise<string[]> {
    const buckets = await redis.zrange(keys.buckets, '0', '-1');
    return [...new Set(buckets.map((b) => b.slice(0, b.indexOf(SEP))))];
  }

  async function services(): Promise<ServiceOverview[]> {
    const [counts, registry, oldest, activeIds] = await Promise.all([
      queue.counts(),
      workers(),
      oldestPendingByService(),
      redis.zrange(keys.active, '0', '-1'),
    ]);
    const activeStates = activeIds.length > 0 ? await redis.hmget(keys.jobs, ...activeIds) : [];
    const active: Record<string, number> = {};
    for (const raw of activeStates) {
      if (!raw) continue;
      const svc = (JSON.parse(raw) as RawState).service_required;
      active[svc] = (active[svc] ?? 0) + 1;
    }
    const names = new Set<string>([
      ...Object.keys(counts.by_service),
      ...Object.keys(active),
      ...Object.keys(oldest),
      ...registry.live.flatMap((w) => w.services),
    ]);
    return [...names].sort().map((service) => ({
      service,
      pending: counts.by_service[service] ?? 0,
      active: active[service] ?? 0,
      oldest_pending_ms: oldest[service] ?? null,
      workers: registry.live.filter((w) => w.services.includes(service)).length,
    }));
  }

  async function health(): Promise<QueueHealth> {
    const [expired, registry, withPending] = await Promise.all([
      redis.zcount(keys.active, '-inf', clock()),
      workers(),
      pendingServices(),
    ]);
    const served = new Set(claiming(registry.live).flatMap((w) => w.services));
    const unserved = withPending.filter((svc) => !served.has(svc)).sort();
    const reasons: string[] = [];
    if (expired > 0)
      reasons.push(
        `${plural(expired, 'job')} hold an expired lease (their worker stopped heartbeating)`,
      );
    if (unserved.length > 0)
      reasons.push(
        `no live worker serves ${unserved.map((s) => `"${s}"`).join(', ')}, which has pending jobs`,
      );
    return {
      degraded: reasons.length > 0,
      reasons,
      expired_leases: expired,
      unserved_services: unserved,
    };
  }

  /** Pending jobs of buckets no live worker can run, plus the malformed ones. */
  async function unrunnableJobs(filter: JobFilter, limit: number): Promise<JobPage> {
    const registry = await workers();
    const live = claiming(registry.live);
    const buckets = await redis.zrange(keys.buckets, '0', '-1');
    const sigs = [...new Set(buckets.map((b) => b.slice(b.indexOf(SEP) + 1)))];
    const specs = sigs.length > 0 ? await redis.hmget(keys.specs, ...sigs) : [];
    const specBySig = new Map(sigs.map((s, i) => [s, specs[i]] as const));
    const blocked = buckets.filter((bucket) => {
      const svc = bucket.slice(0, bucket.indexOf(SEP));
      if (filter.service !== undefined && svc !== filter.service) return false;
      const raw = specBySig.get(bucket.slice(svc.length + 1));
      if (!raw) return false;
      const parsed = JSON.parse(raw) as { r: MatchTarget['requirements']; c?: string };
      const target: MatchTarget = {
        service_required: svc,
        requirements: parsed.r,
        customer_id: parsed.c ?? null,
        // Workflow pins are per job; a pinned worker may still take a workflow's jobs.
        workflow_id: null,
      };
      return !live.some((w) => mismatch({ ...spec(w), workflow_id: undefined }, target) === null);
    });
    // Cursor: index into [malformed..., blocked buckets...] plus a member inside that bucket.
    const ids: string[] = [];
    const position = decodeCursor(filter.cursor);
    let [phase, after] = position ? (JSON.parse(position) as [number, string]) : [-1, ''];
    let next: string | null = null;
    if (phase === -1) {
      const malformed = await redis.zrevrangebyscore(
        keys.unrunnable,
        after ? `(${after}` : '+inf',
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        limit,
      );
      for (let i = 0; i < malformed.length; i += 2) {
        ids.push(malformed[i]!);
        after = malformed[i + 1]!;
      }
      if (ids.length >= limit) next = JSON.stringify([-1, after]);
      else {
        phase = 0;
        after = '';
      }
    }
    for (; next === null && phase < blocked.length; phase++, after = '') {
      const bucket = blocked[phase]!;
      const members = await redis.zrange(
        keys.pending,
        after ? `(${after}` : `[${bucket}${SEP}`,
        `(${bucket}\x01`,
        'BYLEX',
        'LIMIT',
        0,
        limit - ids.length,
      );
      for (const m of members) ids.push(m.slice(m.lastIndexOf(SEP) + 1));
      if (ids.length >= limit) next = JSON.stringify([phase, members[members.length - 1]]);
    }
    let jobs = await loadJobs(ids);
    if (filter.service !== undefined)
      jobs = jobs.filter((j) => j.service_required === filter.service);
    if (filter.customer_id !== undefined)
      jobs = jobs.filter((j) => j.customer_id === filter.customer_id);
    if (filter.workflow_id !== undefined)
      jobs = jobs.filter((j) => j.workflow_id === filter.workflow_id);
    return { jobs, cursor: encodeCursor(next) };
  }

  async function stuckJobs(filter: JobFilter, limit: number): Promise<JobPage> {
    const now = clock();
    const threshold = filter.stuckAfterMs ?? 5 * 60_000;
    const cursor = decodeCursor(filter.cursor);
    const jobs: Job[] = [];
    // Expired leases first (few: at most one per worker slot), then pending older than the
    // threshold, oldest first, stopping at the first one younger than it.
    if (!cursor) jobs.push(...(await expiredLeaseJobs(1_000)));
    let start = cursor ? `(${cursor}` : `[pending${SEP}`;
    let last: string | null = null;
    let done = false;
    while (!done && jobs.length < limit) {
      const batch = await redis.zrange(
        keys['by-status'],
        start,
        `(pending\x01`,
        'BYLEX',
        'LIMIT',
        0,
        200,
      );
      if (batch.length === 0) break;
      const loaded = await Promise.all(batch.map((m) => queue.get(m.slice('pending'.length + 18))));
      for (let i = 0; i < batch.length && jobs.length < limit; i++) {
        const job = loaded[i];
        last = batch[i]!;
        if (!job) continue;
        if (now - job.created_at < threshold) {
          done = true;
          break;
        }
        jobs.push(job);
      }
      if (batch.length < 200) done = true;
      start = `(${batch[batch.length - 1]}`;
    }
    const matches = jobs.filter(
      (j) =>
        (filter.service === undefined || j.service_required === filter.service) &&
        (filter.customer_id === undefined || j.customer_id === filter.customer_id) &&
        (filter.workflow_id === undefined || j.workflow_id === filter.workflow_id),
    );
    return { jobs: matches, cursor: !done && jobs.length >= limit ? encodeCursor(last) : null };
  }

  async function pendingOfService(
    service: string,
    filter: JobFilter,
    limit: number,
  ): Promise<JobPage> {
    const after = decodeCursor(filter.cursor);
    const members = await redis.zrange(
      keys.pending,
      after ? `(${after}` : `[${service}${SEP}`,
      `(${service}\x01`,
      'BYLEX',
      'LIMIT',
      0,
      limit,
    );
    let jobs = await loadJobs(members.map((m) => m.slice(m.lastIndexOf(SEP) + 1)));
    if (filter.customer_id !== undefined)
      jobs = jobs.filter((j) => j.customer_id === filter.customer_id);
    if (filter.workflow_id !== undefined)
      jobs = jobs.filter((j) => j.workflow_id === filter.workflow_id);
    return {
      jobs,
      cursor: members.length === limit ? encodeCursor(members[members.length - 1]!) : null,
    };
  }

  async function listJobs(filter: JobFilter = {}): Promise<JobPage> {
    const limit = filter.limit ?? 50;
    if (filter.unrunnable) return unrunnableJobs(filter, limit);
    if (filter.stuck) return stuckJobs(filter, limit);
    if (filter.service !== undefined && filter.status === 'pending')
      return pendingOfService(filter.service, filter, limit);
    if (filter.service === undefined) {
      return queue.list({
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.customer_id ? { customer_id: filter.customer_id } : {}),
        ...(filter.workflow_id ? { workflow_id: filter.workflow_id } : {}),
        cursor: filter.cursor ?? null,
        limit,
      });
    }
    // No service index outside pending: walk the narrowest index in pages, at most MAX_SCAN jobs
    // per call, and hand back a cursor to go on from.
    const MAX_SCAN = 2_000;
    const jobs: Job[] = [];
    let cursor = filter.cursor ?? null;
    let scanned = 0;
    while (jobs.length < limit && scanned < MAX_SCAN) {
      const page = await queue.list({
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.customer_id ? { customer_id: filter.customer_id } : {}),
        ...(filter.workflow_id ? { workflow_id: filter.workflow_id } : {}),
        cursor,
        limit: 200,
      });
      scanned += page.jobs.length;
      for (const job of page.jobs) {
        if (job.service_required !== filter.service) continue;
        if (jobs.length < limit) jobs.push(job);
      }
      cursor = page.cursor;
      if (cursor === null) break;
    }
    return { jobs, cursor, scanned };
  }

  async function jobEvents(
    job: Job,
    maxScan = 20_000,
  ): Promise<{ events: QueueEvent[]; truncated: boolean }> {
    // Stream ids start with the server's time in ms: begin a little before the job was created
    // (clock skew between client and server) and stop a little after it finished.
    const end = job.finished_at === null ? Infinity : job.finished_at + 5_000;
    const events: QueueEvent[] = [];
    let scanned = 0;
    // readEvents starts after `after` (exclusive): the last possible id of the millisecond before.
    let after = `${Math.max(0, job.created_at - 5_001)}-18446744073709551615`;
    const readEvents = queue.readEvents?.bind(queue);
    if (!readEvents) throw new TypeError('jobEvents needs a queue with readEvents');
    while (scanned < maxScan) {
      const batch = await readEvents({ after, count: 1_000 });
      if (batch.length === 0) return { events, truncated: false };
      scanned += batch.length;
      for (const event of batch) {
        if (Number(event.event_id.split('-')[0]) > end) return { events, truncated: false };
        if (event.job_id === job.id) events.push(event);
      }
      after = batch[batch.length - 1]!.event_id;
      if (batch.length < 1_000) return { events, truncated: false };
    }
    return { events, truncated: true };
  }

  return {
    keys,
    workers,
    async explain(job) {
      return explainOne(job, await workers(), clock());
    },
    async explainMany(jobs) {
      const registry = await workers();
      const now = clock();
      return Promise.all(jobs.map((job) => explainOne(job, registry, now)));
    },
    expiredLeaseCount: () => redis.zcount(keys.active, '-inf', clock()),
    expiredLeaseJobs,
    oldestPendingByService,
    services,
    health,
    listJobs,
    jobEvents,
  };
}
