import { describe, expect, it } from 'vitest';
import {
  createInspector,
  WorkerRegistry,
  type Job,
  type WorkerRecord,
  type WorkerSpec,
} from '../../src/index.js';
import { testQueue, type TestQueue } from './helpers.js';

function record(spec: WorkerSpec, overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    worker_id: spec.worker_id,
    machine_id: 'm1',
    hostname: 'h',
    pid: 1,
    version: '0',
    status: 'idle',
    services: spec.services,
    connectors: ['simulation'],
    capabilities: spec as unknown as Record<string, unknown>,
    concurrency: 1,
    current_jobs: [],
    jobs_completed: 0,
    jobs_failed: 0,
    started_at: 0,
    last_heartbeat: Date.now(),
    ...overrides,
  };
}

async function register(t: TestQueue, spec: WorkerSpec, overrides: Partial<WorkerRecord> = {}) {
  await new WorkerRegistry(t.redis, t.namespace, 60_000).publish(record(spec, overrides));
}

async function reasonOf(t: TestQueue, id: string) {
  const inspector = createInspector({ redis: t.redis, queue: t.queue, clock: t.clock.read });
  const job = (await t.queue.get(id)) as Job;
  return (await inspector.explain(job)).waiting_reason;
}

describe('waiting reasons', () => {
  it('no live worker serves the service', async () => {
    await using t = await testQueue();
    await register(t, { worker_id: 'w1', services: ['other'] });
    const { id } = await t.queue.submit({ service_required: 'svc' });
    expect(await reasonOf(t, id)).toMatchObject({
      code: 'no_worker_for_service',
      message: 'no live worker serves the service "svc"',
    });
  });

  it('names the requirement no live worker satisfies and the best worker has', async () => {
    await using t = await testQueue();
    await register(t, { worker_id: 'w1', services: ['svc'], hardware: { gpu_memory_gb: 24 } });
    await register(t, { worker_id: 'w2', services: ['svc'], hardware: { gpu_memory_gb: 48 } });
    const { id } = await t.queue.submit({
      service_required: 'svc',
      requirements: { hardware: { gpu_memory_gb: 80 } },
    });
    const reason = await reasonOf(t, id);
    expect(reason).toMatchObject({
      code: 'requirement_unmet',
      requirement: 'hardware.gpu_memory_gb',
    });
    expect(reason?.message).toContain('wants 80; the best live worker has 48');
    // The claim agrees: neither worker takes it.
    expect(
      await t.queue.claim({ worker_id: 'w2', services: ['svc'], hardware: { gpu_memory_gb: 48 } }),
    ).toBeNull();
  });

  it('names a missing model and a custom capability', async () => {
    await using t = await testQueue();
    await register(t, {
      worker_id: 'w1',
      services: ['svc'],
      models: { svc: ['sd15'] },
      capabilities: { region: 'eu' },
    });
    const model = await t.queue.submit({
      service_required: 'svc',
      requirements: { models: ['sdxl'] },
    });
    const region = await t.queue.submit({
      service_required: 'svc',
      requirements: { region: 'us' },
    });
    expect(await reasonOf(t, model.id)).toMatchObject({
      code: 'requirement_unmet',
      requirement: 'models',
    });
    expect(await reasonOf(t, region.id)).toMatchObject({
      code: 'requirement_unmet',
      requirement: 'region',
    });
  });

  it('customer isolation excludes all live workers', async () => {
    await using t = await testQueue();
    await register(t, { worker_id: 'w1', services: ['svc'] });
    await register(t, {
      worker_id: 'w2',
      services: ['svc'],
      customer_access: { isolation: 'loose', denied_customers: ['acme'] },
    });
    const { id } = await t.queue.submit({
      service_required: 'svc',
      customer_id: 'acme',
      requirements: { customer_isolation: 'strict' },
    });
    expect(await reasonOf(t, id)).toMatchObject({
      code: 'isolation',
      message: 'customer isolation excludes all 2 live workers serving "svc"',
    });
  });

  it('waiting for its retry time', async () => {
    await using t = await testQueue();
    const w = { worker_id: 'w1', services: ['svc'] };
    await register(t, w);
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 3 });
    await t.queue.claim(w);
    await t.queue.fail(id, 'w1', {
      retryable: true,
      failure_type: 'rate_limit',
      failure_reason: 'upstream_429',
      message: 'slow down',
      retry_after_ms: 30_000,
    });
    const reason = await reasonOf(t, id);
    expect(reason).toMatchObject({ code: 'retry_wait', retry_at: t.clock.now + 30_000 });
    expect(reason?.message).toContain('due in 30 s');
  });

  it('behind N higher-priority jobs, counted across the buckets of its service', async () => {
    await using t = await testQueue();
    await register(t, { worker_id: 'w1', services: ['svc'], hardware: { gpu_memory_gb: 80 } });
    await t.queue.submitMany([
      { service_required: 'svc', priority: 5 },
      { service_required: 'svc', priority: 5, requirements: { hardware: { gpu_memory_gb: 40 } } },
      { service_required: 'svc', priority: 0 },
      { service_required: 'other', priority: 9 },
    ]);
    const { id } = await t.queue.submit({ service_required: 'svc', priority: 1 });
    expect(await reasonOf(t, id)).toMatchObject({
      code: 'queued_behind',
      ahead: 2,
      higher_priority: 2,
      message: 'behind 2 jobs of "svc" (2 of higher priority); 1 live worker can run it',
    });
  });

  it('draining workers, then ready once a claiming worker registers', async () => {
    await using t = await testQueue();
    await register(t, { worker_id: 'w1', services: ['svc'] }, { status: 'draining' });
    await register(t, { worker_id: 'w0', services: ['svc'] }, { status: 'drained' });
    const ok = await t.queue.submit({ service_required: 'svc' });
    expect(await reasonOf(t, ok.id)).toMatchObject({ code: 'workers_draining' });
    await register(t, { worker_id: 'w2', services: ['svc'] });
    expect(await reasonOf(t, ok.id)).toMatchObject({ code: 'ready' });
  });
});

