import { z } from 'zod';

/**
 * The event types the queue's Lua library appends to `{ns}:events`, one per job transition.
 * `test/integration/lua-events.test.ts` runs every one of them through real Redis and checks
 * each entry against the schemas below, field by field.
 */
export const EVENT_TYPES = [
  'job.received',
  'job.claimed',
  'job.progress',
  'job.completed',
  'job.failed',
  'job.retry_scheduled',
  'job.stalled',
  'job.released',
  'job.cancelled',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Events after which the job never changes again. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<EventType> = new Set([
  'job.completed',
  'job.failed',
  'job.cancelled',
]);

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

const ms = z.number().int().nonnegative();
const id = z.string().min(1);

/** What a worker reported through `fail()`, or the library's own for a lease that ran out. */
export const failureSchema = z.looseObject({
  failure_type: z.string(),
  failure_reason: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  retry_after_ms: ms.optional(),
});

/**
 * The `data` of each event type, as the Lua library writes it. Runtime parsing keeps fields it does
 * not know (a newer library may add some; readers must not drop every event when it does); the
 * pinning test checks these shapes strictly, so a field added or renamed in Lua fails there first.
 */
export const eventDataShapes = {
  'job.received': {
    service_required: id,
    /** Lua keeps the submit's ARGV text, so the stream holds a decimal string; read as a number. */
    priority: z.union([
      z.number().int(),
      z
        .string()
        .regex(/^-?\d{1,16}$/)
        .transform(Number),
    ]),
    step: z.number().int().optional(),
    /** Set when the requirements are malformed: the job stays pending, no worker claims it. */
    unrunnable_reason: z.string().optional(),
  },
  'job.claimed': {
    worker_id: id,
    lease_expires_at: ms,
  },
  'job.progress': {
    worker_id: id,
    percent: z.number().optional(),
    message: z.string().optional(),
  },
  'job.completed': {
    worker_id: id,
    /** From this attempt's claim to completion. */
    duration_ms: ms,
  },
  'job.failed': {
    /** The holder of the failed attempt. */
    worker_id: id,
    failure: failureSchema,
    /** Written by `fail()`: true when a retryable failure ran out of attempts. */
    retries_exhausted: z.boolean().optional(),
    /** Written by the reaper: the last attempt's lease ran out (`failure_reason: 'stalled'`). */
    stalled: z.literal(true).optional(),
    lease_expired_at: ms.optional(),
  },
  'job.retry_scheduled': {
    worker_id: id,
    failure: failureSchema,
    delay_ms: ms,
    /** When the job becomes claimable again. */
    retry_at: ms,
  },
  'job.stalled': {
    /** The worker whose lease ran out; the job is pending again for another attempt. */
    worker_id: id,
    requeued: z.literal(true),
    lease_expired_at: ms,
  },
  'job.released': {
    reason: z.literal('shutdown'),
    worker_id: id,
  },
  'job.cancelled': {
    previous_status: z.enum(['pending', 'active']),
    /** The holder when an active job was cancelled. */
    worker_id: id.optional(),
  },
} as const satisfies Record<EventType, z.ZodRawShape>;

type Shapes = typeof eventDataShapes;

function envelope<T extends EventType>(type: T, data: z.ZodType) {
  return z.object({
    /** The stream entry id: `<ms>-<seq>`. */
    event_id: z.string().regex(/^\d+-\d+$/),
    type: z.literal(type),
    job_id: id,
    workflow_id: id.nullable(),
    customer_id: id.nullable(),
    /** The attempt the event is about (0 before the first claim). */
    attempt: ms,
    /** The queue client's clock when the transition happened (ms since the epoch). */
    timestamp: ms,
    data,
  });
}

function schemasWith<S extends 'loose' | 'strict'>(mode: S) {
  const make = <T extends EventType>(type: T) =>
    envelope(
      type,
      mode === 'loose'
        ? z.looseObject(eventDataShapes[type])
        : z.strictObject(eventDataShapes[type]),
    );
  return {
    'job.received': make('job.received'),
    'job.claimed': make('job.claimed'),
    'job.progress': make('job.progress'),
    'job.completed': make('job.completed'),
    'job.failed': make('job.failed'),
    'job.retry_scheduled': make('job.retry_scheduled'),
    'job.stalled': make('job.stalled'),
    'job.released': make('job.released'),
    'job.cancelled': make('job.cancelled'),
  };
}

/** One schema per event type; `data` keeps fields it does not know. */
export const eventSchemas = schemasWith('loose');

/** The same schemas refusing any field they do not name (for tests that pin the format). */
export const strictEventSchemas = schemasWith('strict');

export const queueEventSchema = z.discriminatedUnion('type', [
  eventSchemas['job.received'],
  eventSchemas['job.claimed'],
  eventSchemas['job.progress'],
  eventSchemas['job.completed'],
  eventSchemas['job.failed'],
  eventSchemas['job.retry_scheduled'],
  eventSchemas['job.stalled'],
  eventSchemas['job.released'],
  eventSchemas['job.cancelled'],
]);

type DataOf<T extends EventType> = z.infer<z.ZodObject<Shapes[T]>> & Record<string, unknown>;

/** One validated event of `{ns}:events`. */
export type QueueEventOf<T extends EventType> = {
  event_id: string;
  type: T;
  job_id: string;
  workflow_id: string | null;
  customer_id: string | null;
  attempt: number;
  timestamp: number;
  data: DataOf<T>;
};

export type QueueEvent = { [T in EventType]: QueueEventOf<T> }[EventType];

export type JobFailure = z.infer<typeof failureSchema>;
