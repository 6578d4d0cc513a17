import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Meter,
  type Tracer,
} from '@opentelemetry/api';
import { redactSecrets, type Job } from '@jobgate/core';
import { jobSpanIdFor, traceIdFor } from '@jobgate/telemetry/setup';

/** The worker's own telemetry (from `@jobgate/telemetry/setup`), given only when it is exported. */
export interface WorkerTelemetry {
  tracer: Tracer;
  meter: Meter;
}

export type RunEnd = (outcome: 'completed' | 'failed' | 'dropped', error?: unknown) => void;

/**
 * One span per run of a job on this worker (`run <service>`), a child of the job's span in the
 * job's trace: the ids are the ones the telemetry collector gives the job (`@jobgate/telemetry`'s
 * `traceIdFor` / `jobSpanIdFor`), so a tracing tool shows the worker's run, and any span a
 * connector adds under it, inside the workflow's trace. Plus the histogram
 * `jobgate.worker.run.duration` (s) by service and outcome.
 */
export function runTracing(
  telemetry: WorkerTelemetry,
  ids: { namespace: string; workerId: string; machineId: string },
): (job: Job) => RunEnd {
  const duration = telemetry.meter.createHistogram('jobgate.worker.run.duration', {
    unit: 's',
    description: "A job's run on this worker, from claim to outcome",
  });
  return (job) => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: traceIdFor(ids.namespace, {
        job_id: job.id,
        workflow_id: job.workflow_id,
        customer_id: job.customer_id,
      }),
      spanId: jobSpanIdFor(ids.namespace, job.id),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const span = telemetry.tracer.startSpan(
      `run ${job.service_required}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'job.id': job.id,
          'job.service': job.service_required,
          'job.attempt': job.attempts,
          'worker.id': ids.workerId,
          'machine.id': ids.machineId,
          ...(job.workflow_id ? { 'workflow.id': job.workflow_id } : {}),
        },
      },
      parent,
    );
    const started = performance.now();
    return (outcome, error) => {
      span.setAttribute('job.run.outcome', outcome);
      if (outcome === 'failed') {
        const message = redactSecrets(
          error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        ).slice(0, 500);
        span.setStatus({ code: SpanStatusCode.ERROR, message });
      }
      span.end();
      duration.record((performance.now() - started) / 1_000, {
        'job.service': job.service_required,
        'job.run.outcome': outcome,
      });
    };
  };
}
