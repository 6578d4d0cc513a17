import { waitFor } from '@jobgate/testkit';
import { expect, it } from 'vitest';
import { submitAll } from '../../src/client.js';
import { chaosConfig, scaled } from '../../src/config.js';
import { record } from '../../src/figures.js';
import { judge, readEvents, settle } from '../../src/ledger.js';
import { between, seededRandom } from '../../src/random.js';
import { startChaosStack } from '../../src/stack.js';

const JOBS = scaled(400, 40);

/** pino JSON lines of a worker that say a job was no longer held (heartbeat, progress or completion refused). */
function refusals(output: string): Map<string, string> {
  const refused = new Map<string, string>();
  for (const line of output.split('\n')) {
    if (!line.includes('no longer held')) continue;
    try {
      const entry = JSON.parse(line) as { job_id?: string; msg?: string };
      if (entry.job_id) refused.set(entry.job_id, entry.msg ?? '');
    } catch {
      // Not a log line of the worker's (e.g. a partial write): ignored.
    }
  }
  return refused;
}

it(`frozen worker: one worker SIGSTOPped past its lease, then resumed; its late writes are refused, no job completes twice (${JOBS} jobs)`, async () => {
  const random = seededRandom(chaosConfig.seed + 2);
  await using stack = await startChaosStack({
    name: 'frozen-worker',
    workers: 3,
    workerEnv: { WORKER_CONCURRENCY: '4' },
  });
  const key = await stack.customer('acme');
  const bodies = Array.from({ length: JOBS }, () => ({
    service_required: 'simulation',
    max_attempts: 10,
    payload: { duration_ms: between(random, 200, 600), steps: 4 },
  }));
  const started = Date.now();
  const { ids } = await submitAll(stack.apiUrl, key, bodies, 16);
  const victim = stack.workers[0]!;

  // Freeze it while it holds jobs, so there is something for its late writes to touch.
  const held = await waitFor(
    async () => {
      const active = (await stack.queue.list({ status: 'active', limit: 1_000 })).jobs;
      const mine = active.filter((job) => job.worker_id === victim.name).map((job) => job.id);
      return mine.length > 0 ? mine : null;
    },
    { timeoutMs: 30_000, intervalMs: 20, what: `${victim.name} holding a job` },
  );
  victim.signal('SIGSTOP');
  const frozenAt = Date.now();
  // Re-read what it holds now that it cannot change anything.
  const frozenHeld = (await stack.queue.list({ status: 'active', limit: 1_000 })).jobs
    .filter((job) => job.worker_id === victim.name)
    .map((job) => job.id);
  const victims = frozenHeld.length > 0 ? frozenHeld : held;

  // Frozen for longer than its lease and until every job it held was taken over by another
  // worker (its lease expired first). The takeover alone can come a little before a full lease
  // after the SIGSTOP: the lease runs from the last heartbeat, which came before it.
  await waitFor(
    async () => {
      if (Date.now() - frozenAt <= stack.leaseMs) return false;
      const events = await readEvents(stack.redis, stack.namespace);
      return victims.every((id) =>
        events.some(
          (e) => e.job_id === id && e.type === 'job.claimed' && e.data.worker_id !== victim.name,
        ),
      );
    },
    {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'a full lease frozen and the frozen jobs taken over by other workers',
    },
  );
  const frozenMs = Date.now() - frozenAt;
  victim.signal('SIGCONT');

  // Resumed, it finds out at its next heartbeat, progress or completion that the jobs are gone.
  let refused = new Map<string, string>();
  try {
    await waitFor(
      () => {
        refused = refusals(victim.output());
        return victims.every((id) => refused.has(id));
      },
      {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'the resumed worker refused on every job it held',
      },
    );
  } catch {
    // Judged below, with the worker's output in the message.
  }
  const settled = await settle(stack.queue, JOBS, 120_000);
  const verdict = await judge(stack.redis, stack.queue, stack.namespace, ids);

  // After another worker's claim, nothing the frozen one sent may have landed on those jobs.
  const late: string[] = [];
  for (const id of victims) {
    const events = verdict.events.filter((e) => e.job_id === id);
    const takeover = events.findIndex(
      (e) => e.type === 'job.claimed' && e.data.worker_id !== victim.name,
    );
    for (const e of events.slice(takeover + 1))
      if (e.data.worker_id === victim.name) late.push(`${id}: ${e.type} from ${victim.name}`);
  }
  const passed =
    settled &&
    verdict.problems.length === 0 &&
    late.length === 0 &&
    victims.every((id) => refused.has(id));
  record({
    order: 20,
    scenario: 'frozen worker',
    jobs: verdict.jobs,
    faults: `1 SIGSTOP for ${(frozenMs / 1000).toFixed(1)} s (lease ${stack.leaseMs / 1000} s) holding ${victims.length} jobs`,
    completedOnce: verdict.completedOnce,
    duplicated: verdict.duplicated.length,
    lost: verdict.lost.length,
    timeMs: Date.now() - started,
    notes: `${victims.filter((id) => refused.has(id)).length}/${victims.length} late writes refused, ${late.length} landed`,
    passed,
  });
  const explain = `${verdict.problems.slice(0, 20).join('\n')}\n${late.join('\n')}\n${verdict.timelines()}\n--- ${victim.name} ---\n${victim.output().slice(-5_000)}`;
  expect(frozenMs, 'frozen for longer than its lease').toBeGreaterThan(stack.leaseMs);
  expect(settled, explain).toBe(true);
  expect(verdict.problems, explain).toEqual([]);
  expect(late, explain).toEqual([]);
  expect(
    victims.filter((id) => !refused.has(id)),
    `jobs whose late write was not refused:\n${explain}`,
  ).toEqual([]);
  expect(victim.alive(), 'the resumed worker keeps running').toBe(true);
});
