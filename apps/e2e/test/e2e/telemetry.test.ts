import {
  startOtlpReceiver,
  waitFor,
  type OtlpReceiver,
  type OtlpValue,
  type ReceivedSpan,
} from '@jobgate/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from '../../src/stack.js';

/**
 * The ADR's telemetry flow with every part a real process: jobs submitted through the API, run by
 * a worker, read off the event stream by the telemetry collector and exported over OTLP/HTTP to a
 * receiver on loopback that decodes the protobuf with the official OTLP definitions.
 */
let stack: Stack;
let receiver: OtlpReceiver;
let key: string;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The API and the worker export their own spans to the same receiver (one setting each).
  const own = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, DEPLOYMENT_ENVIRONMENT: 'test' };
  stack = await startStack({
    workers: 1,
    apiEnv: own,
    workerEnv: { MACHINE_ID: 'gpu-e2e-1', ...own },
  });
  await stack.startCollector(receiver.url);
  key = await stack.customer('acme');
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  await receiver?.close();
});

const text = (value: OtlpValue | undefined): string =>
  typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
const ms = (ns: bigint): number => Number(ns / 1_000_000n);

const collectorSpans = (spans: ReceivedSpan[]) =>
  spans.filter((s) => s.resource['service.name'] === 'jobgate-telemetry-collector');

/**
 * A trace as Jaeger's timeline shows it: spans in start order, children indented under their
 * parent, each with its name, outcome and the attributes an operator looks for.
 */
