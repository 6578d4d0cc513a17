import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSimulationConnector } from '../../src/connectors/simulation.js';
import { OpsUsageError, runOps } from '../../src/ops.js';
import { harness } from '../helpers.js';

describe('operator commands', () => {
  it('lists live workers and explains a failed workflow', async () => {
    await using h = await harness();
    const worker = await h.startWorker([createSimulationConnector()], { machineId: 'gpu-box-3' });
    const deps = { redis: h.redis, namespace: h.namespace };
    const workers = await runOps(['workers'], deps);
    expect(workers).toMatch(/^WORKER\s+MACHINE\s+STATUS/);
    expect(workers).toContain(worker.id);
    expect(workers).toContain('gpu-box-3');

    const { id } = await h.queue.submit({
      service_required: 'simulation',
      workflow_id: 'wf-ops',
      step: 2,
      max_attempts: 1,
      payload: { fail: { message: 'CUDA out of memory. Tried to allocate 2.00 GiB' } },
    });
    await h.waitForJob(id, (j) => j.status === 'failed');
    const text = await runOps(['attestations', '--workflow', 'wf-ops'], deps);
    expect(text).toContain(id);
    expect(text).toContain('resource_limit/gpu_memory_full');
    expect(text).toContain('fail');
    const parsed = JSON.parse(
      await runOps(['attestations', '--job', id, '--json'], deps),
    ) as Array<{ job_id: string }>;
    expect(parsed.map((a) => a.job_id)).toEqual([id]);
    expect(await runOps(['attestations', '--recent', '5'], deps)).toContain(id);
  });

  it('answers a wrong command with the usage', async () => {
    await using h = await harness();
    const deps = { redis: h.redis, namespace: h.namespace };
    await expect(runOps(['attestations', '--recent', 'lots'], deps)).rejects.toThrow(OpsUsageError);
    await expect(runOps(['restart-everything'], deps)).rejects.toThrow(
      /unknown command: restart-everything[\s\S]*usage:/,
    );
  });

  it('--help works without Redis or any configuration', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/ops-main.ts', '--help'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('usage: jobgate-worker-ops');
    expect(run.stdout).toContain('drain <worker-id>');
    expect(run.stdout).toContain('undrain <worker-id>');
  });
});
