import { startRedis, waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { createSimulationConnector } from '../../src/connectors/simulation.js';
import { listWorkers } from '../../src/registry.js';
import { harness, spawnWorker, type Child, type Harness } from '../helpers.js';

/**
 * The job active on the spawned worker, with progress. Started from source (tsx, before the bundle), the process
 * printed nothing for 20 s once in a soak's integration level (ten packages' tests at once on two
 * cores): its start-up gets a bound of its own, as in drain.test.ts, and the job its 20 s after.
 */
async function activeOn(h: Harness, id: string, workerId: string, child: Child): Promise<void> {
  try {
    await waitFor(
      () =>
        child.output().includes('worker started') ||
        child.process.exitCode !== null ||
        child.process.signalCode !== null,
      { timeoutMs: 40_000, what: `${workerId} started` },
    );
    await h.waitForJob(
      id,
      (j) => j.status === 'active' && j.worker_id === workerId && (j.progress?.percent ?? 0) > 0,
      20_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nworker output:\n${child.output()}`, {
      cause: error,
    });
  }
}

// Each test starts one or two worker processes (start-up bounded at 40 s, see activeOn).
describe('the worker process', { timeout: 120_000 }, () => {
  it('killed with SIGKILL mid-job: the lease expires and another worker completes the job exactly once', async () => {
    await using h = await harness();
    await using a = spawnWorker(h, { WORKER_ID: 'worker-a' });
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 3,
      payload: { duration_ms: 2_000, steps: 10 },
    });
    await activeOn(h, id, 'worker-a', a);
    a.process.kill('SIGKILL');
    expect(await a.exit('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    const b = await h.startWorker([createSimulationConnector()], { leaseMs: 1_500 });
    const job = await h.waitForJob(id, (j) => j.status === 'completed', 20_000);
    expect(job).toMatchObject({ attempts: 2, worker_id: b.id });
    const events = (await h.queue.readEvents()).filter((e) => e.job_id === id).map((e) => e.type);
    expect(events.filter((t) => t === 'job.completed')).toHaveLength(1);
    expect(events.filter((t) => t === 'job.claimed')).toHaveLength(2);
    expect(events.filter((t) => t === 'job.stalled')).toHaveLength(1);
    // The killed worker could not deregister; its record expires by itself.
    await waitFor(
      async () =>
        !(await listWorkers(h.redis, h.namespace)).some((w) => w.worker_id === 'worker-a'),
      { timeoutMs: 5_000, what: 'worker-a gone from the registry' },
    );
  });

  it('sent SIGTERM during a job longer than the grace period: releases it, exits 0, and the job is completed elsewhere', async () => {
    await using h = await harness();
    await using a = spawnWorker(h, { WORKER_ID: 'worker-a', WORKER_SHUTDOWN_GRACE_MS: '300' });
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 3,
      payload: { duration_ms: 3_000, steps: 30 },
    });
    await activeOn(h, id, 'worker-a', a);
    a.process.kill('SIGTERM');
    const exit = await a.exit('SIGTERM, grace 300 ms');
    expect(exit, a.output()).toEqual({ code: 0, signal: null });
    expect(a.output()).toContain('job released on shutdown');
    const released = await h.queue.get(id);
    // Handed back, not failed: the interrupted attempt is not counted.
    expect(released).toMatchObject({
      status: 'pending',
      worker_id: null,
      attempts: 0,
      last_failure: null,
    });
    expect(await listWorkers(h.redis, h.namespace)).toEqual([]);

    const b = await h.startWorker([createSimulationConnector()]);
    const done = await h.waitForJob(id, (j) => j.status === 'completed', 20_000);
    expect(done).toMatchObject({ worker_id: b.id, attempts: 1 });
    const events = (await h.queue.readEvents()).filter((e) => e.job_id === id);
    const releases = events.filter((e) => e.type === 'job.released');
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatchObject({
      attempt: 1,
      data: { reason: 'shutdown', worker_id: 'worker-a' },
    });
    expect(events.map((e) => e.type)).not.toContain('job.retry_scheduled');
  });

  it('sent SIGTERM during a job that fits the grace period: finishes it, then exits 0', async () => {
    await using h = await harness();
    await using a = spawnWorker(h, { WORKER_ID: 'worker-a', WORKER_SHUTDOWN_GRACE_MS: '15000' });
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 3,
      payload: { duration_ms: 1_500, steps: 10 },
    });
    await activeOn(h, id, 'worker-a', a);
    a.process.kill('SIGTERM');
    expect(await a.exit('SIGTERM, grace 15 s', 25_000), a.output()).toEqual({
      code: 0,
      signal: null,
    });
    expect(await h.queue.get(id)).toMatchObject({
      status: 'completed',
      attempts: 1,
      worker_id: 'worker-a',
    });
  });

  it('sent SIGTERM while Redis is gone: exits within the grace period plus the Redis bound, saying why', async () => {
    await using h = await harness();
    // A server of its own, stopped under the running worker (the shared one serves other files).
    const redis = await startRedis({ own: true });
    await using _redis = redis;
    await using a = spawnWorker(h, {
      REDIS_URL: redis.url,
      WORKER_ID: 'worker-a',
      WORKER_SHUTDOWN_GRACE_MS: '300',
      WORKER_SHUTDOWN_REDIS_TIMEOUT_MS: '1000',
    });
    await waitFor(() => a.output().includes('worker started'), {
      timeoutMs: 40_000,
      what: `worker-a started\n${a.output()}`,
    });
    await redis.stop();
    await waitFor(() => a.output().includes('redis connection error'), {
      timeoutMs: 10_000,
      what: 'worker-a noticing Redis is gone',
    });
    a.process.kill('SIGTERM');
    // Grace 300 ms + at most 1 s per step that needs Redis: never the 30 min a hung quit took.
    const exit = await a.exit('SIGTERM with Redis gone', 10_000);
    expect(exit, a.output()).toEqual({ code: 1, signal: null });
    expect(a.output()).toContain('Redis did not answer');
  });

  it('refuses to start on invalid configuration, naming the variable', async () => {
    await using h = await harness();
    await using a = spawnWorker(h, { WORKER_CONCURRENCY: 'many' });
    // The bound covers the process's start: over 20 s once in a soak's loaded integration level
    // (then from source through tsx), where the check of the configuration takes milliseconds.
    expect((await a.exit('invalid configuration', 60_000)).code).toBe(2);
    expect(a.output()).toContain('WORKER_CONCURRENCY');
  });
});
