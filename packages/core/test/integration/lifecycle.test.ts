import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  JobNotFoundError,
  JobNotHeldError,
  type EventType,
  type WorkerSpec,
} from '../../src/index.js';
import { testQueue, worker } from './helpers.js';

const failure = (retryable: boolean, extra: Record<string, unknown> = {}) => ({
  retryable,
  failure_type: retryable ? 'RATE_LIMIT' : 'VALIDATION_ERROR',
  failure_reason: retryable ? 'upstream_429' : 'bad_prompt',
  message: 'upstream said no',
  ...extra,
});

describe('leases', () => {
  it('requeues a job whose lease expired; the next claim is attempt 2 and the old holder is refused', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 3 });
    const a = worker({ worker_id: 'a' });
    const b = worker({ worker_id: 'b' });
    const first = await t.queue.claim(a, { leaseMs: 10_000 });
    expect(first?.attempts).toBe(1);
    t.clock.advance(9_999);
    expect(await t.queue.claim(b)).toBeNull();
    t.clock.advance(1);
    const second = await t.queue.claim(b, { leaseMs: 10_000 });
    expect(second).toMatchObject({ id, attempts: 2, worker_id: 'b', status: 'active' });
    await expect(t.queue.complete(id, 'a', {})).rejects.toMatchObject({
      name: 'JobNotHeldError',
      reason: 'other_worker',
    });
    await t.queue.complete(id, 'b', { ok: 1 });
    expect((await t.queue.get(id))?.result).toEqual({ ok: 1 });
  });

  it("reaps a lease shortened behind the library's back within a second of the callers' clock", async () => {
    // Claims skip the reap while nothing can be due (a hint kept in the Lua state, lowered by
    // every lease and retry the library writes). A write the library never saw, as on a replica
    // promoted after a failover, is bounded: the hint is trusted for at most 1 s.
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    expect(await t.queue.claim(worker({ worker_id: 'a' }), { leaseMs: 60_000 })).toMatchObject({
      id,
    });
    await t.redis.zadd(t.queue.keys.active, t.clock.now - 1, id);
    t.clock.advance(1_000);
    expect(await t.queue.claim(worker({ worker_id: 'b' }))).toMatchObject({
      id,
      attempts: 2,
      worker_id: 'b',
    });
  });

  it('a state written behind the library between claim and completion is the one the completion sees', async () => {
    // Guards any memory of decoded states between calls (one was measured in Round 6 of
    // BENCHMARKS.md): here the JSON changes between claim and completion (a failover to a replica
    // that missed a write would do the same), and the completion must see the change.
    await using t = await testQueue();
    const [a, b] = (
      await t.queue.submitMany([{ service_required: 'svc' }, { service_required: 'svc' }])
    ).map((r) => r.id);
    const w = worker({ worker_id: 'w' });
    await t.queue.claim(w);
    await t.queue.claim(w);
    // Job a: handed to worker "other"; job b: its JSON rewritten unchanged but for the key order.
    const stateA = JSON.parse((await t.redis.hget(t.queue.keys.jobs, a!))!) as Record<
      string,
      unknown
    >;
    await t.redis.hset(t.queue.keys.jobs, a!, JSON.stringify({ ...stateA, worker_id: 'other' }));
    const stateB = JSON.parse((await t.redis.hget(t.queue.keys.jobs, b!))!) as Record<
      string,
      unknown
    >;
    const reordered = Object.fromEntries(Object.entries(stateB).reverse());
    await t.redis.hset(t.queue.keys.jobs, b!, JSON.stringify(reordered));
    await expect(t.queue.complete(a!, 'w', {})).rejects.toMatchObject({ reason: 'other_worker' });
    expect(await t.queue.complete(a!, 'other', { by: 'other' })).toMatchObject({
      status: 'completed',
      worker_id: 'other',
    });
    expect(await t.queue.complete(b!, 'w', {})).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('heartbeats keep the lease; without them the holder loses it', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker({ worker_id: 'a' }), { leaseMs: 1_000 });
    for (let i = 0; i < 5; i++) {
      t.clock.advance(900);
      expect(await t.queue.heartbeat(id, 'a', 1_000)).toBe(t.clock.now + 1_000);
      expect(await t.queue.claim(worker())).toBeNull();
    }
    t.clock.advance(1_000);
    await expect(t.queue.heartbeat(id, 'a', 1_000)).rejects.toMatchObject({
      reason: 'lease_expired',
    });
    expect((await t.queue.reapExpired()).expired).toBe(1);
    expect((await t.queue.get(id))?.status).toBe('pending');
  });

  it('fails the job as stalled after max_attempts expired leases', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 2 });
    await t.queue.claim(worker(), { leaseMs: 100 });
    t.clock.advance(100);
    expect((await t.queue.claim(worker(), { leaseMs: 100 }))?.attempts).toBe(2);
    t.clock.advance(100);
    expect(await t.queue.claim(worker())).toBeNull();
    const job = await t.queue.get(id);
    expect(job).toMatchObject({ status: 'failed', attempts: 2 });
    expect(job?.last_failure).toMatchObject({ failure_reason: 'stalled', retryable: false });
    const types = (await t.queue.readEvents()).map((e) => e.type);
    expect(types).toEqual([
      'job.received',
      'job.claimed',
      'job.stalled',
      'job.claimed',
      'job.failed',
    ]);
  });
});

