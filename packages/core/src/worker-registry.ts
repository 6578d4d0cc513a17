import type { Cluster, Redis } from 'ioredis';

export type WorkerStatus = 'starting' | 'idle' | 'busy' | 'draining' | 'stopped';

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
}

/**
 * Keys (all under the queue's hash tag): `{ns}:workers` is a sorted set of worker ids scored by
 * last heartbeat; `{ns}:worker:<id>` holds the record as JSON and expires after `ttlMs`, so a
 * SIGKILLed worker disappears by itself while a clean shutdown deregisters at once.
 */
export function registryKeys(namespace: string): {
  index: string;
  worker: (id: string) => string;
} {
  return { index: `{${namespace}}:workers`, worker: (id) => `{${namespace}}:worker:${id}` };
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

  async publish(record: WorkerRecord): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.worker(record.worker_id), JSON.stringify(record), 'PX', this.ttlMs)
      .zadd(this.keys.index, String(record.last_heartbeat), record.worker_id)
      .exec();
  }

  async remove(workerId: string): Promise<void> {
    await this.redis.multi().del(this.keys.worker(workerId)).zrem(this.keys.index, workerId).exec();
  }
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
