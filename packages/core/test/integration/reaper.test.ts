import { waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { createReaper, reaperLeader } from '../../src/index.js';
import { testQueue } from './helpers.js';

describe('scheduled reaper', () => {
  it('requeues an expired lease with no worker alive, and fails one on its last attempt', async () => {
    await using t = await testQueue({ clock: Date.now });
    const again = await t.queue.submit({ service_required: 'svc', max_attempts: 2 });
    const last = await t.queue.submit({ service_required: 'svc', max_attempts: 1 });
    const w = { worker_id: 'killed', services: ['svc'] };
    await t.queue.claim(w, { leaseMs: 200 });
    await t.queue.claim(w, { leaseMs: 200 });
    const reaper = createReaper({
      redis: t.redis,
      queue: t.queue,
      intervalMs: 100,
      lockTtlMs: 1_000,
    });
    reaper.start();
    try {
      // The two leases expire one claim apart: on a loaded machine the reaper can sweep between
      // them, so wait for both outcomes, not for the first one only.
      await waitFor(async () => (await t.queue.get(again.id))?.status === 'pending', {
        timeoutMs: 5_000,
        what: 'the expired lease requeued',
      });
      await waitFor(async () => (await t.queue.get(last.id))?.status !== 'active', {
        timeoutMs: 5_000,
        what: 'the lease on its last attempt expired',
      });
      expect(await t.queue.get(last.id)).toMatchObject({
        status: 'failed',
        last_failure: { failure_reason: 'stalled' },
      });
      expect(reaper.stats()).toMatchObject({ leader: true, expired: 2 });
    } finally {
      await reaper.stop();
    }
  });

  it('promotes a due retry with no claim happening', async () => {
    await using t = await testQueue({ clock: Date.now });
    const { id } = await t.queue.submit({ service_required: 'svc', max_attempts: 3 });
    await t.queue.claim({ worker_id: 'w', services: ['svc'] });
    await t.queue.fail(id, 'w', {
      retryable: true,
      failure_type: 'rate_limit',
      failure_reason: 'upstream_429',
      message: 'later',
      retry_after_ms: 150,
    });
    const reaper = createReaper({
      redis: t.redis,
      queue: t.queue,
      intervalMs: 100,
      lockTtlMs: 1_000,
    });
    reaper.start();
    try {
      await waitFor(async () => (await t.queue.get(id))?.run_at === null, {
        timeoutMs: 5_000,
        what: 'the retry promoted',
      });
      expect(reaper.stats().promoted).toBe(1);
    } finally {
      await reaper.stop();
    }
  });

  it('only one of several processes leads; another takes over when the leader stops', async () => {
    await using t = await testQueue();
    // A lock that outlives any stall between the steps: hand-over here is by stop, not expiry.
    const options = { redis: t.redis, queue: t.queue, intervalMs: 50, lockTtlMs: 5_000 };
    const a = createReaper({ ...options, owner: 'a' });
    const b = createReaper({ ...options, owner: 'b' });
    expect(await a.runOnce()).toBe(true);
    expect(await b.runOnce()).toBe(false);
    expect(await a.runOnce()).toBe(true);
    expect(await reaperLeader(t.redis, t.namespace)).toMatch(/^a:/);
    await a.stop();
    expect(await reaperLeader(t.redis, t.namespace)).toBeNull();
    expect(await b.runOnce()).toBe(true);
    expect(await a.runOnce()).toBe(false);
    await b.stop();
  });

  it('a leader whose lock expired (paused past its TTL) yields to the new one', async () => {
    await using t = await testQueue();
    const options = { redis: t.redis, queue: t.queue, intervalMs: 10 };
    const a = createReaper({ ...options, lockTtlMs: 50, owner: 'a' });
    // The new leader's lock lasts: with 50 ms it too expired before the check in a loaded soak.
    const b = createReaper({ ...options, lockTtlMs: 60_000, owner: 'b' });
    expect(await a.runOnce()).toBe(true);
    await waitFor(async () => (await reaperLeader(t.redis, t.namespace)) === null, {
      timeoutMs: 2_000,
      what: 'the lock expired',
    });
    expect(await b.runOnce()).toBe(true);
    expect(await a.runOnce()).toBe(false);
    expect(a.stats().leader).toBe(false);
    await a.stop();
    expect(await reaperLeader(t.redis, t.namespace)).toMatch(/^b:/);
    await b.stop();
  });
});
