import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type HrTime,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import {
  attemptSpanIdFor,
  jobSpanIdFor,
  traceIdFor,
  type EventType,
  type QueueEventOf,
} from '@jobgate/telemetry';

/** The fields of each event's `data` that span building reads (and a job's record keeps). */
interface UsedData {
  'job.received': 'service_required' | 'priority' | 'step' | 'unrunnable_reason';
  'job.claimed': 'worker_id';
  'job.progress': 'worker_id' | 'percent' | 'message';
  'job.completed': 'worker_id';
  'job.failed': 'worker_id' | 'failure';
  'job.retry_scheduled': 'worker_id' | 'failure' | 'delay_ms';
  'job.stalled': 'worker_id';
  'job.released': 'worker_id';
  'job.cancelled': 'worker_id';
}

/**
 * A job's events as recorded (from any collector instance), each with the machine of the
 * claiming worker when it was known at record time. A validated `QueueEvent` is one; a record
 * keeps only the `data` fields span building reads (`src/record.ts`).
 */
export type RecordedEvent = {
  [T in EventType]: Omit<QueueEventOf<T>, 'data'> & {
    data: Pick<QueueEventOf<T>['data'], UsedData[T]>;
    machine_id?: string;
  };
}[EventType];
type QueueEvent = RecordedEvent;

// The ids are shared with the services (a worker's own spans go under the job's span).
export { traceIdFor, jobSpanIdFor, attemptSpanIdFor };