describe('retries and backoff', () => {
  it('waits the exponential backoff with jitter, computed like backoffDelay, then returns to pending', async () => {
    await using t = await testQueue({
      random: () => 0.25,
      backoff: { baseMs: 1_000, maxMs: 60_000 },
    });
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 3 });
    const w = worker({ worker_id: 'w' });
    await t.queue.claim(w);
    const failedAt = t.clock.now;
    const retry1 = await t.queue.fail(id, 'w', failure(true));
    const delay1 = backoffDelay(1, { baseMs: 1_000, maxMs: 60_000 }, 0.25);
    expect(retry1).toMatchObject({ status: 'pending', run_at: failedAt + delay1, worker_id: null });
    t.clock.advance(delay1 - 1);
    expect(await t.queue.claim(w)).toBeNull();
    t.clock.advance(1);
    expect((await t.queue.claim(w))?.attempts).toBe(2);
    const retry2 = await t.queue.fail(id, 'w', failure(true));
    expect(retry2.run_at! - t.clock.now).toBe(
      backoffDelay(2, { baseMs: 1_000, maxMs: 60_000 }, 0.25),
    );
    t.clock.advance(retry2.run_at! - t.clock.now);
    expect((await t.queue.claim(w))?.attempts).toBe(3);
    // Attempts exhausted: a retryable failure now ends the job.
    const last = await t.queue.fail(id, 'w', failure(true));
    expect(last.status).toBe('failed');
    const events = await t.queue.readEvents();
    expect(events.at(-1)).toMatchObject({
      type: 'job.failed',
      attempt: 3,
      data: { retries_exhausted: true },
    });
  });

  it('honours retry_after_ms exactly', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker({ worker_id: 'w' }));
    const job = await t.queue.fail(id, 'w', failure(true, { retry_after_ms: 42_000 }));
    expect(job.run_at).toBe(t.clock.now + 42_000);
    expect(job.last_failure).toMatchObject({ failure_type: 'RATE_LIMIT', retry_after_ms: 42_000 });
    t.clock.advance(41_999);
    expect(await t.queue.claim(worker())).toBeNull();
    t.clock.advance(1);
    expect((await t.queue.claim(worker()))?.id).toBe(id);
  });

  it('ends the job at once on a permanent failure', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 5 });
    await t.queue.claim(worker({ worker_id: 'w' }));
    const job = await t.queue.fail(id, 'w', failure(false));
    expect(job).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_failure: { failure_type: 'VALIDATION_ERROR' },
    });
    t.clock.advance(10 * 60_000);
    expect(await t.queue.claim(worker())).toBeNull();
  });
});

describe('cancel', () => {
  it('cancels a pending job: never claimed afterwards', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', workflow_id: 'wf' });
    expect((await t.queue.cancel(id)).cancelled).toBe(true);
    expect(await t.queue.claim(worker())).toBeNull();
    expect(await t.queue.claim(worker({ workflow_id: 'wf' }))).toBeNull();
    expect((await t.queue.counts()).by_service).toEqual({});
  });

  it('cancels an active job: the worker is refused with a cancelled JobNotHeldError', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker({ worker_id: 'w' }));
    const { cancelled, job } = await t.queue.cancel(id);
    expect(cancelled).toBe(true);
    expect(job.status).toBe('cancelled');
    const error = await t.queue.complete(id, 'w', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobNotHeldError);
    expect((error as JobNotHeldError).cancelled).toBe(true);
    t.clock.advance(60_000);
    expect((await t.queue.reapExpired()).expired).toBe(0);
    expect((await t.queue.get(id))?.status).toBe('cancelled');
  });

  it('cancels a job waiting out a retry backoff: it never comes back', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker({ worker_id: 'w' }));
    await t.queue.fail(id, 'w', failure(true, { retry_after_ms: 1_000 }));
    expect((await t.queue.cancel(id)).cancelled).toBe(true);
    t.clock.advance(5_000);
    expect(await t.queue.claim(worker())).toBeNull();
    expect((await t.queue.counts()).delayed).toBe(0);
  });

  it('leaves finished jobs unchanged and refuses unknown ids', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker({ worker_id: 'w' }));
    await t.queue.complete(id, 'w', 'done');
    const result = await t.queue.cancel(id);
    expect(result).toMatchObject({ cancelled: false, job: { status: 'completed' } });
    await expect(t.queue.cancel('nope')).rejects.toBeInstanceOf(JobNotFoundError);
    const types = (await t.queue.readEvents()).map((e) => e.type);
    expect(types).not.toContain('job.cancelled');
  });
});

