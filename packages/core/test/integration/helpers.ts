import { dropNamespace, uniqueNamespace } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createQueue, type Queue, type QueueOptions, type WorkerSpec } from '../../src/index.js';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url)
    throw new Error(
      'REDIS_URL is not set: run through the integration preset (pnpm test:integration)',
    );
  return url;
}

/** A clock tests move by hand, so lease and backoff tests never sleep. */
export class ManualClock {
  constructor(public now = 1_700_000_000_000) {}
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface TestQueue extends AsyncDisposable {
  queue: Queue;
  clock: ManualClock;
  redis: Redis;
  namespace: string;
}

/** A queue on its own namespace (keys removed afterwards) with a manual clock. */
export async function testQueue(
  options: Partial<QueueOptions> & { url?: string } = {},
): Promise<TestQueue> {
  const redis = new Redis(options.url ?? redisUrl());
  const namespace = uniqueNamespace('jq');
  const clock = new ManualClock();
  const queue = await createQueue({ clock: clock.read, ...options, redis, namespace });
  const dispose = async (): Promise<void> => {
    await queue.close();
    // Every key of the namespace, the per-service wake-up lists included.
    await dropNamespace(redis, namespace);
    redis.disconnect();
  };
  return { queue, clock, redis, namespace, [Symbol.asyncDispose]: dispose };
}

export function worker(overrides: Partial<WorkerSpec> = {}): WorkerSpec {
  return {
    worker_id: `w-${Math.random().toString(36).slice(2, 8)}`,
    services: ['svc'],
    ...overrides,
  };
}
