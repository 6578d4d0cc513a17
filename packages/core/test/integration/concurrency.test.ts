import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createQueue } from '../../src/index.js';
import { redisUrl, testQueue, worker } from './helpers.js';

describe('exactly-once claiming', () => {
  // 32 queues: each claimer's calls are FCALLs of their own. 4 queues of 8 claimers: the calls the
  // claimers of one queue make in a tick are coalesced into jobgate_batch calls.
  it.each([
    [32, 'separate connections'],
    [4, 'coalesced calls, 8 claimers per queue'],
  ])(
    '32 concurrent claimers on %i queues (%s) over 5,000 jobs: no job twice, none lost',
    async (queueCount) => {
      await using t = await testQueue({ clock: Date.now });
      const services = ['a', 'b', 'c', 'd'];
      const submitted = await t.queue.submitMany(
        Array.from({ length: 5_000 }, (_, i) => ({
          service_required: services[i % 4]!,
          priority: i % 7,
          requirements: i % 3 === 0 ? { region: 'eu' } : {},
        })),
      );
      const connections = Array.from({ length: queueCount }, () => new Redis(redisUrl()));
      try {
        const queues = await Promise.all(
          connections.map((redis) => createQueue({ redis, namespace: t.namespace })),
        );
        const claimedBy = new Map<string, string>();
        const duplicates: string[] = [];
        let claims = 0;
        await Promise.all(
          Array.from({ length: 32 }, async (_, n) => {
            const queue = queues[n % queueCount]!;
            // Every claimer can run everything, and half of them use complete-and-claim.
            const w = worker({ worker_id: `w${n}`, services, capabilities: { region: 'eu' } });
            let job = await queue.claim(w);
            while (job) {
              // A job handed out twice, or more claims than jobs, is the bug under test: stop and
              // report it rather than claim the same jobs forever.
              if (claimedBy.has(job.id)) duplicates.push(job.id);
              if (duplicates.length > 0 || ++claims > submitted.length) break;
              claimedBy.set(job.id, w.worker_id);
              job =
                n % 2
                  ? await queue.completeAndClaim(job.id, w.worker_id, { by: n }, w)
                  : await queue.claim(w);
            }
          }),
        );
        expect(duplicates).toEqual([]);
        expect(new Set(claimedBy.keys())).toEqual(new Set(submitted.map((s) => s.id)));
        const counts = await t.queue.counts();
        expect(counts.pending).toBe(0);
        expect(counts.active + counts.completed).toBe(5_000);
        expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);
        await Promise.all(queues.map((q) => q.close()));
      } finally {
        for (const c of connections) c.disconnect();
      }
    },
    // About 10,000 calls from 32 claimers: a few seconds alone, over 30 s (the level's default)
    // when the integration level's ten packages share two cores (a soak run timed it out).
    120_000,
  );
});
