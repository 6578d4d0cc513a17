export type JobStatus = 'pending' | 'active' | 'completed' | 'failed' | 'cancelled';
export const JOB_STATUSES = [
  'pending',
  'active',
  'completed',
  'failed',
  'cancelled',
] as const satisfies readonly JobStatus[];

/** A custom capability value: arrays mean "has every item", numbers "at least", else equality. */
export type CapabilityValue = string | number | boolean | ReadonlyArray<string | number | boolean>;

export interface HardwareRequirements {
  gpu_memory_gb?: number;
  cpu_cores?: number;
  ram_gb?: number;
  [name: string]: number | undefined;
}

/**
 * Requirement names with a meaning of their own; every other name is a custom capability. The
 * Lua library's `KNOWN` table holds the same names (pinned by `contract.test.ts`).
 */
export const RESERVED_REQUIREMENT_NAMES = [
  'hardware',
  'models',
  'customer_isolation',
  'not',
] as const;

export interface Requirements {
  hardware?: HardwareRequirements;
  models?: string[];
  customer_isolation?: 'strict' | 'loose' | 'none';
  /** Negative requirements: the job never runs on a worker whose capability matches one of these. */
  not?: Record<string, CapabilityValue>;
  [custom: string]: unknown;
}

export interface SubmitInput {
  /** Optional id: submitting an id that exists returns it with `created: false` (idempotent). */
  id?: string;
  service_required: string;
  /** Higher runs first; a safe integer. Default 0. */
  priority?: number;
  payload?: unknown;
  customer_id?: string;
  workflow_id?: string;
  step?: number;
  max_attempts?: number;
  requirements?: Requirements;
}

export interface CustomerAccess {
  isolation: 'strict' | 'loose' | 'none';
  allowed_customers?: string[];
  denied_customers?: string[];
}

export interface WorkerSpec {
  worker_id: string;
  services: string[];
  hardware?: Record<string, number>;
  /** Models the worker has, per service. */
  models?: Record<string, string[]>;
  customer_access?: CustomerAccess;
  /** A worker pinned to a workflow takes only that workflow's jobs. */
  workflow_id?: string;
  capabilities?: Record<string, CapabilityValue>;
}

export interface FailureInput {
  retryable: boolean;
  failure_type: string;
  failure_reason: string;
  /** Stored and emitted as given: redact secrets before calling fail(). */
  message: string;
  /** Wait at least this long before the retry (e.g. an upstream's Retry-After). */
  retry_after_ms?: number;
}

export interface JobFailure {
  failure_type: string;
  failure_reason: string;
  message: string;
  retryable: boolean;
  retry_after_ms?: number;
}

export interface JobProgress {
  percent: number | null;
  message: string | null;
}

export interface Job {
  id: string;
  service_required: string;
  priority: number;
  payload: unknown;
  requirements: Requirements;
  customer_id: string | null;
  workflow_id: string | null;
  step: number | null;
  status: JobStatus;
  /** Claims so far; the attempt in progress when active. */
  attempts: number;
  max_attempts: number;
  worker_id: string | null;
  created_at: number;
  claimed_at: number | null;
  lease_expires_at: number | null;
  finished_at: number | null;
  /** When a pending job waits out a retry backoff: the time it becomes claimable again. */
  run_at: number | null;
  result: unknown;
  last_failure: JobFailure | null;
  progress: JobProgress | null;
  /** Set when the requirements are malformed: the job stays pending and no worker will claim it. */
  unrunnable_reason: string | null;
}

export type EventType =
  | 'job.received'
  | 'job.claimed'
  | 'job.progress'
  | 'job.retry_scheduled'
  | 'job.stalled'
  /** A worker shutting down handed the job back (`data.reason: 'shutdown'`); the attempt is not counted. */
  | 'job.released'
  | 'job.completed'
  | 'job.failed'
  | 'job.cancelled';

export interface QueueEvent {
  /** The stream entry id in `{ns}:events`. */
  event_id: string;
  type: EventType;
  job_id: string;
  workflow_id: string | null;
  customer_id: string | null;
  attempt: number;
  timestamp: number;
  data: Record<string, unknown>;
}

export interface QueueCounts {
  pending: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Pending jobs waiting out a retry backoff (included in `pending`). */
  delayed: number;
  /** Pending jobs with malformed requirements (included in `pending`). */
  unrunnable: number;
  /** Claimable-now pending jobs per service. */
  by_service: Record<string, number>;
}

export interface ListFilter {
  status?: JobStatus;
  workflow_id?: string;
  customer_id?: string;
  /** From a previous page's `cursor`. */
  cursor?: string | null;
  /** Default 50, at most 1 000. */
  limit?: number;
}

export interface ListPage {
  /** Newest first. */
  jobs: Job[];
  /** Pass to the next call; null when there are no more jobs. */
  cursor: string | null;
}
