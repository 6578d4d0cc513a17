import * as crypto from 'node:crypto';

// One-shot hashing (`crypto.hash`, Node >= 20.12) needs no Hash object per id; the telemetry
// collector derives three per job. Older Node 20 releases (the engines range) get createHash.
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' // absent before Node 20.12
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

// Trace and span ids derived from the job's identity, so every process names the same trace:
// the telemetry collector (job and attempt spans from the event stream), and a worker or service
// that wants its own spans to appear under a job's span.

function digest(parts: string[], bytes: number): string {
  const out = sha256Hex(parts.join('\0')).slice(0, bytes * 2);
  // The all-zero id is invalid in OTLP; a SHA-256 prefix is never that in practice, but be exact.
  return /^0+$/.test(out) ? `${out.slice(0, -1)}1` : out;
}

/**
 * A workflow is one trace, per customer (workflow ids are chosen by customers and may collide);
 * a job without a workflow is its own trace. The same inputs give the same id in every instance
 * and after every restart.
 */
export function traceIdFor(
  namespace: string,
  job: { job_id: string; workflow_id: string | null; customer_id: string | null },
): string {
  return job.workflow_id === null
    ? digest(['jobgate.trace.job', namespace, job.job_id], 16)
    : digest(['jobgate.trace.workflow', namespace, job.customer_id ?? '', job.workflow_id], 16);
}

/** The job's span (from `job.received` to its terminal event). */
export function jobSpanIdFor(namespace: string, jobId: string): string {
  return digest(['jobgate.span.job', namespace, jobId], 8);
}

/**
 * One attempt = one claim. Keyed by the claim's stream entry id, not the attempt number: a job
 * handed back on shutdown is claimed again with the same attempt number.
 */
export function attemptSpanIdFor(namespace: string, jobId: string, claimEntryId: string): string {
  return digest(['jobgate.span.attempt', namespace, jobId, claimEntryId], 8);
}
