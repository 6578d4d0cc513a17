import { expect, it } from 'vitest';
import { startStack, watch } from '../../src/stack.js';

it('finishes a job whose worker was killed mid-job on another worker, once', async () => {
  await using stack = await startStack({ workers: 1 });
  const key = await stack.customer('crash');
  const ws = await watch(stack.wsUrl, key);
  try {
    const { body } = await stack.http('POST', '/api/jobs', key, {
      service_required: 'simulation',
      payload: { duration_ms: 4_000, steps: 20 },
    });
    const id = body.job.id as string;
    const first = stack.workers[0]!;
    await ws.waitForEvent((e) => e.job_id === id && e.type === 'job.progress');
    const running = (await stack.http('GET', `/api/jobs/${id}`, key)).body.job;
    expect(running).toMatchObject({ status: 'active', worker_id: first.name, attempts: 1 });

    expect(await first.kill('SIGKILL')).toBe('SIGKILL');
    const second = await stack.startWorker();
    const done = await stack.waitForJob(key, id, (job) => job.status === 'completed', 45_000);
    expect(done).toMatchObject({ attempts: 2, worker_id: second.name });

    await ws.waitForEvent((e) => e.job_id === id && e.type === 'job.completed');
    const events = ws.events(id);
    const claims = events.filter((e) => e.type === 'job.claimed');
    expect(claims.map((e) => e.attempt)).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'job.completed')).toHaveLength(1);
    expect(events.at(-1).type).toBe('job.completed');
  } finally {
    ws.close();
  }
});
