import { z } from 'zod';
import {
  EVENT_TYPES,
  eventSchemas,
  isEventType,
  type EventType,
  type QueueEvent,
} from './events.js';
import { fastParseEvent } from './fast-parse.js';

/** Why an entry was not turned into an event. */
export type DropReason = 'malformed' | 'unknown_type';

export type ParseResult =
  | { ok: true; event: QueueEvent }
  | {
      ok: false;
      reason: DropReason;
      /** The stream entry id, so an operator can look at the entry with XRANGE. */
      entryId: string;
      /** What was wrong, naming the field (never the field's value: payload-free but still customer data). */
      error: string;
    };

/** ioredis hands stream entries as a flat `[field, value, ...]` list. */
export type StreamFields = readonly string[] | Readonly<Record<string, string>>;

const INTEGER = /^\d{1,16}$/;

const integer = (value: string | undefined): number | string | undefined =>
  value !== undefined && INTEGER.test(value) ? Number(value) : value;

function fieldMap(fields: StreamFields): Record<string, string> {
  if (!Array.isArray(fields)) return { ...(fields as Record<string, string>) };
  const list = fields as readonly unknown[];
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) {
    const key = list[i];
    const value = list[i + 1];
    if (typeof key === 'string' && typeof value === 'string' && !(key in map)) map[key] = value;
  }
  return map;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(entry)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Turns one `{ns}:events` entry into a validated event. Never throws: an entry with missing fields,
 * wrong types or bad JSON is `malformed`, a type this version does not know is `unknown_type`.
 * Empty `workflow_id` / `customer_id` (how Lua writes "none") become null.
 */
export function parseStreamEntry(entryId: string, fields: StreamFields): ParseResult {
  const drop = (reason: DropReason, error: string): ParseResult => ({
    ok: false,
    reason,
    entryId: String(entryId),
    error,
  });
  try {
    const raw = fieldMap(fields);
    if (raw.type === undefined) return drop('malformed', 'type: missing');
    if (!isEventType(raw.type)) return drop('unknown_type', `type: unknown event type`);
    let data: unknown;
    if (raw.data === undefined) return drop('malformed', 'data: missing');
    try {
      data = JSON.parse(raw.data) as unknown;
    } catch {
      return drop('malformed', 'data: not valid JSON');
    }
    const candidate = {
      event_id: entryId,
      type: raw.type,
      job_id: raw.job_id,
      workflow_id: raw.workflow_id === '' ? null : raw.workflow_id,
      customer_id: raw.customer_id === '' ? null : raw.customer_id,
      attempt: integer(raw.attempt),
      timestamp: integer(raw.timestamp),
      data,
    };
    // The hand-written checks first (no copy); zod, the schema of record, decides the rest and
    // names what is wrong.
    const fast = fastParseEvent(raw.type, candidate);
    if (fast) return { ok: true, event: fast };
    const parsed = eventSchemas[raw.type].safeParse(candidate);
    if (!parsed.success) return drop('malformed', describe(parsed.error));
    return { ok: true, event: parsed.data as QueueEvent };
  } catch (error) {
    return drop('malformed', error instanceof Error ? error.message : 'unreadable entry');
  }
}

/** Which events a reader wants; everything when a list is absent. */
export interface EventFilter {
  types?: readonly EventType[];
  /** Only these customers' events (events without a customer are excluded when this is set). */
  customers?: readonly string[];
  /** Never these customers' events. */
  excludeCustomers?: readonly string[];
}

/** Validates a filter from configuration: an unknown type name is an error naming it. */
export const eventFilterSchema = z.strictObject({
  types: z
    .array(
      z.string().refine(isEventType, {
        error: (issue) =>
          `unknown event type ${JSON.stringify(issue.input)}; known: ${EVENT_TYPES.join(', ')}`,
      }),
    )
    .optional(),
  customers: z.array(z.string().min(1)).optional(),
  excludeCustomers: z.array(z.string().min(1)).optional(),
});

/**
 * A comma-separated list from an environment variable -> array, `undefined` for unset or blank,
 * so `TELEMETRY_EVENT_TYPES=""` means "no filter", not "nothing".
 */
export function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  return items.length > 0 ? items : undefined;
}

export function matchesFilter(event: QueueEvent, filter: EventFilter): boolean {
  if (filter.types && !filter.types.includes(event.type)) return false;
  if (
    filter.customers &&
    (event.customer_id === null || !filter.customers.includes(event.customer_id))
  )
    return false;
  if (
    filter.excludeCustomers &&
    event.customer_id !== null &&
    filter.excludeCustomers.includes(event.customer_id)
  )
    return false;
  return true;
}

export interface DecoderCounts {
  /** Entries that parsed and passed the filter. */
  accepted: number;
  /** Valid events the filter left out. */
  filtered: number;
  dropped: Record<DropReason, number>;
  /** Dropped entries per (reported) event type, `(none)` when there was no type field. */
  droppedByType: Record<string, number>;
}

export interface EventDecoderOptions {
  filter?: EventFilter;
  /** Called for every dropped entry (log it; the decoder has already counted it). */
  onDrop?: (drop: Extract<ParseResult, { ok: false }>) => void;
}

/**
 * What every reader of the stream uses: parse, count what was dropped and why, apply the filter.
 * `decode` returns null for anything the reader should skip (and ack, for a consumer group:
 * a malformed entry never becomes valid by being read again).
 */
export class EventDecoder {
  readonly counts: DecoderCounts = {
    accepted: 0,
    filtered: 0,
    dropped: { malformed: 0, unknown_type: 0 },
    droppedByType: {},
  };
  private readonly filter: EventFilter | undefined;
  private readonly onDrop: EventDecoderOptions['onDrop'];

  constructor(options: EventDecoderOptions = {}) {
    const filter = options.filter;
    this.filter =
      filter && (filter.types || filter.customers || filter.excludeCustomers) ? filter : undefined;
    this.onDrop = options.onDrop;
  }

  decode(entryId: string, fields: StreamFields): QueueEvent | null {
    const result = parseStreamEntry(entryId, fields);
    if (!result.ok) {
      this.counts.dropped[result.reason]++;
      const type = fieldMap(fields).type;
      let key = type === undefined ? '(none)' : type.slice(0, 64);
      // Types come from the stream: cap how many distinct ones are kept, so junk cannot grow this.
      if (
        !(key in this.counts.droppedByType) &&
        Object.keys(this.counts.droppedByType).length >= 32
      )
        key = '(other)';
      this.counts.droppedByType[key] = (this.counts.droppedByType[key] ?? 0) + 1;
      try {
        this.onDrop?.(result);
      } catch {
        // A logging hook must not turn a dropped entry into a crashed reader.
      }
      return null;
    }
    if (this.filter && !matchesFilter(result.event, this.filter)) {
      this.counts.filtered++;
      return null;
    }
    this.counts.accepted++;
    return result.event;
  }

  get droppedTotal(): number {
    return this.counts.dropped.malformed + this.counts.dropped.unknown_type;
  }
}
