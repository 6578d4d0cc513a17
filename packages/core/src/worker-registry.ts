import type { Cluster, Redis } from 'ioredis';

/**
 * `draining`: claims nothing new and finishes its running jobs (an operator's drain, or a
 * shutdown); `drained`: an operator's drain with no job left running. Neither claims.
 */
export type WorkerStatus = 'starting' | 'idle' | 'busy' | 'draining' | 'drained' | 'stopped';

/** An operator's request that a worker stop claiming (`requestDrain`), in `{ns}:drain:<id>`. */
export interface DrainRequest {
  requested_at: number;
  /** Who asked: an operator key's label or id, or `ops` with the user and host. */
  by: string;
}

/** What operators see about a running worker (`listWorkers`). */
export interface WorkerRecord {
  worker_id: string;
  machine_id: string;
  hostname: string;
  pid: number;
  version: string;
  status: WorkerStatus;
  services: string[];
  connectors: string[];
  /** The full capability spec the worker claims with (models, hardware, customer access...). */
  capabilities: Record<string, unknown>;
  concurrency: number;
  current_jobs: string[];
  jobs_completed: number;
  jobs_failed: number;
  started_at: number;
  last_heartbeat: number;
  /** The operator drain in effect, as the worker last read it; absent or null when none. */
  drain?: DrainRequest | null;
}

/**
 * Keys (all under the queue's hash tag): `{ns}:workers` is a sorted set of worker ids scored by
 * last heartbeat; `{ns}:worker:<id>` holds the record as JSON and expires after `ttlMs`, so a
 * SIGKILLed worker disappears by itself while a clean shutdown deregisters at once.
 * `{ns}:drain:<id>` (JSON `DrainRequest`, no expiry) is an operator's drain: the worker reads it
 * with every registry heartbeat, in the same round trip; it lasts until `cancelDrain` or the
 * worker's clean deregistration. (A separate prefix: worker ids may contain ":".)
 */
export function registryKeys(namespace: string): {
  index: string;
  worker: (id: string) => string;
  drain: (id: string) => string;
} {
  return {
    index: `{${namespace}}:workers`,
    worker: (id) => `{${namespace}}:worker:${id}`,
    drain: (id) => `{${namespace}}:drain:${id}`,
  };
}

function parseDrain(raw: unknown): DrainRequest | null {
  if (typeof raw !== 'string') return null;
  try {
    const value = JSON.parse(raw) as Partial<DrainRequest>;
    return {
      requested_at: Number(value.requested_at) || 0,
      by: typeof value.by === 'string' ? value.by : '',
    };
  } catch {
    // A hand-written flag still drains: its presence is the request.
    return { requested_at: 0, by: '' };
  }
}

export class WorkerRegistry {
  private readonly keys: ReturnType<typeof registryKeys>;

  constructor(
    private readonly redis: Redis | Cluster,
    namespace: string,
    private readonly ttlMs: number,
  ) {
    this.keys = registryKeys(namespace);
  }

  /**
   * Writes the record and, in the same round trip, reads the operator's drain request for this
   * worker (null when none): the heartbeat is how a worker learns it was drained or undrained.
   */
  async publish(record: WorkerRecord): Promise<DrainRequest | null> {
    const replies = await this.redis
      .multi()
      .get(this.keys.drain(record.worker_id))
      .set(this.keys.worker(record.worker_id), JSON.stringify(record), 'PX', this.ttlMs)
      .zadd(this.keys.index, String(record.last_heartbeat), record.worker_id)
      .exec();
    const failed = replies?.find(([error]) => error);
    if (!replies || failed) throw failed?.[0] ?? new Error('registry update was discarded');
    return parseDrain(replies[0]![1]);
  }

  /** Deregisters; a drain request for this id ends with the worker. */
  async remove(workerId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.worker(workerId), this.keys.drain(workerId))
      .zrem(this.keys.index, workerId)
      .exec();
  }
}

