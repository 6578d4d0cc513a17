import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Queue } from './queue.js';

// Compare-and-act on the lock, so a process that lost it (paused past the TTL, another took
// over) never extends or deletes the new leader's lock.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface ReaperOptions {
  redis: Redis | Cluster;
  queue: Pick<Queue, 'reapExpired' | 'namespace'>;
  /** How often to reap (and try to take or renew the lock). Default 1 000 ms. */
  intervalMs?: number;
  /** Lock lifetime; a leader that dies is replaced after at most this. Default 5 000 ms. */
  lockTtlMs?: number;
  /** Leases and retries handled per reap call; a pass repeats while a call comes back full. Default 1 000. */
  batch?: number;
  /** Shown in the lock's value (with a random suffix): who leads. Default `pid-<pid>`. */
  owner?: string;
  onReap?: (result: { expired: number; promoted: number }) => void;
  onError?: (error: unknown) => void;
}

export interface ReaperStats {
  leader: boolean;
  passes: number;
  expired: number;
  promoted: number;
  last_pass_at: number | null;
}

export interface Reaper {
  start(): void;
  /** Stops the schedule and releases the lock if held, so another process takes over at once. */
  stop(): Promise<void>;
  /** One pass now, when leader (false when another process leads). */
  runOnce(): Promise<boolean>;
  stats(): ReaperStats;
}

export function reaperLockKey(namespace: string): string {
  return `{${namespace}}:reaper:lock`;
}

/** Who holds the reaper lock now (the value names the process), or null. */
export function reaperLeader(redis: Redis | Cluster, namespace: string): Promise<string | null> {
  return redis.get(reaperLockKey(namespace));
}

/**
 * Requeues expired leases and promotes due retries on a schedule, whether or not any worker is
 * alive. Any number of processes (API instances, monitors) run one; a Redis lock (`SET NX PX`
 * with a random token, renewed each pass) lets only one of them reap at a time.
 */
export function createReaper(options: ReaperOptions): Reaper {
  const intervalMs = options.intervalMs ?? 1_000;
  const lockTtlMs = options.lockTtlMs ?? 5_000;
  const batch = options.batch ?? 1_000;
  if (!(intervalMs > 0) || !(lockTtlMs > intervalMs))
    throw new RangeError('reaper: intervalMs must be > 0 and lockTtlMs greater than intervalMs');
  const key = reaperLockKey(options.queue.namespace);
  const token = `${options.owner ?? `pid-${process.pid}`}:${randomUUID()}`;
  const stats: ReaperStats = {
    leader: false,
    passes: 0,
    expired: 0,
    promoted: 0,
    last_pass_at: null,
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | null = null;
  let stopped = false;

  async function lead(): Promise<boolean> {
    if (stats.leader) {
      const renewed = Number(await options.redis.eval(RENEW, 1, key, token, String(lockTtlMs)));
      if (renewed === 1) return true;
      stats.leader = false;
    }
    const taken = await options.redis.set(key, token, 'PX', lockTtlMs, 'NX');
    stats.leader = taken === 'OK';
    return stats.leader;
  }

  async function runOnce(): Promise<boolean> {
    if (!(await lead())) return false;
    // Bounded: a backlog larger than 10 batches continues on the next pass, so the lock is
    // renewed in time.
    for (let i = 0; i < 10; i++) {
      const result = await options.queue.reapExpired(batch);
      stats.expired += result.expired;
      stats.promoted += result.promoted;
      if (result.expired + result.promoted > 0) options.onReap?.(result);
      if (result.expired < batch && result.promoted < batch) break;
    }
    stats.passes += 1;
    stats.last_pass_at = Date.now();
    return true;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce()
        .catch((error: unknown) => {
          stats.leader = false;
          options.onError?.(error);
        })
        .finally(() => {
          running = null;
          schedule();
        });
    }, intervalMs);
    timer.unref();
  }

  return {
    start() {
      if (timer || stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (stats.leader) {
        stats.leader = false;
        await options.redis.eval(RELEASE, 1, key, token).catch(() => undefined);
      }
    },
    runOnce,
    stats: () => ({ ...stats }),
  };
}
