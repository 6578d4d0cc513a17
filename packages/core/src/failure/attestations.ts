import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { redactSecrets } from './redact.js';
import { FailureReason, FailureType } from './types.js';

/**
 * A durable record of one failed attempt: what failed, where, how it was classified and what was
 * decided. Written by the worker before it reports the failure to the queue, so a job's history
 * survives the job's own record being trimmed.
 */
export const attestationSchema = z.object({
  attestation_id: z.string().min(1),
  job_id: z.string().min(1),
  workflow_id: z.string().min(1).nullable(),
  step: z.number().int().nonnegative().nullable(),
  attempt: z.number().int().positive(),
  max_attempts: z.number().int().positive(),
  worker_id: z.string().min(1),
  machine_id: z.string().min(1),
  service_type: z.string().min(1),
  customer_id: z.string().nullable(),
  failure_type: z.enum(FailureType),
  failure_reason: z.enum(FailureReason),
  failure_description: z.string(),
  /** The raw error message, redacted and capped; the description is the readable form. */
  message: z.string(),
  retryable: z.boolean(),
  decision: z.enum(['retry', 'fail']),
  decision_reason: z.string(),
  retry_after_ms: z.number().int().nonnegative().nullable(),
  started_at: z.number().int().nonnegative().nullable(),
  failed_at: z.number().int().nonnegative(),
  recorded_at: z.number().int().nonnegative(),
});

export type Attestation = z.infer<typeof attestationSchema>;
export type AttestationInput = Omit<Attestation, 'attestation_id' | 'recorded_at'> &
  Partial<Pick<Attestation, 'attestation_id' | 'recorded_at'>>;

export class InvalidAttestationError extends Error {
  override name = 'InvalidAttestationError';
}

export interface AttestationStoreOptions {
  redis: Redis;
  /** The queue namespace; keys share its hash tag (`{ns}:attestations:...`). */
  namespace: string;
  /** How long per-job and per-workflow histories are kept. Default 30 days. */
  retentionSeconds?: number;
  /** Approximate length of the namespace-wide recent-failures stream. Default 100 000. */
  streamMaxLen?: number;
}

export interface AttestationStore {
  record(input: AttestationInput): Promise<Attestation>;
  forJob(jobId: string): Promise<Attestation[]>;
  forWorkflow(workflowId: string): Promise<Attestation[]>;
  /** Most recent first, across the namespace. */
  recent(limit?: number): Promise<Attestation[]>;
}

const MAX_MESSAGE = 4_000;

export function attestationKeys(namespace: string): {
  job: (id: string) => string;
  workflow: (id: string) => string;
  stream: string;
} {
  const tag = `{${namespace}}`;
  return {
    job: (id) => `${tag}:attestations:job:${id}`,
    workflow: (id) => `${tag}:attestations:workflow:${id}`,
    stream: `${tag}:attestations`,
  };
}

function parseAll(raw: string[]): Attestation[] {
  const out: Attestation[] = [];
  for (const item of raw) {
    const parsed = attestationSchema.safeParse(JSON.parse(item));
    // A record written by a newer version with extra fields still parses; a broken one is skipped
    // rather than hiding every other attestation of the job.
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

export function createAttestationStore(options: AttestationStoreOptions): AttestationStore {
  const { redis, namespace } = options;
  if (!namespace || /[{}]/.test(namespace))
    throw new InvalidAttestationError(`invalid namespace ${JSON.stringify(namespace)}`);
  const retention = options.retentionSeconds ?? 30 * 24 * 3600;
  const maxLen = options.streamMaxLen ?? 100_000;
  const keys = attestationKeys(namespace);

  return {
    async record(input) {
      const candidate = {
        ...input,
        attestation_id: input.attestation_id ?? randomUUID(),
        recorded_at: input.recorded_at ?? Date.now(),
        // Redact on write as well: a caller that forgot must not leave a key in Redis.
        message: redactSecrets(input.message).slice(0, MAX_MESSAGE),
        failure_description: redactSecrets(input.failure_description),
        decision_reason: redactSecrets(input.decision_reason),
      };
      const parsed = attestationSchema.safeParse(candidate);
      if (!parsed.success) {
        throw new InvalidAttestationError(
          `invalid attestation: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      }
      const attestation = parsed.data;
      const json = JSON.stringify(attestation);
      const multi = redis.multi();
      multi.rpush(keys.job(attestation.job_id), json);
      multi.expire(keys.job(attestation.job_id), retention);
      if (attestation.workflow_id) {
        multi.rpush(keys.workflow(attestation.workflow_id), json);
        multi.expire(keys.workflow(attestation.workflow_id), retention);
      }
      multi.xadd(keys.stream, 'MAXLEN', '~', String(maxLen), '*', 'attestation', json);
      const results = await multi.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('attestation transaction aborted');
      return attestation;
    },
    async forJob(jobId) {
      return parseAll(await redis.lrange(keys.job(jobId), 0, -1));
    },
    async forWorkflow(workflowId) {
      return parseAll(await redis.lrange(keys.workflow(workflowId), 0, -1));
    },
    async recent(limit = 100) {
      const entries = await redis.xrevrange(keys.stream, '+', '-', 'COUNT', limit);
      return parseAll(entries.map(([, fields]) => fields[1] ?? 'null').filter((f) => f !== 'null'));
    },
  };
}

/** The attestations of every job of a workflow, in the order they were written (for the API). */
export async function readWorkflowAttestations(
  redis: Redis,
  namespace: string,
  workflowId: string,
): Promise<Attestation[]> {
  return createAttestationStore({ redis, namespace }).forWorkflow(workflowId);
}

/** The attestations of one job, oldest first. */
export async function readJobAttestations(
  redis: Redis,
  namespace: string,
  jobId: string,
): Promise<Attestation[]> {
  return createAttestationStore({ redis, namespace }).forJob(jobId);
}