describe('calls on jobs the worker does not hold', () => {
  it('refuses heartbeat, progress, complete and fail with typed errors and changes nothing', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await expect(t.queue.complete(id, 'w', {})).rejects.toMatchObject({ reason: 'status:pending' });
    await t.queue.claim(worker({ worker_id: 'w' }));
    const before = await t.queue.get(id);
    const eventsBefore = (await t.queue.readEvents()).length;
    for (const call of [
      () => t.queue.heartbeat(id, 'intruder', 1_000),
      () => t.queue.progress(id, 'intruder', { percent: 50 }),
      () => t.queue.complete(id, 'intruder', {}),
      () => t.queue.fail(id, 'intruder', failure(false)),
    ]) {
      await expect(call()).rejects.toMatchObject({
        name: 'JobNotHeldError',
        jobId: id,
        workerId: 'intruder',
        reason: 'other_worker',
      });
    }
    await expect(t.queue.complete('missing', 'w', {})).rejects.toBeInstanceOf(JobNotFoundError);
    expect(await t.queue.get(id)).toEqual(before);
    expect((await t.queue.readEvents()).length).toBe(eventsBefore);
    await t.queue.complete(id, 'w', {});
    await expect(t.queue.complete(id, 'w', {})).rejects.toMatchObject({
      reason: 'status:completed',
    });
  });
});

