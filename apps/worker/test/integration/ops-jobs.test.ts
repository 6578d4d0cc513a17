import { WorkerRegistry, type WorkerRecord } from '@jobgate/core';
import { waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { OpsUsageError, runOps } from '../../src/ops.js';
import { harness } from '../helpers.js';

function live(id: string, services: string[], extra: Record<string, unknown> = {}): WorkerRecord {
  return {
    worker_id: id,
    machine_id: 'gpu-box-1',
    hostname: 'h',
    pid: 1,
    version: '0',
    status: 'idle',
    services,
    connectors: [],
    capabilities: { worker_id: id, services, ...extra },
    concurrency: 1,
    current_jobs: [],
    jobs_completed: 0,
    jobs_failed: 0,
    started_at: 0,
    last_heartbeat: Date.now(),
  };
}

describe('ops jobs / ops job', () => {
  it('lists every customer with filters and says why each pending job waits', async () => {
    await using h = await harness();
    const deps = { redis: h.redis, namespace: h.namespace };
    await new WorkerRegistry(h.redis, h.namespace, 60_000).publish(
      live('gpu-1', ['comfyui'], { hardware: { gpu_memory_gb: 24 } }),
    );
    const big = await h.queue.submit({
      service_required: 'comfyui',
      customer_id: 'acme',
      requirements: { hardware: { gpu_memory_gb: 80 } },
    });
    const orphan = await h.queue.submit({ service_required: 'openai', customer_id: 'globex' });
    const small = await h.queue.submit({ service_required: 'comfyui', customer_id: 'globex' });

    const all = await runOps(['jobs'], deps);
    expect(all).toMatch(/^JOB\s+STATUS\s+SERVICE\s+CUSTOMER/);
    for (const id of [big.id, orphan.id, small.id]) expect(all).toContain(id);
    expect(all).toContain(
      'no live worker satisfies requirement hardware.gpu_memory_gb (wants 80; the best live worker has 24)',
    );
    expect(all).toContain('no live worker serves the service "openai"');

    const openai = await runOps(['jobs', '--service', 'openai'], deps);
    expect(openai).toContain(orphan.id);
    expect(openai).not.toContain(big.id);

    const acme = JSON.parse(await runOps(['jobs', '--customer', 'acme', '--json'], deps)) as {
      jobs: Array<{ id: string; waiting_reason: { code: string } }>;
    };
    expect(acme.jobs.map((j) => [j.id, j.waiting_reason.code])).toEqual([
      [big.id, 'requirement_unmet'],
    ]);

    const unrunnable = await runOps(['jobs', '--unrunnable'], deps);
    expect(unrunnable).toContain(big.id);
    expect(unrunnable).toContain(orphan.id);
    expect(unrunnable).not.toContain(small.id);

    expect(await runOps(['jobs', '--status', 'failed'], deps)).toBe('no jobs match');
  });

  it('--stuck finds an active job holding an expired lease; job <id> shows it and its timeline', async () => {
    await using h = await harness();
    const deps = { redis: h.redis, namespace: h.namespace };
    const { id } = await h.queue.submit({ service_required: 'simulation', max_attempts: 2 });
    const claimed = await h.queue.claim(
      { worker_id: 'killed', services: ['simulation'] },
      { leaseMs: 100 },
    );
    const later = { ...deps, now: Date.now() + 18_000 };
    const stuck = await runOps(['jobs', '--stuck'], later);
    expect(stuck).toContain(id);
    expect(stuck).toMatch(/lease expired 1[78] s ago; worker killed is gone/);
    // Just before its lease ran out the job is not stuck, whatever --older-than says (asked at the
    // wall clock, a busy machine reached the 100 ms lease's end between the calls and listed it).
    const beforeExpiry = { ...deps, now: claimed!.lease_expires_at! - 1 };
    expect(await runOps(['jobs', '--stuck', '--older-than', '1h'], beforeExpiry)).toBe(
      'no jobs match',
    );

    const detail = await runOps(['job', id], later);
    expect(detail).toContain(`job ${id}  active  service simulation`);
    expect(detail).toContain('STUCK: lease expired');
    expect(detail).toMatch(/job\.received[\s\S]*job\.claimed\s+attempt 1\s+worker=killed/);

    await waitFor(() => Date.now() > claimed!.lease_expires_at!, {
      timeoutMs: 2_000,
      what: 'the lease expired',
    });
    expect(await runOps(['reap'], deps)).toBe(
      'requeued or failed 1 expired lease(s), promoted 0 due retries',
    );
    expect((await h.queue.get(id))?.status).toBe('pending');
  });

  it('refuses bad filters with a message naming them', async () => {
    await using h = await harness();
    const deps = { redis: h.redis, namespace: h.namespace };
    await expect(runOps(['jobs', '--status', 'stuck'], deps)).rejects.toThrow(
      /--status must be one of pending, active/,
    );
    await expect(runOps(['jobs', '--older-than', '5m'], deps)).rejects.toThrow(
      '--older-than only applies with --stuck',
    );
    await expect(runOps(['jobs', '--stuck', '--older-than', 'soon'], deps)).rejects.toThrow(
      OpsUsageError,
    );
    await expect(runOps(['job', 'nope'], deps)).rejects.toThrow('no job nope');
  });
});
