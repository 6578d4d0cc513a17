import { readJobAttestations, readWorkflowAttestations } from '@jobgate/core';
import { waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { createSimulationConnector } from '../../src/connectors/simulation.js';
import { listWorkers } from '../../src/registry.js';
import { harness } from '../helpers.js';

describe('worker with the simulation connector', () => {
  it('claims, reports progress and completes a job', async () => {
    await using h = await harness();
    await h.startWorker([createSimulationConnector()]);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      payload: { duration_ms: 100, steps: 4, result: { ok: 1 } },
    });
    const job = await h.waitForJob(id, (j) => j.status === 'completed');
    expect(job).toMatchObject({ attempts: 1, result: { ok: 1 } });
    const events = (await h.queue.readEvents()).filter((e) => e.job_id === id).map((e) => e.type);
    expect(events[0]).toBe('job.received');
    expect(events).toContain('job.progress');
    expect(events.at(-1)).toBe('job.completed');
  });

  it('is woken by a submit instead of polling: an idle worker starts a job long before its idle timeout', async () => {
    await using h = await harness();
    await h.startWorker([createSimulationConnector()], { idleWaitMs: 20_000 });
    // Let the worker go idle and block on the wake-up list.
    await waitFor(async () => (await listWorkers(h.redis, h.namespace))[0]?.status === 'idle', {
      timeoutMs: 5_000,
      what: 'the worker registered as idle',
    });
    const submitted = Date.now();
    const { id } = await h.queue.submit({ service_required: 'simulation', payload: {} });
    const job = await h.waitForJob(id, (j) => j.status === 'completed', 5_000);
    expect(job.claimed_at! - submitted).toBeLessThan(1_000);
  });

  it('retries an injected transient failure, attests it per job and per workflow, then completes', async () => {
    await using h = await harness();
    const worker = await h.startWorker([createSimulationConnector()], { machineId: 'gpu-box-7' });
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      workflow_id: 'wf-42',
      step: 3,
      max_attempts: 3,
      payload: {
        steps: 2,
        fail: {
          message: 'connect ECONNREFUSED 10.0.0.9:8188',
          code: 'ECONNREFUSED',
          on_attempts: [1],
        },
      },
    });
    const job = await h.waitForJob(id, (j) => j.status === 'completed');
    expect(job.attempts).toBe(2);
    const [attestation, ...more] = await h.attestations(id);
    expect(more).toHaveLength(0);
    expect(attestation).toMatchObject({
      job_id: id,
      workflow_id: 'wf-42',
      step: 3,
      attempt: 1,
      max_attempts: 3,
      worker_id: worker.id,
      machine_id: 'gpu-box-7',
      failure_type: 'network_error',
      failure_reason: 'connection_failed',
      retryable: true,
      decision: 'retry',
    });
    expect(attestation!.failed_at).toBeGreaterThanOrEqual(attestation!.started_at!);
    expect(await readWorkflowAttestations(h.redis, h.namespace, 'wf-42')).toEqual([attestation]);
  });

  it('fails a permanent failure at once, with the classification on the job and a redacted message', async () => {
    await using h = await harness();
    await h.startWorker([createSimulationConnector()]);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 3,
      payload: {
        fail: { message: 'Incorrect API key provided: sk-live-abcdef1234567890', http_status: 401 },
      },
    });
    const job = await h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.attempts).toBe(1);
    expect(job.last_failure).toMatchObject({
      failure_type: 'auth_error',
      failure_reason: 'invalid_api_key',
      retryable: false,
    });
    expect(JSON.stringify(job.last_failure)).not.toContain('abcdef1234567890');
    const [attestation] = await h.attestations(id);
    expect(attestation).toMatchObject({ decision: 'fail' });
    expect(JSON.stringify(attestation)).not.toContain('abcdef1234567890');
  });

  it('fails a transient failure once attempts are exhausted, attesting each attempt', async () => {
    await using h = await harness();
    await h.startWorker([createSimulationConnector()]);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 2,
      payload: { fail: { message: 'Service Unavailable', http_status: 503 } },
    });
    const job = await h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.attempts).toBe(2);
    expect(
      (await h.attestations(id)).map((a) => [a.attempt, a.failure_reason, a.decision]),
    ).toEqual([
      [1, 'service_unavailable', 'retry'],
      [2, 'service_unavailable', 'fail'],
    ]);
  });

  it('times a job out at its deadline and classifies it as a job timeout', async () => {
    await using h = await harness();
    await h.startWorker([createSimulationConnector()]);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 1,
      payload: { duration_ms: 30_000, timeout_ms: 150 },
    });
    const job = await h.waitForJob(id, (j) => j.status === 'failed');
    expect(job.last_failure).toMatchObject({
      failure_type: 'timeout',
      failure_reason: 'job_timeout',
    });
  });

  it('stops a cancelled job without reporting a failure', async () => {
    await using h = await harness();
    const worker = await h.startWorker([createSimulationConnector()], {
      leaseMs: 600,
      heartbeatEveryMs: 50,
    });
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      payload: { duration_ms: 30_000, steps: 300 },
    });
    await h.waitForJob(id, (j) => j.status === 'active');
    await h.queue.cancel(id);
    await waitFor(() => worker.stats().active.length === 0, {
      timeoutMs: 3_000,
      what: 'the cancelled job no longer running',
    });
    expect((await h.queue.get(id))?.status).toBe('cancelled');
    expect(await h.attestations(id)).toEqual([]);
  });

  it('registers with its capabilities and status, and deregisters on stop', async () => {
    await using h = await harness();
    const worker = await h.startWorker([createSimulationConnector({ models: ['sim-v1'] })], {
      machineId: 'box-1',
      concurrency: 2,
    });
    const [record] = await waitFor(
      async () => {
        const list = await listWorkers(h.redis, h.namespace);
        return list.length === 1 ? list : null;
      },
      { timeoutMs: 5_000, what: 'the worker registered' },
    );
    expect(record).toMatchObject({
      worker_id: worker.id,
      machine_id: 'box-1',
      services: ['simulation'],
      connectors: ['simulation'],
      concurrency: 2,
      capabilities: { models: { simulation: ['sim-v1'] } },
    });
    expect(['idle', 'busy']).toContain(record!.status);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      payload: { duration_ms: 2_000, steps: 20 },
    });
    await waitFor(
      async () => (await listWorkers(h.redis, h.namespace))[0]?.current_jobs.includes(id),
      { timeoutMs: 5_000, what: `job ${id} listed in the worker's current jobs` },
    );
    expect((await listWorkers(h.redis, h.namespace))[0]?.status).toBe('busy');
    await worker.stop({ graceMs: 0 });
    expect(await listWorkers(h.redis, h.namespace)).toEqual([]);
  });

  it('on stop finishes a job that fits the grace period', async () => {
    await using h = await harness();
    const worker = await h.startWorker([createSimulationConnector()]);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      payload: { duration_ms: 300, steps: 3 },
    });
    await h.waitForJob(id, (j) => j.status === 'active');
    const report = await worker.stop({ graceMs: 5_000 });
    expect(report).toEqual({
      finished: [id],
      released: [],
      leftToLease: [],
      redisUnanswered: false,
    });
    expect(await h.queue.get(id)).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('on stop releases a job that outlasts the grace period, and another worker completes it', async () => {
    await using h = await harness();
    const first = await h.startWorker([createSimulationConnector()]);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 3,
      payload: { duration_ms: 1_500, steps: 10 },
    });
    await h.waitForJob(id, (j) => j.status === 'active');
    const report = await first.stop({ graceMs: 100 });
    expect(report).toEqual({
      finished: [],
      released: [id],
      leftToLease: [],
      redisUnanswered: false,
    });
    const released = await h.queue.get(id);
    expect(released).toMatchObject({ status: 'pending', attempts: 0, last_failure: null });
    const second = await h.startWorker([createSimulationConnector()]);
    const done = await h.waitForJob(id, (j) => j.status === 'completed');
    expect(done).toMatchObject({ worker_id: second.id, attempts: 1 });
  });

  it('on stop releases a job on its last attempt without failing it or attesting a failure', async () => {
    await using h = await harness();
    const first = await h.startWorker([createSimulationConnector()]);
    const { id } = await h.queue.submit({
      service_required: 'simulation',
      max_attempts: 1,
      payload: { duration_ms: 1_500, steps: 10 },
    });
    await h.waitForJob(id, (j) => j.status === 'active');
    expect(await first.stop({ graceMs: 100 })).toEqual({
      finished: [],
      released: [id],
      leftToLease: [],
      redisUnanswered: false,
    });
    expect(first.stats()).toMatchObject({ released: 1, failed: 0 });
    expect(await h.queue.get(id)).toMatchObject({ status: 'pending', attempts: 0 });
    const second = await h.startWorker([createSimulationConnector()]);
    expect(await h.waitForJob(id, (j) => j.status === 'completed')).toMatchObject({
      worker_id: second.id,
      attempts: 1,
    });
    expect(await readJobAttestations(h.redis, h.namespace, id)).toEqual([]);
  });

  it('runs jobs concurrently up to its concurrency', async () => {
    await using h = await harness();
    const worker = await h.startWorker([createSimulationConnector()], { concurrency: 3 });
    const ids = await Promise.all(
      [1, 2, 3].map(
        async () =>
          (await h.queue.submit({ service_required: 'simulation', payload: { duration_ms: 800 } }))
            .id,
      ),
    );
    await waitFor(() => worker.stats().active.length === 3, {
      timeoutMs: 3_000,
      what: 'three jobs running at once',
    });
    for (const id of ids) await h.waitForJob(id, (j) => j.status === 'completed');
  });
});
