import { EVENT_TYPES } from '@jobgate/telemetry';
import type { RecordedEvent } from './spans.js';

/**
 * How a job's events are kept in its Redis record (`e:<entry id>` -> value): a JSON array of only
 * what span building reads, by position, instead of the whole event as a JSON object (a fifth of
 * the bytes to write, move and parse). The job id is the record's; the entry id is the field's.
 *
 * `[type, attempt, timestamp, workflow, customer, machine, ...by type]`, `null` for absent:
 * - received: service, priority, step, unrunnable reason
 * - claimed, completed, stalled, released, cancelled: worker
 * - progress: worker, percent, message
 * - failed: worker, failure type, failure reason, failure message, retryable
 * - retry_scheduled: the same as failed, then the delay
 *
 * The type is its index in `EVENT_TYPES` prefixed with a format version (`1`: 100 + index), so a
 * later format can be told apart. Records written before this format (a JSON object per event)
 * are still read.
 */
const FORMAT = 100;

type Value = string | number | boolean | null;

const orNull = (value: unknown): Value =>
  value === undefined ? null : (value as Exclude<Value, undefined>);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

export function encodeEvent(event: RecordedEvent): string {
  const head: Value[] = [
    FORMAT + EVENT_TYPES.indexOf(event.type),
    event.attempt,
    event.timestamp,
    event.workflow_id,
    event.customer_id,
    orNull(event.machine_id),
  ];
  switch (event.type) {
    case 'job.received':
      head.push(
        event.data.service_required,
        event.data.priority,
        orNull(event.data.step),
        orNull(event.data.unrunnable_reason),
      );
      break;
    case 'job.progress':
      head.push(event.data.worker_id, orNull(event.data.percent), orNull(event.data.message));
      break;
    case 'job.failed':
    case 'job.retry_scheduled': {
      const f = event.data.failure;
      head.push(event.data.worker_id, f.failure_type, f.failure_reason, f.message, f.retryable);
      if (event.type === 'job.retry_scheduled') head.push(event.data.delay_ms);
      break;
    }
    default:
      head.push(orNull(event.data.worker_id));
  }
  return JSON.stringify(head);
}

/**
 * One recorded value back into an event (null when unreadable: records are written by this
 * program from validated events, so only a hand edit makes one unreadable).
 */
export function decodeEvent(jobId: string, entryId: string, value: string): RecordedEvent | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) {
    // The format before the compact one: the event itself.
    const event = parsed as RecordedEvent | null;
    return event && typeof event === 'object' && typeof event.type === 'string' ? event : null;
  }
  const a = parsed as unknown[];
  const type = EVENT_TYPES[(a[0] as number) - FORMAT];
  if (type === undefined) return null;
  const machine = str(a[5]);
  const envelope = {
    event_id: entryId,
    job_id: jobId,
    attempt: (a[1] as number) ?? 0,
    timestamp: (a[2] as number) ?? 0,
    workflow_id: str(a[3]) ?? null,
    customer_id: str(a[4]) ?? null,
    ...(machine === undefined ? {} : { machine_id: machine }),
  };
  const worker = str(a[6]) ?? '';
  switch (type) {
    case 'job.received':
      return {
        ...envelope,
        type,
        data: {
          service_required: worker,
          priority: num(a[7]) ?? 0,
          step: num(a[8]),
          unrunnable_reason: str(a[9]),
        },
      };
    case 'job.progress':
      return {
        ...envelope,
        type,
        data: { worker_id: worker, percent: num(a[7]), message: str(a[8]) },
      };
    case 'job.failed':
    case 'job.retry_scheduled': {
      const failure = {
        failure_type: str(a[7]) ?? '',
        failure_reason: str(a[8]) ?? '',
        message: str(a[9]) ?? '',
        retryable: a[10] === true,
      };
      return type === 'job.failed'
        ? { ...envelope, type, data: { worker_id: worker, failure } }
        : {
            ...envelope,
            type,
            data: { worker_id: worker, failure, delay_ms: num(a[11]) ?? 0 },
          };
    }
    case 'job.cancelled':
      return { ...envelope, type, data: { worker_id: str(a[6]) } };
    default:
      return { ...envelope, type, data: { worker_id: worker } };
  }
}
