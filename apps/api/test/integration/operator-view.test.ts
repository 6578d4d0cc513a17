import { WorkerRegistry, type WorkerRecord } from '@jobgate/core';
import { describe, expect, it } from 'vitest';
import { startApi } from './harness.js';

function worker(id: string, services: string[], hardware: Record<string, number>): WorkerRecord {
  return {
    worker_id: id,
    machine_id: 'gpu-box',
    hostname: 'h',
    pid: 1,
    version: '0',
    status: 'idle',
    services,
    connectors: [],
    capabilities: { worker_id: id, services, hardware },
    concurrency: 1,
    current_jobs: [],
    jobs_completed: 0,
    jobs_failed: 0,
    started_at: 0,
    last_heartbeat: Date.now(),
  };
}

describe('what operators and customers see of a stuck queue', () => {
  it('the job view says why a pending job is not running', async () => {
    await using api = await startApi();
    const key = await api.customer('waiting');
    await new WorkerRegistry(api.redis, api.namespace, 60_000).publish(
      worker('gpu-24', ['simulation'], { gpu_memory_gb: 24 }),
    );
    const { body } = await api.request('POST', '/api/jobs', {
      key,
      body: { service_required: 'simulation', requirements: { hardware: { gpu_memory_gb: 80 } } },
    });
    const view = await api.request('GET', `/api/jobs/${body.job.id}`, { key });
    expect(view.body.job.waiting_reason).toEqual({
      code: 'requirement_unmet',
      requirement: 'hardware.gpu_memory_gb',
      message:
        'no live worker satisfies requirement hardware.gpu_memory_gb (wants 80; the best live worker has 24)',
    });
    const other = await api.request('POST', '/api/jobs', {
      key,
      body: { service_required: 'openai', payload: { model: 'gpt-4o-mini', prompt: 'hi' } },
    });
    expect(other.status, JSON.stringify(other.body)).toBe(201);
    const otherView = await api.request('GET', `/api/jobs/${other.body.job.id}`, { key });
    expect(otherView.body.job.waiting_reason).toMatchObject({ code: 'no_worker_for_service' });
  });

  it('health is degraded (200, with the reason) while a job holds an expired lease and a service has no worker', async () => {
    await using api = await startApi();
    const { id } = await api.queue.submit({ service_required: 'simulation' });
    await api.queue.claim({ worker_id: 'killed', services: ['simulation'] }, { leaseMs: 1 });
    const held = (await api.queue.get(id))!;
    // The lease is 1 ms long: by the time the request is answered it has expired.
    expect(held.status).toBe('active');
    await api.queue.submit({ service_required: 'openai' });
    const response = await api.request('GET', '/health');
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('degraded');
    expect(response.body.reason).toContain('1 job hold an expired lease');
    expect(response.body.reason).toContain('no live worker serves "openai"');
    expect(response.body.checks.queue).toMatchObject({ ok: false, degraded: true });

    const metrics = (await api.request('GET', '/metrics')).text;
    expect(metrics).toMatch(/^jobgate_jobs_expired_leases 1$/m);
    expect(metrics).toMatch(/^jobgate_queue_oldest_pending_seconds\{service="openai"\} \d/m);
  });
});
