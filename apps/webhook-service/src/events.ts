import { parseStreamEntry } from '@jobgate/telemetry/events';

/** One `{ns}:events` entry as the webhook service needs it. */
export interface QueueEvent {
  /** Stream entry id. */
  id: string;
  type: string;
  job_id: string;
  workflow_id: string | null;
  customer_id: string | null;
  attempt: number | null;
  timestamp: number;
  data: Record<string, unknown>;
}

/**
 * A stream entry through `@jobgate/telemetry`'s shared schemas. Returns null for an entry that is
 * malformed or of a type this version does not know (acknowledged and skipped, never retried).
 */
export function parseEvent(id: string, fields: string[]): QueueEvent | null {
  const parsed = parseStreamEntry(id, fields);
  if (!parsed.ok) return null;
  const e = parsed.event;
  return {
    id: e.event_id,
    type: e.type,
    job_id: e.job_id,
    workflow_id: e.workflow_id,
    customer_id: e.customer_id,
    attempt: e.attempt,
    timestamp: e.timestamp,
    data: e.data,
  };
}
