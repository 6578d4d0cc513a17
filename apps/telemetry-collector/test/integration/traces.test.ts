import { waitFor, type ReceivedSpan } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { startStack, worker, type Stack } from './harness.js';

const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;

/**
 * Workflow wf-1 of customer acme: A (progress, completes), B (fails retryably on w2, then
 * completes on w3), C (completes); plus a job without a workflow. Every transition at a known
 * time on the queue's clock.
 */
async function runWorkflow(t: Stack) {
  const t0 = t.clock.now;
  await t.redis.set(
    `{${t.namespace}}:worker:w1`,
    JSON.stringify({ worker_id: 'w1', machine_id: 'gpu-box-1' }),
  );
  const a = await t.queue.submit({
    service_required: 'svc',
    priority: 7,
    workflow_id: 'wf-1',
    customer_id: 'acme',
    step: 1,
  });
  const b = await t.queue.submit({
    service_required: 'svc',
    workflow_id: 'wf-1',
    customer_id: 'acme',
    step: 2,
    max_attempts: 3,
  });
  const c = await t.queue.submit({
    service_required: 'svc',
    workflow_id: 'wf-1',
    customer_id: 'acme',
    step: 3,
  });
  const solo = await t.queue.submit({ service_required: 'other', customer_id: 'acme' });
  t.clock.now += 1_000; // t0+1000
  await t.queue.claim(worker('w1'), { leaseMs: 60_000 }); // A
  t.clock.now += 500;
  await t.queue.progress(a.id, 'w1', { percent: 50, message: 'half way' });
  t.clock.now += 500; // t0+2000
  await t.queue.complete(a.id, 'w1', {});
  await t.queue.claim(worker('w2'), { leaseMs: 60_000 }); // B attempt 1
  t.clock.now += 1_000; // t0+3000
  await t.queue.fail(b.id, 'w2', {
    retryable: true,
    failure_type: 'network_error',
    failure_reason: 'connection_reset',
    message: 'socket hang up',
    retry_after_ms: 1_000,
  });
  await t.queue.claim(worker('w3'), { leaseMs: 60_000 }); // C
  t.clock.now += 1_000; // t0+4000
  await t.queue.complete(c.id, 'w3', {});
  await t.queue.reapExpired();
  await t.queue.claim(worker('w3'), { leaseMs: 60_000 }); // B attempt 2
  t.clock.now += 2_000; // t0+6000
  await t.queue.complete(b.id, 'w3', {});
  await t.queue.claim(worker('w4', ['other']));
  t.clock.now += 100;
  await t.queue.complete(solo.id, 'w4', {});
  return { t0, a: a.id, b: b.id, c: c.id, solo: solo.id };
}

function byJob(spans: ReceivedSpan[], jobId: string) {
  const mine = spans.filter((s) => s.attributes['job.id'] === jobId);
  const job = mine.find((s) => s.parentSpanId === '');
  const attempts = mine
    .filter((s) => s.parentSpanId !== '')
    .sort((x, y) => Number(x.startTimeUnixNano - y.startTimeUnixNano));
  return { job: job!, attempts };
}