describe('events', () => {
  it('appends exactly one event per transition, in order, with the documented fields', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({
      service_required: 'svc',
      customer_id: 'acme',
      workflow_id: 'wf-1',
      step: 2,
    });
    const w = worker({ worker_id: 'w' });
    await t.queue.claim(w);
    t.clock.advance(10);
    await t.queue.heartbeat(id, 'w'); // not a transition: no event
    await t.queue.progress(id, 'w', { percent: 40, message: 'halfway' });
    await t.queue.fail(id, 'w', failure(true, { retry_after_ms: 0 }));
    await t.queue.claim(w, { leaseMs: 5 });
    t.clock.advance(5);
    await t.queue.claim(w);
    await t.queue.complete(id, 'w', { ok: true });
    const events = await t.queue.readEvents();
    const expected: EventType[] = [
      'job.received',
      'job.claimed',
      'job.progress',
      'job.retry_scheduled',
      'job.claimed',
      'job.stalled',
      'job.claimed',
      'job.completed',
    ];
    expect(events.map((e) => e.type)).toEqual(expected);
    expect(events.map((e) => e.attempt)).toEqual([0, 1, 1, 1, 2, 2, 3, 3]);
    for (const event of events) {
      expect(event).toMatchObject({ job_id: id, customer_id: 'acme', workflow_id: 'wf-1' });
      expect(event.event_id).toMatch(/^\d+-\d+$/);
    }
    expect(events[2]!.data).toEqual({ worker_id: 'w', percent: 40, message: 'halfway' });
    expect(events[7]!.timestamp).toBe(t.clock.now);
  });

  it('keeps the stream bounded with MAXLEN ~', async () => {
    await using t = await testQueue({ eventsMaxLen: 100 });
    await t.queue.submitMany(Array.from({ length: 2_000 }, () => ({ service_required: 'svc' })));
    const length = await t.redis.xlen(t.queue.keys.events);
    expect(length).toBeLessThan(500);
    expect(length).toBeGreaterThanOrEqual(100);
  });

  it('completes every shape of job to exactly the expected state, event and indexes', async () => {
    // Shapes a completion meets: a customer and workflow, escapes, an earlier failed attempt,
    // progress recorded (removed on completion).
    await using t = await testQueue();
    const shapes = [
      { name: 'plain', input: {}, worker: 'w-plain' },
      {
        name: 'customer and workflow',
        input: { customer_id: 'acme', workflow_id: 'wf-1', step: 3 },
        worker: 'w-2',
      },
      { name: 'escaped worker id', input: {}, worker: 'w/"x" é\\' },
      {
        name: 'after a retry',
        input: { max_attempts: 3 },
        worker: 'w-retry',
        retry: true,
      },
      { name: 'progress recorded', input: {}, worker: 'w-progress', progress: true },
      { name: 'escaped customer id', input: { customer_id: 'a"b/c' }, worker: 'w-3' },
    ];
    for (const shape of shapes) {
      const { id } = await t.queue.submit({ service_required: shape.name, ...shape.input });
      const w = worker({ worker_id: shape.worker, services: [shape.name] });
      await t.queue.claim(w);
      if (shape.retry) {
        await t.queue.fail(id, shape.worker, failure(true, { retry_after_ms: 0 }));
        await t.queue.claim(w);
      }
      if (shape.progress) await t.queue.progress(id, shape.worker, { percent: 50 });
      const before = JSON.parse((await t.redis.hget(t.queue.keys.jobs, id))!) as Record<
        string,
        unknown
      >;
      t.clock.advance(25);
      await t.queue.complete(id, shape.worker, { shape: shape.name });
      const after = JSON.parse((await t.redis.hget(t.queue.keys.jobs, id))!) as Record<
        string,
        unknown
      >;
      const expected: Record<string, unknown> = {
        ...before,
        status: 'completed',
        finished_at: t.clock.now,
      };
      delete expected.lease_expires_at;
      delete expected.progress;
      expect(after, shape.name).toEqual(expected);
      const event = (await t.queue.readEvents()).at(-1)!;
      expect(event, shape.name).toMatchObject({
        type: 'job.completed',
        job_id: id,
        attempt: shape.retry ? 2 : 1,
        customer_id: shape.input.customer_id ?? null,
        workflow_id: shape.input.workflow_id ?? null,
        data: { worker_id: shape.worker, duration_ms: 25 },
      });
      expect((await t.queue.get(id))?.result, shape.name).toEqual({ shape: shape.name });
    }
    const completed = await t.redis.zrange(
      t.queue.keys['by-status'],
      '[completed\0',
      '(completed\u0001',
      'BYLEX',
    );
    expect(completed).toHaveLength(shapes.length);
    expect(await t.redis.zcard(t.queue.keys.active)).toBe(0);
  });

  it('claims every shape of job to exactly the expected state, event and indexes', async () => {
    // Shapes a claim meets: a customer and workflow, a workflow-pinned worker, a job back from a
    // retry, a stall or a release, escapes in the service or customer.
    await using t = await testQueue({ reapPerClaim: 10 });
    type Shape = {
      name: string;
      input?: Record<string, unknown>;
      before?: (id: string, w: WorkerSpec) => Promise<void>;
      pinned?: boolean;
      attempt: number;
    };
    const shapes: Shape[] = [
      { name: 'plain', attempt: 1 },
      {
        name: 'customer-and-workflow',
        input: { customer_id: 'acme', workflow_id: 'wf-2', step: 1, priority: 3 },
        attempt: 1,
      },
      {
        name: 'workflow-pinned',
        input: { workflow_id: 'wf-pin' },
        pinned: true,
        attempt: 1,
      },
      {
        name: 'after-a-retry',
        input: { max_attempts: 3 },
        before: async (id, w) => {
          await t.queue.claim(w);
          await t.queue.fail(id, w.worker_id, failure(true, { retry_after_ms: 0 }));
          // Back to pending now, so the state read below is the one the claim starts from.
          await t.queue.reapExpired();
        },
        attempt: 2,
      },
      {
        name: 'after-a-stall',
        input: { max_attempts: 3 },
        before: async (id, w) => {
          await t.queue.claim(w, { leaseMs: 5 });
          t.clock.advance(10);
          await t.queue.reapExpired();
        },
        attempt: 2,
      },
      {
        name: 'after-a-release',
        before: async (id, w) => {
          await t.queue.claim(w);
          await t.queue.release(id, w.worker_id);
        },
        attempt: 1,
      },
      { name: 'escaped/service', attempt: 1 },
      { name: 'escaped-customer', input: { customer_id: 'a"b' }, attempt: 1 },
    ];
    for (const shape of shapes) {
      const { id } = await t.queue.submit({ service_required: shape.name, ...shape.input });
      const w = worker({
        worker_id: `w-${shape.name}`,
        services: [shape.name],
        ...(shape.pinned ? { workflow_id: shape.input?.workflow_id as string } : {}),
      });
      await shape.before?.(id, w);
      const before = JSON.parse((await t.redis.hget(t.queue.keys.jobs, id))!) as Record<
        string,
        unknown
      >;
      t.clock.advance(5);
      const job = await t.queue.claim(w, { leaseMs: 4_000 });
      expect(job?.id, shape.name).toBe(id);
      const after = JSON.parse((await t.redis.hget(t.queue.keys.jobs, id))!) as Record<
        string,
        unknown
      >;
      expect(after, shape.name).toEqual({
        ...before,
        status: 'active',
        attempts: shape.attempt,
        worker_id: w.worker_id,
        claimed_at: t.clock.now,
        lease_expires_at: t.clock.now + 4_000,
      });
      const event = (await t.queue.readEvents()).at(-1)!;
      expect(event, shape.name).toMatchObject({
        type: 'job.claimed',
        job_id: id,
        attempt: shape.attempt,
        customer_id: (shape.input?.customer_id as string | undefined) ?? null,
        workflow_id: (shape.input?.workflow_id as string | undefined) ?? null,
        data: { worker_id: w.worker_id, lease_expires_at: t.clock.now + 4_000 },
      });
      // Out of every pending index, into the lease zset, nothing left to claim.
      expect(await t.queue.claim(w), shape.name).toBeNull();
      expect(await t.redis.zscore(t.queue.keys.active, id), shape.name).toBe(
        String(t.clock.now + 4_000),
      );
      await t.queue.complete(id, w.worker_id, null);
    }
    expect(await t.redis.zcard(t.queue.keys.pending)).toBe(0);
    expect(await t.redis.zcard(t.queue.keys['wf-pending'])).toBe(0);
    expect(await t.redis.hlen(t.queue.keys['bucket-heads'])).toBe(0);
    expect(await t.redis.zcard(t.queue.keys.heads)).toBe(0);
    expect(await t.redis.zcard(t.queue.keys.buckets)).toBe(0);
    const statuses = (await t.redis.zrange(t.queue.keys['by-status'], '0', '-1')).map(
      (m) => m.split('\0')[0],
    );
    expect(statuses).toEqual(shapes.map(() => 'completed'));
  });

  it('writes the claimed and completed events of any worker id as valid JSON (quotes, backslashes, non-ASCII)', async () => {
    await using t = await testQueue();
    const ids = ['w "quoted" \\ back\\slash / é 漢字 🎉', "it's </script>\u007f"];
    await t.queue.submitMany(ids.map(() => ({ service_required: 'svc' })));
    for (const workerId of ids) {
      const w = worker({ worker_id: workerId });
      const job = await t.queue.claim(w, { leaseMs: 1_234 });
      t.clock.advance(7);
      await t.queue.complete(job!.id, workerId, {});
    }
    const events = (await t.queue.readEvents()).filter((e) => e.type !== 'job.received');
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['job.claimed', { worker_id: ids[0], lease_expires_at: 1_700_000_000_000 + 1_234 }],
      ['job.completed', { worker_id: ids[0], duration_ms: 7 }],
      ['job.claimed', { worker_id: ids[1], lease_expires_at: 1_700_000_000_007 + 1_234 }],
      ['job.completed', { worker_id: ids[1], duration_ms: 7 }],
    ]);
  });
});

