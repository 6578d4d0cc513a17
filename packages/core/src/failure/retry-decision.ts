import type { FailureClassification } from './types.js';

export type RetryDecisionKind = 'retry' | 'fail';

export interface RetryDecision {
  decision: RetryDecisionKind;
  /** Why, in words an operator reads in an attestation. */
  why: string;
  /** Wait before the next attempt when the upstream said so (the queue's backoff applies otherwise). */
  retry_after_ms?: number;
}

export interface RetryDecisionInput {
  classification: Pick<
    FailureClassification,
    'retryable' | 'retry_after_ms' | 'failure_type' | 'failure_reason'
  >;
  /** The attempt that just failed, 1-based (the job's `attempts` after its claim). */
  attempt: number;
  maxAttempts: number;
  /**
   * An upstream that asks for a longer wait than this is treated as a permanent failure for this
   * job: holding a job for hours hides the outage from whoever submitted it. Default 15 minutes.
   */
  maxRetryAfterMs?: number;
}

export const DEFAULT_MAX_RETRY_AFTER_MS = 15 * 60_000;

/** Retry a transient failure while attempts remain; fail anything permanent at once. */
export function decideRetry(input: RetryDecisionInput): RetryDecision {
  const { classification: c, attempt, maxAttempts } = input;
  const limit = input.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const what = `${c.failure_type}/${c.failure_reason}`;
  if (!c.retryable)
    return {
      decision: 'fail',
      why: `${what} is permanent: another attempt would fail the same way`,
    };
  if (attempt >= maxAttempts)
    return {
      decision: 'fail',
      why: `${what} is transient but attempts are exhausted (${attempt}/${maxAttempts})`,
    };
  if (c.retry_after_ms !== undefined && c.retry_after_ms > limit) {
    return {
      decision: 'fail',
      why: `${what}: the upstream asked to wait ${Math.round(c.retry_after_ms / 1000)} s, longer than the ${Math.round(limit / 1000)} s limit`,
    };
  }
  const decision: RetryDecision = {
    decision: 'retry',
    why: `${what} is transient: attempt ${attempt + 1} of ${maxAttempts} follows`,
  };
  if (c.retry_after_ms !== undefined) decision.retry_after_ms = c.retry_after_ms;
  return decision;
}
