import { startRedis, uniqueNamespace, waitFor } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  createQueue,
  JobNotHeldError,
  LIBRARY_VERSION,
  LibraryVersionError,
  ValidationError,
  type Job,
  type WorkerSpec,
} from '../../src/index.js';
import { LIBRARY_SOURCE } from '../../src/installer.js';
import { sharedBatcherCount } from '../../src/queue.js';
import { ManualClock, testQueue, worker, type TestQueue } from './helpers.js';

/** {ns}:heads and {ns}:bucket-heads hold exactly each bucket's first pending member. */
async function expectHeadsOfPending(t: TestQueue): Promise<void> {
  const { keys } = t.queue;
  const firsts = new Map<string, string>();
  for (const member of await t.redis.zrange(keys.pending, '0', '-1')) {
    const parts = member.split('\0');
    const bucket = `${parts[0]}\0${parts[1]}`;
    if (!firsts.has(bucket)) firsts.set(bucket, `${parts[2]}\0${parts[3]}`);
  }
  expect(await t.redis.hgetall(keys['bucket-heads'])).toEqual(Object.fromEntries(firsts));
  expect((await t.redis.zrange(keys.heads, '0', '-1')).sort()).toEqual(
    [...firsts].map(([bucket, head]) => `${head}\0${bucket}`).sort(),
  );
  expect((await t.redis.zrange(keys.buckets, '0', '-1')).sort()).toEqual([...firsts.keys()].sort());
}

