import { drain } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { JobNotFoundError, JobNotHeldError } from '../../src/index.js';
import { testQueue, worker, type TestQueue } from './helpers.js';

/** Everything a refused call must leave untouched: the job, the event stream, the indexes. */
async function snapshot(t: TestQueue, id: string) {
  return {
    job: await t.queue.get(id),
    events: (await t.queue.readEvents()).length,
    counts: await t.queue.counts(),
    active: await t.redis.zrange(t.queue.keys.active, '0', '-1', 'WITHSCORES'),
    pending: await t.redis.zcard(t.queue.keys.pending),
  };
}

describe('release', () => {
  it('puts the job back pending without counting the attempt: the next claim has the same attempt number', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({
      service_required: 'svc',
      max_attempts: 3,
      workflow_id: 'wf',
      payload: { p: 1 },
    });
    const a = worker({ worker_id: 'a' });
    const claimed = await t.queue.claim(a, { leaseMs: 10_000 });
    expect(claimed?.attempts).toBe(1);
    await t.queue.progress(id, 'a', { percent: 30 });

    const released = await t.queue.release(id, 'a');
    expect(released).toMatchObject({
      id,
      status: 'pending',
      attempts: 0,
      worker_id: null,
      lease_expires_at: null,
      run_at: null,
      progress: null,
      last_failure: null,
    });
    expect(await t.queue.get(id)).toMatchObject({
      status: 'pending',
      attempts: 0,
      payload: { p: 1 },
    });
    expect(await t.queue.counts()).toMatchObject({ pending: 1, active: 0, by_service: { svc: 1 } });
    expect(await t.redis.zcard(t.queue.keys.active)).toBe(0);

    // The old holder no longer holds it.
    await expect(t.queue.complete(id, 'a', {})).rejects.toMatchObject({ reason: 'status:pending' });

    const again = await t.queue.claim(worker({ worker_id: 'b' }));
    expect(again).toMatchObject({ id, attempts: 1, worker_id: 'b', payload: { p: 1 } });
    // A workflow-pinned worker finds it too: the workflow index was restored.
    await t.queue.release(id, 'b');
    const pinned = await t.queue.claim(worker({ worker_id: 'c', workflow_id: 'wf' }));
    expect(pinned).toMatchObject({ id, attempts: 1 });
  });

  it('keeps its priority and FIFO place among the pending jobs', async () => {
    await using t = await testQueue();
    const [high1, high2, low] = await t.queue.submitMany([
      { service_required: 'svc', priority: 5 },
      { service_required: 'svc', priority: 5 },
      { service_required: 'svc', priority: 1 },
    ]);
    const w = worker({ worker_id: 'w' });
    expect((await t.queue.claim(w))?.id).toBe(high1!.id);
    // Submitted after the released job with equal priority: must still come after it.
    const high3 = await t.queue.submit({ service_required: 'svc', priority: 5 });
    await t.queue.release(high1!.id, 'w');
    const claimed = await drain(() => t.queue.claim(w), {
      max: 4,
      id: (j) => j.id,
      what: 'claims',
    });
    const order = claimed.map((j) => j.id);
    expect(order).toEqual([high1!.id, high2!.id, high3.id, low!.id]);
  });

  it('emits exactly one job.released event with the released attempt and reason shutdown', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({
      service_required: 'svc',
      customer_id: 'acme',
      workflow_id: 'wf-1',
    });
    const w = worker({ worker_id: 'w' });
    await t.queue.claim(w);
    t.clock.advance(7);
    await t.queue.release(id, 'w');
    await t.queue.claim(w);
    await t.queue.complete(id, 'w', {});
    const events = await t.queue.readEvents();
    expect(events.map((e) => [e.type, e.attempt])).toEqual([
      ['job.received', 0],
      ['job.claimed', 1],
      ['job.released', 1],
      ['job.claimed', 1],
      ['job.completed', 1],
    ]);
    expect(events[2]).toMatchObject({
      job_id: id,
      customer_id: 'acme',
      workflow_id: 'wf-1',
      timestamp: t.clock.now,
      data: { reason: 'shutdown', worker_id: 'w' },
    });
  });

  it('wakes a waiting worker', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker({ worker_id: 'w' }));
    // Drain the submit's token so only the release can answer.
    expect(await t.queue.waitForWork(20, ['svc'])).toBe(true);
    expect(await t.queue.waitForWork(20, ['svc'])).toBe(false);
    const waiting = t.queue.waitForWork(5_000, ['svc']);
    await t.queue.release(id, 'w');
    expect(await waiting).toBe(true);
  });

  it('on the last attempt does not fail the job; the next claim runs that attempt again', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 1 });
    const w = worker({ worker_id: 'w' });
    await t.queue.claim(w);
    for (let i = 0; i < 3; i++) {
      expect(await t.queue.release(id, 'w')).toMatchObject({ status: 'pending', attempts: 0 });
      expect(await t.queue.claim(w)).toMatchObject({ id, attempts: 1, status: 'active' });
    }
    expect(await t.queue.complete(id, 'w', { ok: true })).toMatchObject({
      status: 'completed',
      attempts: 1,
      last_failure: null,
    });
    const types = (await t.queue.readEvents()).map((e) => e.type);
    expect(types).not.toContain('job.failed');
    expect(types.filter((type) => type === 'job.released')).toHaveLength(3);
  });

  it('a job released after a retry keeps the count of the attempts that did run', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 2 });
    const w = worker({ worker_id: 'w' });
    await t.queue.claim(w);
    await t.queue.fail(id, 'w', {
      retryable: true,
      retry_after_ms: 0,
      failure_type: 'RATE_LIMIT',
      failure_reason: 'upstream_429',
      message: 'slow down',
    });
    expect((await t.queue.claim(w))?.attempts).toBe(2);
    const released = await t.queue.release(id, 'w');
    // The earlier failure is history, not erased by the release.
    expect(released).toMatchObject({
      attempts: 1,
      last_failure: { failure_reason: 'upstream_429' },
    });
    expect((await t.queue.claim(w))?.attempts).toBe(2);
  });

  describe('refused, changing nothing and emitting nothing', () => {
    it('for another worker', async () => {
      await using t = await testQueue();
      const { id } = await t.queue.submit({ service_required: 'svc' });
      await t.queue.claim(worker({ worker_id: 'a' }));
      const before = await snapshot(t, id);
      const error: unknown = await t.queue.release(id, 'intruder').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JobNotHeldError);
      expect(error).toMatchObject({ jobId: id, workerId: 'intruder', reason: 'other_worker' });
      expect(await snapshot(t, id)).toEqual(before);
      // The holder still holds it.
      expect(await t.queue.complete(id, 'a', {})).toMatchObject({ status: 'completed' });
    });

    it('after the lease expired, even before it was reaped', async () => {
      await using t = await testQueue();
      const { id } = await t.queue.submit({ service_required: 'svc' });
      await t.queue.claim(worker({ worker_id: 'a' }), { leaseMs: 1_000 });
      t.clock.advance(1_000);
      const before = await snapshot(t, id);
      await expect(t.queue.release(id, 'a')).rejects.toMatchObject({
        name: 'JobNotHeldError',
        reason: 'lease_expired',
      });
      expect(await snapshot(t, id)).toEqual(before);
      // Reaping then treats it as stalled, which does count the attempt.
      expect(await t.queue.claim(worker({ worker_id: 'b' }))).toMatchObject({ id, attempts: 2 });
    });

    it('for a finished, cancelled or pending job and an unknown id', async () => {
      await using t = await testQueue();
      const [done, cancelled, waiting] = await t.queue.submitMany([
        { service_required: 'svc', priority: 3 },
        { service_required: 'svc', priority: 2 },
        { service_required: 'svc', priority: 1 },
      ]);
      const w = worker({ worker_id: 'w' });
      await t.queue.claim(w);
      await t.queue.complete(done!.id, 'w', { r: 1 });
      await t.queue.claim(w);
      await t.queue.cancel(cancelled!.id);
      for (const [id, reason] of [
        [done!.id, 'status:completed'],
        [cancelled!.id, 'status:cancelled'],
        [waiting!.id, 'status:pending'],
      ] as const) {
        const before = await snapshot(t, id);
        await expect(t.queue.release(id, 'w')).rejects.toMatchObject({
          name: 'JobNotHeldError',
          reason,
        });
        expect(await snapshot(t, id)).toEqual(before);
      }
      await expect(t.queue.release('missing', 'w')).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it('for malformed ids, before reaching Redis', async () => {
      await using t = await testQueue();
      const { id } = await t.queue.submit({ service_required: 'svc' });
      await t.queue.claim(worker({ worker_id: 'w' }));
      const before = await snapshot(t, id);
      await expect(t.queue.release('', 'w')).rejects.toMatchObject({ name: 'ValidationError' });
      await expect(t.queue.release(id, '')).rejects.toMatchObject({ name: 'ValidationError' });
      expect(await snapshot(t, id)).toEqual(before);
    });
  });
});