describe('the event stream as traces', () => {
  it('a workflow of three jobs with one retried failure is one trace: job spans, attempt child spans, attributes and timing', async () => {
    await using t = await startStack();
    const ids = await runWorkflow(t);
    await t.collector();
    await waitFor(() => t.receiver.spansById().size === 9, {
      timeoutMs: 20_000,
      what: '9 spans (4 jobs, 5 attempts)',
    });
    const spans = [...t.receiver.spansById().values()];
    const { t0 } = ids;

    const workflowTrace = spans.filter((s) => s.attributes['workflow.id'] === 'wf-1');
    expect(workflowTrace).toHaveLength(7);
    expect(new Set(workflowTrace.map((s) => s.traceId)).size).toBe(1);
    const traceId = workflowTrace[0]!.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const a = byJob(spans, ids.a);
    expect(a.job).toMatchObject({
      name: 'job svc',
      parentSpanId: '',
      startTimeUnixNano: ns(t0),
      endTimeUnixNano: ns(t0 + 2_000),
      status: { code: 0 },
      attributes: {
        'job.id': ids.a,
        'job.service': 'svc',
        'job.priority': 7,
        'job.step': 1,
        'job.status': 'completed',
        'customer.id': 'acme',
        'worker.id': 'w1',
        'machine.id': 'gpu-box-1',
      },
    });
    expect(a.attempts).toHaveLength(1);
    expect(a.attempts[0]).toMatchObject({
      name: 'attempt 1',
      traceId,
      parentSpanId: a.job.spanId,
      startTimeUnixNano: ns(t0 + 1_000),
      endTimeUnixNano: ns(t0 + 2_000),
      attributes: {
        'job.attempt': 1,
        'worker.id': 'w1',
        'machine.id': 'gpu-box-1',
        'attempt.outcome': 'completed',
      },
      events: [
        {
          name: 'progress',
          timeUnixNano: ns(t0 + 1_500),
          attributes: { 'progress.percent': 50, 'progress.message': 'half way' },
        },
      ],
    });

    const b = byJob(spans, ids.b);
    expect(b.job).toMatchObject({
      traceId,
      startTimeUnixNano: ns(t0),
      endTimeUnixNano: ns(t0 + 6_000),
      status: { code: 0 },
      attributes: { 'job.status': 'completed', 'job.attempt': 2, 'worker.id': 'w3' },
    });
    expect(b.job.events.map((e) => e.name)).toEqual(['job.retry_scheduled']);
    expect(b.job.events[0]!.attributes).toMatchObject({
      'failure.type': 'network_error',
      'failure.reason': 'connection_reset',
      'retry.delay_ms': 1_000,
    });
    expect(b.attempts.map((s) => s.name)).toEqual(['attempt 1', 'attempt 2']);
    expect(b.attempts[0]).toMatchObject({
      parentSpanId: b.job.spanId,
      startTimeUnixNano: ns(t0 + 2_000),
      endTimeUnixNano: ns(t0 + 3_000),
      status: { code: 2, message: 'network_error: connection_reset' },
      attributes: {
        'job.attempt': 1,
        'worker.id': 'w2',
        'failure.type': 'network_error',
        'failure.reason': 'connection_reset',
        'attempt.outcome': 'retry_scheduled',
      },
    });
    expect(b.attempts[1]).toMatchObject({
      startTimeUnixNano: ns(t0 + 4_000),
      endTimeUnixNano: ns(t0 + 6_000),
      status: { code: 0 },
      attributes: { 'job.attempt': 2, 'worker.id': 'w3', 'attempt.outcome': 'completed' },
    });

    const c = byJob(spans, ids.c);
    expect(c.job.attributes['job.step']).toBe(3);
    expect(c.attempts).toHaveLength(1);

    // A job without a workflow is its own trace, rooted at its own span.
    const solo = byJob(spans, ids.solo);
    expect(solo.job.traceId).not.toBe(traceId);
    expect(solo.job).toMatchObject({ name: 'job other', parentSpanId: '' });
    expect(solo.attempts[0]!.parentSpanId).toBe(solo.job.spanId);

    expect(spans[0]!.resource).toMatchObject({
      'service.name': 'jobgate-telemetry-collector',
      'service.version': '1.2.3',
      'deployment.environment.name': 'test',
    });
    // Everything exported was acknowledged: nothing pending in the group.
    await waitFor(
      async () =>
        (await t.redis.xpending(`{${t.namespace}}:events`, 'telemetry-collector'))[0] === 0,
      { timeoutMs: 5_000, what: 'no entry pending in the group' },
    );
    expect(await t.redis.zcard(`{${t.namespace}}:otel:telemetry-collector:open`)).toBe(0);
  });

  it('a second collector (another group, after a restart) produces the very same trace and span ids', async () => {
    await using t = await startStack();
    await runWorkflow(t);
    const first = await t.collector();
    await waitFor(() => t.receiver.spansById().size === 9, { timeoutMs: 20_000, what: '9 spans' });
    await first.close();
    const before = [...t.receiver.spans].map((s) => `${s.traceId}/${s.spanId}/${s.name}`).sort();
    t.receiver.spans.length = 0;
    await t.collector({ TELEMETRY_GROUP: 'replay', TELEMETRY_CONSUMER: 'other' });
    await waitFor(() => t.receiver.spansById().size === 9, { timeoutMs: 20_000, what: '9 spans' });
    const after = [...t.receiver.spans].map((s) => `${s.traceId}/${s.spanId}/${s.name}`).sort();
    expect(after).toEqual(before);
  });

  it('failed jobs: error status with the failure on the attempt and the job; a lease that runs out is a stalled attempt', async () => {
    await using t = await startStack();
    const bad = await t.queue.submit({ service_required: 'svc' });
    await t.queue.claim(worker('w1'));
    t.clock.now += 10;
    await t.queue.fail(bad.id, 'w1', {
      retryable: false,
      failure_type: 'validation_error',
      failure_reason: 'invalid_input',
      message: 'prompt too long',
    });
    const stall = await t.queue.submit({ service_required: 'svc', max_attempts: 2 });
    await t.queue.claim(worker('w2'), { leaseMs: 1_000 });
    t.clock.now += 2_000;
    await t.queue.reapExpired();
    await t.queue.claim(worker('w3'), { leaseMs: 1_000 });
    t.clock.now += 2_000;
    await t.queue.reapExpired();
    await t.collector();
    await waitFor(() => t.receiver.spansById().size === 5, { timeoutMs: 20_000, what: '5 spans' });
    const spans = [...t.receiver.spansById().values()];

    const failed = byJob(spans, bad.id);
    expect(failed.job).toMatchObject({
      status: { code: 2, message: 'validation_error: invalid_input' },
      attributes: {
        'job.status': 'failed',
        'failure.type': 'validation_error',
        'failure.reason': 'invalid_input',
      },
    });
    expect(failed.attempts[0]).toMatchObject({
      status: { code: 2 },
      attributes: { 'attempt.outcome': 'failed', 'failure.reason': 'invalid_input' },
    });

    const stalled = byJob(spans, stall.id);
    expect(stalled.attempts.map((s) => s.attributes['attempt.outcome'])).toEqual([
      'stalled',
      'failed',
    ]);
    expect(stalled.attempts[0]).toMatchObject({
      status: { code: 2, message: 'lease expired' },
      attributes: { 'worker.id': 'w2', 'failure.reason': 'stalled' },
    });
    expect(stalled.job).toMatchObject({
      status: { code: 2 },
      attributes: { 'job.status': 'failed', 'failure.reason': 'stalled', 'job.attempt': 2 },
    });
    expect(stalled.job.events.map((e) => e.name)).toEqual(['job.stalled']);
  });
});