function timeline(spans: ReceivedSpan[]): string[] {
  const byParent = new Map<string, ReceivedSpan[]>();
  for (const span of spans)
    byParent.set(span.parentSpanId, [...(byParent.get(span.parentSpanId) ?? []), span]);
  const lines: string[] = [];
  const walk = (parent: string, depth: number): void => {
    const children = (byParent.get(parent) ?? []).sort((a, b) =>
      a.startTimeUnixNano === b.startTimeUnixNano
        ? 0
        : a.startTimeUnixNano < b.startTimeUnixNano
          ? -1
          : 1,
    );
    for (const span of children) {
      const a = span.attributes;
      const outcome = text(a['job.status'] ?? a['attempt.outcome']);
      const error = span.status.code === 2 ? ` ERROR ${span.status.message}` : '';
      const where = a['machine.id'] ? ` on ${text(a['worker.id'])}@${text(a['machine.id'])}` : '';
      const step = depth === 0 ? ` [step ${text(a['job.step'] ?? '-')}]` : '';
      lines.push(
        `${'  '.repeat(depth)}${span.name}${step} ${outcome}${error}${depth > 0 ? where : ''}`,
      );
      walk(span.spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines;
}

it('a workflow submitted through the API is one trace rooted at job.received: job spans, attempt child spans, attributes and timing', async () => {
  const submit = async (body: Record<string, unknown>): Promise<string> => {
    const { status, body: reply } = await stack.http('POST', '/api/jobs', key, body);
    expect(status, JSON.stringify(reply)).toBe(201);
    return reply.job.id as string;
  };
  const render = await submit({
    service_required: 'simulation',
    workflow_id: 'wf-otel',
    step: 1,
    priority: 5,
    payload: { duration_ms: 300, steps: 3 },
  });
  const upscale = await submit({
    service_required: 'simulation',
    workflow_id: 'wf-otel',
    step: 2,
    payload: {
      steps: 1,
      fail: { message: 'Rate limit reached for requests', http_status: 429, on_attempts: [1] },
    },
  });
  const solo = await submit({ service_required: 'simulation', payload: { steps: 1 } });
  const jobs: Record<string, any> = {};
  for (const id of [render, upscale, solo])
    jobs[id] = await stack.waitForJob(key, id, (job) => job.status === 'completed');

  // Every job span has arrived (a job span is exported with, or after, its attempts).
  const jobSpan = (id: string) =>
    receiver.spans.find((s) => s.attributes['job.id'] === id && s.parentSpanId === '');
  await waitFor(() => [render, upscale, solo].every((id) => jobSpan(id)), {
    timeoutMs: 20_000,
    what: 'the three job spans at the OTLP receiver',
  });

  // One trace for the workflow, another for the job without one.
  const traceId = jobSpan(render)!.traceId;
  expect(jobSpan(upscale)!.traceId).toBe(traceId);
  expect(jobSpan(solo)!.traceId).not.toBe(traceId);
  const everything = receiver.trace(traceId);
  const trace = collectorSpans(everything);
  expect(timeline(trace)).toEqual([
    'job simulation [step 1] completed',
    '  attempt 1 completed on ' + `${stack.namespace}-w1@gpu-e2e-1`,
    'job simulation [step 2] completed',
    '  attempt 1 retry_scheduled ERROR rate_limit: requests_per_minute' +
      ` on ${stack.namespace}-w1@gpu-e2e-1`,
    '  attempt 2 completed on ' + `${stack.namespace}-w1@gpu-e2e-1`,
  ]);
  // Each span exactly once.
  for (const span of trace) expect(receiver.copies().get(span.spanId)).toBe(1);

  // The render job: a root span from job.received to job.completed, as the API reports the job.
  const job = jobSpan(render)!;
  expect(job.parentSpanId).toBe('');
  expect(job.attributes).toMatchObject({
    'job.id': render,
    'job.service': 'simulation',
    'job.priority': 5,
    'job.step': 1,
    'workflow.id': 'wf-otel',
    'customer.id': 'acme',
    'job.status': 'completed',
    'job.attempt': 1,
    'worker.id': `${stack.namespace}-w1`,
    'machine.id': 'gpu-e2e-1',
  });
  expect(ms(job.startTimeUnixNano)).toBe(jobs[render].created_at);
  expect(ms(job.endTimeUnixNano)).toBe(jobs[render].finished_at);
  expect(job.resource).toMatchObject({
    'service.name': 'jobgate-telemetry-collector',
    'deployment.environment.name': 'test',
  });
  // Its attempt: a child span from the claim to the completion, with the progress reports.
  const [attempt] = trace.filter((s) => s.parentSpanId === job.spanId);
  expect(attempt!.traceId).toBe(traceId);
  expect(ms(attempt!.startTimeUnixNano)).toBe(jobs[render].claimed_at);
  expect(ms(attempt!.endTimeUnixNano)).toBe(jobs[render].finished_at);
  expect(attempt!.attributes).toMatchObject({ 'job.attempt': 1, 'attempt.outcome': 'completed' });
  expect(attempt!.events.length).toBeGreaterThanOrEqual(1);
  for (const progress of attempt!.events) {
    expect(progress.name).toBe('progress');
    expect(progress.attributes['progress.percent']).toBeGreaterThan(0);
    expect(progress.timeUnixNano).toBeGreaterThanOrEqual(attempt!.startTimeUnixNano);
    expect(progress.timeUnixNano).toBeLessThanOrEqual(attempt!.endTimeUnixNano);
  }

  // The retried job: the failed attempt carries the classified failure, the job span the retry.
  const retried = jobSpan(upscale)!;
  const [first, second] = trace
    .filter((s) => s.parentSpanId === retried.spanId)
    .sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
  expect(first!.attributes).toMatchObject({
    'job.attempt': 1,
    'attempt.outcome': 'retry_scheduled',
    'failure.type': 'rate_limit',
    'failure.retryable': true,
  });
  expect(first!.endTimeUnixNano).toBeLessThanOrEqual(second!.startTimeUnixNano);
  expect(ms(second!.startTimeUnixNano)).toBe(jobs[upscale].claimed_at);
  expect(ms(retried.endTimeUnixNano)).toBe(jobs[upscale].finished_at);
  expect(retried.status.code).toBe(0);
  expect(retried.events.map((e) => e.name)).toEqual(['job.retry_scheduled']);
  expect(retried.events[0]!.attributes).toMatchObject({ 'failure.type': 'rate_limit' });
});

it("the API's and the worker's own spans: a SERVER span per request, and the worker's run inside the job's trace", async () => {
  const { body } = await stack.http('POST', '/api/jobs', key, {
    service_required: 'simulation',
    workflow_id: 'wf-own-spans',
    payload: { steps: 1 },
  });
  const id = body.job.id as string;
  await stack.waitForJob(key, id, (job) => job.status === 'completed');
  const jobSpan = await waitFor(
    () =>
      receiver.spans.find(
        (s) =>
          s.attributes['job.id'] === id &&
          s.parentSpanId === '' &&
          s.resource['service.name'] === 'jobgate-telemetry-collector',
      ),
    { timeoutMs: 20_000, what: "the collector's job span" },
  );
  // The worker's BatchSpanProcessor exports within its 5 s schedule.
  const run = await waitFor(
    () =>
      receiver.spans.find(
        (s) => s.attributes['job.id'] === id && s.resource['service.name'] === 'jobgate-worker',
      ),
    { timeoutMs: 20_000, what: "the worker's run span" },
  );
  expect(run.name).toBe('run simulation');
  // In the workflow's trace, under the job's span: Jaeger shows it beside the attempt span.
  expect(run.traceId).toBe(jobSpan.traceId);
  expect(run.parentSpanId).toBe(jobSpan.spanId);
  expect(run.attributes).toMatchObject({
    'job.attempt': 1,
    'job.run.outcome': 'completed',
    'worker.id': `${stack.namespace}-w1`,
    'machine.id': 'gpu-e2e-1',
  });
  expect(run.resource).toMatchObject({ 'deployment.environment.name': 'test' });

  const request = await waitFor(
    () =>
      receiver.spans.find(
        (s) => s.resource['service.name'] === 'jobgate-api' && s.name === 'POST /api/jobs',
      ),
    { timeoutMs: 20_000, what: "the API's request span" },
  );
  expect(request.kind).toBe(2); // SERVER
  expect(request.attributes).toMatchObject({
    'http.request.method': 'POST',
    'http.route': '/api/jobs',
    'http.response.status_code': 201,
  });
  expect(request.resource).toMatchObject({ 'deployment.environment.name': 'test' });
});