describe('coalesced calls (jobgate_batch)', () => {
  it('answers each call of one tick with its own result; one call failing fails no other', async () => {
    await using t = await testQueue();
    const a = worker({ worker_id: 'slot-a' });
    const b = worker({ worker_id: 'slot-b' });
    const ids = (
      await t.queue.submitMany(
        [3, 2, 1, 0].map((priority) => ({
          service_required: 'svc',
          priority,
          payload: { priority },
        })),
      )
    ).map((r) => r.id);
    const first = await t.queue.claim(a);
    const second = await t.queue.claim(b);
    expect([first?.id, second?.id]).toEqual([ids[0], ids[1]]);

    // All issued in one tick: a completes its job, b tries to complete a's job (not held), b fails
    // its own, a heartbeats a job it no longer holds by then, two claims take the next jobs.
    const [done, stolen, failed, beat, next1, next2] = await Promise.allSettled([
      t.queue.complete(ids[0]!, 'slot-a', { by: 'a' }),
      t.queue.complete(ids[0]!, 'slot-b', { by: 'b' }),
      t.queue.fail(ids[1]!, 'slot-b', {
        retryable: false,
        failure_type: 'validation_error',
        failure_reason: 'invalid_payload',
        message: 'bad input',
      }),
      t.queue.heartbeat(ids[0]!, 'slot-a'),
      t.queue.claim(a),
      t.queue.claim(b),
    ]);
    expect(done).toMatchObject({ status: 'fulfilled', value: { id: ids[0], status: 'completed' } });
    expect(stolen.status).toBe('rejected');
    expect((stolen as PromiseRejectedResult).reason).toBeInstanceOf(JobNotHeldError);
    expect((stolen as PromiseRejectedResult).reason).toMatchObject({ workerId: 'slot-b' });
    expect(failed).toMatchObject({ status: 'fulfilled', value: { id: ids[1], status: 'failed' } });
    expect(beat.status).toBe('rejected');
    expect((beat as PromiseRejectedResult).reason).toMatchObject({ reason: 'status:completed' });
    expect(next1).toMatchObject({
      status: 'fulfilled',
      value: { id: ids[2], worker_id: 'slot-a', payload: { priority: 1 } },
    });
    expect(next2).toMatchObject({
      status: 'fulfilled',
      value: { id: ids[3], worker_id: 'slot-b', payload: { priority: 0 } },
    });
    expect((await t.queue.get(ids[0]!))?.result).toEqual({ by: 'a' });

    // Nothing left: both claims of the next tick answer null, together.
    expect(await Promise.all([t.queue.claim(a), t.queue.claim(b)])).toEqual([null, null]);
    // One event per transition, in call order.
    const types = (await t.queue.readEvents()).map((e) => `${e.type} ${e.job_id}`).slice(6);
    expect(types).toEqual([
      `job.completed ${ids[0]}`,
      `job.failed ${ids[1]}`,
      `job.claimed ${ids[2]}`,
      `job.claimed ${ids[3]}`,
    ]);
  });

  it('goes out as one FCALL for a tick of calls (seen through MONITOR)', async () => {
    // A private server: on the gate's shared Redis, MONITOR would also stream every other
    // package's commands, and ioredis's monitor mode loses track of its replies under that flood.
    await using server = await startRedis({ own: true });
    await using t = await testQueue({ url: server.url });
    const ids = (
      await t.queue.submitMany(Array.from({ length: 8 }, () => ({ service_required: 'svc' })))
    ).map((r) => r.id);
    // (redis.monitor() opens a connection of its own; a duplicate() left open would outlive the test.)
    const monitor = await t.redis.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.includes(t.queue.keys.jobs) || args[1] === t.namespace) seen.push(args.join(' '));
    });
    try {
      const jobs = await Promise.all(
        ids.map((_, n) => t.queue.claim(worker({ worker_id: `slot-${n}` }))),
      );
      expect(new Set(jobs.map((j) => j?.id))).toEqual(new Set(ids));
      // MONITOR reports commands in order: once this one shows, every claim call has.
      await t.redis.echo(t.namespace);
      await waitFor(() => seen.at(-1) === `echo ${t.namespace}`, {
        timeoutMs: 5_000,
        what: 'MONITOR to show the echo after the claims',
      });
      const calls = seen.filter((line) => line.startsWith('fcall '));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatch(/^fcall jobgate_batch /);
    } finally {
      monitor.disconnect();
    }
  });

  it('claims of one call see the buckets and heads the earlier claims of that call changed', async () => {
    // A one-service worker reads its service's bucket list and heads once per call (library
    // version 16). In this call, bucket "gpu" empties midway, and with one reap per claim each of
    // the first two claims requeues a stalled job: the first into bucket m1 (which keeps a job
    // after the first claim takes it), the second into bucket m2, which had no pending job when
    // the first claim read the bucket list.
    await using t = await testQueue({ reapPerClaim: 1 });
    const gpu = { hardware: { gpu_memory_gb: 8 } };
    const holder = worker({ worker_id: 'holder', models: { svc: ['m1', 'm2'] } });
    const stalled = await t.queue.submitMany([
      { service_required: 'svc', priority: 9, requirements: { models: ['m1'] } },
      { service_required: 'svc', priority: 8, requirements: { models: ['m2'] } },
    ]);
    expect((await t.queue.claim(holder, { leaseMs: 1_000 }))?.id).toBe(stalled[0]!.id);
    t.clock.advance(100);
    expect((await t.queue.claim(holder, { leaseMs: 1_000 }))?.id).toBe(stalled[1]!.id);
    const [m1Last] = await t.queue.submitMany([
      { service_required: 'svc', priority: 0, requirements: { models: ['m1'] } },
    ]);
    const gpuJobs = await t.queue.submitMany(
      [5, 5].map((priority, i) => ({
        service_required: 'svc',
        priority,
        requirements: gpu,
        payload: { i },
      })),
    );
    const plain = await t.queue.submitMany(
      [7, 1, 1, 0, 0].map((priority) => ({ service_required: 'svc', priority })),
    );
    t.clock.advance(2_000);
    const slots = Array.from({ length: 10 }, (_, n) =>
      worker({
        worker_id: `slot-${n}`,
        hardware: { gpu_memory_gb: 16 },
        models: { svc: ['m1', 'm2'] },
      }),
    );
    const jobs = await Promise.all(slots.map((w) => t.queue.claim(w)));
    // Exact priority, then submit order, across the four buckets; nothing twice, nothing left.
    expect(jobs.map((j) => j?.id ?? null)).toEqual([
      stalled[0]!.id,
      stalled[1]!.id,
      plain[0]!.id,
      gpuJobs[0]!.id,
      gpuJobs[1]!.id,
      plain[1]!.id,
      plain[2]!.id,
      m1Last!.id,
      plain[3]!.id,
      plain[4]!.id,
    ]);
    expect(await t.queue.claim(slots[0]!)).toBeNull();
    expect((await t.queue.counts()).by_service).toEqual({});
  });

  it.each([
    ['each service has few buckets: the memo search (version 21)', 2],
    ['a service has more than 8 buckets: the head list', 9],
  ])(
    'claims of one call by workers of several services keep exact order; %s',
    async (_, modelBuckets) => {
      await using t = await testQueue({ reapPerClaim: 1 });
      const models = Array.from({ length: modelBuckets }, (_, i) => `m${i}`);
      const caps = { models: { a: models, b: models, c: models }, hardware: { gpu_memory_gb: 16 } };
      const services = ['a', 'b', 'c'];
      const holder = worker({ worker_id: 'holder', services, ...caps });
      // Two jobs that stall: each of the call's first two claims reaps one back into its bucket,
      // empty when the first claim read the bucket lists.
      const stalled = await t.queue.submitMany([
        { service_required: 'b', priority: 9, requirements: { models: ['m0'] } },
        { service_required: 'c', priority: 8, requirements: { models: ['m1'] } },
      ]);
      expect((await t.queue.claim(holder, { leaseMs: 1_000 }))?.id).toBe(stalled[0]!.id);
      t.clock.advance(100);
      expect((await t.queue.claim(holder, { leaseMs: 1_000 }))?.id).toBe(stalled[1]!.id);
      const inputs = [
        ...models.map((m, i) => ({
          service_required: 'a',
          priority: i % 4,
          requirements: { models: [m] },
        })),
        { service_required: 'a', priority: 7 },
        { service_required: 'b', priority: 5, requirements: { hardware: { gpu_memory_gb: 8 } } },
        { service_required: 'b', priority: 5, requirements: { hardware: { gpu_memory_gb: 8 } } },
        { service_required: 'b', priority: 1 },
        { service_required: 'c', priority: 3 },
        { service_required: 'c', priority: 0 },
        // Not the workers' service: never claimed.
        { service_required: 'd', priority: 9 },
      ];
      const ids = (await t.queue.submitMany(inputs)).map((r) => r.id);
      // Exact order: priority desc, then submit order; the stalled jobs first (priority 9, 8).
      const expected = [
        stalled[0]!.id,
        stalled[1]!.id,
        ...inputs
          .map((input, k) => ({ ...input, id: ids[k]! }))
          .filter((job) => job.service_required !== 'd')
          .sort((x, y) => y.priority - x.priority)
          .map((job) => job.id),
      ];
      t.clock.advance(2_000);
      const take = expected.length - 2;
      const slots = Array.from({ length: take }, (_, n) =>
        worker({ worker_id: `slot-${n}`, services, ...caps }),
      );
      const jobs = await Promise.all(slots.map((w) => t.queue.claim(w)));
      expect(jobs.map((j) => j?.id ?? null)).toEqual(expected.slice(0, take));
      await expectHeadsOfPending(t);
      // The two left, then nothing of theirs.
      expect((await t.queue.claim(slots[0]!))?.id).toBe(expected[take]);
      expect((await t.queue.claim(slots[1]!))?.id).toBe(expected[take + 1]);
      expect(await t.queue.claim(slots[2]!)).toBeNull();
      await expectHeadsOfPending(t);
    },
  );

  it("one call's later operations see its earlier writes to the same job and bucket", async () => {
    // Guards any layout of a call's writes (a write-behind per call was measured in Round 6 of
    // BENCHMARKS.md and kept on a branch). In this one tick the same job is heartbeaten (lease zset), failed to an immediate retry (out of the lease zset,
    // into the retry zset and the status index) and claimed again through the reap (out of the
    // retry zset, into the pending indexes and out again), while the other slot completes its job
    // and claims the last one, the head of the bucket the reap has just changed.
    await using t = await testQueue();
    const [a, b, c] = (
      await t.queue.submitMany(
        [3, 2, 1].map((priority) => ({ service_required: 'svc', priority, payload: { priority } })),
      )
    ).map((r) => r.id);
    const one = worker({ worker_id: 'one' });
    const two = worker({ worker_id: 'two' });
    expect((await t.queue.claim(one))?.id).toBe(a);
    expect((await t.queue.claim(two))?.id).toBe(b);
    t.clock.advance(10);
    const [beat, failed, again, next] = await Promise.all([
      t.queue.heartbeat(a!, 'one', 5_000),
      t.queue.fail(a!, 'one', {
        retryable: true,
        failure_type: 'network_error',
        failure_reason: 'timeout',
        message: 'try again',
        retry_after_ms: 0,
      }),
      t.queue.claim(one, { leaseMs: 7_000 }),
      t.queue.completeAndClaim(b!, 'two', { done: true }, two),
    ]);
    expect(beat).toBe(t.clock.now + 5_000);
    expect(failed).toMatchObject({ id: a, status: 'pending', attempts: 1 });
    expect(again).toMatchObject({ id: a, status: 'active', attempts: 2, payload: { priority: 3 } });
    expect(next).toMatchObject({
      id: c,
      status: 'active',
      worker_id: 'two',
      payload: { priority: 1 },
    });

    const { keys } = t.queue;
    expect(await t.redis.zrange(keys.active, '0', '-1', 'WITHSCORES')).toEqual([
      a,
      String(t.clock.now + 7_000),
      c,
      String(t.clock.now + 30_000),
    ]);
    expect(await t.redis.zcard(keys.delayed)).toBe(0);
    expect(await t.redis.zcard(keys.pending)).toBe(0);
    expect(await t.redis.zcard(keys.heads)).toBe(0);
    expect(await t.redis.hlen(keys['bucket-heads'])).toBe(0);
    expect(await t.redis.zcard(keys.buckets)).toBe(0);
    const byStatus = await t.redis.zrange(keys['by-status'], '0', '-1');
    expect(byStatus.map((m) => `${m.split('\0')[0]} ${m.split('\0')[2]}`)).toEqual([
      `completed ${b}`,
    ]);
    expect((await t.queue.get(b!))?.result).toEqual({ done: true });
    expect((await t.queue.get(a!))?.status).toBe('active');
    expect((await t.queue.readEvents()).map((e) => `${e.type} ${e.job_id}`).slice(5)).toEqual([
      `job.retry_scheduled ${a}`,
      `job.claimed ${a}`,
      `job.completed ${b}`,
      `job.claimed ${c}`,
    ]);
  });

  it("each event and lease of one call carries its own operation's worker, lease expiry and duration", async () => {
    // Version 18 encodes a job.claimed / job.completed event's data once for equal values and
    // gives lease scores as text, reused while equal: operations of one call that differ in
    // worker, lease or duration must each get their own, and equal ones in a later call too.
    await using t = await testQueue();
    const ids = (
      await t.queue.submitMany(
        Array.from({ length: 7 }, (_, i) => ({
          service_required: 'svc',
          priority: 0,
          payload: { i },
        })),
      )
    ).map((r) => r.id);
    const one = worker({ worker_id: 'one' });
    const two = worker({ worker_id: 'two' });
    const t0 = t.clock.now;
    expect((await t.queue.claim(one))?.id).toBe(ids[0]);
    t.clock.advance(1_000);
    expect((await t.queue.claim(one))?.id).toBe(ids[1]);
    t.clock.advance(2_000);
    const t1 = t.clock.now;
    const replies = await Promise.all([
      t.queue.complete(ids[0]!, 'one', null),
      t.queue.complete(ids[1]!, 'one', null),
      t.queue.claim(one, { leaseMs: 5_000 }),
      t.queue.claim(two, { leaseMs: 5_000 }),
      t.queue.claim(one, { leaseMs: 7_000 }),
      t.queue.claim(one, { leaseMs: 7_000 }),
    ]);
    expect(replies.map((job) => job?.id)).toEqual(ids.slice(0, 6));
    // The next call, at the same time: the same worker and lease as the call before.
    expect((await t.queue.claim(one, { leaseMs: 7_000 }))?.id).toBe(ids[6]);

    const events = (await t.queue.readEvents()).slice(7);
    expect(events.map((e) => [e.type, e.job_id, e.data])).toEqual([
      ['job.claimed', ids[0], { worker_id: 'one', lease_expires_at: t0 + 30_000 }],
      ['job.claimed', ids[1], { worker_id: 'one', lease_expires_at: t0 + 1_000 + 30_000 }],
      ['job.completed', ids[0], { worker_id: 'one', duration_ms: 3_000 }],
      ['job.completed', ids[1], { worker_id: 'one', duration_ms: 2_000 }],
      ['job.claimed', ids[2], { worker_id: 'one', lease_expires_at: t1 + 5_000 }],
      ['job.claimed', ids[3], { worker_id: 'two', lease_expires_at: t1 + 5_000 }],
      ['job.claimed', ids[4], { worker_id: 'one', lease_expires_at: t1 + 7_000 }],
      ['job.claimed', ids[5], { worker_id: 'one', lease_expires_at: t1 + 7_000 }],
      ['job.claimed', ids[6], { worker_id: 'one', lease_expires_at: t1 + 7_000 }],
    ]);
    const active = await t.redis.zrange(t.queue.keys.active, '0', '-1', 'WITHSCORES');
    const scores = new Map<string, string>();
    for (let i = 0; i < active.length; i += 2) scores.set(active[i]!, active[i + 1]!);
    expect(scores).toEqual(
      new Map([
        [ids[2], String(t1 + 5_000)],
        [ids[3], String(t1 + 5_000)],
        [ids[4], String(t1 + 7_000)],
        [ids[5], String(t1 + 7_000)],
        [ids[6], String(t1 + 7_000)],
      ]),
    );
    for (const [k, id] of ids.slice(2).entries())
      expect((await t.queue.get(id))?.lease_expires_at).toBe(t1 + (k < 2 ? 5_000 : 7_000));
  });

  it("holds a call's head writes to its end; a claim reading the global head list in between sees them", async () => {
    // Since library version 17 a call of many operations writes each bucket's head once, at its
    // end. Here one-service slots take bucket a's head after head, a three-service worker (which
    // walks the global head list {ns}:heads) claims between them, then the one-service slots go on.
    await using t = await testQueue();
    const submitted = await t.queue.submitMany([
      ...[4, 4, 3, 2].map((priority) => ({ service_required: 'a', priority })),
      ...[5, 1].map((priority) => ({ service_required: 'b', priority })),
      { service_required: 'c', priority: 4 },
    ]);
    const [a1, a2, a3, a4, b1, b2, c1] = submitted.map((r) => r.id);
    const slot = (n: number): WorkerSpec => worker({ worker_id: `a-${n}`, services: ['a'] });
    const wide = (n: number): WorkerSpec =>
      worker({ worker_id: `wide-${n}`, services: ['a', 'b', 'c'] });
    const jobs = await Promise.all([
      t.queue.claim(slot(1)),
      t.queue.claim(slot(2)),
      t.queue.claim(wide(1)),
      t.queue.claim(wide(2)),
      t.queue.claim(slot(3)),
      t.queue.claim(wide(3)),
      t.queue.claim(slot(4)),
    ]);
    expect(jobs.map((j) => j?.id ?? null)).toEqual([a1, a2, b1, c1, a3, a4, null]);
    await expectHeadsOfPending(t);
    expect(Object.entries(await t.redis.hgetall(t.queue.keys['bucket-heads']))).toEqual([
      [expect.stringMatching(/^b\0/), expect.stringMatching(new RegExp(`\0${b2}$`))],
    ]);
    expect((await t.queue.claim(wide(4)))?.id).toBe(b2);
    await expectHeadsOfPending(t);
    expect(await t.redis.zcard(t.queue.keys.heads)).toBe(0);
  });

  it('keeps the head indexes true when an operation of the call fails between claims', async () => {
    await using t = await testQueue();
    const ids = (
      await t.queue.submitMany(
        [3, 2, 1, 0].map((priority) => ({ service_required: 'svc', priority })),
      )
    ).map((r) => r.id);
    const [first, notHeld, second] = await Promise.allSettled([
      t.queue.claim(worker({ worker_id: 'one' })),
      t.queue.complete(ids[3]!, 'one', {}),
      t.queue.claim(worker({ worker_id: 'two' })),
    ]);
    expect(first).toMatchObject({ status: 'fulfilled', value: { id: ids[0] } });
    expect((notHeld as PromiseRejectedResult).reason).toMatchObject({ reason: 'status:pending' });
    expect(second).toMatchObject({ status: 'fulfilled', value: { id: ids[1] } });
    await expectHeadsOfPending(t);
    const pending = await t.redis.zrange(t.queue.keys.pending, '0', '-1');
    expect(pending.map((m) => m.split('\0').at(-1))).toEqual([ids[2], ids[3]]);
    expect(Object.values(await t.redis.hgetall(t.queue.keys['bucket-heads']))).toEqual([
      expect.stringMatching(new RegExp(`\0${ids[2]}$`)),
    ]);
  });

  it('an operation given fewer arguments than it reads never reads the next operation', async () => {
    await using t = await testQueue();
    const ids = (
      await t.queue.submitMany([{ service_required: 'svc' }, { service_required: 'svc' }])
    ).map((r) => r.id);
    const w = worker({ worker_id: 'w' });
    expect((await t.queue.claim(w))?.id).toBe(ids[0]);
    // complete_and_claim without its worker, lease and reap arguments: it is refused on the
    // missing lease, as if the arguments were nil, before the completion (library version 24:
    // nothing done); the claim after it (whose arguments a careless reader would take as the
    // missing ones) runs on its own.
    const reply = (await t.redis.fcall(
      'jobgate_batch',
      t.queue.keys.list.length,
      ...t.queue.keys.list,
      String(t.clock.now),
      '1000',
      '2',
      'complete_and_claim',
      '3',
      ids[0]!,
      'w',
      '{}',
      'claim',
      '3',
      JSON.stringify(w),
      '30000',
      '0',
    )) as unknown[];
    expect(reply.slice(0, 2)).toEqual([0, 'JG_INVALID lease_ms must be a finite number > 0']);
    expect(reply[2]).toBe(1);
    expect(JSON.parse((reply[3] as string[])[0]!)).toMatchObject({ id: ids[1], worker_id: 'w' });
    expect((await t.queue.get(ids[0]!))?.status).toBe('active');
  });

  it('refuses a malformed batch before running any of it', async () => {
    await using t = await testQueue();
    const { id } = await t.queue.submit({ service_required: 'svc' });
    await expect(
      t.redis.fcall(
        'jobgate_batch',
        t.queue.keys.list.length,
        ...t.queue.keys.list,
        String(t.clock.now),
        '1000',
        '2',
        'claim',
        '3',
        JSON.stringify(worker()),
        '30000',
        '0',
        'explode',
        '0',
      ),
    ).rejects.toThrow(/JG_INVALID operation 2: unknown name explode/);
    expect((await t.queue.get(id))?.status).toBe('pending');
  });

  it('a call that fails validation in the client never reaches the batch', async () => {
    await using t = await testQueue();
    const w = worker();
    const [bad, good] = await Promise.allSettled([t.queue.complete('', 'w'), t.queue.claim(w)]);
    expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError);
    expect(good).toEqual({ status: 'fulfilled', value: null });
  });
});

