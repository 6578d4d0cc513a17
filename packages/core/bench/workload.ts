/**
 * The benchmarks' shared workload, so `bench` and `bench:commandstats` measure the same thing:
 * `jobs` no-op jobs spread over `services`, priorities 0-4, through jobgate and through BullMQ.
 */
import { Queue as BullQueue, Worker as BullWorker, type ConnectionOptions } from 'bullmq';
import type { Queue, SubmitInput, WorkerSpec } from '../src/index.js';

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

/** One no-op BullMQ Worker per queue at `concurrency`; resolves once `jobs` jobs completed. */
export async function bullmqDrain(
  services: string[],
  connection: ConnectionOptions,
  prefix: string,
  concurrency: number,
  jobs: number,
): Promise<void> {
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
  await Promise.all(workers.map((w) => w.close()));
}
