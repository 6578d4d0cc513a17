/**
 * The benchmarks' shared workload, so `bench` and `bench:commandstats` measure the same thing:
 * `jobs` no-op jobs spread over `services`, priorities 0-4, through jobgate and through BullMQ.
 */
import { Queue as BullQueue, Worker as BullWorker, type ConnectionOptions } from 'bullmq';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
// The Worker users run (apps/worker), reached by path: a workspace dependency on the app would
// make a cycle (the app depends on this package).
import type { Connector } from '../../../apps/worker/src/connectors/types.js';
import { createWorker, type Worker } from '../../../apps/worker/src/worker.js';
import { createQueue, type Queue, type SubmitInput, type WorkerSpec } from '../src/index.js';

/**
 * How the raw loop's queue objects coalesce their calls (`RAW_COALESCE`, since Round 10):
 * `connection` (default, the client's default: the loops' queues on one connection share each
 * tick's jobgate_batch), `queue` (each queue object batches only its own calls: with one call in
 * flight per loop, every call is its own FCALL, the raw loop of Rounds 1-9) or `off`.
 */
export const RAW_COALESCE: boolean | 'queue' = ((): boolean | 'queue' => {
  const v = process.env.RAW_COALESCE ?? 'connection';
  if (v === 'connection') return true;
  if (v === 'queue') return 'queue';
  if (v === 'off') return false;
  throw new Error(`RAW_COALESCE must be connection, queue or off, not ${v}`);
})();

export function jobgateInputs(jobs: number, services: string[]): SubmitInput[] {
  return Array.from({ length: jobs }, (_, i) => ({
    service_required: services[i % services.length]!,
    priority: i % 5,
    payload: { i },
  }));
}

/**
 * The jobgate workers: each queue is one worker serving `services` that claims, then completes
 * and claims the next in one call, until nothing is left. Returns the jobs processed.
 */
export async function drain(queues: Queue[], services: string[]): Promise<number> {
  let processed = 0;
  await Promise.all(
    queues.map(async (queue, n) => {
      const w: WorkerSpec = { worker_id: `w${n}`, services };
      let job = await queue.claim(w);
      while (job) {
        processed++;
        job = await queue.completeAndClaim(job.id, w.worker_id, null, w);
      }
    }),
  );
  return processed;
}

/** `{ host, port }` of a redis:// URL, as BullMQ takes it. */
export function bullmqConnection(url: string): ConnectionOptions {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port), maxRetriesPerRequest: null };
}

/** One BullMQ queue per service, ready. */
export async function bullmqQueues(
  services: string[],
  connection: ConnectionOptions,
  prefix: string,
): Promise<BullQueue[]> {
  const queues = services.map((name) => new BullQueue(name, { connection, prefix }));
  await Promise.all(queues.map((q) => q.waitUntilReady()));
  return queues;
}

/**
 * The same jobs as jobgateInputs, each on its service's queue, with addBulk in chunks of 500, all
 * queues at once. BullMQ priorities: 1 is highest, 0 means none; the same five levels.
 */
export async function bullmqSubmit(queues: BullQueue[], jobs: number): Promise<void> {
  const perService = queues.map(
    () => [] as Array<{ name: string; data: unknown; opts: { priority: number } }>,
  );
  for (let i = 0; i < jobs; i++) {
    perService[i % queues.length]!.push({
      name: 'job',
      data: { i },
      opts: { priority: 5 - (i % 5) },
    });
  }
  await Promise.all(
    queues.map(async (q, s) => {
      const list = perService[s]!;
      for (let i = 0; i < list.length; i += 500) await q.addBulk(list.slice(i, i + 500));
    }),
  );
}

/**
 * One no-op BullMQ Worker per queue at `concurrency`; resolves once `jobs` jobs completed and the
 * workers closed, with the milliseconds from creating the workers to the last completion.
 */
export async function bullmqDrain(
  services: string[],
  connection: ConnectionOptions,
  prefix: string,
  concurrency: number,
  jobs: number,
): Promise<number> {
  const t0 = performance.now();
  let completed = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const workers = services.map(
    (name) =>
      new BullWorker(name, () => Promise.resolve(null), { connection, prefix, concurrency }),
  );
  for (const w of workers) {
    w.on('completed', () => {
      if (++completed === jobs) resolveDone();
    });
  }
  await done;
  const ms = performance.now() - t0;
  await Promise.all(workers.map((w) => w.close()));
  return ms;
}

/** A connector that does nothing: the benchmark measures the queue and the Worker around it. */
function noopConnector(service: string): Connector {
  return { kind: 'noop', service, run: () => Promise.resolve(null) };
}

/**
 * Starts the workers and resolves once they have completed `jobs` jobs between them (their own
 * counters, read every `pollMs`).
 */
export async function startAndAwaitCompleted(
  workers: Worker[],
  jobs: number,
  pollMs = 2,
): Promise<void> {
  await Promise.all(workers.map((w) => w.start()));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (workers.reduce((sum, w) => sum + w.stats().completed, 0) >= jobs) {
        clearInterval(timer);
        resolve();
      }
    }, pollMs);
  });
}

/**
 * One jobgate `createWorker` per service at `concurrency`, each on its own connection (as each
 * BullMQ Worker has its own), with a no-op connector; resolves once `jobs` jobs completed, after
 * stopping the workers, with the milliseconds from creating the workers to the last completion
 * (creating and starting them included, as on the BullMQ side).
 */
export async function jobgateWorkerDrain(
  url: string,
  namespace: string,
  services: string[],
  concurrency: number,
  jobs: number,
  coalesce = true,
): Promise<number> {
  const t0 = performance.now();
  const connections: Redis[] = [];
  const queues: Queue[] = [];
  const workers: Worker[] = await Promise.all(
    services.map(async (service, n) => {
      const redis = new Redis(url);
      connections.push(redis);
      const queue = await createQueue({ redis, namespace, coalesce });
      queues.push(queue);
      return createWorker({
        queue,
        redis,
        capabilities: { worker_id: `bench-${namespace}-${n}` },
        connectors: [noopConnector(service)],
        concurrency,
      });
    }),
  );
  await startAndAwaitCompleted(workers, jobs);
  const ms = performance.now() - t0;
  await Promise.all(workers.map((w) => w.stop({ graceMs: 1_000 })));
  await Promise.all(queues.map((q) => q.close()));
  for (const c of connections) c.disconnect();
  return ms;
}
