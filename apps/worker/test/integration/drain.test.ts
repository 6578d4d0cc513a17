import {
  createInspector,
  recentOperatorActions,
  registryKeys,
  type WorkerRecord,
} from '@jobgate/core';
import { freePort, waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { createSimulationConnector } from '../../src/connectors/simulation.js';
import { OpsPendingError, OpsUsageError, runOps } from '../../src/ops.js';
import { harness, spawnWorker, type Harness } from '../helpers.js';

async function record(h: Harness, workerId: string): Promise<WorkerRecord | null> {
  const raw = await h.redis.get(registryKeys(h.namespace).worker(workerId));
  return raw === null ? null : (JSON.parse(raw) as WorkerRecord);
}

/** Waits until the worker has written its registry record `beats` more times (a bounded condition, not a sleep). */
async function heartbeats(h: Harness, workerId: string, beats: number): Promise<void> {
  const first = (await record(h, workerId))!.last_heartbeat;
  let seen = first;
  let count = 0;
  await waitFor(
    async () => {
      const now = (await record(h, workerId))?.last_heartbeat ?? seen;
      if (now > seen) {
        count += 1;
        seen = now;
      }
      return count >= beats;
    },
    { timeoutMs: 10_000, intervalMs: 20, what: `${beats} registry heartbeats of ${workerId}` },
  );
}

describe('drain and undrain', () => {
  it('a drained worker finishes its running job, claims nothing while jobs wait, and resumes when undrained', async () => {
    await using h = await harness();
    const worker = await h.startWorker([createSimulationConnector()]);
    const deps = { redis: h.redis, namespace: h.namespace, actor: 'test-operator' };
    const running = await h.queue.submit({
      service_required: 'simulation',
      payload: { duration_ms: 1_500, steps: 15 },
    });
    await h.waitForJob(running.id, (j) => j.status === 'active' && j.worker_id === worker.id);

    const drained = await runOps(['drain', worker.id], deps);
    expect(drained).toBe(
      `worker ${worker.id} draining: 1 job running (${running.id}); it claims nothing new until "ops undrain ${worker.id}" (requested)`,
    );
    const waiting = await h.queue.submit({ service_required: 'simulation', payload: {} });

    // Without the drain, completing the running job would claim the waiting one in the same call.
    await h.waitForJob(running.id, (j) => j.status === 'completed');
    await waitFor(async () => (await record(h, worker.id))?.status === 'drained', {
      timeoutMs: 5_000,
      what: 'the worker shown as drained',
    });
    await heartbeats(h, worker.id, 3);
    expect(await h.queue.get(waiting.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await record(h, worker.id)).toMatchObject({
      status: 'drained',
      drain: { by: 'test-operator' },
      current_jobs: [],
    });
    expect(worker.stats()).toMatchObject({ status: 'drained', drain: { by: 'test-operator' } });
    const inspector = createInspector({ redis: h.redis, queue: h.queue });
    const why = await inspector.explain((await h.queue.get(waiting.id))!);
    expect(why.waiting_reason).toMatchObject({ code: 'workers_draining' });
    expect(await runOps(['workers'], deps)).toMatch(new RegExp(`${worker.id}\\s+\\S+\\s+drained`));
    // A second drain keeps the first request.
    expect(await runOps(['drain', worker.id], deps)).toContain('already drained by test-operator');

    expect(await runOps(['undrain', worker.id], deps)).toMatch(
      new RegExp(`^worker ${worker.id} (idle|busy): claiming again \\(requested\\)$`),
    );
    await h.waitForJob(waiting.id, (j) => j.status === 'completed');
    expect((await record(h, worker.id))?.drain ?? null).toBeNull();

    const audit = await recentOperatorActions(h.redis, h.namespace, 10);
    expect(audit.map((a) => [a.action, a.target, a.label, a.result])).toEqual([
      ['undrain', worker.id, 'test-operator', 'requested'],
      ['drain', worker.id, 'test-operator', expect.stringContaining('already drained')],
      ['drain', worker.id, 'test-operator', 'requested'],
    ]);
  });

  it('refuses an unknown worker and bad options, writing nothing', async () => {
    await using h = await harness();
    const deps = { redis: h.redis, namespace: h.namespace };
    await expect(runOps(['drain', 'no-such-worker'], deps)).rejects.toThrow(
      new OpsUsageError(
        `no live worker "no-such-worker" in namespace ${h.namespace} (list them with ops workers)`,
      ),
    );
    await expect(runOps(['undrain', 'no-such-worker'], deps)).rejects.toThrow(OpsUsageError);
    const worker = await h.startWorker([createSimulationConnector()]);
    await expect(runOps(['drain', worker.id, '--wait', 'soon'], deps)).rejects.toThrow(
      '--wait takes a duration like 90s, 5m or 2h (got soon)',
    );
    await expect(runOps(['drain', worker.id, '--no-wait', '--wait', '1s'], deps)).rejects.toThrow(
      OpsUsageError,
    );
    await expect(runOps(['drain'], deps)).rejects.toThrow(/unknown command: drain/);
    expect(await h.redis.exists(registryKeys(h.namespace).drain(worker.id))).toBe(0);
    expect(await recentOperatorActions(h.redis, h.namespace, 10)).toEqual([]);
  });

  it('a worker that does not acknowledge in time: exit 1 naming it, and the request stays', async () => {
    await using h = await harness();
    // A registry heartbeat far longer than the wait: the request is read only at the next beat.
    const worker = await h.startWorker([createSimulationConnector()], { registryEveryMs: 60_000 });
    const deps = { redis: h.redis, namespace: h.namespace };
    await expect(runOps(['drain', worker.id, '--wait', '300ms'], deps)).rejects.toThrow(
      OpsPendingError,
    );
    expect(await runOps(['drain', worker.id, '--no-wait'], deps)).toContain(
      `drain of worker ${worker.id} already drained by`,
    );
    expect(await h.redis.exists(registryKeys(h.namespace).drain(worker.id))).toBe(1);
  });

  it('a worker restarted under a drained id starts drained; a clean stop ends the drain', async () => {
    await using h = await harness();
    const first = await h.startWorker([createSimulationConnector()], {
      capabilities: { worker_id: 'gpu-7' },
    });
    await runOps(['drain', 'gpu-7'], { redis: h.redis, namespace: h.namespace, actor: 'a' });
    await first.stop({ graceMs: 0 });
    expect(await h.redis.exists(registryKeys(h.namespace).drain('gpu-7'))).toBe(0);
    // What a crashed drained worker leaves behind: the request without a record.
    await h.redis.set(
      registryKeys(h.namespace).drain('gpu-7'),
      JSON.stringify({ requested_at: Date.now(), by: 'a' }),
    );
    const second = await h.startWorker([createSimulationConnector()], {
      capabilities: { worker_id: 'gpu-7' },
    });
    expect(second.stats().status).toBe('drained');
    const { id } = await h.queue.submit({ service_required: 'simulation', payload: {} });
    await heartbeats(h, 'gpu-7', 2);
    expect((await h.queue.get(id))?.status).toBe('pending');
    await second.stop({ graceMs: 0 });
    expect(await h.redis.exists(registryKeys(h.namespace).drain('gpu-7'))).toBe(0);
  });
});

/** The value of the one sample of `name` whose labels include `labels` (fails on none or several). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const found = text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => {
      const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line)!;
      const got = Object.fromEntries(
        [...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
      );
      return { got, value: Number(m[2]) };
    })
    .filter(({ got }) => Object.entries(labels).every(([k, v]) => got[k] === v));
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!.value;
}

describe('the worker process: drain through Redis, /metrics and /health', () => {
  it('serves Prometheus metrics and health on WORKER_METRICS_PORT, and is drained from another process', async () => {
    await using h = await harness();
    const port = await freePort();
    await using w = spawnWorker(h, {
      WORKER_ID: 'metrics-w',
      WORKER_METRICS_PORT: String(port),
      WORKER_METRICS_HOST: '127.0.0.1',
    });
    const base = `http://127.0.0.1:${port}`;
    const health = async () => {
      const r = await fetch(`${base}/health`).catch(() => null);
      return r ? { status: r.status, body: (await r.json()) as Record<string, unknown> } : null;
    };
    try {
      // A worker started from source (tsx, before the bundle) under a busy integration level printed nothing for
      // 20 s once in CI: starting the process is the slow part, not the health check.
      await waitFor(async () => (await health())?.status === 200, {
        timeoutMs: 40_000,
        what: 'the worker /health answering 200',
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${w.output()}`, { cause: error });
    }
    const ok = await h.queue.submit({
      service_required: 'simulation',
      payload: { duration_ms: 50 },
    });
    const bad = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 1,
      payload: { fail: { message: 'Incorrect API key provided', http_status: 401 } },
    });
    await h.waitForJob(ok.id, (j) => j.status === 'completed', 20_000);
    await h.waitForJob(bad.id, (j) => j.status === 'failed', 20_000);

    const scrape = async () => {
      const r = await fetch(`${base}/metrics`);
      expect(r.headers.get('content-type')).toContain('text/plain');
      return r.text();
    };
    let text = '';
    // The outcome is counted once the run is settled, just after the queue records it; a claim
    // that finds nothing comes after the last job (when the worker started after the submits, as
    // a loaded soak level once had it, no claim before them was empty).
    const emptyClaim = /^jobgate_worker_claim_duration_seconds_count\{[^}]*result="empty"/m;
    await waitFor(
      async () => {
        text = await scrape();
        return text.includes('outcome="failed"') && emptyClaim.test(text);
      },
      { timeoutMs: 10_000, what: 'the failed run and an empty claim counted' },
    );
    const at = (name: string, labels: Record<string, string>) => sample(text, name, labels);
    const completed = { service: 'simulation', outcome: 'completed', worker_id: 'metrics-w' };
    const failed = { service: 'simulation', outcome: 'failed' };
    expect(at('jobgate_worker_jobs_total', completed)).toBe(1);
    expect(at('jobgate_worker_jobs_total', failed)).toBe(1);
    expect(
      at('jobgate_worker_job_failures_total', {
        failure_type: 'auth_error',
        failure_reason: 'invalid_api_key',
        decision: 'fail',
      }),
    ).toBe(1);
    expect(
      at('jobgate_worker_connector_errors_total', {
        connector: 'simulation',
        failure_type: 'auth_error',
      }),
    ).toBe(1);
    expect(at('jobgate_worker_job_duration_seconds_count', completed)).toBe(1);
    expect(at('jobgate_worker_job_duration_seconds_count', failed)).toBe(1);
    expect(at('jobgate_worker_job_duration_seconds_bucket', { ...completed, le: '+Inf' })).toBe(1);
    expect(at('jobgate_worker_claim_duration_seconds_count', { result: 'job' })).toBeGreaterThan(0);
    expect(at('jobgate_worker_claim_duration_seconds_count', { result: 'empty' })).toBeGreaterThan(
      0,
    );
    expect(at('jobgate_worker_drained', {})).toBe(0);
    expect(at('jobgate_worker_concurrency', {})).toBe(1);
    expect(text).toContain('process_resident_memory_bytes');
    expect((await health())?.body).toMatchObject({
      status: 'ok',
      worker_id: 'metrics-w',
      drained_by: null,
    });

    // Another process (this test, through Redis) drains it.
    expect(
      await runOps(['drain', 'metrics-w'], {
        redis: h.redis,
        namespace: h.namespace,
        actor: 'on-call',
      }),
    ).toContain('worker metrics-w drained: no jobs running');
    expect((await health())?.body).toMatchObject({
      status: 'ok',
      worker_status: 'drained',
      drained_by: 'on-call',
    });
    expect(sample(await scrape(), 'jobgate_worker_drained', {})).toBe(1);
    expect(w.output()).toContain('drained by an operator');
    expect((await fetch(`${base}/nope`)).status).toBe(404);

    w.process.kill('SIGTERM');
    expect(await w.exit('SIGTERM'), w.output()).toEqual({ code: 0, signal: null });
    expect(await fetch(`${base}/health`).catch(() => 'closed')).toBe('closed');
  }, 90_000);
});
