/**
 * What the worker does with a failed run: classify the error, write the attestation, then tell the
 * queue to retry or fail the job, by the classifier's retryability and the job's attempts.
 */
import {
  decideRetry,
  FailureClassifier,
  JobNotHeldError,
  redactSecrets,
  type AttestationStore,
  type FailureClassification,
  type FailureContext,
  type Job,
  type Queue,
} from '@jobgate/core';
import type { Connector } from './connectors/types.js';
import type { Logger } from './logger.js';

/** An error and its causes in one line, secrets redacted, for logs and attestations. */
export function errorChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let i = 0; i < 5 && current !== undefined && current !== null; i++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      parts.push(
        typeof code === 'string' && !current.message.includes(code)
          ? `${current.message} (${code})`
          : current.message,
      );
      current = current.cause;
    } else {
      parts.push(
        typeof current === 'string' ? current : (JSON.stringify(current) ?? typeof current),
      );
      break;
    }
  }
  return redactSecrets(parts.join(' <- ')).slice(0, 4_000);
}

export interface FailureReportDeps {
  queue: Queue;
  attestations: AttestationStore;
  workerId: string;
  machineId: string;
  log: Logger;
  /** An upstream asking to wait longer than this fails the job instead of retrying. */
  maxRetryAfterMs?: number;
}

export interface FailureReport {
  /** The queue recorded the failure (retry or fail); false when the job was no longer held or the queue could not be reached (then the lease expires and the job is retried). */
  reported: boolean;
  classification: FailureClassification;
  decision: 'retry' | 'fail';
}

/** Reports one failed run; never throws. */
export async function reportFailure(
  deps: FailureReportDeps,
  job: Job,
  connector: Connector | undefined,
  error: unknown,
  startedAt: number,
): Promise<FailureReport> {
  const { queue, log } = deps;
  const context: FailureContext = {
    serviceType: connector?.kind ?? job.service_required,
    ...((error as { context?: FailureContext } | null)?.context ?? {}),
  };
  const classification = FailureClassifier.classify(error, context);
  const decision = decideRetry({
    classification,
    attempt: job.attempts,
    maxAttempts: job.max_attempts,
    ...(deps.maxRetryAfterMs === undefined ? {} : { maxRetryAfterMs: deps.maxRetryAfterMs }),
  });
  const jobLog = { job_id: job.id, workflow_id: job.workflow_id, attempt: job.attempts };
  try {
    await deps.attestations.record({
      job_id: job.id,
      workflow_id: job.workflow_id,
      step: job.step,
      attempt: job.attempts,
      max_attempts: job.max_attempts,
      worker_id: deps.workerId,
      machine_id: deps.machineId,
      service_type: job.service_required,
      customer_id: job.customer_id,
      failure_type: classification.failure_type,
      failure_reason: classification.failure_reason,
      failure_description: classification.failure_description,
      message: errorChain(error),
      retryable: classification.retryable,
      decision: decision.decision,
      decision_reason: decision.why,
      retry_after_ms: decision.retry_after_ms ?? null,
      started_at: startedAt,
      failed_at: Date.now(),
    });
  } catch (attestError) {
    // The job's fate matters more than its paperwork: report the failure regardless.
    log.error({ ...jobLog, err: errorChain(attestError) }, 'writing the attestation failed');
  }
  try {
    await queue.fail(job.id, deps.workerId, {
      retryable: decision.decision === 'retry',
      failure_type: classification.failure_type,
      failure_reason: classification.failure_reason,
      message: classification.failure_description,
      ...(decision.retry_after_ms === undefined ? {} : { retry_after_ms: decision.retry_after_ms }),
    });
    log.warn(
      {
        ...jobLog,
        failure_type: classification.failure_type,
        failure_reason: classification.failure_reason,
        decision: decision.decision,
        description: classification.failure_description,
      },
      'job failed',
    );
    return { reported: true, classification, decision: decision.decision };
  } catch (failError) {
    if (failError instanceof JobNotHeldError)
      log.warn(
        { ...jobLog, reason: failError.reason },
        'job failed but no longer held; failure not reported',
      );
    else
      log.error(
        { ...jobLog, err: errorChain(failError) },
        'reporting the failure failed; the lease will expire and the job be retried',
      );
    return { reported: false, classification, decision: decision.decision };
  }
}