/** `<ms>-<seq>` ids compared numerically (no allocation: it runs for every event of a job). */
export function compareEntryIds(a: string, b: string): number {
  if (a === b) return 0;
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  const am = ad < 0 ? a.length : ad;
  const bm = bd < 0 ? b.length : bd;
  if (am !== bm) return am - bm;
  for (let i = 0; i < am; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  // A missing sequence reads as 0.
  const as = ad < 0 ? 0 : a.length - ad - 1;
  const bs = bd < 0 ? 0 : b.length - bd - 1;
  const al = Math.max(as, 1);
  const bl = Math.max(bs, 1);
  if (al !== bl) return al - bl;
  for (let i = 0; i < al; i++) {
    const ac = as === 0 ? 48 : a.charCodeAt(ad + 1 + i);
    const bc = bs === 0 ? 48 : b.charCodeAt(bd + 1 + i);
    if (ac !== bc) return ac < bc ? -1 : 1;
  }
  return 0;
}

const hr = (ms: number): HrTime => [Math.floor(ms / 1_000), (ms % 1_000) * 1_000_000];

const ATTEMPT_END = new Set<QueueEvent['type']>([
  'job.completed',
  'job.failed',
  'job.retry_scheduled',
  'job.stalled',
  'job.released',
  'job.cancelled',
]);
const JOB_END = new Set<QueueEvent['type']>(['job.completed', 'job.failed', 'job.cancelled']);

export interface BuiltAttempt {
  claimEntryId: string;
  span: ReadableSpan;
  /** False while the attempt is still running (only exported by a forced close). */
  ended: boolean;
}

export interface BuiltJob {
  jobId: string;
  traceId: string;
  /** The job's terminal event has been recorded. */
  finished: boolean;
  /** The record lacks events a full trace needs (job.received, an attempt's claim). */
  partial: boolean;
  /** The job span's end (ms): the terminal event, or the last event while open. */
  endMs: number;
  service: string | undefined;
  status: string;
  job: ReadableSpan;
  attempts: BuiltAttempt[];
}

export interface SpanContextOptions {
  namespace: string;
  resource: Resource;
  scope: InstrumentationScope;
}

function makeSpan(fields: {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  events: TimedEvent[];
  status: { code: SpanStatusCode; message?: string };
  options: SpanContextOptions;
}): ReadableSpan {
  const endMs = Math.max(fields.endMs, fields.startMs);
  const context = {
    traceId: fields.traceId,
    spanId: fields.spanId,
    traceFlags: TraceFlags.SAMPLED,
  };
  return {
    name: fields.name,
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext:
      fields.parentSpanId === undefined
        ? undefined
        : { traceId: fields.traceId, spanId: fields.parentSpanId, traceFlags: TraceFlags.SAMPLED },
    startTime: hr(fields.startMs),
    endTime: hr(endMs),
    duration: hr(endMs - fields.startMs),
    status: fields.status,
    attributes: fields.attributes,
    links: [],
    events: fields.events,
    ended: true,
    resource: fields.options.resource,
    instrumentationScope: fields.options.scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function failureAttributes(event: RecordedEvent): Attributes {
  if (event.type !== 'job.failed' && event.type !== 'job.retry_scheduled') return {};
  const failure = event.data.failure;
  return {
    'failure.type': failure.failure_type,
    'failure.reason': failure.failure_reason,
    'failure.message': failure.message,
    'failure.retryable': failure.retryable,
  };
}

function defined(
  attributes: Record<string, string | number | boolean | undefined | null>,
): Attributes {
  const out: Attributes = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

/**
 * Trace ids of workflows (the jobs of one workflow share it): hashing once per workflow instead of
 * once per job. Bounded: cleared when full.
 */
const workflowTraceIds = new Map<string, string>();
const TRACE_ID_CACHE = 10_000;

function traceIdOf(namespace: string, event: RecordedEvent): string {
  if (event.workflow_id === null) return traceIdFor(namespace, event);
  const key = `${namespace}\0${event.customer_id ?? ''}\0${event.workflow_id}`;
  let id = workflowTraceIds.get(key);
  if (id === undefined) {
    id = traceIdFor(namespace, event);
    if (workflowTraceIds.size >= TRACE_ID_CACHE) workflowTraceIds.clear();
    workflowTraceIds.set(key, id);
  }
  return id;
}

/**
 * The spans of one job from its recorded events. `close` (a job open past the collector's limit)
 * ends the job span and any running attempt at the last event and marks them incomplete.
 */
export function buildJob(
  events: readonly RecordedEvent[],
  options: SpanContextOptions,
  close = false,
): BuiltJob | null {
  const sorted = [...events].sort((a, b) => compareEntryIds(a.event_id, b.event_id));
  const first = sorted[0];
  if (!first) return null;
  const jobId = first.job_id;
  const traceId = traceIdOf(options.namespace, first);
  const jobSpanId = jobSpanIdFor(options.namespace, jobId);
  const received = sorted.find((e) => e.type === 'job.received');
  const terminal = sorted.find((e) => JOB_END.has(e.type));
  const last = sorted[sorted.length - 1]!;
  const service = received?.type === 'job.received' ? received.data.service_required : undefined;
  const priority = received?.type === 'job.received' ? received.data.priority : undefined;
  let partial = !received;

  const common = defined({
    'job.id': jobId,
    'job.service': service,
    'job.priority': priority,
    'workflow.id': first.workflow_id,
    'customer.id': first.customer_id,
  });

  const attempts: BuiltAttempt[] = [];
  const jobEvents: TimedEvent[] = [];
  let lastWorker: string | undefined;
  let lastMachine: string | undefined;
  for (let i = 0; i < sorted.length; i++) {
    const event = sorted[i]!;
    if (
      event.type === 'job.retry_scheduled' ||
      event.type === 'job.stalled' ||
      event.type === 'job.released'
    ) {
      jobEvents.push({
        name: event.type,
        time: hr(event.timestamp),
        attributes: defined({
          'job.attempt': event.attempt,
          'worker.id': event.data.worker_id,
          ...(event.type === 'job.retry_scheduled'
            ? { ...failureAttributes(event), 'retry.delay_ms': event.data.delay_ms }
            : {}),
        }),
      });
    }
    if (event.type !== 'job.claimed') {
      // An attempt's end without its claim in the record: partial (the claim may be in flight
      // on another instance, or was trimmed from the stream before it was read).
      if (ATTEMPT_END.has(event.type) && event.type !== 'job.cancelled') {
        const claimed = sorted
          .slice(0, i)
          .some((e) => e.type === 'job.claimed' && e.attempt === event.attempt);
        if (!claimed) partial = true;
      }
      continue;
    }
    const end = sorted.slice(i + 1).find((e) => ATTEMPT_END.has(e.type));
    const nextClaim = sorted.slice(i + 1).find((e) => e.type === 'job.claimed');
    const endsHere =
      end && (!nextClaim || compareEntryIds(end.event_id, nextClaim.event_id) < 0)
        ? end
        : undefined;
    lastWorker = event.data.worker_id;
    lastMachine = event.machine_id;
    // Still running: nothing to export yet, unless the job is being closed or has ended without
    // this attempt's end in the record (filtered or trimmed).
    if (!endsHere && !close && !terminal) continue;
    const boundary = endsHere ?? nextClaim;
    const progress = sorted
      .slice(i + 1)
      .filter(
        (e) =>
          e.type === 'job.progress' &&
          (!boundary || compareEntryIds(e.event_id, boundary.event_id) < 0),
      );
    const failed =
      endsHere?.type === 'job.failed' ||
      endsHere?.type === 'job.retry_scheduled' ||
      endsHere?.type === 'job.stalled';
    const failure = endsHere ? failureAttributes(endsHere) : {};
    const stalledReason =
      // The values the library itself writes when the last attempt's lease runs out.
      endsHere?.type === 'job.stalled'
        ? { 'failure.type': 'TIMEOUT', 'failure.reason': 'stalled' }
        : {};
    const endMs = endsHere?.timestamp ?? (nextClaim ?? last).timestamp;
    attempts.push({
      claimEntryId: event.event_id,
      ended: endsHere !== undefined,
      span: makeSpan({
        name: `attempt ${event.attempt}`,
        traceId,
        spanId: attemptSpanIdFor(options.namespace, jobId, event.event_id),
        parentSpanId: jobSpanId,
        options,
        startMs: event.timestamp,
        endMs,
        attributes: {
          ...common,
          ...defined({
            'job.attempt': event.attempt,
            'worker.id': event.data.worker_id,
            'machine.id': event.machine_id,
            'attempt.outcome': endsHere ? endsHere.type.slice('job.'.length) : 'incomplete',
            'jobgate.incomplete': endsHere ? undefined : true,
          }),
          ...stalledReason,
          ...failure,
        },
        events: progress.map((p) => ({
          name: 'progress',
          time: hr(p.timestamp),
          attributes:
            p.type === 'job.progress'
              ? defined({ 'progress.percent': p.data.percent, 'progress.message': p.data.message })
              : {},
        })),
        status: failed
          ? {
              code: SpanStatusCode.ERROR,
              message:
                endsHere?.type === 'job.stalled'
                  ? 'lease expired'
                  : `${String(failure['failure.type'])}: ${String(failure['failure.reason'])}`,
            }
          : { code: SpanStatusCode.UNSET },
      }),
    });
  }

  const startMs = received?.timestamp ?? first.timestamp;
  const endEvent = terminal ?? last;
  const failedEnd = terminal?.type === 'job.failed' ? terminal : undefined;
  const failure = failedEnd ? failureAttributes(failedEnd) : {};
  const status = terminal ? terminal.type.slice('job.'.length) : close ? 'incomplete' : 'open';
  const job = makeSpan({
    name: `job ${service ?? 'unknown'}`,
    traceId,
    spanId: jobSpanId,
    options,
    startMs,
    endMs: endEvent.timestamp,
    attributes: {
      ...common,
      ...defined({
        'job.step': received?.type === 'job.received' ? received.data.step : undefined,
        'job.unrunnable_reason':
          received?.type === 'job.received' ? received.data.unrunnable_reason : undefined,
        'job.status': status,
        'job.attempt': endEvent.attempt,
        'worker.id': lastWorker,
        'machine.id': lastMachine,
        'jobgate.incomplete': terminal ? undefined : true,
        'jobgate.partial': partial ? true : undefined,
      }),
      ...failure,
    },
    events: jobEvents,
    status: failedEnd
      ? {
          code: SpanStatusCode.ERROR,
          message: `${String(failure['failure.type'])}: ${String(failure['failure.reason'])}`,
        }
      : { code: SpanStatusCode.UNSET },
  });
  return {
    jobId,
    traceId,
    finished: terminal !== undefined,
    partial,
    endMs: endEvent.timestamp,
    service,
    status,
    job,
    attempts,
  };
}
