import { expect, it } from 'vitest';
import { submitAll } from '../../src/client.js';
import { chaosConfig, scaled } from '../../src/config.js';
import { record } from '../../src/figures.js';
import { judge, settle } from '../../src/ledger.js';
import { between, seededRandom } from '../../src/random.js';
import { startChaosStack } from '../../src/stack.js';

const JOBS = scaled(2_000, 50);
const WORKERS = 3;
const KILL_EVERY_MS = 2_000;

it(`worker kills: ${JOBS} jobs, a random worker SIGKILLed every ~2 s and replaced; each completes once`, async () => {
  const random = seededRandom(chaosConfig.seed);
  await using stack = await startChaosStack({
    name: 'worker-kills',
    workers: WORKERS,
    workerEnv: { WORKER_CONCURRENCY: '8' },
  });
  const key = await stack.customer('acme');
  const bodies = Array.from({ length: JOBS }, () => {
    const transient = random() < 0.1;
    return {
      service_required: 'simulation',
      max_attempts: 20,
      payload: {
        duration_ms: between(random, 20, 200),
        steps: 2,
        ...(transient
          ? { fail: { message: 'upstream busy', http_status: 503, on_attempts: [1] } }
          : {}),
      },
    };
  });
  const started = Date.now();
  let kills = 0;
  let stopKilling = false;
  // Kills run on their own schedule (the first within 0.5-1.5 s, then jittered around 2 s) while
  // the jobs are submitted and run. The victim is a random worker among those holding jobs right
  // then: on a quiet machine the 500 jobs take ~4 s, and a kill of an idle worker proves nothing.
  const holders = async (): Promise<string[]> =>
    (await stack.queue.list({ status: 'active', limit: 1_000 })).jobs.map((j) => j.worker_id ?? '');
  const killer = (async () => {
    let wait = 500 + random() * 1_000;
    while (!stopKilling) {
      const at = Date.now() + wait;
      wait = KILL_EVERY_MS / 2 + random() * KILL_EVERY_MS;
      while (!stopKilling && Date.now() < at) await new Promise((r) => setTimeout(r, 50));
      let victim;
      while (!stopKilling && !victim) {
        const busy = new Set(await holders().catch(() => []));
        const live = stack.liveWorkers().filter((w) => busy.has(w.name));
        victim = live[Math.floor(random() * live.length)];
        if (!victim) await new Promise((r) => setTimeout(r, 50));
      }
      if (stopKilling || !victim) break;
      victim.signal('SIGKILL');
      await victim.exited;
      kills++;
      await stack.startWorker();
    }
  })();
  let verdict;
  let settled: boolean;
  try {
    const { ids } = await submitAll(stack.apiUrl, key, bodies, 16);
    settled = await settle(stack.queue, JOBS, 120_000);
    stopKilling = true;
    await killer;
    verdict = await judge(stack.redis, stack.queue, stack.namespace, ids);
  } finally {
    stopKilling = true;
    await killer;
  }
  const retries = verdict.events.filter((e) => e.type === 'job.retry_scheduled').length;
  const stalls = verdict.events.filter((e) => e.type === 'job.stalled').length;
  const passed = settled && verdict.problems.length === 0 && kills > 0;
  record({
    order: 10,
    scenario: 'worker kills',
    jobs: verdict.jobs,
    faults: `${kills} SIGKILL, ${bodies.filter((b) => 'fail' in b.payload).length} transient failures`,
    completedOnce: verdict.completedOnce,
    duplicated: verdict.duplicated.length,
    lost: verdict.lost.length,
    timeMs: Date.now() - started,
    notes: `${stalls} stalls, ${retries} retries, attempts = 1 + stalls + retries for every job: ${verdict.attemptsWrong.length === 0 ? 'yes' : `no (${verdict.attemptsWrong.length})`}`,
    passed,
  });
  const explain = `${verdict.problems.slice(0, 20).join('\n')}\n${verdict.timelines()}\n${settled ? '' : `not settled within 120 s\n${stack.logs()}`}`;
  expect(settled, explain).toBe(true);
  expect(verdict.problems, explain).toEqual([]);
  expect(verdict.completedOnce).toBe(JOBS);
  expect(kills).toBeGreaterThan(0);
  expect(stalls, 'a SIGKILLed worker leaves stalled jobs behind').toBeGreaterThan(0);
});
