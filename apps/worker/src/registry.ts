import type { Redis } from 'ioredis';

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
export function registryKeys(namespace: string): { index: string; worker: (id: string) => string } {
  return { index: `{${namespace}}:workers`, worker: (id) => `{${namespace}}:worker:${id}` };
}

export class WorkerRegistry {
  private readonly keys: ReturnType<typeof registryKeys>;

  constructor(
    private readonly redis: Redis,
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

/** Live workers of a namespace; entries whose record expired (crashed workers) are pruned. */
export async function listWorkers(redis: Redis, namespace: string): Promise<WorkerRecord[]> {
  const keys = registryKeys(namespace);
  const ids = await redis.zrange(keys.index, '0', '-1');
  if (ids.length === 0) return [];
  const raw = await redis.mget(...ids.map((id) => keys.worker(id)));
  const out: WorkerRecord[] = [];
  const stale: string[] = [];
  raw.forEach((json, i) => {
    if (json === null) stale.push(ids[i]!);
    else out.push(JSON.parse(json) as WorkerRecord);
  });
  if (stale.length > 0) await redis.zrem(keys.index, ...stale);
  return out;
}
