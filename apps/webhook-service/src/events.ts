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
 * The one place stream fields become an event: switching to `@jobgate/telemetry`'s schemas is a
 * change here only. Returns null for an entry that is not a job event (logged, acknowledged).
 */
export function parseEvent(id: string, fields: string[]): QueueEvent | null {
  const raw: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) raw[fields[i]!] = fields[i + 1]!;
  if (!raw.type || !raw.job_id) return null;
  let data: unknown;
  try {
    data = raw.data ? (JSON.parse(raw.data) as unknown) : {};
  } catch {
    data = {};
  }
  const num = (v: string | undefined): number | null =>
    v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  return {
    id,
    type: raw.type,
    job_id: raw.job_id,
    workflow_id: raw.workflow_id || null,
    customer_id: raw.customer_id || null,
    attempt: num(raw.attempt),
    timestamp: num(raw.timestamp) ?? Number(id.split('-')[0]),
    data:
      data !== null && typeof data === 'object' && !Array.isArray(data)
        ? (data as Record<string, unknown>)
        : {},
  };
}
