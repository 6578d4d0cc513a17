import { describe, expect, it } from 'vitest';
import { explainPending } from './inspect.js';
import type { WorkerRecord } from './worker-registry.js';

const job = {
  service_required: 'svc',
  requirements: {},
  customer_id: null,
  workflow_id: null,
  unrunnable_reason: null,
  run_at: null,
};

function w(
  id: string,
  extra: Partial<WorkerRecord> = {},
  caps: Record<string, unknown> = {},
): WorkerRecord {
  return {
    worker_id: id,
    machine_id: 'm',
    hostname: 'h',
    pid: 1,
    version: '0',
    status: 'idle',
    services: ['svc'],
    connectors: [],
    capabilities: { worker_id: id, services: ['svc'], ...caps },
    concurrency: 1,
    current_jobs: [],
    jobs_completed: 0,
    jobs_failed: 0,
    started_at: 0,
    last_heartbeat: 0,
    ...extra,
  };
}

describe('explainPending', () => {
  it('says a job with malformed requirements never runs, naming the problem', () => {
    const reason = explainPending(
      { ...job, unrunnable_reason: 'requirements.models must be an array of strings' },
      [w('a')],
      0,
    );
    expect(reason).toMatchObject({ code: 'unrunnable' });
    expect(reason.message).toContain('requirements.models must be an array of strings');
  });

  it('says a retry whose time passed waits for the reaper', () => {
    expect(explainPending({ ...job, run_at: 1_000 }, [w('a')], 4_000).message).toBe(
      'retry due 3 s ago; the reaper promotes it on its next pass',
    );
  });

  it('picks the requirement that blocks the most workers', () => {
    const reason = explainPending(
      { ...job, requirements: { hardware: { gpu_memory_gb: 80 }, region: 'eu' } },
      [
        w('a', {}, { hardware: { gpu_memory_gb: 24 } }),
        w('b', {}, { hardware: { gpu_memory_gb: 90 }, capabilities: { region: 'us' } }),
        w('c', {}, { hardware: { gpu_memory_gb: 16 } }),
      ],
      0,
    );
    expect(reason).toMatchObject({
      code: 'requirement_unmet',
      requirement: 'hardware.gpu_memory_gb',
    });
    expect(reason.message).toBe(
      'no live worker satisfies requirement hardware.gpu_memory_gb (wants 80; the best live worker has 24)',
    );
  });

  it('a worker pinned to another workflow cannot take the job', () => {
    expect(explainPending(job, [w('a', {}, { workflow_id: 'wf-1' })], 0)).toMatchObject({
      code: 'workflow_pinned',
    });
  });

  it('next in line with every eligible worker busy', () => {
    expect(
      explainPending(job, [w('a', { current_jobs: ['x'] })], 0, { ahead: 0, higher_priority: 0 }),
    ).toMatchObject({
      code: 'workers_busy',
    });
  });
});
