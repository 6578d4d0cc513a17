import { traceExporter, serviceResource } from '@jobgate/telemetry';
import { startOtlpReceiver } from '@jobgate/testkit';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ThreadSpanExporter } from '../../src/export-thread.js';
import { buildJob, type RecordedEvent } from '../../src/spans.js';

const resource = serviceResource({
  serviceName: 'jobgate-telemetry-collector',
  serviceVersion: '1.2.3',
  environment: 'test',
});
const options = { namespace: 'jq', resource, scope: { name: '@jobgate/telemetry-collector' } };
const base = { job_id: 'j1', workflow_id: 'wf', customer_id: 'acme' };
const ev = (id: string, type: string, attempt: number, timestamp: number, data: object) =>
  ({ ...base, event_id: id, type, attempt, timestamp, data }) as RecordedEvent;

/** A retried failure with progress, then success: errors, span events, attributes of each kind. */
function spans(): ReadableSpan[] {
  const built = buildJob(
    [
      ev('1-0', 'job.received', 0, 1_000, { service_required: 'gpu', priority: 3, step: 2 }),
      ev('2-0', 'job.claimed', 1, 2_000, { worker_id: 'w1' }),
      ev('2-1', 'job.progress', 1, 2_500, { worker_id: 'w1', percent: 50, message: 'half' }),
      ev('3-0', 'job.retry_scheduled', 1, 3_000, {
        worker_id: 'w1',
        failure: {
          failure_type: 'TIMEOUT',
          failure_reason: 'slow ünïcödé',
          message: 'm',
          retryable: true,
        },
        delay_ms: 100,
      }),
      ev('4-0', 'job.claimed', 2, 4_000, { worker_id: 'w2' }),
      ev('5-0', 'job.completed', 2, 5_123, { worker_id: 'w2' }),
    ],
    options,
  )!;
  return [...built.attempts.map((a) => a.span), built.job];
}

const exportWith = (exporter: SpanExporter, batch: ReadableSpan[]): Promise<ExportResult> =>
  new Promise((resolve) => exporter.export(batch, resolve));

describe('ThreadSpanExporter (the OTLP exporter on a worker thread)', () => {
  it('delivers exactly what the exporter on the main thread delivers', async () => {
    await using receiver = await startOtlpReceiver();
    const target = { endpoint: receiver.url, headers: { 'x-test': 'yes' }, timeoutMs: 2_000 };
    const direct = traceExporter(target);
    const threaded = new ThreadSpanExporter(target, resource);
    try {
      expect((await exportWith(direct, spans())).code).toBe(ExportResultCode.SUCCESS);
      const viaMain = receiver.spans.splice(0);
      expect((await exportWith(threaded, spans())).code).toBe(ExportResultCode.SUCCESS);
      const viaThread = receiver.spans.splice(0);
      expect(viaMain).toHaveLength(3);
      expect(viaThread).toEqual(viaMain);
      expect(receiver.requests.map((r) => r.headers['x-test'])).toEqual(['yes', 'yes']);
    } finally {
      await threaded.shutdown();
      await direct.shutdown();
    }
  });

  it('reports a failed export (backend refusing, then down) and recovers when it is back', async () => {
    await using receiver = await startOtlpReceiver();
    const threaded = new ThreadSpanExporter(
      { endpoint: receiver.url, headers: {}, timeoutMs: 2_000 },
      resource,
    );
    try {
      receiver.failWith(503);
      const refused = await exportWith(threaded, spans());
      expect(refused.code).toBe(ExportResultCode.FAILED);
      expect(refused.error).toBeInstanceOf(Error);
      receiver.healthy();
      await receiver.down();
      expect((await exportWith(threaded, spans())).code).toBe(ExportResultCode.FAILED);
      await receiver.up();
      expect((await exportWith(threaded, spans())).code).toBe(ExportResultCode.SUCCESS);
      expect(receiver.spans).toHaveLength(3);
    } finally {
      await threaded.shutdown();
    }
    expect((await exportWith(threaded, spans())).code).toBe(ExportResultCode.FAILED);
  });
});
