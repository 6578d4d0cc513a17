/** Event types an endpoint may subscribe to (`*` means all of them). */
export const WEBHOOK_EVENT_TYPES = [
  'job.received',
  'job.claimed',
  'job.progress',
  'job.retry_scheduled',
  'job.stalled',
  'job.released',
  'job.completed',
  'job.failed',
  'job.cancelled',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent by `POST /api/webhooks/:id/test`, whatever the endpoint subscribes to. */
export const TEST_EVENT_TYPE = 'webhook.test';

export interface EndpointRecord {
  id: string;
  customer_id: string;
  url: string;
  events: string[];
  description: string;
  workflow_id: string | null;
  status: 'enabled' | 'disabled';
  disabled_reason: string | null;
  disabled_at: number | null;
  secret: string;
  /** The secret being rotated out: it still signs, as a second signature, until `previous_secret_expires_at`. */
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
  /** Start of the current run of failed attempts; null after a success. */
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptRecord {
  at: number;
  status_code: number | null;
  error: string | null;
  latency_ms: number;
  outcome: 'succeeded' | 'retry' | 'failed' | 'dead' | 'disabled';
}

export type DeliveryStatus = 'pending' | 'delivering' | 'succeeded' | 'failed' | 'dead';

export interface DeliveryRecord {
  /** The Standard Webhooks message id (`webhook-id`), the same on every attempt. */
  id: string;
  endpoint_id: string;
  customer_id: string;
  event_type: string;
  job_id: string | null;
  /** The `{ns}:events` entry it came from (null for test events). */
  event_id: string | null;
  /** `<endpoint>|<job>`: deliveries with the same key are sent one at a time, in order. */
  order_key: string;
  /** The exact body sent (signatures cover these bytes). */
  body: string;
  created_at: number;
  status: DeliveryStatus;
  attempts: number;
  /** Attempts since the delivery was (re)queued; indexes the retry schedule. */
  round_attempts: number;
  next_attempt_at: number | null;
  claim: string | null;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  last_attempt_at: number | null;
  finished_at: number | null;
  attempt_log: AttemptRecord[];
}

export function parseDelivery(raw: string): DeliveryRecord {
  const d = JSON.parse(raw) as DeliveryRecord;
  if (!Array.isArray(d.attempt_log)) d.attempt_log = [];
  return d;
}

export function parseEndpoint(raw: string): EndpointRecord {
  const e = JSON.parse(raw) as EndpointRecord;
  if (!Array.isArray(e.events)) e.events = [];
  return e;
}

/** The secrets that sign now: the current one, and a rotated-out one for its grace period. */
export function activeSecrets(endpoint: EndpointRecord, now: number): string[] {
  const out = [endpoint.secret];
  if (
    endpoint.previous_secret &&
    endpoint.previous_secret_expires_at !== null &&
    endpoint.previous_secret_expires_at > now
  ) {
    out.push(endpoint.previous_secret);
  }
  return out;
}

export function subscribes(endpoint: EndpointRecord, type: string): boolean {
  return endpoint.events.includes('*') || endpoint.events.includes(type);
}
