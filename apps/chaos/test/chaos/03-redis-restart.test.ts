import { waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { submitCarefully, type CarefulResult } from '../../src/client.js';
import { chaosConfig, scaled } from '../../src/config.js';
import { record } from '../../src/figures.js';
import { judge, settle } from '../../src/ledger.js';
import { between, seededRandom } from '../../src/random.js';
import { startChaosStack, type ChaosStack } from '../../src/stack.js';

const JOBS = scaled(600, 60);
/** Redis stays down this long: longer than a lease, so every running job's lease expires. */
const DOWN_MS = 5_000;

async function restartScenario(variant: 'shutdown' | 'kill -9', order: number): Promise<void> {
  const random = seededRandom(chaosConfig.seed + order);
  await using stack: ChaosStack = await startChaosStack({
    name: variant === 'shutdown' ? 'redis-restart' : 'redis-kill9',
    workers: 3,
    workerEnv: { WORKER_CONCURRENCY: '4' },
    appendfsync: variant === 'shutdown' ? 'everysec' : 'always',
  });
  const key = await stack.customer('acme');
  const bodies = Array.from({ length: JOBS }, () => ({
    service_required: 'simulation',
    max_attempts: 20,
    payload: { duration_ms: between(random, 50, 300), steps: 2 },
  }));
  const started = Date.now();
  // Submissions (no Idempotency-Key, as a naive client) keep coming before, during and after the
  // outage, paced so the outage falls in the middle of them.
  const results: CarefulResult[] = [];
  let next = 0;
  const lanes = Array.from({ length: 8 }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      results.push(await submitCarefully(stack.apiUrl, key, body, 90_000));
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  });
  const lanesDone = Promise.all(lanes);
  await waitFor(() => results.length >= JOBS / 3, {
    timeoutMs: 60_000,
    intervalMs: 20,
    what: 'a third of the jobs submitted',
  });
  const apiBefore = stack.api.pid;
  const workersBefore = stack.liveWorkers().map((w) => w.name);
  if (variant === 'shutdown') await stack.stopRedis();
  else await stack.killRedis();
  const downAt = Date.now();
  // The outage itself is the fault: a fixed length, longer than a lease.
  await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
  await stack.startRedis();
  const downMs = Date.now() - downAt;
  let flushed = false;
  if (variant === 'kill -9') {
    // A Redis that comes back without the library (a fresh node, a failover to an empty
    // replica): every client must reinstall it by itself.
    await stack.redis.function('FLUSH');
    flushed = true;
  }
  await lanesDone;
  const ids = results.map((r) => r.id);
  const settled = await settle(stack.queue, JOBS, 120_000);
  const verdict = await judge(stack.redis, stack.queue, stack.namespace, ids);
  const totalJobs = Number(await stack.redis.zcard(`{${stack.namespace}}:all`));
  const unknown = results.flatMap((r) => r.unknown);
  const library = await stack.redis.function('LIST', 'LIBRARYNAME', 'jobgate');
  const health = await fetch(`${stack.apiUrl}/health`);
  const sameProcesses =
    stack.api.alive() &&
    stack.api.pid === apiBefore &&
    workersBefore.every((name) => stack.workers.find((w) => w.name === name)?.alive());
  const passed =
    settled &&
    verdict.problems.length === 0 &&
    verdict.unannounced.length === 0 &&
    totalJobs === JOBS &&
    sameProcesses &&
    health.status === 200;
  record({
    order,
    scenario: `redis restart (${variant}${variant === 'kill -9' ? ', appendfsync always, library flushed' : ', AOF everysec'})`,
    jobs: verdict.jobs,
    faults: `Redis down ${(downMs / 1000).toFixed(1)} s (lease ${stack.leaseMs / 1000} s)${flushed ? ' + FUNCTION FLUSH' : ''}`,
    completedOnce: verdict.completedOnce,
    duplicated: verdict.duplicated.length + (totalJobs - new Set(ids).size),
    lost: verdict.lost.length,
    timeMs: Date.now() - started,
    notes: `${unknown.length} submits answered 503 outcome_unknown (${unknown.filter((u) => u.stored).length} stored, found by GET), ${results.reduce((n, r) => n + r.retried, 0)} other 503/refused retried; ${totalJobs} jobs stored for ${JOBS} bodies; API and workers reconnected without restarting: ${sameProcesses ? 'yes' : 'no'}`,
    passed,
  });
  const explain = `${verdict.problems.slice(0, 20).join('\n')}\nunannounced: ${verdict.unannounced.join(', ')}\n${verdict.timelines()}\n${stack.logs()}`;
  expect(settled, explain).toBe(true);
  expect(verdict.problems, explain).toEqual([]);
  expect(verdict.unannounced, 'jobs stored that no client was told about').toEqual([]);
  expect(totalJobs, 'one job per body: no duplicate from a retried submit').toBe(JOBS);
  expect(sameProcesses, `the API and workers reconnect by themselves\n${stack.logs()}`).toBe(true);
  expect(health.status).toBe(200);
  expect(library.length, 'the functions library is installed again').toBe(1);
}

// The two variants share nothing (each its own Redis directory, port, API and workers) and mostly
// wait (Redis down 5 s, leases expiring), so they run at the same time.
describe.concurrent('redis restart', () => {
  it(`shut down (AOF, everysec) for longer than a lease and started from the same directory: nothing lost (${JOBS} jobs)`, async () => {
    await restartScenario('shutdown', 30);
  });

  it(`kill -9 (appendfsync always), back without the functions library: nothing lost (${JOBS} jobs)`, async () => {
    await restartScenario('kill -9', 31);
  });
});