describe('coalesced calls of queue objects sharing one client', () => {
  /** The FCALLs sent while `calls` ran (MONITOR, as above: on a private server). */
  async function fcallsOf(
    redis: Redis,
    namespace: string,
    calls: () => Promise<unknown>,
  ): Promise<string[]> {
    // (redis.monitor() opens a connection of its own.)
    const monitor = await redis.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0] === 'fcall' || args[1] === namespace) seen.push(args.join(' '));
    });
    try {
      await calls();
      await redis.echo(namespace);
      await waitFor(() => seen.at(-1) === `echo ${namespace}`, {
        timeoutMs: 5_000,
        what: 'MONITOR to show the echo after the calls',
      });
      return seen.filter((line) => line.startsWith('fcall '));
    } finally {
      monitor.disconnect();
    }
  }

  it('one tick of calls from several queue objects goes out as one FCALL; results never mix, one failure fails no other', async () => {
    await using server = await startRedis({ own: true });
    const redis = new Redis(server.url);
    const clock = new ManualClock();
    const namespace = uniqueNamespace('jq');
    const [q1, q2, q3] = await Promise.all(
      [1, 2, 3].map(() => createQueue({ redis, namespace, clock: clock.read })),
    );
    try {
      const ids = (
        await q1!.submitMany(
          [4, 3, 2, 1, 0].map((priority) => ({
            service_required: 'svc',
            priority,
            payload: { priority },
          })),
        )
      ).map((r) => r.id);
      const [a, b, c] = ['a', 'b', 'c'].map((id) => worker({ worker_id: id }));
      let first: Array<Job | null> = [];
      const calls1 = await fcallsOf(redis, namespace, async () => {
        first = await Promise.all([q1!.claim(a!), q2!.claim(b!)]);
      });
      expect(calls1).toHaveLength(1);
      expect(calls1[0]).toMatch(/^fcall jobgate_batch /);
      expect(first.map((j) => [j?.id, j?.worker_id])).toEqual([
        [ids[0], 'a'],
        [ids[1], 'b'],
      ]);

      let settled: Array<PromiseSettledResult<unknown>> = [];
      const calls2 = await fcallsOf(redis, namespace, async () => {
        settled = await Promise.allSettled([
          q1!.complete(ids[0]!, 'a', { by: 'a' }),
          // b completes a's job: refused, and only this call.
          q2!.complete(ids[0]!, 'b', { by: 'b' }),
          q3!.claim(c!),
          q2!.completeAndClaim(ids[1]!, 'b', { by: 'b' }, b!),
          q1!.claim(a!),
        ]);
      });
      expect(calls2).toHaveLength(1);
      const [done, stolen, claimC, nextB, claimA] = settled as [
        PromiseSettledResult<unknown>,
        PromiseSettledResult<unknown>,
        PromiseSettledResult<unknown>,
        PromiseSettledResult<unknown>,
        PromiseSettledResult<unknown>,
      ];
      expect(done).toMatchObject({
        status: 'fulfilled',
        value: { id: ids[0], status: 'completed' },
      });
      expect(stolen.status).toBe('rejected');
      expect((stolen as PromiseRejectedResult).reason).toBeInstanceOf(JobNotHeldError);
      expect((stolen as PromiseRejectedResult).reason).toMatchObject({ workerId: 'b' });
      expect(claimC).toMatchObject({
        status: 'fulfilled',
        value: { id: ids[2], worker_id: 'c', payload: { priority: 2 } },
      });
      expect(nextB).toMatchObject({
        status: 'fulfilled',
        value: { id: ids[3], worker_id: 'b', payload: { priority: 1 } },
      });
      expect(claimA).toMatchObject({
        status: 'fulfilled',
        value: { id: ids[4], worker_id: 'a', payload: { priority: 0 } },
      });
      expect((await q1!.get(ids[0]!))?.result).toEqual({ by: 'a' });
      expect((await q1!.get(ids[1]!))?.result).toEqual({ by: 'b' });
    } finally {
      await Promise.all([q1, q2, q3].map((q) => q!.close()));
      redis.disconnect();
    }
  });

  it('closing every queue object of a namespace releases its shared batcher; the others keep coalescing after the first closes', async () => {
    // What the batcher holds is not observable without GC timing; that its entry goes when the
    // last queue using it closes is (a count of the shared batchers in use).
    await using server = await startRedis({ own: true });
    const redis = new Redis(server.url);
    const clock = new ManualClock();
    const namespace = uniqueNamespace('jq');
    const base = sharedBatcherCount();
    const shared = { redis, namespace, clock: clock.read };
    const [q1, q2, q3] = await Promise.all([
      createQueue(shared),
      createQueue(shared),
      createQueue(shared),
    ]);
    const other = await createQueue({ ...shared, namespace: uniqueNamespace('jq') });
    const own = await createQueue({ ...shared, coalesce: 'queue' });
    try {
      expect(sharedBatcherCount()).toBe(base + 2);
      await q1.submitMany([{ service_required: 'svc' }, { service_required: 'svc' }]);
      // The first queue (whose call the batcher used to go through) closes; the others still
      // share one batcher, and their calls still go out together.
      await q1.close();
      await q1.close();
      expect(sharedBatcherCount()).toBe(base + 2);
      const w = worker();
      let claimed: Array<{ id: string } | null> = [];
      const calls = await fcallsOf(redis, namespace, async () => {
        claimed = await Promise.all([q2.claim(w), q3.claim(w)]);
      });
      expect(calls.filter((line) => line.startsWith('fcall jobgate_batch 19'))).toHaveLength(1);
      expect(calls).toHaveLength(1);
      expect(claimed.every((job) => job !== null)).toBe(true);
      await q2.close();
      expect(sharedBatcherCount()).toBe(base + 2);
      await q3.close();
      expect(sharedBatcherCount()).toBe(base + 1);
      await other.close();
      expect(sharedBatcherCount()).toBe(base);
      // A queue made after that gets a new entry, released at its close.
      const again = await createQueue(shared);
      expect(sharedBatcherCount()).toBe(base + 1);
      expect(await again.claim(w)).toBeNull();
      await again.close();
      expect(sharedBatcherCount()).toBe(base);
    } finally {
      await Promise.all([q1, q2, q3, other, own].map((q) => q.close()));
      redis.disconnect();
    }
  });

  it('a queue whose createQueue fails gives its shared batcher back', async () => {
    await using server = await startRedis({ own: true });
    const redis = new Redis(server.url);
    const base = sharedBatcherCount();
    // A library newer than this client's: the install refuses it after the queue was made.
    await redis.function(
      'LOAD',
      'REPLACE',
      LIBRARY_SOURCE.replace(
        /^local LIBRARY_VERSION = \d+$/m,
        `local LIBRARY_VERSION = ${LIBRARY_VERSION + 1}`,
      ),
    );
    try {
      await expect(createQueue({ redis, namespace: uniqueNamespace('jq') })).rejects.toThrow(
        LibraryVersionError,
      );
      expect(sharedBatcherCount()).toBe(base);
    } finally {
      redis.disconnect();
    }
  });

  it("coalesce 'queue' (and another clock, namespace or event length) keeps the calls apart", async () => {
    await using server = await startRedis({ own: true });
    const redis = new Redis(server.url);
    const clock = new ManualClock();
    const namespace = uniqueNamespace('jq');
    const shared = { redis, namespace, clock: clock.read };
    const queues = await Promise.all([
      createQueue({ ...shared, coalesce: 'queue' }),
      createQueue({ ...shared, coalesce: 'queue' }),
      createQueue({ ...shared, clock: new ManualClock().read }),
      createQueue({ ...shared, eventsMaxLen: 10 }),
      createQueue(shared),
      createQueue(shared),
    ]);
    try {
      const w = worker();
      const calls = await fcallsOf(redis, namespace, () =>
        Promise.all(queues.map((q) => q.claim(w))),
      );
      // Four alone (each its own jobgate_claim), the last two together.
      expect(calls.filter((line) => line.startsWith('fcall jobgate_claim '))).toHaveLength(4);
      expect(calls.filter((line) => line.startsWith('fcall jobgate_batch 19'))).toHaveLength(1);
      expect(calls).toHaveLength(5);
    } finally {
      await Promise.all(queues.map((q) => q.close()));
      redis.disconnect();
    }
  });
});