describe('complete-and-claim, listing, counts and wake-ups', () => {
  it('completes and claims the next job in one call', async () => {
    await using t = await testQueue();
    const [a, b] = await t.queue.submitMany([
      { service_required: 'svc', priority: 2 },
      { service_required: 'svc', priority: 1 },
    ]);
    const w = worker({ worker_id: 'w' });
    expect((await t.queue.claim(w))?.id).toBe(a!.id);
    expect((await t.queue.completeAndClaim(a!.id, 'w', { r: 1 }, w))?.id).toBe(b!.id);
    expect(await t.queue.completeAndClaim(b!.id, 'w', { r: 2 }, w)).toBeNull();
    expect((await t.queue.get(a!.id))?.result).toEqual({ r: 1 });
    await expect(t.queue.completeAndClaim(b!.id, 'w', {}, w)).rejects.toBeInstanceOf(
      JobNotHeldError,
    );
  });

  it('submitting an existing id is idempotent', async () => {
    await using t = await testQueue();
    expect(await t.queue.submit({ id: 'fixed', service_required: 'svc' })).toEqual({
      id: 'fixed',
      created: true,
    });
    expect(await t.queue.submit({ id: 'fixed', service_required: 'svc' })).toEqual({
      id: 'fixed',
      created: false,
    });
    expect((await t.queue.counts()).pending).toBe(1);
  });

  it('lists by status, customer and workflow, newest first, with cursors', async () => {
    await using t = await testQueue();
    const ids = (
      await t.queue.submitMany(
        Array.from({ length: 7 }, (_, i) => ({
          service_required: 'svc',
          customer_id: i % 2 ? 'acme' : 'globex',
          workflow_id: `wf-${i % 3}`,
        })),
      )
    ).map((r) => r.id);
    await t.queue.claim(worker());
    const acme = await t.queue.list({ customer_id: 'acme', limit: 2 });
    expect(acme.jobs.map((j) => j.id)).toEqual([ids[5], ids[3]]);
    const acme2 = await t.queue.list({ customer_id: 'acme', limit: 2, cursor: acme.cursor });
    expect(acme2.jobs.map((j) => j.id)).toEqual([ids[1]]);
    expect(acme2.cursor).toBeNull();
    expect((await t.queue.list({ status: 'active' })).jobs.map((j) => j.id)).toEqual([ids[0]]);
    expect(
      (await t.queue.list({ workflow_id: 'wf-0', status: 'pending' })).jobs.map((j) => j.id),
    ).toEqual([ids[6], ids[3]]);
    expect((await t.queue.list()).jobs).toHaveLength(7);
    expect(await t.queue.counts()).toMatchObject({ pending: 6, active: 1, by_service: { svc: 6 } });
  });

  it('counts pending jobs per service over several buckets, services sharing a prefix apart', async () => {
    await using t = await testQueue();
    await t.queue.submitMany([
      { service_required: 'svc' },
      { service_required: 'svc', requirements: { models: ['m'] } },
      { service_required: 'svc', customer_id: 'acme' },
      { service_required: 'svc-2' },
    ]);
    expect((await t.queue.counts()).by_service).toEqual({ svc: 3, 'svc-2': 1 });
    await t.queue.claim(worker({ services: ['svc-2'] }));
    await t.queue.claim(worker());
    expect(await t.queue.counts()).toMatchObject({ pending: 2, active: 2, by_service: { svc: 2 } });
  });

  it('wakes a waiting worker when a job is submitted', async () => {
    await using t = await testQueue();
    expect(await t.queue.waitForWork(20, ['svc'])).toBe(false);
    const waiting = t.queue.waitForWork(5_000, ['svc']);
    await t.queue.submit({ service_required: 'svc' });
    expect(await waiting).toBe(true);
  });

  it('one batch of three jobs wakes three waiting workers', async () => {
    await using t = await testQueue();
    const waiting = [
      t.queue.waitForWork(5_000, ['svc']),
      t.queue.waitForWork(5_000, ['svc']),
      t.queue.waitForWork(5_000, ['svc']),
    ];
    await t.queue.submitMany([
      { service_required: 'svc' },
      { service_required: 'svc' },
      { service_required: 'svc' },
    ]);
    expect(await Promise.all(waiting)).toEqual([true, true, true]);
  });
});