export class UnknownWorkerError extends Error {
  override name = 'UnknownWorkerError';
}

/**
 * Asks a live worker to stop claiming: it finishes the jobs it runs, stays registered and shows
 * `draining`, then `drained`, from its next registry heartbeat on. An existing request is kept
 * (`already`). A worker that is not live is refused with `UnknownWorkerError`; nothing is written.
 */
export async function requestDrain(
  redis: Redis | Cluster,
  namespace: string,
  workerId: string,
  by: string,
  now = Date.now(),
): Promise<{ worker: WorkerRecord; request: DrainRequest; already: boolean }> {
  const keys = registryKeys(namespace);
  const raw = await redis.get(keys.worker(workerId));
  if (raw === null)
    throw new UnknownWorkerError(
      `no live worker "${workerId}" in namespace ${namespace} (list them with ops workers)`,
    );
  const request: DrainRequest = { requested_at: now, by };
  const set = await redis.set(keys.drain(workerId), JSON.stringify(request), 'NX');
  if (set === null) {
    const existing = parseDrain(await redis.get(keys.drain(workerId)));
    if (existing)
      return { worker: JSON.parse(raw) as WorkerRecord, request: existing, already: true };
  }
  return { worker: JSON.parse(raw) as WorkerRecord, request, already: false };
}

/**
 * Lets a drained worker claim again (from its next registry heartbeat). -> whether a drain
 * request existed. A request left by a worker that died drained is removed too; an id with
 * neither a request nor a live record is refused with `UnknownWorkerError`.
 */
export async function cancelDrain(
  redis: Redis | Cluster,
  namespace: string,
  workerId: string,
): Promise<{ worker: WorkerRecord | null; existed: boolean }> {
  const keys = registryKeys(namespace);
  const [removed, raw] = await Promise.all([
    redis.del(keys.drain(workerId)),
    redis.get(keys.worker(workerId)),
  ]);
  if (removed === 0 && raw === null)
    throw new UnknownWorkerError(
      `no live worker "${workerId}" and no drain request for it in namespace ${namespace}`,
    );
  return { worker: raw === null ? null : (JSON.parse(raw) as WorkerRecord), existed: removed > 0 };
}

/** A worker whose record expired without a clean deregistration (killed, partitioned, frozen). */
export interface LostWorker {
  worker_id: string;
  /** Its last heartbeat as the index scored it. */
  last_heartbeat: number;
}

/**
 * Live workers and the index entries whose record expired, without changing anything: the
 * monitor and the health check read this, and a lost worker must stay visible to them until
 * `listWorkers` (which prunes) or a restart under the same id clears it.
 */
export async function readWorkers(
  redis: Redis | Cluster,
  namespace: string,
): Promise<{ live: WorkerRecord[]; lost: LostWorker[] }> {
  const keys = registryKeys(namespace);
  const flat = await redis.zrange(keys.index, '0', '-1', 'WITHSCORES');
  if (flat.length === 0) return { live: [], lost: [] };
  const ids: string[] = [];
  const scores: number[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    ids.push(flat[i]!);
    scores.push(Number(flat[i + 1]));
  }
  const raw = await redis.mget(...ids.map((id) => keys.worker(id)));
  const live: WorkerRecord[] = [];
  const lost: LostWorker[] = [];
  raw.forEach((json, i) => {
    if (json === null) lost.push({ worker_id: ids[i]!, last_heartbeat: scores[i]! });
    else live.push(JSON.parse(json) as WorkerRecord);
  });
  return { live, lost };
}

/** Live workers of a namespace; entries whose record expired (crashed workers) are pruned. */
export async function listWorkers(
  redis: Redis | Cluster,
  namespace: string,
): Promise<WorkerRecord[]> {
  const { live, lost } = await readWorkers(redis, namespace);
  if (lost.length > 0)
    await redis.zrem(registryKeys(namespace).index, ...lost.map((w) => w.worker_id));
  return live;
}