describe('stuck jobs, health and listings', () => {
  it('reports an expired lease held by a lost worker and degrades health', async () => {
    await using t = await testQueue();
    const inspector = createInspector({ redis: t.redis, queue: t.queue, clock: t.clock.read });
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim({ worker_id: 'gone', services: ['svc'] }, { leaseMs: 1_000 });
    await t.queue.submit({ service_required: 'svc' });
    expect((await inspector.health()).degraded).toBe(true);
    t.clock.advance(18_000);
    const health = await inspector.health();
    expect(health).toMatchObject({ degraded: true, expired_leases: 1, unserved_services: ['svc'] });
    expect(health.reasons.join('; ')).toContain('1 job hold an expired lease');
    const job = (await t.queue.get(id))!;
    expect((await inspector.explain(job)).stuck).toMatchObject({
      code: 'lease_expired',
      lease_expired_ms: 17_000,
      worker_alive: false,
    });
    const stuck = await inspector.listJobs({ stuck: true, stuckAfterMs: 60_000 });
    expect(stuck.jobs.map((j) => j.id)).toEqual([id]);
    t.clock.advance(60_000);
    expect((await inspector.listJobs({ stuck: true, stuckAfterMs: 60_000 })).jobs).toHaveLength(2);
  });

  it('lists unrunnable jobs by bucket, filters by service, and pages pending jobs of a service', async () => {
    await using t = await testQueue();
    await register(t, { worker_id: 'w1', services: ['svc'], hardware: { gpu_memory_gb: 24 } });
    const inspector = createInspector({ redis: t.redis, queue: t.queue, clock: t.clock.read });
    const big = await t.queue.submit({
      service_required: 'svc',
      requirements: { hardware: { gpu_memory_gb: 80 } },
    });
    const orphan = await t.queue.submit({ service_required: 'nobody' });
    const fine = await t.queue.submitMany(
      Array.from({ length: 5 }, () => ({ service_required: 'svc' })),
    );
    const unrunnable = await inspector.listJobs({ unrunnable: true });
    expect(unrunnable.jobs.map((j) => j.id).sort()).toEqual([big.id, orphan.id].sort());
    expect(
      (await inspector.listJobs({ unrunnable: true, service: 'nobody' })).jobs.map((j) => j.id),
    ).toEqual([orphan.id]);
    const first = await inspector.listJobs({ status: 'pending', service: 'svc', limit: 3 });
    expect(first.jobs).toHaveLength(3);
    const second = await inspector.listJobs({
      status: 'pending',
      service: 'svc',
      limit: 3,
      cursor: first.cursor,
    });
    const seen = [...first.jobs, ...second.jobs].map((j) => j.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(fine.map((f) => f.id)));
    const byService = await inspector.listJobs({ service: 'nobody' });
    expect(byService.jobs.map((j) => j.id)).toEqual([orphan.id]);
    const services = await inspector.services();
    expect(services.find((s) => s.service === 'nobody')).toMatchObject({ pending: 1, workers: 0 });
  });

  it("reads a job's timeline from the event stream", async () => {
    await using t = await testQueue();
    t.clock.now = Date.now();
    const inspector = createInspector({ redis: t.redis, queue: t.queue, clock: t.clock.read });
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim({ worker_id: 'w', services: ['svc'] });
    await t.queue.complete(id, 'w', { ok: true });
    const { events, truncated } = await inspector.jobEvents((await t.queue.get(id))!);
    expect(truncated).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['job.received', 'job.claimed', 'job.completed']);
  });
});