describe('wake-ups per service', () => {
  it('a submit wakes the workers of its service, not the others', async () => {
    await using t = await testQueue();
    const other = t.queue.waitForWork(500, ['a']);
    const mine = t.queue.waitForWork(5_000, ['b', 'c']);
    await t.queue.submit({ service_required: 'c' });
    expect(await mine).toBe(true);
    // The 'a' worker's wait runs out: nothing it could run arrived.
    expect(await other).toBe(false);
    expect(await t.redis.llen(`${t.queue.keys.wake}:a`)).toBe(0);
  });

  it('a requeued job wakes any waiting worker', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker({ worker_id: 'w' }), { leaseMs: 100 });
    const waiting = t.queue.waitForWork(5_000, ['other']);
    t.clock.advance(100);
    expect((await t.queue.reapExpired()).expired).toBe(1);
    expect(await waiting).toBe(true);
    expect((await t.queue.get(id))?.status).toBe('pending');
  });

  it('refuses a call without the services to wait for', async () => {
    await using t = await testQueue();
    await expect(t.queue.waitForWork(10, undefined as unknown as string[])).rejects.toMatchObject({
      name: 'ValidationError',
    });
  });
});

describe('clean', () => {
  it('removes finished jobs older than the cutoff and leaves newer and unfinished ones', async () => {
    await using t = await testQueue();
    const [old, recent, open] = await t.queue.submitMany([
      { service_required: 'svc', customer_id: 'acme', workflow_id: 'wf' },
      { service_required: 'svc', customer_id: 'acme' },
      { service_required: 'svc' },
    ]);
    const w = worker({ worker_id: 'w' });
    await t.queue.claim(w);
    await t.queue.complete(old!.id, 'w', { big: 'result' });
    t.clock.advance(60_000);
    await t.queue.claim(w);
    await t.queue.complete(recent!.id, 'w', {});
    expect(await t.queue.clean({ status: 'completed', olderThanMs: 30_000 })).toBe(1);
    expect(await t.queue.get(old!.id)).toBeNull();
    expect(await t.redis.hexists(t.queue.keys.results, old!.id)).toBe(0);
    expect((await t.queue.get(recent!.id))?.status).toBe('completed');
    expect((await t.queue.get(open!.id))?.status).toBe('pending');
    expect((await t.queue.list({ customer_id: 'acme' })).jobs.map((j) => j.id)).toEqual([
      recent!.id,
    ]);
    expect((await t.queue.list({ workflow_id: 'wf' })).jobs).toEqual([]);
    expect((await t.queue.counts()).completed).toBe(1);
    await expect(t.queue.clean({ status: 'pending' as 'failed', olderThanMs: 0 })).rejects.toThrow(
      /status/,
    );
  });
});

