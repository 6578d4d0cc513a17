import type { Queue, WorkerSpec } from '../src/index.js';

/**
 * The benchmarks' jobgate workers: each queue is one worker serving `services` that claims, then
 * completes and claims the next in one call, until nothing is left. Returns the jobs processed.
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
