import type { EventType, QueueEvent } from './events.js';

/**
 * The hot path of `parseStreamEntry`: the same checks as `eventSchemas` (zod, the schema of
 * record), written out by hand, without zod's copy of every object. A candidate that passes is
 * returned as it is (its `data` is the object `JSON.parse` just made, so nothing else holds it;
 * the one transform of the schemas, a received event's decimal-string priority, is applied in
 * place). Anything else returns undefined and zod decides, with its error naming the field, so
 * this path can only be faster, never different: `fast-parse.test.ts` pins, over generated valid
 * and mutated events, that it accepts exactly what zod accepts, with the same output.
 */

const ENTRY_ID = /^\d+-\d+$/;
const PRIORITY_TEXT = /^-?\d{1,16}$/;

type Obj = Record<string, unknown>;

/** `z.object` / `z.looseObject` input: an object, not an array or null. */
function isObject(value: unknown): value is Obj {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    // zod's copy drops an own `__proto__` key (JSON.parse makes one); leave that rare case to zod.
    !Object.prototype.hasOwnProperty.call(value, '__proto__')
  );
}
/** `z.string().min(1)` */
const isId = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
/** `z.number().int()`: zod 4's int is a safe integer. */
const isInt = (v: unknown): boolean => Number.isSafeInteger(v);
/** `z.number().int().nonnegative()` */
const isMs = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
/** `z.number()`: finite. */
const isNumber = (v: unknown): boolean => Number.isFinite(v);
const optional = (v: unknown, check: (v: unknown) => boolean): boolean =>
  v === undefined || check(v);

function isFailure(v: unknown): boolean {
  return (
    isObject(v) &&
    typeof v.failure_type === 'string' &&
    typeof v.failure_reason === 'string' &&
    typeof v.message === 'string' &&
    typeof v.retryable === 'boolean' &&
    optional(v.retry_after_ms, isMs)
  );
}

/** Each type's `data` check (`eventDataShapes`, loose: fields not named are kept). */
function validData(type: EventType, d: Obj): boolean {
  switch (type) {
    case 'job.received': {
      if (!isId(d.service_required)) return false;
      if (!optional(d.step, isInt) || !optional(d.unrunnable_reason, (v) => typeof v === 'string'))
        return false;
      const p = d.priority;
      if (isInt(p)) return true;
      if (typeof p === 'string' && PRIORITY_TEXT.test(p)) {
        d.priority = Number(p);
        return true;
      }
      return false;
    }
    case 'job.claimed':
      return isId(d.worker_id) && isMs(d.lease_expires_at);
    case 'job.progress':
      return (
        isId(d.worker_id) &&
        optional(d.percent, isNumber) &&
        optional(d.message, (v) => typeof v === 'string')
      );
    case 'job.completed':
      return isId(d.worker_id) && isMs(d.duration_ms);
    case 'job.failed':
      return (
        isId(d.worker_id) &&
        isFailure(d.failure) &&
        optional(d.retries_exhausted, (v) => typeof v === 'boolean') &&
        optional(d.stalled, (v) => v === true) &&
        optional(d.lease_expired_at, isMs)
      );
    case 'job.retry_scheduled':
      return isId(d.worker_id) && isFailure(d.failure) && isMs(d.delay_ms) && isMs(d.retry_at);
    case 'job.stalled':
      return isId(d.worker_id) && d.requeued === true && isMs(d.lease_expired_at);
    case 'job.released':
      return d.reason === 'shutdown' && isId(d.worker_id);
    case 'job.cancelled':
      return (
        (d.previous_status === 'pending' || d.previous_status === 'active') &&
        optional(d.worker_id, isId)
      );
    default:
      return false;
  }
}

/**
 * The candidate `parseStreamEntry` builds (envelope fields already converted) as a validated
 * event, or undefined when zod has to decide (it is invalid, or an unusual case left to zod).
 * May convert `data.priority` in place, as the schema's transform would.
 */
export function fastParseEvent(type: EventType, candidate: Obj): QueueEvent | undefined {
  const c = candidate;
  if (
    c.type !== type ||
    typeof c.event_id !== 'string' ||
    !ENTRY_ID.test(c.event_id) ||
    !isId(c.job_id) ||
    !(c.workflow_id === null || isId(c.workflow_id)) ||
    !(c.customer_id === null || isId(c.customer_id)) ||
    !isMs(c.attempt) ||
    !isMs(c.timestamp)
  )
    return undefined;
  const data = c.data;
  if (!isObject(data)) return undefined;
  // The priority check converts in place only once everything before it passed; a later failure
  // of the same type cannot happen (received checks it last), so zod never sees a converted one.
  if (!validData(type, data)) return undefined;
  // z.object strips keys it does not name: the candidate has exactly the envelope's keys.
  return c as unknown as QueueEvent;
}
