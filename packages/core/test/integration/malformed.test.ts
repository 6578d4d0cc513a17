import { describe, expect, it } from 'vitest';
import { priorityKey } from '../../src/encoding.js';
import { uniqueNamespace } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createQueue, ValidationError } from '../../src/index.js';
import { redisUrl, testQueue, worker } from './helpers.js';

describe('malformed input', () => {
  it('rejects a bad submit with an error naming the field and writes nothing', async () => {
    await using t = await testQueue();
    const bad = [
      { service_required: 'svc', priority: 'high' },
      { service_required: 'svc', requirements: { hardware: { gpu_memory_gb: -1 } } },
      { service_required: 'svc', requirements: { customer_isolation: 'strict' } },
      { priority: 1 },
    ];
    for (const input of bad) {
      await expect(t.queue.submit(input as never)).rejects.toBeInstanceOf(ValidationError);
    }
    // One bad job rejects the whole batch before anything is written.
    await expect(
      t.queue.submitMany([{ service_required: 'svc' }, { service_required: 'svc', step: -1 }]),
    ).rejects.toThrow(/Invalid job #1: step/);
    expect(await t.redis.exists(...t.queue.keys.list)).toBe(0);
  });

  it('refuses a malformed worker, lease or failure with a ValidationError', async () => {
    await using t = await testQueue();
    await expect(t.queue.claim({ worker_id: 'w', services: [] })).rejects.toThrow(
      /services must list at least one service/,
    );
    await expect(t.queue.claim(worker(), { leaseMs: -5 })).rejects.toThrow(/leaseMs/);
    await expect(t.queue.fail('x', 'w', { retryable: 'yes' } as never)).rejects.toThrow(
      /retryable/,
    );
    await expect(t.queue.list({ limit: 0 })).rejects.toThrow(/limit/);
  });

  function rawSubmit(
    t: Awaited<ReturnType<typeof testQueue>>,
    id: string,
    requirements: string,
    customer = '',
  ) {
    return t.redis.fcall(
      'jobgate_submit',
      t.queue.keys.list.length,
      ...t.queue.keys.list,
      String(t.clock.now),
      '1000',
      '1',
      id,
      'svc',
      'abcdef',
      '5',
      priorityKey(5),
      requirements,
      customer,
      '',
      '',
      '3',
      '{}',
    );
  }

  it('a job with malformed requirements written by another client is stored, visible as unrunnable and never blocks others', async () => {
    await using t = await testQueue();
    const ok = await t.queue.submit({ service_required: 'svc', priority: 1 });
    await rawSubmit(t, 'bad-json', '{not json');
    await rawSubmit(t, 'bad-hardware', '{"hardware":{"gpu_memory_gb":"lots"}}');
    await rawSubmit(t, 'bad-models', '{"models":"sdxl"}');
    await rawSubmit(t, 'bad-custom', '{"region":{"nested":true}}');
    await rawSubmit(t, 'bad-strict', '{"customer_isolation":"strict"}');
    expect((await t.queue.get('bad-json'))?.unrunnable_reason).toBe(
      'requirements are not valid JSON',
    );
    expect((await t.queue.get('bad-hardware'))?.unrunnable_reason).toBe(
      'requirements.hardware.gpu_memory_gb must be a number',
    );
    expect((await t.queue.get('bad-models'))?.unrunnable_reason).toMatch(/requirements\.models/);
    expect((await t.queue.get('bad-custom'))?.unrunnable_reason).toMatch(/requirements\.region/);
    expect((await t.queue.get('bad-strict'))?.unrunnable_reason).toMatch(/customer_id/);
    const counts = await t.queue.counts();
    expect(counts).toMatchObject({ pending: 6, unrunnable: 5, by_service: { svc: 1 } });
    const w = worker({ hardware: { gpu_memory_gb: 80 }, capabilities: { region: 'eu' } });
    expect((await t.queue.claim(w))?.id).toBe(ok.id);
    expect(await t.queue.claim(w)).toBeNull();
    expect((await t.queue.cancel('bad-json')).cancelled).toBe(true);
    expect((await t.queue.counts()).unrunnable).toBe(4);
  });

  it('a corrupted bucket spec is skipped, not fatal', async () => {
    await using t = await testQueue();
    const a = await t.queue.submit({
      service_required: 'svc',
      priority: 9,
      requirements: { region: 'eu' },
    });
    const b = await t.queue.submit({ service_required: 'svc', priority: 1 });
    const specs = await t.redis.hgetall(t.queue.keys.specs);
    const [sigOfA, original] = Object.entries(specs).find(([, spec]) => spec.includes('eu'))!;
    await t.redis.hset(t.queue.keys.specs, sigOfA, '{"r":{"hardware":"broken"');
    const w = worker({ capabilities: { region: 'eu' } });
    expect((await t.queue.claim(w))?.id).toBe(b.id);
    expect((await t.queue.get(a.id))?.status).toBe('pending');
    // Once repaired, the bucket is claimable again: a damaged spec's verdict is not cached.
    await t.redis.hset(t.queue.keys.specs, sigOfA, original);
    expect((await t.queue.claim(w))?.id).toBe(a.id);
  });

  it('the library checks every job of a raw batch, a value repeated after a good one included', async () => {
    await using t = await testQueue();
    const job = (
      id: string,
      fields: Partial<Record<'svc' | 'sig' | 'p' | 'customer', string>> = {},
    ) => [
      id,
      fields.svc ?? 'svc',
      fields.sig ?? 'abcdef',
      '5',
      fields.p ?? priorityKey(5),
      '{}',
      fields.customer ?? 'acme',
      '',
      '',
      '3',
      '{}',
    ];
    const submit = (jobs: string[][]) =>
      t.redis.fcall(
        'jobgate_submit',
        t.queue.keys.list.length,
        ...t.queue.keys.list,
        String(t.clock.now),
        '1000',
        String(jobs.length),
        ...jobs.flat(),
      );
    // Jobs 1 and 2 are good and share every value; job 3 repeats them but one.
    const cases: Array<[Partial<Record<'svc' | 'sig' | 'p' | 'customer', string>>, RegExp]> = [
      [{ sig: 'abcdeg' }, /JG_INVALID job 3: sig must be hex/],
      [{ p: `${priorityKey(5).slice(1)}x` }, /JG_INVALID job 3: P must be 17 digits/],
      [{ svc: 'sv\nc' }, /JG_INVALID job 3: service_required must be 1-256 printable/],
      [{ customer: 'ac\tme' }, /JG_INVALID job 3: customer_id must be printable/],
    ];
    for (const [bad, message] of cases)
      await expect(submit([job('j1'), job('j2'), job('j3', bad)])).rejects.toThrow(message);
    expect(await t.redis.exists(...t.queue.keys.list)).toBe(0);
    // The good batch: every job.received carries its own job's data (encoded once, same JSON).
    await submit([job('j1'), job('j2'), job('j3', { svc: 'other' })]);
    const received = (await t.queue.readEvents()).filter((e) => e.type === 'job.received');
    expect(received.map((e) => [e.job_id, e.data])).toEqual([
      ['j1', { service_required: 'svc', priority: '5' }],
      ['j2', { service_required: 'svc', priority: '5' }],
      ['j3', { service_required: 'other', priority: '5' }],
    ]);
  });

  /** Every key of the namespace (wake-up lists included) with its DUMP: equal means unchanged. */
  async function snapshot(t: Awaited<ReturnType<typeof testQueue>>): Promise<Map<string, string>> {
    const keys = (await t.redis.keys(`{${t.namespace}}*`)).sort();
    const out = new Map<string, string>();
    for (const key of keys) out.set(key, (await t.redis.dumpBuffer(key)).toString('hex'));
    return out;
  }

  it('a raw batch with a non-finite max_attempts, step or requirement number is refused whole, nothing written', async () => {
    await using t = await testQueue();
    const job = (id: string, fields: { step?: string; max?: string; req?: string } = {}) => [
      id,
      'svc',
      'abcdef',
      '5',
      priorityKey(5),
      fields.req ?? '{}',
      '',
      '',
      fields.step ?? '',
      fields.max ?? '3',
      '{}',
    ];
    const submit = (jobs: string[][]) =>
      t.redis.fcall(
        'jobgate_submit',
        t.queue.keys.list.length + 1,
        ...t.queue.keys.list,
        `${t.queue.keys.wake}:svc`,
        String(t.clock.now),
        '1000',
        String(jobs.length),
        ...jobs.flat(),
      );
    // Something stored already, so "unchanged" covers the counters and indexes too.
    await submit([job('j0')]);
    const before = await snapshot(t);
    const cases: Array<[{ step?: string; max?: string; req?: string }, RegExp]> = [
      [{ max: 'inf' }, /JG_INVALID job 2: max_attempts must be a finite number >= 1/],
      [{ max: 'nan' }, /JG_INVALID job 2: max_attempts must be a finite number >= 1/],
      [{ max: 'Infinity' }, /JG_INVALID job 2: max_attempts must be a finite number >= 1/],
      [{ max: '1e999' }, /JG_INVALID job 2: max_attempts must be a finite number >= 1/],
      [{ max: '-inf' }, /JG_INVALID job 2: max_attempts must be a finite number >= 1/],
      [{ step: 'inf' }, /JG_INVALID job 2: step must be a finite number/],
      [{ step: 'nan' }, /JG_INVALID job 2: step must be a finite number/],
      [{ step: '1e999' }, /JG_INVALID job 2: step must be a finite number/],
      [{ step: 'first' }, /JG_INVALID job 2: step must be a finite number/],
      [
        { req: '{"hardware":{"gpu_memory_gb":1e999}}' },
        /JG_INVALID job 2: requirements.hardware.gpu_memory_gb must be a finite number/,
      ],
      [
        { req: '{"region":[1,-1e999]}' },
        /JG_INVALID job 2: requirements.region.2 must be a finite number/,
      ],
      [
        { req: '{"not":{"tier":NaN}}' },
        /JG_INVALID job 2: requirements.not.tier must be a finite number/,
      ],
    ];
    for (const [bad, message] of cases) {
      await expect(submit([job('j1'), job('j2', bad), job('j3')])).rejects.toThrow(message);
      expect(await snapshot(t)).toEqual(before);
    }
    // Nothing was half-stored: the same ids submitted well are created, and readable.
    expect(await submit([job('j1'), job('j2'), job('j3')])).toEqual(['j1', 1, 'j2', 1, 'j3', 1]);
    expect((await t.queue.get('j2'))?.status).toBe('pending');
  });

  it('createQueue refuses a non-finite or out-of-range numeric option, naming it', async () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ defaultMaxAttempts: Infinity }, /Invalid defaultMaxAttempts: .*got Infinity/],
      [{ defaultMaxAttempts: Number.NaN }, /Invalid defaultMaxAttempts: .*got NaN/],
      [{ defaultMaxAttempts: 0 }, /Invalid defaultMaxAttempts: .*got 0/],
      [{ defaultMaxAttempts: 2.5 }, /Invalid defaultMaxAttempts: .*got 2.5/],
      [{ eventsMaxLen: Infinity }, /Invalid eventsMaxLen: .*got Infinity/],
      [{ eventsMaxLen: -1 }, /Invalid eventsMaxLen: .*got -1/],
      [{ reapPerClaim: Number.NaN }, /Invalid reapPerClaim: .*got NaN/],
      [{ reapPerClaim: 1.5 }, /Invalid reapPerClaim: .*got 1.5/],
      [{ backoff: { baseMs: Infinity } }, /Invalid backoff.baseMs: .*got Infinity/],
      [{ backoff: { maxMs: -5 } }, /Invalid backoff.maxMs: .*got -5/],
      [{ defaultLeaseMs: Infinity }, /Invalid defaultLeaseMs: .*got Infinity/],
    ];
    const redis = new Redis(redisUrl());
    try {
      for (const [options, message] of bad) {
        const namespace = uniqueNamespace('jq');
        const made = createQueue({ redis, namespace, ...options });
        await expect(made).rejects.toBeInstanceOf(ValidationError);
        await expect(made).rejects.toThrow(message);
        expect(await redis.keys(`{${namespace}}*`)).toEqual([]);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('a queue with defaultMaxAttempts: Infinity never reaches Redis, so no job is lost', async () => {
    // The reviewer's case: before, the batch stored j1, then failed on j2 after saving its
    // payload; a resubmit then answered created:false for j2 and get() returned null.
    await using t = await testQueue();
    await expect(
      createQueue({ redis: t.redis, namespace: t.namespace, defaultMaxAttempts: Infinity }),
    ).rejects.toThrow(/defaultMaxAttempts/);
    const jobs = [
      { id: 'j1', service_required: 's', payload: 1 },
      { id: 'j2', service_required: 's', payload: 2 },
    ];
    expect(await t.queue.submitMany(jobs)).toEqual([
      { id: 'j1', created: true },
      { id: 'j2', created: true },
    ]);
    expect((await t.queue.get('j2'))?.max_attempts).toBe(3);
  });

  /** A raw FCALL of a library function with the queue's keys, clock and MAXLEN. */
  function raw(t: Awaited<ReturnType<typeof testQueue>>, fn: string, ...args: string[]) {
    return t.redis.fcall(
      fn,
      t.queue.keys.list.length,
      ...t.queue.keys.list,
      String(t.clock.now),
      '1000',
      ...args,
    );
  }

  /** jobgate_batch's operations `claim`, then `complete_and_claim` of `heldId`, with one worker JSON and lease. */
  function claimOps(heldId: string, workerId: string, workerJson: string, lease: string): string[] {
    // prettier-ignore
    return [
      'claim', '3', workerJson, lease, '25',
      'complete_and_claim', '6', heldId, workerId, '{}', workerJson, lease, '25',
    ];
  }

  const BAD_LEASES = ['abc', '', 'nan', 'inf', 'Infinity', '1e999', '-inf', '0', '-5'];

  it('a raw claim or complete_and_claim with a bad lease is refused before any write, the job stays claimable', async () => {
    await using t = await testQueue();
    const w = worker();
    const first = await t.queue.submit({ service_required: 'svc' });
    const job = await t.queue.submit({ service_required: 'svc' });
    expect((await t.queue.claim(w))?.id).toBe(first.id);
    // An expired lease too, so a claim would reap before it looks for a job.
    const other = worker();
    await t.queue.submit({ service_required: 'svc', id: 'expiring' });
    expect((await t.queue.claim(other, { leaseMs: 10 }))?.id).toBe(job.id);
    t.clock.advance(20);
    const before = await snapshot(t);
    for (const lease of BAD_LEASES) {
      await expect(raw(t, 'jobgate_claim', JSON.stringify(w), lease, '25')).rejects.toThrow(
        /JG_INVALID lease_ms must be a finite number > 0/,
      );
      // The completion is refused too: the call would complete, then fail to claim.
      await expect(
        raw(
          t,
          'jobgate_complete_and_claim',
          first.id,
          w.worker_id,
          '{}',
          JSON.stringify(w),
          lease,
          '25',
        ),
      ).rejects.toThrow(/JG_INVALID lease_ms must be a finite number > 0/);
      expect(await snapshot(t)).toEqual(before);
    }
    expect((await t.queue.get(first.id))?.status).toBe('active');
    // Every job is still claimable: the expired one (reaped) and the pending one.
    const claimed = [(await t.queue.claim(w))?.id, (await t.queue.claim(w))?.id].sort();
    expect(claimed).toEqual([job.id, 'expiring'].sort());
  });

  it('a claim with a bad lease inside jobgate_batch fails that operation only, before any write', async () => {
    await using t = await testQueue();
    const w = worker();
    const held = await t.queue.submit({ service_required: 'svc' });
    expect((await t.queue.claim(w))?.id).toBe(held.id);
    const a = await t.queue.submit({ service_required: 'svc', priority: 2 });
    const b = await t.queue.submit({ service_required: 'svc', priority: 1 });
    const before = await snapshot(t);
    const wj = JSON.stringify(w);
    for (const lease of BAD_LEASES) {
      const reply = (await raw(
        t,
        'jobgate_batch',
        '3',
        ...claimOps(held.id, w.worker_id, wj, lease),
        'heartbeat',
        '3',
        held.id,
        w.worker_id,
        lease,
      )) as unknown[];
      expect(reply).toEqual([
        0,
        'JG_INVALID lease_ms must be a finite number > 0',
        0,
        'JG_INVALID lease_ms must be a finite number > 0',
        0,
        'JG_INVALID lease_ms must be a finite number > 0',
      ]);
      expect(await snapshot(t)).toEqual(before);
    }
    // A good claim after a bad one in the same batch gets the best job.
    const reply = (await raw(
      t,
      'jobgate_batch',
      '2',
      'claim',
      '3',
      wj,
      'nan',
      '25',
      'claim',
      '3',
      wj,
      '1000',
      '25',
    )) as unknown[];
    expect(reply[0]).toBe(0);
    expect(reply[2]).toBe(1);
    expect(JSON.parse((reply[3] as string[])[0]!).id).toBe(a.id);
    expect((await t.queue.claim(w))?.id).toBe(b.id);
    expect((await t.queue.get(held.id))?.status).toBe('active');
  });

  it('a raw heartbeat or fail with a non-finite number is refused before any write', async () => {
    await using t = await testQueue();
    const w = worker();
    const job = await t.queue.submit({ service_required: 'svc', max_attempts: 3 });
    expect((await t.queue.claim(w))?.id).toBe(job.id);
    const before = await snapshot(t);
    for (const lease of BAD_LEASES)
      await expect(raw(t, 'jobgate_heartbeat', job.id, w.worker_id, lease)).rejects.toThrow(
        /JG_INVALID lease_ms must be a finite number > 0/,
      );
    const failure = JSON.stringify({ failure_type: 'x', message: 'm', retryable: true });
    const fails: Array<[string[], RegExp]> = [
      [['nan', '1000', '60000', '0.5'], /retry_after_ms must be a finite number >= 0/],
      [['inf', '1000', '60000', '0.5'], /retry_after_ms must be a finite number >= 0/],
      [['-1', '1000', '60000', '0.5'], /retry_after_ms must be a finite number >= 0/],
      [['', 'inf', '60000', '0.5'], /backoff base, max and jitter must be finite numbers >= 0/],
      [['', '1000', 'nan', '0.5'], /backoff base, max and jitter must be finite numbers >= 0/],
      [['', '1000', '60000', 'x'], /backoff base, max and jitter must be finite numbers >= 0/],
      [['', '', '', ''], /backoff base, max and jitter must be finite numbers >= 0/],
    ];
    for (const [numbers, message] of fails)
      await expect(
        raw(t, 'jobgate_fail', job.id, w.worker_id, failure, '1', ...numbers),
      ).rejects.toThrow(message);
    expect(await snapshot(t)).toEqual(before);
    // Still held, and a good failure schedules the retry.
    expect(await t.queue.heartbeat(job.id, w.worker_id, 5_000)).toBe(t.clock.now + 5_000);
    const failed = await t.queue.fail(job.id, w.worker_id, {
      failure_type: 'x',
      failure_reason: 'r',
      message: 'm',
      retryable: true,
    });
    expect(failed.status).toBe('pending');
  });

  const BAD_WORKERS: Array<[string, RegExp]> = [
    ['not json', /JG_INVALID worker must be a JSON object \(not valid JSON\)/],
    ['"w"', /JG_INVALID worker must be a JSON object/],
    ['{"services":["svc"]}', /JG_INVALID worker.worker_id must be 1-256 printable characters/],
    ['{"worker_id":"","services":["svc"]}', /JG_INVALID worker.worker_id must be 1-256/],
    ['{"worker_id":"w"}', /JG_INVALID worker.services must list at least one service/],
    [
      '{"worker_id":"w","services":[]}',
      /JG_INVALID worker.services must list at least one service/,
    ],
    ['{"worker_id":"w","services":"svc"}', /JG_INVALID worker.services must list at least one/],
    ['{"worker_id":"w","services":["svc",7]}', /JG_INVALID worker.services\[2\] must be 1-256/],
    ['{"worker_id":"w","services":["svc"],"workflow_id":""}', /JG_INVALID worker.workflow_id/],
  ];

  it('a raw claim or complete_and_claim with a malformed worker is refused before any write, the reap included', async () => {
    await using t = await testQueue();
    const w = worker();
    const held = await t.queue.submit({ service_required: 'svc' });
    expect((await t.queue.claim(w))?.id).toBe(held.id);
    // An expired lease, so a claim would reap before it looks for a job.
    const other = worker();
    const expiring = await t.queue.submit({ service_required: 'svc' });
    expect((await t.queue.claim(other, { leaseMs: 10 }))?.id).toBe(expiring.id);
    const pending = await t.queue.submit({ service_required: 'svc' });
    t.clock.advance(20);
    const before = await snapshot(t);
    for (const [bad, message] of BAD_WORKERS) {
      await expect(raw(t, 'jobgate_claim', bad, '1000', '25')).rejects.toThrow(message);
      await expect(
        raw(t, 'jobgate_complete_and_claim', held.id, w.worker_id, '{}', bad, '1000', '25'),
      ).rejects.toThrow(message);
      const reply = (await raw(
        t,
        'jobgate_batch',
        '2',
        ...claimOps(held.id, w.worker_id, bad, '1000'),
      )) as unknown[];
      expect(reply[0]).toBe(0);
      expect(String(reply[1])).toMatch(message);
      expect(reply[2]).toBe(0);
      expect(String(reply[3])).toMatch(message);
      expect(await snapshot(t)).toEqual(before);
    }
    // Nothing was lost on the way: the held job is still held, the expired one is reaped by the
    // next good claim, and both it and the pending one are claimed.
    expect((await t.queue.get(held.id))?.status).toBe('active');
    const claimed = [(await t.queue.claim(w))?.id, (await t.queue.claim(w))?.id].sort();
    expect(claimed).toEqual([expiring.id, pending.id].sort());
  });

  it('a raw progress with a percent that is not a number from 0 to 100 is refused, nothing written', async () => {
    await using t = await testQueue();
    const w = worker();
    const job = await t.queue.submit({ service_required: 'svc' });
    expect((await t.queue.claim(w))?.id).toBe(job.id);
    const before = await snapshot(t);
    for (const percent of ['nan', 'inf', '-inf', '1e999', 'abc', '-1', '101'])
      await expect(raw(t, 'jobgate_progress', job.id, w.worker_id, percent, 'm')).rejects.toThrow(
        /JG_INVALID percent must be a number from 0 to 100/,
      );
    expect(await snapshot(t)).toEqual(before);
    // The edges and no percent at all are taken.
    for (const percent of ['0', '100', ''])
      await raw(t, 'jobgate_progress', job.id, w.worker_id, percent, 'm');
    expect((await t.queue.get(job.id))?.progress).toEqual({ percent: null, message: 'm' });
  });

  it('the library refuses a raw call with wrong fields and changes nothing', async () => {
    await using t = await testQueue();
    await expect(
      t.redis.fcall(
        'jobgate_submit',
        t.queue.keys.list.length,
        ...t.queue.keys.list,
        '1',
        '10',
        '1',
        'id',
        'svc',
      ),
    ).rejects.toThrow(/JG_INVALID expected 11 fields per job/);
    await expect(t.redis.fcall('jobgate_claim', 1, t.queue.keys.jobs, '1', '10')).rejects.toThrow(
      /JG_INVALID expected 19 keys/,
    );
    expect(await t.redis.exists(...t.queue.keys.list)).toBe(0);
  });
});
