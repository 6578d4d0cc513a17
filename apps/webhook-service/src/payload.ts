import type { Job } from '@jobgate/core';
import type { QueueEvent } from './events.js';

const STATUS_AFTER: Record<string, string> = {
  'job.received': 'pending',
  'job.claimed': 'active',
  'job.progress': 'active',
  'job.retry_scheduled': 'pending',
  'job.stalled': 'pending',
  'job.released': 'pending',
  'job.completed': 'completed',
  'job.failed': 'failed',
  'job.cancelled': 'cancelled',
};

export const TERMINAL_EVENTS = new Set(['job.completed', 'job.failed', 'job.cancelled']);

function failureOf(value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const f = value as Record<string, unknown>;
  // Core stores the message already redacted; nothing else of the worker's error leaves.
  return {
    type: f.failure_type ?? null,
    reason: f.failure_reason ?? null,
    message: f.message ?? null,
    retryable: f.retryable ?? null,
  };
}

/**
 * The body customers receive: `{type, timestamp, data}` with the job's public fields. Built from
 * the event (and, for a finished job, the job record for its result); worker ids and the
 * customer id are not sent.
 */
export function buildPayload(event: QueueEvent, job: Job | null): string {
  const d = event.data;
  const data: Record<string, unknown> = {
    job_id: event.job_id,
    workflow_id: event.workflow_id,
    status: STATUS_AFTER[event.type] ?? null,
    attempt: event.attempt,
  };
  switch (event.type) {
    case 'job.received':
      data.service = d.service_required ?? null;
      data.priority = d.priority ?? null;
      data.step = d.step ?? null;
      break;
    case 'job.progress':
      data.progress = { percent: d.percent ?? null, message: d.message ?? null };
      break;
    case 'job.retry_scheduled':
      data.retry_at = typeof d.retry_at === 'number' ? new Date(d.retry_at).toISOString() : null;
      data.failure = failureOf(d.failure) ?? null;
      break;
    case 'job.failed':
      data.failure = failureOf(d.failure) ?? failureOf(job?.last_failure) ?? null;
      break;
    case 'job.completed':
      data.duration_ms = d.duration_ms ?? null;
      break;
    default:
      break;
  }
  if (job && TERMINAL_EVENTS.has(event.type)) {
    data.service = job.service_required;
    data.step = job.step;
    data.max_attempts = job.max_attempts;
    data.created_at = new Date(job.created_at).toISOString();
    data.finished_at = job.finished_at === null ? null : new Date(job.finished_at).toISOString();
    if (event.type === 'job.completed') data.result = job.result ?? null;
  }
  return JSON.stringify({
    type: event.type,
    timestamp: new Date(event.timestamp).toISOString(),
    data,
  });
}
