import { describe, expect, it } from 'vitest';
import { startHarness, verifyWebhook } from './harness.js';

const ALL_JOB_EVENTS = ['*'];

describe('delivery', () => {
  it('sends a finished job to its customer’s endpoint, signed, with the job’s public fields', async () => {
    await using h = await startHarness();
    const { endpoint, secret } = await h.store.create('acme', {
      url: h.receiver.url('/acme'),
      events: ['job.completed', 'job.failed'],
    });
    const other = await h.store.create('globex', {
      url: h.receiver.url('/globex'),
      events: ALL_JOB_EVENTS,
    });
    const service = h.service();
    const jobId = await h.runJob('acme');
    const failedId = await h.runJob('acme', 'fail');
    await service.pump();

    const got = h.receiver.accepted('/acme');
    // Different jobs go out in parallel: no order between them.
    expect(got.map((r) => r.body?.type).sort()).toEqual(['job.completed', 'job.failed']);
    const completed = got.find((r) => r.body?.type === 'job.completed');
    const failed = got.find((r) => r.body?.type === 'job.failed');
    const verified = verifyWebhook(secret, completed!) as { data: Record<string, unknown> };
    expect(verified.data).toMatchObject({
      job_id: jobId,
      status: 'completed',
      result: { text: 'done' },
      service: 'simulation',
      attempt: 1,
    });
    expect(completed!.rawBody).not.toMatch(/acme|worker_id|w1/);
    expect(completed!.id).toMatch(/^msg_/);
    expect(failed!.body?.data).toMatchObject({
      job_id: failedId,
      status: 'failed',
      failure: {
        type: 'validation_error',
        reason: 'invalid_prompt',
        message: 'the prompt was refused',
        retryable: false,
      },
    });
    // Another customer's endpoint never hears of acme's jobs.
    expect(h.receiver.requests.filter((r) => r.path === '/globex')).toEqual([]);
    const log = await h.store.deliveries('acme', endpoint.id);
    expect(log.map((d) => d.status)).toEqual(['succeeded', 'succeeded']);
    expect(await h.store.deliveries('acme', other.endpoint.id)).toEqual([]);
  });

  it('only sends events of the endpoint’s workflow when it names one', async () => {
    await using h = await startHarness();
    await h.store.create('acme', {
      url: h.receiver.url(),
      events: ['job.completed'],
      workflow_id: 'wf-1',
    });
    const service = h.service();
    await h.runJob('acme', 'complete', 'wf-2');
    const wanted = await h.runJob('acme', 'complete', 'wf-1');
    await service.pump();
    expect(h.receiver.accepted().map((r) => r.body?.data.job_id)).toEqual([wanted]);
  });

  it('retries 500s on the Standard Webhooks schedule under one webhook-id, then dead-letters', async () => {
    await using h = await startHarness();
    h.receiver.setMode({ status: 500 });
    const { endpoint } = await h.store.create('acme', {
      url: h.receiver.url(),
      events: ['job.completed'],
    });
    const service = h.service();
    await h.runJob('acme');
    await service.pump();
    expect(h.receiver.requests).toHaveLength(1);

    // With jitter at its midpoint the waits are exactly the schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    const waits = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
    for (const [i, wait] of waits.entries()) {
      h.clock.advance(wait - 1);
      await service.pump();
      expect(h.receiver.requests, `not before ${wait} ms`).toHaveLength(i + 1);
      h.clock.advance(1);
      await service.pump();
      expect(h.receiver.requests, `attempt ${i + 2}`).toHaveLength(i + 2);
    }
    h.clock.advance(100 * 3_600_000);
    await service.pump();
    expect(h.receiver.requests).toHaveLength(8);
    expect(new Set(h.receiver.requests.map((r) => r.id)).size).toBe(1);

    const [dead] = await h.store.deliveries('acme', endpoint.id, { status: 'dead' });
    expect(dead).toMatchObject({ status: 'dead', attempts: 8, last_status_code: 500 });
    expect(dead!.attempt_log).toHaveLength(8);
    expect((await h.store.get('acme', endpoint.id))?.failing_since).not.toBeNull();
  });

  it('honours Retry-After on a 429 and recovers on 200', async () => {
    await using h = await startHarness();
    h.receiver.enqueue({ status: 429, retryAfter: '120' });
    await h.store.create('acme', { url: h.receiver.url(), events: ['job.completed'] });
    const service = h.service();
    await h.runJob('acme');
    await service.pump();
    h.clock.advance(119_000);
    await service.pump();
    expect(h.receiver.requests).toHaveLength(1);
    h.clock.advance(1_000);
    await service.pump();
    expect(h.receiver.requests.map((r) => r.answer)).toEqual([429, 200]);
  });

  it('410 disables the endpoint; other 4xx fail without retry', async () => {
    await using h = await startHarness();
    h.receiver.setMode({ status: 400 }, '/bad');
    h.receiver.setMode({ status: 410 }, '/gone');
    const bad = await h.store.create('acme', {
      url: h.receiver.url('/bad'),
      events: ['job.completed'],
    });
    const gone = await h.store.create('acme', {
      url: h.receiver.url('/gone'),
      events: ['job.completed'],
    });
    const service = h.service();
    await h.runJob('acme');
    await service.pump();
    h.clock.advance(3_600_000);
    await h.runJob('acme');
    await service.pump();
    expect(h.receiver.requests.filter((r) => r.path === '/bad')).toHaveLength(2);
    expect(h.receiver.requests.filter((r) => r.path === '/gone')).toHaveLength(1);
    expect((await h.store.deliveries('acme', bad.endpoint.id)).map((d) => d.status)).toEqual([
      'failed',
      'failed',
    ]);
    const disabled = await h.store.get('acme', gone.endpoint.id);
    expect(disabled).toMatchObject({
      status: 'disabled',
      disabled_reason: 'the endpoint answered 410 Gone',
    });
  });

  it('a receiver that hangs past the timeout or drops the connection is retried', async () => {
    await using h = await startHarness();
    h.receiver.enqueue('hang', 'drop');
    await h.store.create('acme', { url: h.receiver.url(), events: ['job.completed'] });
    const service = h.service({ timeoutMs: 300 });
    await h.runJob('acme');
    await service.pump();
    h.clock.advance(5_000);
    await service.pump();
    h.clock.advance(300_000);
    await service.pump();
    expect(h.receiver.requests.map((r) => r.answer)).toEqual(['hang', 'drop', 200]);
    expect(new Set(h.receiver.requests.map((r) => r.id)).size).toBe(1);
  });

  it('a receiver down for a while gets every event when back, duplicates only under one id', async () => {
    await using h = await startHarness();
    h.receiver.setMode('drop');
    await h.store.create('acme', { url: h.receiver.url(), events: ['job.completed'] });
    const service = h.service();
    const jobs = [];
    for (let i = 0; i < 5; i++) jobs.push(await h.runJob('acme'));
    await service.pump();
    h.clock.advance(5_000);
    await service.pump();
    h.receiver.setMode({ status: 200 });
    h.clock.advance(300_000);
    await service.pump();
    const accepted = h.receiver.accepted();
    // Every job arrived. Not "exactly once": delivery is at least once. An attempt the sender gave
    // up on (its timeout, passed on a starved machine) may still be read by the receiver
    // afterwards, after the mode changed to 200, and then the retry arrives as well; that
    // duplicate carries the same webhook-id, which is what receivers deduplicate on.
    expect([...new Set(accepted.map((r) => r.body?.data.job_id))].sort()).toEqual([...jobs].sort());
    // Each job's id is the same on every attempt.
    const idsPerJob = new Map<unknown, Set<string | undefined>>();
    for (const r of h.receiver.requests) {
      const job = r.body?.data.job_id;
      idsPerJob.set(job, (idsPerJob.get(job) ?? new Set()).add(r.id));
    }
    for (const ids of idsPerJob.values()) expect(ids.size).toBe(1);
  });

  it('a backlog past the per-endpoint limit waits in line, not pushed back in time', async () => {
    await using h = await startHarness();
    await h.store.create('acme', { url: h.receiver.url(), events: ['job.completed'] });
    const service = h.service({ concurrencyPerEndpoint: 2 });
    const jobs = [];
    for (let i = 0; i < 7; i++) jobs.push(await h.runJob('acme'));
    // One pump on a clock that never moves: every delivery goes out as slots free, at most two
    // at a time, none deferred to a later time.
    let open = 0;
    let most = 0;
    h.receiver.setMode({ status: 200, delayMs: 20 });
    h.receiver.onRequest = () => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => open--, 20);
    };
    await service.pump();
    expect(
      h.receiver
        .accepted()
        .map((r) => r.body?.data.job_id)
        .sort(),
    ).toEqual(jobs.sort());
    expect(most).toBeLessThanOrEqual(2);
  });

  it('events of one job reach the endpoint in order, even across a retry', async () => {
    await using h = await startHarness();
    h.receiver.enqueue({ status: 503 });
    await h.store.create('acme', { url: h.receiver.url(), events: ALL_JOB_EVENTS });
    const service = h.service();
    await h.runJob('acme');
    await service.pump();
    expect(h.receiver.requests.map((r) => r.body?.type)).toEqual(['job.received']);
    h.clock.advance(5_000);
    await service.pump();
    expect(h.receiver.accepted().map((r) => r.body?.type)).toEqual([
      'job.received',
      'job.claimed',
      'job.completed',
    ]);
  });

  it('rotation: both secrets sign for 24 h, then only the new one', async () => {
    await using h = await startHarness();
    const { endpoint, secret: old } = await h.store.create('acme', {
      url: h.receiver.url(),
      events: ['job.completed'],
    });
    const rotated = await h.store.rotateSecret('acme', endpoint.id);
    const service = h.service();
    await h.runJob('acme');
    await service.pump();
    h.clock.advance(24 * 3_600_000);
    await h.runJob('acme');
    await service.pump();
    const [during, after] = h.receiver.accepted();
    expect(String(during!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(() => verifyWebhook(old, during!)).not.toThrow();
    expect(() => verifyWebhook(rotated!.secret, during!)).not.toThrow();
    expect(String(after!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => verifyWebhook(rotated!.secret, after!)).not.toThrow();
    expect(() => verifyWebhook(old, after!)).toThrow(/signature/i);
  });
});