describe('the stored state (library version 19: cold fields once, hot fields after a tab)', () => {
  const MARK = ',\t"attempts":';
  const HOT = [
    'attempts',
    'status',
    'worker_id',
    'claimed_at',
    'lease_expires_at',
    'finished_at',
    'run_at',
    'progress',
    'last_failure',
    'unrunnable_reason',
  ];

  it('every transition writes the cold part as the submit wrote it and every hot field after the mark', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({
      service_required: 'svc',
      priority: 3,
      customer_id: 'acme',
      workflow_id: 'wf-1',
      step: 2,
      max_attempts: 3,
      payload: { p: 1 },
    });
    // Quotes, a backslash and non-ASCII in the worker id, as JSON must escape them.
    const w = worker({ worker_id: 'w "ü\\ 1' });
    const stored = async (): Promise<{
      raw: string;
      cold: string;
      parsed: Record<string, unknown>;
    }> => {
      const raw = (await t.redis.hget(t.queue.keys.jobs, id))!;
      const at = raw.indexOf(MARK);
      expect(at).toBeGreaterThan(0);
      expect(raw.indexOf(MARK, at + 1)).toBe(-1);
      const cold = raw.slice(0, at);
      const coldKeys = Object.keys(JSON.parse(`${cold}}`) as object);
      const hotKeys = Object.keys(JSON.parse(`{${raw.slice(at + 2)}`) as object);
      expect(coldKeys.filter((k) => HOT.includes(k))).toEqual([]);
      expect(hotKeys.filter((k) => !HOT.includes(k))).toEqual([]);
      return { raw, cold, parsed: JSON.parse(raw) as Record<string, unknown> };
    };
    const submitted = await stored();
    expect(submitted.parsed).toMatchObject({
      id,
      priority: '3',
      customer_id: 'acme',
      workflow_id: 'wf-1',
      step: 2,
      max_attempts: 3,
      created_at: t.clock.now,
      attempts: 0,
      status: 'pending',
    });
    // Each step: the cold part unchanged, the hot fields exactly those the reply and get() show.
    const check = async (hot: Record<string, unknown>): Promise<void> => {
      const now = await stored();
      expect(now.cold).toBe(submitted.cold);
      const { id: _id, ...coldFields } = JSON.parse(`${submitted.cold}}`) as Record<
        string,
        unknown
      >;
      expect(now.parsed).toEqual({ id, ...coldFields, ...hot });
      const job = await t.queue.get(id);
      for (const key of HOT) {
        const value = hot[key];
        if (key === 'progress' && value) {
          expect(job?.progress).toEqual({ percent: null, message: null, ...value });
        } else {
          expect(job?.[key as keyof typeof job] ?? null).toEqual(value ?? null);
        }
      }
    };
    const t0 = t.clock.now;
    await t.queue.claim({ ...w, workflow_id: undefined }, { leaseMs: 5_000 });
    await check({
      attempts: 1,
      status: 'active',
      worker_id: w.worker_id,
      claimed_at: t0,
      lease_expires_at: t0 + 5_000,
    });
    t.clock.advance(10);
    await t.queue.progress(id, w.worker_id, { percent: 50.5, message: 'half "way"' });
    await check({
      attempts: 1,
      status: 'active',
      worker_id: w.worker_id,
      claimed_at: t0,
      lease_expires_at: t0 + 5_000,
      progress: { percent: 50.5, message: 'half "way"' },
    });
    t.clock.advance(10);
    await t.queue.heartbeat(id, w.worker_id, 7_000);
    await check({
      attempts: 1,
      status: 'active',
      worker_id: w.worker_id,
      claimed_at: t0,
      lease_expires_at: t0 + 20 + 7_000,
      progress: { percent: 50.5, message: 'half "way"' },
    });
    await t.queue.fail(id, w.worker_id, failure(true, { retry_after_ms: 100 }));
    const lastFailure = (await stored()).parsed.last_failure;
    expect(lastFailure).toMatchObject({ failure_type: 'RATE_LIMIT', message: 'upstream said no' });
    // A job waiting to retry or handed back keeps its last claim time (as before version 19).
    await check({
      attempts: 1,
      status: 'pending',
      claimed_at: t0,
      run_at: t0 + 20 + 100,
      last_failure: lastFailure,
    });
    t.clock.advance(100);
    const t1 = t.clock.now;
    expect((await t.queue.claim(w, { leaseMs: 5_000 }))?.id).toBe(id);
    await check({
      attempts: 2,
      status: 'active',
      worker_id: w.worker_id,
      claimed_at: t1,
      lease_expires_at: t1 + 5_000,
      last_failure: lastFailure,
    });
    await t.queue.release(id, w.worker_id);
    await check({ attempts: 1, status: 'pending', claimed_at: t1, last_failure: lastFailure });
    t.clock.advance(5);
    const t2 = t.clock.now;
    expect((await t.queue.claim(w, { leaseMs: 5_000 }))?.id).toBe(id);
    t.clock.advance(7);
    expect(await t.queue.complete(id, w.worker_id, { ok: true })).toMatchObject({
      status: 'completed',
      attempts: 2,
      claimed_at: t2,
      finished_at: t2 + 7,
    });
    await check({
      attempts: 2,
      status: 'completed',
      worker_id: w.worker_id,
      claimed_at: t2,
      finished_at: t2 + 7,
      last_failure: lastFailure,
    });
    // A finished job is answered as stored.
    expect((await t.queue.cancel(id)).cancelled).toBe(false);
  });

  it('the fast claim and completion write what the general path writes', async () => {
    await using t = await testQueue();
    const [a, b] = (
      await t.queue.submitMany([{ service_required: 'svc' }, { service_required: 'svc' }])
    ).map((r) => r.id);
    const w = worker({ worker_id: 'w' });
    const t0 = t.clock.now;
    await t.queue.claim(w, { leaseMs: 1_000 });
    await t.queue.claim(w, { leaseMs: 1_000 });
    // Job b goes through the general path: a heartbeat rewrites it, then its completion.
    await t.queue.heartbeat(b!, 'w', 1_000);
    t.clock.advance(3);
    await t.queue.complete(a!, 'w', null);
    await t.queue.complete(b!, 'w', null);
    const states = await t.redis.hmget(t.queue.keys.jobs, a!, b!);
    const hot = (raw: string | null): string => raw!.slice(raw!.indexOf(MARK));
    expect(hot(states[0]!)).toBe(
      `${MARK}1,"status":"completed","worker_id":"w","claimed_at":${t0},"finished_at":${t0 + 3}}`,
    );
    expect(hot(states[1]!)).toBe(hot(states[0]!));
  });

  it('a claim reading a state from its text (version 20) indexes, emits and writes what the decoded state gives', async () => {
    await using t = await testQueue();
    // Plain customer and workflow (read from the text), escaped ones (a quote, a slash and a
    // backslash: decoded as before), none at all.
    const inputs = [
      { service_required: 'svc', customer_id: 'acme', workflow_id: 'wf-1', max_attempts: 2 },
      { service_required: 'svc', customer_id: 'a"c/me\\', workflow_id: 'w/f"2' },
      { service_required: 'svc' },
      { service_required: 'svc', customer_id: 'acme', workflow_id: 'wf-1' },
    ];
    const ids = (await t.queue.submitMany(inputs)).map((r) => r.id);
    const submitted = (await t.redis.hmget(t.queue.keys.jobs, ...ids)).map(
      (raw) => JSON.parse(raw!) as Record<string, unknown>,
    );
    const w = worker({ worker_id: 'w' });
    for (const [k, id] of ids.entries()) {
      const job = await t.queue.claim(w, { leaseMs: 1_000 });
      expect(job?.id).toBe(id);
      expect(JSON.parse((await t.redis.hget(t.queue.keys.jobs, id))!)).toEqual({
        ...submitted[k],
        attempts: 1,
        status: 'active',
        worker_id: 'w',
        claimed_at: t.clock.now,
        lease_expires_at: t.clock.now + 1_000,
      });
    }
    // Every index of a pending job let go of them; the by-status index holds none of them.
    expect(await t.redis.zcard(t.queue.keys.pending)).toBe(0);
    expect(await t.redis.zcard(t.queue.keys['wf-pending'])).toBe(0);
    expect(await t.redis.zcard(t.queue.keys['by-status'])).toBe(0);
    const claimed = (await t.queue.readEvents()).filter((e) => e.type === 'job.claimed');
    expect(claimed.map((e) => [e.job_id, e.customer_id, e.workflow_id])).toEqual(
      ids.map((id, k) => [id, inputs[k]!.customer_id ?? null, inputs[k]!.workflow_id ?? null]),
    );
    // The transitions after such a claim that read other fields (max_attempts) see them all.
    await t.queue.fail(ids[0]!, 'w', failure(true, { retry_after_ms: 10 }));
    expect(await t.queue.get(ids[0]!)).toMatchObject({ status: 'pending', attempts: 1 });
    await t.queue.release(ids[1]!, 'w');
    await t.queue.complete(ids[2]!, 'w', null);
    await t.queue.heartbeat(ids[3]!, 'w', 1_000);
    await t.queue.complete(ids[3]!, 'w', null);
    t.clock.advance(10);
    // The retry (attempt 2, the last one) and the released job are back in their places.
    expect((await t.queue.claim(w))?.id).toBe(ids[0]);
    expect((await t.queue.claim(w))?.id).toBe(ids[1]);
    await t.queue.fail(ids[0]!, 'w', failure(true));
    expect(await t.queue.get(ids[0]!)).toMatchObject({ status: 'failed', attempts: 2 });
    const finished = (await t.queue.readEvents()).filter((e) =>
      ['job.completed', 'job.released', 'job.failed'].includes(e.type),
    );
    expect(finished.map((e) => `${e.type} ${e.job_id} ${e.customer_id} ${e.workflow_id}`)).toEqual([
      `job.released ${ids[1]} ${inputs[1]!.customer_id} ${inputs[1]!.workflow_id}`,
      `job.completed ${ids[2]} null null`,
      `job.completed ${ids[3]} acme wf-1`,
      `job.failed ${ids[0]} acme wf-1`,
    ]);
  });

  it('a state without the mark (an older version, or written behind the library) is read and rewritten in the new form', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', customer_id: 'acme' });
    const before = JSON.parse((await t.redis.hget(t.queue.keys.jobs, id))!) as Record<
      string,
      unknown
    >;
    // As version 18 stored it: cjson's key order (any), no whitespace.
    const reversed = Object.fromEntries(Object.entries(before).reverse());
    await t.redis.hset(t.queue.keys.jobs, id, JSON.stringify(reversed));
    const w = worker({ worker_id: 'w' });
    expect(await t.queue.claim(w)).toMatchObject({ id, attempts: 1, customer_id: 'acme' });
    const raw = (await t.redis.hget(t.queue.keys.jobs, id))!;
    expect(raw).toContain(MARK);
    expect(JSON.parse(raw)).toEqual({
      ...before,
      attempts: 1,
      status: 'active',
      worker_id: 'w',
      claimed_at: t.clock.now,
      lease_expires_at: expect.any(Number),
    });
    expect(await t.queue.complete(id, 'w', null)).toMatchObject({
      status: 'completed',
      attempts: 1,
    });
  });
});
